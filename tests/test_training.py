"""Hyperparameters, presets, `evaluate` (determinism, divergence, lr decay, stateful PTB) and the CLIs."""

from __future__ import annotations

import json
import random

import keras
import numpy as np
import pytest

from evo_rnn import architectures, hparams, presets, tasks, train
from evo_rnn.cell_graph import parameter_count
from evo_rnn.errors import EvoRnnError, InvalidCellError, UnknownNameError
from evo_rnn.hparams import PRIOR, HParams
from evo_rnn.results import Status

from conftest import SHARED, needs_shared_data, run_module, stderr_lines

TINY = presets.with_overrides(presets.get("quick"), [
    "max_epochs=2", "memorize.n_train=256", "memorize.n_valid=64", "memorize.n_test=64",
    "ptb.max_train_tokens=4000", "ptb.max_eval_tokens=1000", "ptb.seq_len=10", "ptb.batch_size=4",
    "music.max_pieces=6", "music.chunk_length=20", "budgets.ptb=3000", "budgets.music=3000",
])


def hp(**changes) -> HParams:
    base = dict(init_scale=1.0, learning_rate=1.0, max_grad_norm=5.0, num_layers=1, param_budget=3000)
    return HParams(**{**base, **changes})


# --------------------------------------------------------------------------- hyperparameters


def test_sampling_is_seeded_and_draws_from_the_prior():
    a = [hparams.sample(random.Random(3), 1000) for _ in range(1)] + [hparams.sample(random.Random(4), 1000)]
    b = [hparams.sample(random.Random(3), 1000) for _ in range(1)] + [hparams.sample(random.Random(4), 1000)]
    assert a == b
    rng = random.Random(0)
    drawn = [hparams.sample(rng, 1000, max_layers=2) for _ in range(300)]
    for field in ("init_scale", "learning_rate", "max_grad_norm"):
        assert {getattr(h, field) for h in drawn} == set(PRIOR[field])
    assert {h.num_layers for h in drawn} == {1, 2}
    assert all(h.dropout == 0.0 for h in drawn)  # off by default


def test_config_json_is_canonical():
    config = hp(learning_rate=2, dropout=0.25)
    text = config.to_json()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert HParams.from_dict(json.loads(text)) == config
    assert '"learning_rate":2.0' in text and hp(learning_rate=2.0).to_json() == hp(learning_rate=2).to_json()
    with pytest.raises(EvoRnnError, match="unknown hyperparameter"):
        HParams.from_dict({**config.to_dict(), "momentum": 0.9})
    with pytest.raises(EvoRnnError, match="invalid hyperparameter dropout"):
        hp(dropout=1.5)


@pytest.mark.parametrize("name", architectures.names())
def test_units_solved_from_the_budget_hit_it(name):
    graph = architectures.get(name)
    for budget in (20_000, 500_000):
        for layers in (1, 2, 3, 4):
            units = hparams.solve_units(graph, budget, layers)
            assert abs(layers * parameter_count(graph, units, units) / budget - 1) < 0.05, (budget, layers, units)


def test_presets_and_overrides():
    quick = presets.get("quick")
    changed = presets.with_overrides(quick, ["max_epochs=3", "arith.max_digits=5", "budgets.ptb=123",
                                             "ptb.max_train_tokens=none", "jit_compile=true"])
    assert (changed.max_epochs, changed.arith.max_digits, changed.budgets["ptb"]) == (3, 5, 123)
    assert changed.ptb.max_train_tokens is None and changed.jit_compile is True
    assert quick.max_epochs != 3  # presets are not modified
    assert presets.get("paper").arith.max_digits == 8
    for bad, message in (("epochs=3", "unknown preset field 'epochs'"), ("max_epochs=three", "not a valid int"),
                         ("arith.digits=3", "unknown field 'arith.digits'"), ("max_epochs", "expects field=value")):
        with pytest.raises(EvoRnnError, match=message):
            presets.with_overrides(quick, [bad])
    with pytest.raises(UnknownNameError, match="known: quick, paper"):
        presets.get("fast")


