"""Batched evaluation: a member trains as it would alone, a diverging member touches
no other, early stop per member, saved members reload, bad input, and the JAX backend."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from evo_rnn.training import fit_engine, kit, presets
from evo_rnn.training.batched_engine import BatchedError, evaluate_batched
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.results import Status

from conftest import SHARED, run_python

TINY = presets.with_overrides(
    presets.get("quick"),
    [
        "max_epochs=3",
        "arith.n_train=250",
        "arith.n_valid=64",
        "arith.n_test=64",  # 250: a last, partial batch
        "memorize.n_train=256",
        "memorize.n_valid=64",
        "memorize.n_test=64",
    ],
)


def hp(**changes) -> HParams:
    base = {"init_scale": 1.0, "learning_rate": 1.0, "max_grad_norm": 5.0, "num_layers": 1, "param_budget": 3000}
    return HParams(**{**base, **changes})


def losses(result) -> list[float]:
    return [point["loss"] for point in result.curve]


def test_a_member_trains_as_it_would_alone():
    configs = [hp(learning_rate=0.5), hp(learning_rate=2.0, init_scale=0.7), hp(learning_rate=1.0, max_grad_norm=1.0)]
    together = evaluate_batched("gru", "arith", configs, [3, 4, 5], TINY)
    for config, seed, member in zip(configs, [3, 4, 5], together):
        alone = evaluate_batched("gru", "arith", [config], [seed], TINY)[0]
        assert member.status is alone.status is Status.OK
        np.testing.assert_allclose(losses(member), losses(alone), rtol=1e-5)
        assert member.valid_score == pytest.approx(alone.valid_score, abs=1e-6)
        assert member.epochs == alone.epochs and member.units == alone.units and member.params == alone.params
    assert len({round(r.curve[0]["loss"], 6) for r in together}) == 3  # three different members
    # The validation score tracked inside the compiled program is the one the member's own
    # Keras model gives with its best weights.
    for member in together:
        assert max(p["val_score"] for p in member.curve) == pytest.approx(member.valid_score, abs=1e-6)


def test_members_start_as_their_solo_models(tmp_path):
    import evo_rnn  # noqa: F401  (registers the layers for load_model)
    from evo_rnn.cells import zoo
    from evo_rnn.training.hyperparameters import solve_units

    configs, seeds = [hp(init_scale=2.0, learning_rate=1e-12), hp(init_scale=0.3, learning_rate=1e-12)], [7, 8]
    paths = [tmp_path / "a.keras", tmp_path / "b.keras"]
    preset = presets.with_overrides(TINY, ["max_epochs=1"])
    evaluate_batched("lstm", "memorize", configs, seeds, preset, save_models=paths)
    task = kit.load_task("memorize", preset)
    graph = zoo.get("lstm")
    for config, seed, path in zip(configs, seeds, paths):
        saved = keras.models.load_model(path).get_weights()  # trained with lr 1e-12: its initial weights
        kit.seed_everything(seed, False)
        solo = kit.build_model(graph, task, config, solve_units(graph, config.param_budget, 1), seed, False)
        for mine, theirs in zip(saved, solo.get_weights()):
            np.testing.assert_allclose(mine, theirs, atol=1e-6)
        keras.backend.clear_session()


def test_the_epoch_loss_is_keras_loss_over_the_training_set():
    # With a learning rate of 1e-12 the weights do not move: the first epoch's loss is the
    # initial model's loss over every training row, as Keras computes it (sum of weighted
    # cross-entropies over the positions of each batch / their number), the partial last batch included.
    from evo_rnn.cells import zoo
    from evo_rnn.training.hyperparameters import solve_units

    config, seed = hp(learning_rate=1e-12), 4
    member = evaluate_batched(
        "gru", "arith", [config, hp()], [seed, 5], presets.with_overrides(TINY, ["max_epochs=1"])
    )[0]
    task = kit.load_task("arith", TINY)
    data = kit.task_data(task, None, seed)  # generated data follows the training seed
    graph = zoo.get("gru")
    kit.seed_everything(seed, False)
    model = kit.build_model(graph, task, config, solve_units(graph, config.param_budget, 1), seed, False)
    logits = np.asarray(model.predict_on_batch(data.train.inputs), dtype="float64")
    shifted = logits - logits.max(-1, keepdims=True)
    ce = np.log(np.exp(shifted).sum(-1)) - np.take_along_axis(shifted, data.train.targets[..., None], -1)[..., 0]
    expected = (ce * kit.loss_weights(data.train)).sum() / ce.size
    assert len(data.train) % TINY.batch_size  # a partial batch is part of it
    assert member.curve[0]["loss"] == pytest.approx(expected, rel=1e-5)


EQUIVALENCE = """
import numpy as np
from evo_rnn.training import presets
from evo_rnn.training import fit_engine
from evo_rnn.training import kit
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.batched_engine import evaluate_batched
preset = presets.with_overrides(presets.get("quick"), ["max_epochs=3", "arith.n_train=250", "arith.n_valid=64",
                                                        "arith.n_test=64", "ptb.max_train_tokens=3000",
                                                        "ptb.max_eval_tokens=1000"])
