"""Hyperparameters, presets, `evaluate` (determinism, divergence, lr decay, stateful PTB) and the CLIs."""

from __future__ import annotations

import json
import random

import keras
import numpy as np
import pytest

from evo_rnn import ablation, architectures, hparams, presets, stats, tasks, train
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
    result = run_module("evo_rnn.evaluate", *args, "--population", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5 and all(r["status"] == "ok" for r in rows)
    # the same trials (configs and seeds) in the same order; the shapes (layers) were grouped
    assert [(r["hparams"], r["seed"]) for r in rows] == [(r["hparams"], r["seed"]) for r in solo]
    assert len({r["hparams"]["num_layers"] for r in rows}) == 2
    bad = run_module("evo_rnn.evaluate", *args, "--population", "0")
    assert bad.returncode == 2 and "argument --population: expected a whole number >= 1, got 0" in stderr_lines(bad)[0]


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
    args = ["--arch", "gru", "--task", "arith"] if module == "evo_rnn.evaluate" else ["--out", str(tmp_path)]
    result = run_module(module, *args, "--set", override)
    assert result.returncode == 2
    lines = stderr_lines(result)
    assert len(lines) == 1 and message in lines[0], lines


def test_ablation_cli_writes_csv_and_markdown_with_the_papers_numbers(tmp_path):
    args = ["--tasks", "memorize,arith", "--cells", "gru,tanh", "--trials", "2", "--confirm-seeds", "2",
            "--population", "4", "--out", str(tmp_path), "--set", "max_epochs=1", "--set", "memorize.n_train=64",
            "--set", "arith.n_train=64", "--tensorboard", str(tmp_path / "tb")]
    result = run_module("evo_rnn.ablation", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = sorted(p.name for p in (tmp_path / "tb").iterdir())  # one TensorBoard run per evaluation
    assert len(runs) == 24 and sum("-confirm-" in r for r in runs) == 8 and sum("-tune-" in r for r in runs) == 16
    csv_text = (tmp_path / "ablation.csv").read_text()
    assert "gru,arith,2," in csv_text and "0.89565" in csv_text  # the paper's GRU arith figure beside ours
    markdown = (tmp_path / "ablation.md").read_text()
    assert "| gru |" in markdown and "(0.8956)" in markdown and "on 2 fresh seeds" in markdown
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * 2 * 2 + 2 * 2 * 2  # tuning: cells x tasks x configs x 2 seeds (the default
    # --replicates); confirmation: cells x tasks x 2 fresh seeds
    confirm = [r for r in rows if r["phase"] == "confirm"]
    assert {r["seed"] for r in confirm} == {100_000, 100_001}  # the same fresh seeds for every cell
    for cell in ("gru", "tanh"):  # the confirmed config is the cell's best tuning config by its mean over seeds
        tuned: dict[int, list[float]] = {}
        for r in rows:
            if r["cell"] == cell and r["task"] == "arith" and r["phase"] == "tune":
                tuned.setdefault(r["trial"], []).append(r["valid_score"] if r["status"] == "ok" else 0.0)
        assert all(len(scores) == 2 for scores in tuned.values())
        best = max(sorted(tuned), key=lambda trial: sum(tuned[trial]) / 2)
        assert {r["trial"] for r in confirm if r["cell"] == cell and r["task"] == "arith"} == {best}
    estimate = ablation.confirmed(rows, "gru", "arith")
    gru_line = next(line for line in markdown.splitlines() if line.startswith("| gru |"))
    assert f"| {estimate.text(4)} |" in gru_line  # the arith column group: confirmed test [95% CI]
    again = run_module("evo_rnn.ablation", *args)  # resumes: nothing is trained twice
    assert again.returncode == 0 and len((tmp_path / "results.jsonl").read_text().splitlines()) == 24
    bad = run_module("evo_rnn.ablation", "--tasks", "sums", "--out", str(tmp_path))
    assert bad.returncode == 2 and "unknown task(s) ['sums']" in stderr_lines(bad)[0]


def test_ablation_summary_is_the_mean_over_replicates_of_each_replicates_best_config():
    from evo_rnn import ablation

    def row(trial, replicate, valid, test, status="ok", cell="lstm"):
        return {"cell": cell, "task": "arith", "trial": trial, "replicate": replicate, "status": status,
                "valid_score": valid, "test_score": test}

    rows = [
        row(0, 0, 0.30, 0.31), row(1, 0, 0.50, 0.45),  # replicate 0: best is trial 1
        row(0, 1, 0.40, 0.38), row(1, 1, 0.20, 0.22),  # replicate 1: best is trial 0
        row(2, 1, 0.90, 0.90, status="failed"),  # not counted
        row(0, 0, 0.99, 0.99, cell="gru"),  # another cell
    ]
    summary = ablation.summarize(rows, "lstm", "arith")
    assert summary["replicates"] == 2
    assert summary["valid"] == pytest.approx(0.45) and summary["test"] == pytest.approx((0.45 + 0.38) / 2)
    assert summary["valid_std"] == pytest.approx(np.std([0.5, 0.4], ddof=1))
    legacy = [{k: v for k, v in r.items() if k != "replicate"} for r in rows[:2]]  # files from before --replicates
    assert ablation.summarize(legacy, "lstm", "arith") == {"replicates": 1, "valid": 0.5, "valid_std": 0.0,
                                                           "test": 0.45}
    assert ablation.summarize(rows, "tanh", "arith") is None


def test_ablation_plan_gives_every_cell_the_same_configs_and_each_replicate_new_seeds():
    from evo_rnn import ablation

    jobs = ablation.plan(["gru", "tanh"], ["arith", "xml"], presets.get("quick"), trials=3, replicates=2,
                         seed=10, data_dir=None)
    assert len(jobs) == 2 * 2 * 3 * 2
    for task in ("arith", "xml"):
        configs = {cell: {(k[2], j.hparams) for k, j in jobs if k[0] == cell and k[1] == task}
                   for cell in ("gru", "tanh")}
        assert configs["gru"] == configs["tanh"] and len(configs["gru"]) == 3
        seeds = [j.seed for k, j in jobs if k[0] == "gru" and k[1] == task]
        assert sorted(seeds) == list(range(10, 16))  # trial + replicate * trials, from --seed
    first = {k: j.seed for k, j in jobs if k[3] == 0}
    assert all(seed == 10 + trial for (_, _, trial, _, _), seed in first.items())  # replicate 0: the seeds of before


def test_ablation_confirms_each_cells_best_config_and_reads_the_tiers():
    from evo_rnn import ablation

    def row(trial, valid, cell="lstm", phase="tune", test=0.0, status="ok", seed=0):
        return {"cell": cell, "task": "arith", "trial": trial, "replicate": seed, "phase": phase, "status": status,
                "valid_score": valid, "test_score": test, "seed": seed}

    rows = [row(0, 0.30), row(1, 0.50), row(0, 0.40, seed=1), row(1, 0.60, status="diverged", seed=1),
            row(2, 0.44), row(2, 0.43, seed=1)]
    # trial 1 means (0.5 + 0) / 2 (its divergence counts 0); trial 2: 0.435; trial 0: 0.35
    assert ablation.best_trial(rows, "lstm", "arith") == 2
    assert ablation.best_trial(rows, "gru", "arith") is None
    jobs = ablation.confirm_plan(["lstm", "gru"], ["arith"], rows, presets.get("quick"), 3, 2, 7, None)
    assert [(k, j.seed) for k, j in jobs] == [(("lstm", "arith", 2, 0, "confirm"), 100_007),
                                              (("lstm", "arith", 2, 1, "confirm"), 100_008)]
    assert jobs[0][1].hparams == presets.sample_configs(presets.get("quick"), "arith", 3, 7)[2].to_json()
    rows += [row(2, 0.0, phase="confirm", test=0.41), row(2, 0.0, phase="confirm", test=0.45, seed=1),
             row(1, 0.0, phase="confirm", test=0.99)]  # an old confirmation of a config no longer the best
    estimate = ablation.confirmed(rows, "lstm", "arith")
    assert estimate.n == 2 and estimate.mean == pytest.approx(0.43)
    confirm = {"tanh": stats.Estimate(0.20, 0.18, 0.22, 4), "lstm_f": stats.Estimate(0.44, 0.40, 0.50, 4),
               "lstm_i": stats.Estimate(0.6, 0.55, 0.65, 4), "lstm": stats.Estimate(0.43, 0.41, 0.45, 4),
               "gru": stats.Estimate(0.9, 0.85, 0.95, 4)}
    lines = ablation.separation(confirm, "arith")
    assert lines[0].startswith("arith: Kendall's tau against the paper's tiers over the 8 cell pairs")
    assert lines[0].endswith("0.50")  # lstm_f and lstm_i above lstm: 2 of 8 pairs discordant -> (6 - 2) / 8
    assert "tanh 0.200 [0.180, 0.220] vs lstm" in lines[1] and lines[1].endswith("below, the intervals do not overlap")
    assert lines[3].startswith("arith: lstm_f") and lines[3].endswith("not separated")  # overlaps the LSTM
    assert ablation.separation(confirm, "ptb") == []


def test_ablation_with_workers_matches_the_in_process_run(tmp_path):
    args = ["--tasks", "memorize", "--cells", "gru", "--trials", "1", "--replicates", "2", "--confirm-seeds", "0",
            "--set", "max_epochs=1", "--set", "memorize.n_train=64", "--set", "memorize.n_valid=32"]
    inline = run_module("evo_rnn.ablation", *args, "--out", str(tmp_path / "inline"))
    pooled = run_module("evo_rnn.ablation", *args, "--workers", "2", "--out", str(tmp_path / "pooled"))
    assert inline.returncode == 0 and pooled.returncode == 0, pooled.stderr[-2000:]

    def scores(folder):
        rows = [json.loads(line) for line in (tmp_path / folder / "results.jsonl").read_text().splitlines()]
        return sorted((r["replicate"], r["seed"], r["valid_score"], r["test_score"]) for r in rows)

    assert scores("inline") == scores("pooled") and len(scores("inline")) == 2
    assert scores("inline")[0][1] != scores("inline")[1][1]  # the replicates trained with different seeds
    markdown = (tmp_path / "pooled" / "ablation.md").read_text()
    assert "over 2 training seeds per config" in markdown and "| gru | " in markdown and " ± " in markdown
    assert "| tanh |" not in markdown  # only the chosen cells
    bad = run_module("evo_rnn.ablation", "--replicates", "0", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "--replicates" in stderr_lines(bad)[0]
    other_seed = run_module("evo_rnn.ablation", *args, "--seed", "5", "--out", str(tmp_path / "inline"))
    assert other_seed.returncode == 2 and "another preset, --set, --seed, --trials" in stderr_lines(other_seed)[0]
    assert len((tmp_path / "inline" / "results.jsonl").read_text().splitlines()) == 2  # nothing lost or added


def test_ablation_with_populations_trains_the_same_plan_and_keeps_it_apart(tmp_path):
    args = ["--tasks", "memorize", "--cells", "gru,tanh", "--trials", "2", "--replicates", "2", "--confirm-seeds", "0",
            "--set", "max_epochs=1", "--set", "memorize.n_train=64", "--set", "memorize.n_valid=32"]
    inline = run_module("evo_rnn.ablation", *args, "--population", "4", "--out", str(tmp_path / "inline"))
    pooled = run_module("evo_rnn.ablation", *args, "--population", "3", "--workers", "2",
                        "--out", str(tmp_path / "pooled"))
    assert inline.returncode == 0 and pooled.returncode == 0, (inline.stderr[-2000:], pooled.stderr[-2000:])

    def rows(folder):
        found = [json.loads(line) for line in (tmp_path / folder / "results.jsonl").read_text().splitlines()]
        return sorted((r["cell"], r["trial"], r["replicate"], r["seed"], r["status"], r["valid_score"]) for r in found)

    # Every (cell, config, replicate) of the plan once, with its seed; the members' results do
    # not depend on which population they were in, nor on the process that trained it.
    assert rows("inline") == rows("pooled") and len(rows("inline")) == 8
    preset = presets.with_overrides(presets.get("quick"), ["max_epochs=1", "memorize.n_train=64",
                                                           "memorize.n_valid=32"])
    planned = {(key[0], key[2], key[3], job.seed)
               for key, job in ablation.plan(["gru", "tanh"], ["memorize"], preset, 2, 2, 0, None)}
    assert {(c, t, r, s) for c, t, r, s, *_ in rows("inline")} == planned
    fit = run_module("evo_rnn.ablation", *args, "--population", "0", "--out", str(tmp_path / "inline"))  # fit: refused
    assert fit.returncode == 2 and "--population (or none)" in stderr_lines(fit)[0]


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