def test_a_presets_task_settings_come_from_the_task_registry():
    quick = presets.get("quick")
    for name in tasks.names():  # every task has a config and a budget, the music sets share theirs
        family = "music" if name in tasks.MUSIC else name
        assert quick.task_config(name) is getattr(quick, family) and quick.budget(name) == quick.budgets[family]
    for call in (quick.budget, quick.task_config):
        with pytest.raises(UnknownNameError, match="unknown task 'sums'; known: arith"):
            call("sums")  # no silent fallback to the music settings


# --------------------------------------------------------------------------- evaluate


def test_same_seed_same_result_and_another_seed_differs():
    first = train.evaluate("gru", "memorize", hp(), seed=5, preset=TINY)
    again = train.evaluate("gru", "memorize", hp(), seed=5, preset=TINY)
    other = train.evaluate("gru", "memorize", hp(), seed=6, preset=TINY)
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
    result = train.evaluate(b.build(), "memorize", hp(learning_rate=1e30, max_grad_norm=1e30, init_scale=2.8),
                            seed=0, preset=preset)
    assert result.status == "diverged" and result.epochs == 1  # stopped at once
    assert capsys.readouterr().out == ""
    assert result.valid_score == result.test_score == 0.0
    assert "NaN" in result.message


def test_learning_rate_decays_on_a_plateau_and_training_stops_after_max_decays():
    preset = presets.with_overrides(TINY, ["max_epochs=10", "patience=1", "max_decays=2", "lr_decay=0.5"])
    result = train.evaluate("gru", "memorize", hp(learning_rate=1e-9), seed=0, preset=preset)
    rates = [p["learning_rate"] for p in result.curve]
    assert result.status == "ok" and result.epochs < 10
    assert rates[0] == pytest.approx(1e-9) and rates[-1] == pytest.approx(1e-9 * 0.5)
    assert sorted(set(np.round(np.array(rates) / 1e-9, 6)), reverse=True) == [1.0, 0.5]


@needs_shared_data
def test_stateful_ptb_carries_state_across_batches_and_resets_between_epochs():
    task = train.load_task("ptb", TINY, SHARED)
    data = train.task_data(task, SHARED, 0)
    model = train.build_model(architectures.get("lstm"), task, hp(), 16, seed=0, jit_compile=False, batch_size=4)
    first, second = data.train.inputs[:4], data.train.inputs[4:8]
    model.predict_on_batch(first)
    carried = np.asarray(model.predict_on_batch(second))
    train._reset_states(model)
    fresh = np.asarray(model.predict_on_batch(second))
    assert not np.allclose(carried, fresh)  # the state from batch 1 changed batch 2
    rnn = next(layer for layer in model.layers if getattr(layer, "stateful", False))
    assert any(np.abs(keras.ops.convert_to_numpy(s)).sum() > 0 for s in rnn.states)
    callback = train._ValidationScore(task, data.valid, None)
    callback.set_model(model)
    callback.on_epoch_begin(1)  # a new epoch reads the stream from its start
    assert all(np.abs(keras.ops.convert_to_numpy(s)).sum() == 0 for s in rnn.states)


@pytest.mark.parametrize("task_name", ["memorize", pytest.param("ptb", marks=needs_shared_data),
                                       pytest.param("jsb", marks=needs_shared_data)])
def test_evaluate_end_to_end_per_task_family(task_name):
    result = train.evaluate("lstm", task_name, hp(), seed=0, preset=TINY, data_dir=SHARED)
    assert result.status == "ok", result.message
    assert 0 < result.valid_score <= 1 and 0 < result.test_score <= 1
    assert set(result.valid_metrics) >= {"score"} and len(result.curve) == result.epochs == 2
    json.dumps(result.to_dict())  # serialisable


def test_a_candidate_that_cannot_be_built_is_failed_not_raised():
    # A GRU whose update gate reads a node that is not in the graph: its shapes cannot work.
    graph = architectures.get("gru")
    node = next(n for n, d in graph.nodes(data=True) if d["op"] == "sigmoid")
    graph.nodes[node]["op"] = "add"  # an add with one operand breaks a rule of the cell format
    result = train.evaluate(graph, "memorize", hp(), seed=0, preset=TINY)
    assert result.status is Status.FAILED and result.message.startswith("InvalidCellError")
    assert node in result.message