def hp(lr, scale, norm):
    return HParams(init_scale=scale, learning_rate=lr, max_grad_norm=norm, num_layers=1, param_budget=3000)
for task, cell in (("arith", "gru"), ("ptb", "lstm")):
    configs, seeds = [hp(0.5, 1.0, 5.0), hp(2.0, 0.7, 1.0), hp(1.0, 1.4, 10.0)], [3, 4, 5]
    members = evaluate_batched(cell, task, configs, seeds, preset, data_dir=DATA)
    for config, seed, member in zip(configs, seeds, members):
        solo = fit_engine.evaluate(cell, task, config, seed, preset, data_dir=DATA)
        assert member.status == solo.status == "ok", (member.message, solo.message)
        first = member.curve[0]["loss"], solo.curve[0]["loss"]
        assert abs(first[0] - first[1]) <= 1e-3 * abs(first[1]), (task, seed, first)
        print(task, seed, "first-epoch loss", first, "final valid score", member.valid_score, solo.valid_score)
print("equivalent")
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_a_members_first_epoch_loss_is_its_solo_fit_runs(backend):
    # Both engines read the training rows in kit.batch_order(seed, epoch): the batched engine
    # member and Keras' fit train on the same batches (stateful PTB included).
    result = run_python(f"DATA = {str(SHARED)!r}\n" + EQUIVALENCE, env={"KERAS_BACKEND": backend})
    assert result.returncode == 0 and "equivalent" in result.stdout, result.stdout[-2000:] + result.stderr[-3000:]


def test_fit_reads_the_training_rows_in_the_seeded_batch_order():
    split = kit.task_data(kit.load_task("arith", TINY), None, 0).train
    batches = fit_engine.SeededBatches(split, kit.loss_weights(split), 32, seed=9, shuffle=True)
    batches.set_epoch(2)
    order = kit.batch_order(9, 2, len(split), shuffle=True)
    x, y, _w = batches[1]
    np.testing.assert_array_equal(x, split.inputs[order[32:64]])
    np.testing.assert_array_equal(y, split.targets[order[32:64]])
    assert len(batches) == 8 and len(batches[7][0]) == 250 - 7 * 32  # the partial last batch
    assert not np.array_equal(order, kit.batch_order(9, 3, len(split), shuffle=True))  # a new order each epoch
    assert not np.array_equal(order, kit.batch_order(8, 2, len(split), shuffle=True))  # and each seed
    stream = fit_engine.SeededBatches(split, kit.loss_weights(split), 32, seed=9, shuffle=False)
    assert len(stream) == 7 and np.array_equal(stream[1][0], split.inputs[32:64])  # stateful: in order, whole batches


def test_a_diverging_member_is_recorded_and_touches_no_other():
    healthy = [hp(learning_rate=0.5), hp(learning_rate=1.0)]
    wild = hp(learning_rate=1e20, max_grad_norm=1e30, init_scale=2.8)  # its weights overflow at once
    mixed = evaluate_batched("gru", "arith", [healthy[0], wild, healthy[1]], [1, 2, 3], TINY)
    assert mixed[1].status is Status.DIVERGED and mixed[1].valid_score == 0.0
    assert "NaN or infinite" in mixed[1].message
    alone = evaluate_batched("gru", "arith", healthy, [1, 3], TINY)
    for member, reference in zip([mixed[0], mixed[2]], alone):
        assert member.status is Status.OK
        np.testing.assert_allclose(losses(member), losses(reference), rtol=1e-5)


def test_each_member_stops_on_its_own_plateau_and_keeps_its_best_weights(tmp_path):
    preset = presets.with_overrides(TINY, ["max_epochs=6", "patience=1", "max_decays=1"])
    stuck, learning = hp(learning_rate=1e-6), hp(learning_rate=2.0)
    results = evaluate_batched(
        "gru", "memorize", [stuck, learning], [0, 1], preset, save_models=[None, tmp_path / "member.keras"]
    )
    assert results[0].epochs < results[1].epochs or results[1].epochs == 6
    assert results[0].epochs <= 3  # no improvement: decays after one flat epoch, stops after one decay
    assert len(results[0].curve) == results[0].epochs
    # The saved member reloads as an ordinary model and scores as its result says.
    import evo_rnn  # noqa: F401

    model = keras.models.load_model(tmp_path / "member.keras")
    task = kit.load_task("memorize", preset)
    data = kit.task_data(task, None, 1)  # member 1 trains with seed 1: its data
    metrics = task.metrics(data.valid, *kit.position_stats(model, task, data.valid))
    assert metrics["score"] == pytest.approx(results[1].valid_score, abs=1e-6)
    assert results[1].valid_score == pytest.approx(max(p["val_score"] for p in results[1].curve), abs=1e-6)


