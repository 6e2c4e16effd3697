"""`--tensorboard DIR`: every evaluation as a TensorBoard run (curves per epoch, final scores,
HParams summaries) that TensorBoard's own readers load, with no effect on results or the cache."""

from __future__ import annotations

import json

import pytest

from evo_rnn.runs.executors import InlineExecutor
from evo_rnn.runs.store import Store
from evo_rnn.runs.tensorboard import TensorBoardLog
from evo_rnn.search.confirmation import confirm_run
from evo_rnn.search.evolution import Evolution
from evo_rnn.search.scheduler import Scheduler
from evo_rnn.training.results import EvalResult, Status

from conftest import FakeEvaluator, SeededFake, run_module, search_preset, stderr_lines


def read_run(folder):
    """(scalars {tag: [(step, value)]}, hparams {name: value}) as TensorBoard reads a run."""
    import tensorflow as tf
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.plugins.hparams import metadata

    accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    tags = [t for t in accumulator.Tags()["tensors"] if not t.startswith("_hparams_")]
    scalars = {
        tag: [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors(tag)] for tag in tags
    }
    content = accumulator.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = metadata.parse_session_start_info_plugin_data(content)
    hparams = {k: v.string_value if v.HasField("string_value") else v.number_value for k, v in info.hparams.items()}
    return scalars, hparams


def test_an_evaluation_becomes_a_run_with_its_curve_final_scores_and_hparams(tmp_path):
    curve = [
        {"epoch": 1, "loss": 2.5, "val_score": 0.3, "learning_rate": 1.0},
        {"epoch": 2, "loss": 1.5, "val_score": 0.6, "learning_rate": 0.5},
    ]
    result = EvalResult(
        status=Status.OK,
        task="arith",
        preset="quick",
        seed=7,
        valid_score=0.6,
        test_score=0.55,
        hparams={
            "learning_rate": 1.0,
            "init_scale": 0.3,
            "num_layers": 1,
            "max_grad_norm": 5.0,
            "param_budget": 20000,
            "dropout": 0.0,
        },
        curve=curve,
        epochs=2,
        seconds=3.0,
    )
    folder = TensorBoardLog(tmp_path).write(result, "gru", "tune", {"trial": 3})
    scalars, hparams = read_run(folder)
    assert scalars["epoch/val_score"] == [(1, pytest.approx(0.3)), (2, pytest.approx(0.6))]
    assert scalars["epoch/loss"] == [(1, 2.5), (2, 1.5)] and scalars["epoch/learning_rate"] == [(1, 1.0), (2, 0.5)]
    assert scalars["valid_score"] == [(0, pytest.approx(0.6))] and scalars["test_score"] == [(0, pytest.approx(0.55))]
    assert hparams["cell"] == "gru" and hparams["task"] == "arith" and hparams["phase"] == "tune"
    assert hparams["learning_rate"] == 1.0 and hparams["seed"] == 7 and hparams["trial"] == 3
    assert hparams["status"] == "ok"


def test_a_search_logs_every_evaluation_it_trains_and_stores_the_same_results(tmp_path):
    preset = search_preset(halving_configs=4, halving_epochs=2, configs_per_task=2, reevaluate_probability=0.0)

    def run(name, log):
        with Store(tmp_path / f"{name}.sqlite") as store:
            evolution = Evolution(store, preset, seed=0, max_candidates=2)
            search = Scheduler(evolution, InlineExecutor(FakeEvaluator()), tensorboard=log)
            search.run(tick=0)
            rows = sorted(
                (r["arch"], r["task"], json.dumps(r["hparams"], sort_keys=True), r["seed"], r["valid_score"])
                for r in store.evaluations()
            )
            return rows, search.trained

    logged, trained = run("a", TensorBoardLog(tmp_path / "tb"))
    assert logged == run("b", None)[0]  # no effect on results
    runs = list((tmp_path / "tb").iterdir())
    assert len(runs) == trained
    phases = {read_run(folder)[1]["phase"] for folder in runs}
    assert phases == {"rung", "full"}  # successive halving's brief rung and full training
    cells = {read_run(folder)[1]["cell"] for folder in runs}
    assert {"gru", "lstm"} <= cells


def test_evaluate_writes_runs_without_changing_its_results_and_refuses_a_file(tmp_path):
    args = [
        "--arch",
        "gru",
        "--task",
        "memorize",
        "--trials",
        "2",
        "--json",
        "--quiet",
        "--set",
        "max_epochs=1",
        "--set",
        "memorize.n_train=64",
    ]
    plain = run_module("evo_rnn.evaluate", *args)
    logged = run_module("evo_rnn.evaluate", *args, "--tensorboard", str(tmp_path / "tb"))
    assert plain.returncode == logged.returncode == 0, logged.stderr[-2000:]
    scores = lambda out: [json.loads(line)["valid_score"] for line in out.stdout.splitlines()]
    assert scores(plain) == scores(logged)
    assert len(list((tmp_path / "tb").iterdir())) == 2
    (tmp_path / "file").write_text("")
    bad = run_module("evo_rnn.evaluate", *args, "--tensorboard", str(tmp_path / "file"))
    lines = stderr_lines(bad)
    assert bad.returncode == 2 and len(lines) == 1 and "is a file; pass a folder" in lines[0], lines


def test_a_confirmation_logs_its_runs_as_phase_confirm(searched, tmp_path):
    files, _ = searched
    evaluate = SeededFake()
    confirm_run(
        files,
        top=1,
        seeds=2,
        executor=InlineExecutor(evaluate),
        log=lambda _: None,
        tensorboard=TensorBoardLog(tmp_path / "tb"),
    )
    runs = list((tmp_path / "tb").iterdir())
    assert len(runs) == len(evaluate.calls) > 0
    assert {read_run(folder)[1]["phase"] for folder in runs} == {"confirm"}
    assert {read_run(folder)[1]["seed"] for folder in runs} == {100_000, 100_001}
