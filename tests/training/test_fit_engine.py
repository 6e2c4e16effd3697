"""One evaluation with Keras' fit (`evo_rnn.training.fit_engine`): determinism, divergence,
learning-rate decay, stateful PTB,
every task family end to end, a candidate's failures against our own bugs, no leaked graphs."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from evo_rnn.cells import zoo
from evo_rnn.core.errors import InvalidCellError
from evo_rnn.training import fit_engine, kit, presets
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.results import Status

from conftest import SHARED, needs_shared_data

TINY = presets.with_overrides(
    presets.get("quick"),
    [
        "max_epochs=2",
        "memorize.n_train=256",
        "memorize.n_valid=64",
        "memorize.n_test=64",
        "ptb.max_train_tokens=4000",
        "ptb.max_eval_tokens=1000",
        "ptb.seq_len=10",
        "ptb.batch_size=4",
        "music.max_pieces=6",
        "music.chunk_length=20",
        "budgets.ptb=3000",
        "budgets.music=3000",
    ],
)


def hp(**changes) -> HParams:
    base = {"init_scale": 1.0, "learning_rate": 1.0, "max_grad_norm": 5.0, "num_layers": 1, "param_budget": 3000}
    return HParams(**{**base, **changes})


def test_same_seed_same_result_and_another_seed_differs():
    first = fit_engine.evaluate("gru", "memorize", hp(), seed=5, preset=TINY)
    again = fit_engine.evaluate("gru", "memorize", hp(), seed=5, preset=TINY)
    other = fit_engine.evaluate("gru", "memorize", hp(), seed=6, preset=TINY)
    assert first.status == "ok" and first.epochs == 2 and len(first.curve) == 2
    assert first.curve == again.curve and first.valid_metrics == again.valid_metrics
    assert first.test_metrics == again.test_metrics
    assert [p["loss"] for p in other.curve] != [p["loss"] for p in first.curve]
    assert abs(first.params / 3000 - 1) < 0.05 and first.model_params > first.params


def test_divergence_is_detected_and_scores_zero(capsys):
    from evo_rnn import CellBuilder

    b = CellBuilder("relu_rnn")  # unbounded: a huge learning rate overflows for real
    b.output("h", b.activation("relu", "h_new", b.add("pre", b.linear("W_xh", "x", 0.0), b.linear("W_hh", "h"))))
    preset = presets.with_overrides(TINY, ["max_epochs=5"])
    result = fit_engine.evaluate(
        b.build(), "memorize", hp(learning_rate=1e30, max_grad_norm=1e30, init_scale=2.8), seed=0, preset=preset
    )
    assert result.status == "diverged" and result.epochs == 1  # stopped at once
    assert capsys.readouterr().out == ""
    assert result.valid_score == result.test_score == 0.0
    assert "NaN" in result.message


def test_learning_rate_decays_on_a_plateau_and_training_stops_after_max_decays():
    preset = presets.with_overrides(TINY, ["max_epochs=10", "patience=1", "max_decays=2", "lr_decay=0.5"])
    result = fit_engine.evaluate("gru", "memorize", hp(learning_rate=1e-9), seed=0, preset=preset)
    rates = [p["learning_rate"] for p in result.curve]
    assert result.status == "ok" and result.epochs < 10
    assert rates[0] == pytest.approx(1e-9) and rates[-1] == pytest.approx(1e-9 * 0.5)
    assert sorted(set(np.round(np.array(rates) / 1e-9, 6)), reverse=True) == [1.0, 0.5]


@needs_shared_data
def test_stateful_ptb_carries_state_across_batches_and_resets_between_epochs():
    task = kit.load_task("ptb", TINY, SHARED)
    data = kit.task_data(task, SHARED, 0)
    model = kit.build_model(zoo.get("lstm"), task, hp(), 16, seed=0, jit_compile=False, batch_size=4)
    first, second = data.train.inputs[:4], data.train.inputs[4:8]
    model.predict_on_batch(first)
    carried = np.asarray(model.predict_on_batch(second))
    kit.reset_states(model)
    fresh = np.asarray(model.predict_on_batch(second))
    assert not np.allclose(carried, fresh)  # the state from batch 1 changed batch 2
    rnn = next(layer for layer in model.layers if getattr(layer, "stateful", False))
    assert any(np.abs(keras.ops.convert_to_numpy(s)).sum() > 0 for s in rnn.states)
    callback = fit_engine._ValidationScore(task, data.valid, None)
    callback.set_model(model)
    callback.on_epoch_begin(1)  # a new epoch reads the stream from its start
    assert all(np.abs(keras.ops.convert_to_numpy(s)).sum() == 0 for s in rnn.states)


@pytest.mark.parametrize(
    "task_name",
    ["memorize", pytest.param("ptb", marks=needs_shared_data), pytest.param("jsb", marks=needs_shared_data)],
)
def test_evaluate_end_to_end_per_task_family(task_name):
    result = fit_engine.evaluate("lstm", task_name, hp(), seed=0, preset=TINY, data_dir=SHARED)
    assert result.status == "ok", result.message
    assert 0 < result.valid_score <= 1 and 0 < result.test_score <= 1
    assert set(result.valid_metrics) >= {"score"} and len(result.curve) == result.epochs == 2
    json.dumps(result.to_dict())  # serialisable


def test_a_candidate_that_cannot_be_built_is_failed_not_raised():
    # A GRU whose update gate reads a node that is not in the graph: its shapes cannot work.
    graph = zoo.get("gru")
    node = next(n for n, d in graph.nodes(data=True) if d["op"] == "sigmoid")
    graph.nodes[node]["op"] = "add"  # an add with one operand breaks a rule of the cell format
    result = fit_engine.evaluate(graph, "memorize", hp(), seed=0, preset=TINY)
    assert result.status is Status.FAILED and result.message.startswith("InvalidCellError")
    assert node in result.message


def test_a_bug_in_our_code_is_not_recorded_as_a_failed_candidate(monkeypatch):
    def bug(*args, **kwargs):
        raise ValueError("an argument our own code got wrong")

    monkeypatch.setattr(fit_engine, "build_model", bug)
    with pytest.raises(ValueError, match="our own code"):
        fit_engine.evaluate("gru", "memorize", hp(), seed=0, preset=TINY)
    assert InvalidCellError in kit.candidate_errors() and ValueError not in kit.candidate_errors()


def test_our_own_bugs_propagate(monkeypatch):
    monkeypatch.setattr(fit_engine, "position_stats", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        fit_engine.evaluate("gru", "memorize", hp(), seed=0, preset=TINY)


def test_no_graphs_survive_an_evaluation():
    import gc

    from tensorflow.python.framework import func_graph

    def live_graphs() -> int:
        gc.collect()
        return sum(isinstance(o, func_graph.FuncGraph) for o in gc.get_objects())

    fit_engine.evaluate("gru", "memorize", hp(), seed=0, preset=TINY)
    after_one = live_graphs()
    for seed in (1, 2):
        fit_engine.evaluate("gru", "memorize", hp(), seed=seed, preset=TINY)
    assert live_graphs() == after_one  # was +9 per evaluation before the gradient-registry clean-up


@needs_shared_data
def test_a_task_with_its_own_epoch_cap_stops_there_and_the_presets_lower_cap_still_wins():
    tiny = presets.with_overrides(
        TINY,
        [
            "max_epochs=4",
            "ptb_chars.max_epochs=3",
            "ptb_chars.max_train_tokens=2000",
            "ptb_chars.max_eval_tokens=500",
            "budgets.ptb_chars=2000",
        ],
    )
    result = fit_engine.evaluate("gru", "ptb_chars", hp(param_budget=2000), seed=0, preset=tiny, data_dir=SHARED)
    assert result.status == "ok", result.message
    assert result.epochs == len(result.curve) == 3
    lower = presets.with_overrides(tiny, ["max_epochs=2"])
    result = fit_engine.evaluate("gru", "ptb_chars", hp(param_budget=2000), seed=0, preset=lower, data_dir=SHARED)
    assert result.epochs == 2