def test_a_batched_job_that_runs_out_of_memory_is_split_and_retried(monkeypatch):
    from evo_rnn.training import batched_engine

    real = batched_engine._BatchedModel.__init__
    sizes = []

    def small_device(self, template, task, members):
        sizes.append(members)
        if members > 2:
            raise MemoryError("a device with room for 2 members")
        real(self, template, task, members)

    monkeypatch.setattr(batched_engine._BatchedModel, "__init__", small_device)
    configs = [hp(learning_rate=lr) for lr in (0.5, 1.0, 2.0, 0.3, 0.2)]
    results = evaluate_batched("gru", "arith", configs, [1, 2, 3, 4, 5], TINY)
    assert sizes == [5, 2, 3, 1, 2] and [r.status for r in results] == [Status.OK] * 5
    alone = evaluate_batched("gru", "arith", configs[3:], [4, 5], TINY)  # the same members, as split
    np.testing.assert_allclose(losses(results[4]), losses(alone[1]), rtol=1e-5)
    monkeypatch.setattr(
        batched_engine._BatchedModel, "__init__", lambda *a: (_ for _ in ()).throw(MemoryError("no room at all"))
    )
    failed = evaluate_batched("gru", "arith", configs[:2], [1, 2], TINY)
    assert [r.status for r in failed] == [Status.FAILED] * 2 and "no room at all" in failed[0].message


@pytest.mark.parametrize(
    "configs, seeds, message",
    [
        ([], [], "at least one member"),
        ([hp(), hp()], [1], "2 configurations but 1 seeds"),
        ([hp(), hp(num_layers=2)], [1, 2], "must share their shape"),
        ([hp(dropout=0.1)], [1], "does not support dropout"),
    ],
)
def test_bad_batched_jobs_are_refused(configs, seeds, message):
    with pytest.raises(BatchedError, match=message):
        evaluate_batched("gru", "arith", configs, seeds, TINY)


def test_the_jax_backend_compiles_the_batched_job_and_isolates_members():
    code = """
import os
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, evo_rnn, keras
from evo_rnn.training import presets
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.batched_engine import evaluate_batched
assert keras.backend.backend() == "jax"
preset = presets.with_overrides(presets.get("quick"), ["max_epochs=2", "arith.n_train=256", "arith.n_valid=64",
                                                        "arith.n_test=64"])
c = [HParams(init_scale=1.0, learning_rate=lr, max_grad_norm=5.0, num_layers=1, param_budget=3000) for lr in (0.5, 2.0)]
both = evaluate_batched("gru", "arith", c, [1, 2], preset)
alone = evaluate_batched("gru", "arith", c[1:], [2], preset)[0]
assert all(r.status == "ok" for r in both), [r.message for r in both]
np.testing.assert_allclose([p["loss"] for p in both[1].curve], [p["loss"] for p in alone.curve], rtol=1e-5)
print("jax batched ok", both[1].valid_score)
"""
    result = run_python(code, env={"KERAS_BACKEND": "jax"})
    assert result.returncode == 0 and "jax batched ok" in result.stdout, result.stderr[-3000:]


def test_members_with_different_seeds_train_on_their_own_data_in_one_program(monkeypatch):
    # A generated task draws its data from each member's seed: one compiled job, each member
    # as it trains alone (its own data, its own time steps in the loss).
    import evo_rnn.training.batched_engine as batched_engine

    calls = []
    real = batched_engine._evaluate

    def counting(*args, **kwargs):
        calls.append(args[3])  # the seeds of each program
        return real(*args, **kwargs)

    monkeypatch.setattr(batched_engine, "_evaluate", counting)
    configs = [hp(learning_rate=0.5), hp(learning_rate=2.0, init_scale=0.7)]
    together = evaluate_batched("gru", "arith", configs, [3, 4], TINY)
    assert calls == [[3, 4]]  # one program for both
    data = [kit.task_data(kit.load_task("arith", TINY), None, seed) for seed in (3, 4)]
    assert data[0].train.inputs.shape[1] != data[1].train.inputs.shape[1] or not np.array_equal(
        data[0].train.inputs, data[1].train.inputs
    )
    for config, seed, member in zip(configs, [3, 4], together):
        alone = evaluate_batched("gru", "arith", [config], [seed], TINY)[0]
        np.testing.assert_allclose(losses(member), losses(alone), rtol=1e-5)
        assert member.valid_score == pytest.approx(alone.valid_score, abs=1e-6)
        assert member.test_metrics == pytest.approx(alone.test_metrics, abs=1e-6)