def test_a_bug_in_our_code_is_not_recorded_as_a_failed_candidate(monkeypatch):
    def bug(*args, **kwargs):
        raise ValueError("an argument our own code got wrong")

    monkeypatch.setattr(train, "build_model", bug)
    with pytest.raises(ValueError, match="our own code"):
        train.evaluate("gru", "memorize", hp(), seed=0, preset=TINY)
    assert InvalidCellError in train.candidate_errors() and ValueError not in train.candidate_errors()


def test_our_own_bugs_propagate(monkeypatch):
    monkeypatch.setattr(train, "position_stats", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        train.evaluate("gru", "memorize", hp(), seed=0, preset=TINY)


# --------------------------------------------------------------------------- CLIs


def test_evaluate_cli_json_output():
    result = run_module("evo_rnn.evaluate", "--arch", "gru", "--task", "memorize", "--trials", "2", "--json",
                        "--quiet", *sum((["--set", s] for s in ["max_epochs=1", "memorize.n_train=128",
                                                               "memorize.n_valid=32", "memorize.n_test=32"]), []))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and all(r["status"] == "ok" and r["arch"] == "gru" for r in rows)
    assert rows[0]["hparams"] != rows[1]["hparams"] or rows[0]["seed"] != rows[1]["seed"]


def test_evaluate_cli_trains_the_trials_as_populations_in_trial_order():
    sets = sum((["--set", s] for s in ["max_epochs=1", "memorize.n_train=128", "memorize.n_valid=32",
                                       "memorize.n_test=32"]), [])
    args = ["--arch", "gru", "--task", "memorize", "--trials", "5", "--json", "--quiet", *sets]
    solo = [json.loads(line) for line in run_module("evo_rnn.evaluate", *args).stdout.splitlines()]
    result = run_module("evo_rnn.evaluate", *args, "--population-size", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5 and all(r["status"] == "ok" for r in rows)
    # the same trials (configs and seeds) in the same order; the shapes (layers) were grouped
    assert [(r["hparams"], r["seed"]) for r in rows] == [(r["hparams"], r["seed"]) for r in solo]
    assert len({r["hparams"]["num_layers"] for r in rows}) == 2
    bad = run_module("evo_rnn.evaluate", *args, "--population-size", "0")
    assert bad.returncode == 2 and "argument --population-size: expected a whole number >= 1, got 0" in stderr_lines(bad)[0]


@pytest.mark.parametrize("args, message", [
    (["--arch", "lstn", "--task", "arith"], "'lstn' is neither a zoo cell"),
    (["--arch", "gru", "--task", "sums"], "invalid choice: 'sums'"),
    (["--arch", "gru", "--task", "arith", "--trials", "0"], "argument --trials: expected a whole number from 1 to 100000, got 0"),
    (["--arch", "gru", "--task", "arith", "--set", "epochs=2"], "unknown preset field 'epochs'"),
])
def test_evaluate_cli_errors(args, message):
    result = run_module("evo_rnn.evaluate", *args)
    assert result.returncode == 2
    lines = stderr_lines(result)
    assert len(lines) == 1 and message in lines[0], lines


@pytest.mark.parametrize("module", ["evo_rnn.evaluate", "evo_rnn.ablation", "evo_rnn.search"])
@pytest.mark.parametrize("override, message", [
    (" max_epochs=3", "the field name ' max_epochs' has spaces; write it without them, e.g. --set max_epochs=3"),
    ("budgets.nosuch=5", "unknown budget 'budgets.nosuch'"),
])
def test_every_command_refuses_a_bad_set_in_one_line(module, override, message, tmp_path):
    args = ["--arch", "gru", "--task", "arith"] if module == "evo_rnn.evaluate" else ["--runs-dir", str(tmp_path)]
    result = run_module(module, *args, "--set", override)
    assert result.returncode == 2
    lines = stderr_lines(result)
    assert len(lines) == 1 and message in lines[0], lines


def test_no_graphs_survive_an_evaluation():
    import gc

    from tensorflow.python.framework import func_graph

    def live_graphs() -> int:
        gc.collect()
        return sum(isinstance(o, func_graph.FuncGraph) for o in gc.get_objects())

    train.evaluate("gru", "memorize", hp(), seed=0, preset=TINY)
    after_one = live_graphs()
    for seed in (1, 2):
        train.evaluate("gru", "memorize", hp(), seed=seed, preset=TINY)
    assert live_graphs() == after_one  # was +9 per evaluation before the gradient-registry clean-up
