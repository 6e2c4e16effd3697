"""`python -m evo_rnn.search` for real, at a tiny size: export and reload, a SIGKILL and a
resume, Ctrl-C, and bad input."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest

from evo_rnn.cells import file_format

from conftest import (
    RAW_TENSORFLOW_LOG,
    SHARED,
    interrupt,
    run_module,
    run_python,
    search_args,
    start,
    stderr_lines,
    user_environment,
    wait_for,
    without_graphviz,
)


def rows(database) -> list[tuple]:
    """The evaluations recorded so far (none while the search is still creating its database)."""
    with sqlite3.connect(database, timeout=30) as db:
        try:
            return db.execute("SELECT id, arch, task, hparams, created FROM evaluations ORDER BY id").fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []
            raise


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_the_default_fitness_races_children_on_seeds_paired_with_the_grus_and_exports_baselines_apart(tmp_path):
    # The default search (ptb_chars, racing 2 -> 4 seeds here), at a tiny size.
    tiny = [
        "max_epochs=1",
        "ptb_chars.max_train_tokens=2000",
        "ptb_chars.max_eval_tokens=500",
        "budgets.ptb_chars=2000",
        "budgets.memorize=2000",
        "memorize.n_train=128",
        "memorize.n_valid=32",
        "memorize.n_test=32",
        "search.filter_threshold=0.0",
        "search.first_task_ratio=0.5",
        "search.race_max_seeds=4",
        "search.reevaluate_probability=0",
    ]
    args = ["--run", "d", "--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--quiet"]
    args += ["--data-dir", str(SHARED), "--workers", "1", "--max-evaluations", "20", "--confirm-seeds", "2"]
    result = run_module("evo_rnn.search", *args, *[x for item in tiny for x in ("--set", item)], timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    with sqlite3.connect(tmp_path / "runs" / "d" / "search.sqlite") as db:
        seeds = {}
        for arch, seed in db.execute("SELECT arch, seed FROM evaluations WHERE task = 'ptb_chars' AND seed < 100000"):
            seeds.setdefault(arch, set()).add(seed)
        kinds = dict(db.execute("SELECT arch, kind FROM steps"))
    gru, lstm = (tmp_path / "out" / "d" / f"baseline-{name}" / "summary.json" for name in ("gru", "lstm"))
    baselines = {json.loads(path.read_text())["arch"] for path in (gru, lstm)}
    every = {0, 50_000, 50_001, 50_002}
    assert all(seeds[arch] == every for arch in baselines)  # the seed cells: every seed a race can ask for
    raced = [arch for arch, kind in kinds.items() if kind == "mutate" and arch in seeds]
    assert raced and all(seeds[arch] in ({0, 50_000}, every) for arch in raced)  # 2 seeds, then 4
    assert json.loads(gru.read_text())["rank"] is None


def test_a_tiny_search_exports_cells_whose_models_reload(tmp_path):
    # As a user runs it: no TF_CPP_MIN_LOG_LEVEL of ours, JAX installed (it sets one when Keras loads it).
    result = run_module(
        "evo_rnn.search",
        *search_args(tmp_path, "--workers", "1", "--max-candidates", "2", "--top", "2", "--confirm-seeds", "2"),
        timeout=900,
        env=user_environment(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "exported the best cells to" in result.stderr
    assert (
        "retraining" not in result.stderr
    )  # the search kept every model that could become a best (`_may_become_best`)
    raw = [line for line in result.stderr.splitlines() if any(mark in line for mark in RAW_TENSORFLOW_LOG)]
    assert not raw, raw[:3]  # the user's log holds evo_rnn's lines only
    summary_line = next(line for line in result.stderr.splitlines() if line.startswith("children"))
    counts = {
        name: int(n) for name, n in re.findall(r"(filtered|rejected|accepted|not kept|unfinished) (\d+)", summary_line)
    }
    assert int(re.match(r"children (\d+)", summary_line).group(1)) == sum(counts.values()) == 2, summary_line
    export = tmp_path / "out" / "tiny"
    folders = sorted(p for p in export.iterdir() if p.is_dir())
    ranked = [f for f in folders if not f.name.startswith("baseline-")]
    # The children that made it, ranked; the seed cells apart, as baselines, never counted in --top.
    assert [f.name for f in folders if f not in ranked] == ["baseline-gru", "baseline-lstm"]
    assert len(ranked) <= 2 and [f.name.split("-")[0] for f in ranked] == ["1", "2"][: len(ranked)]
    readme = (export / "README.md").read_text()
    assert "| baseline (gru) |" in readme and "| baseline (lstm) |" in readme and "cell.png" in readme
    folder = ranked[0] if ranked else export / "baseline-lstm"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["format_version"] == 2 and set(summary["tasks"]) == {"arith", "xml"}
    # Confirmed at the end: two fresh seeds per cell and task, paired with the GRU's.
    block = summary["tasks"]["arith"]["confirm"]
    assert block["seeds"] == 2 and block["seed_list"] == [100_000, 100_001] and block["score"] == "test"
    assert set(block) >= {"mean", "ci95", "ratio_to_gru", "ratio_to_lstm", "p_value_vs_gru"}
    assert "fresh seeds" in readme and ("distinguishable from the GRU" in readme or "than the GRU" in readme)
    umask = os.umask(0)
    os.umask(umask)
    for name in ("cell.json", "cell.png", "summary.json", "model-arith.keras", "task-arith.json"):
        assert (folder / name).stat().st_mode & 0o777 == 0o666 & ~umask, name  # shareable, not private
    predicted = run_module("evo_rnn.predict", str(folder / "model-arith.keras"), "12+34=")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert re.fullmatch(r"[0-9a-z+\-=.]{1,40}", predicted.stdout.strip()), predicted.stdout
    assert summary["overall_score"] == pytest.approx(min(t["ratio_to_gru"] for t in summary["tasks"].values()))
    assert summary["lineage"][0]["arch"] == summary["arch"] and summary["tasks"]["arith"]["hparams"]
    file_format.load(folder / "cell.json")
    assert (folder / "cell.png").read_bytes()[:4] == b"\x89PNG"
    code = """
import sys, numpy as np, keras, evo_rnn
d = sys.argv[1]
tokens = np.random.default_rng(0).integers(1, 10, size=(3, 12)).astype("int32")
model = keras.models.load_model(d + "/model-arith.keras")
out = model.predict(tokens, verbose=0)
assert out.shape[:2] == (3, 12) and np.isfinite(out).all()
np.save(d + "/tokens.npy", tokens); np.save(d + "/keras.npy", out)
print("keras ok")
"""
    loaded = run_python(code, str(folder))
    assert loaded.returncode == 0 and "keras ok" in loaded.stdout, loaded.stderr[-3000:]
    served = """
import sys
sys.modules["evo_rnn"] = None  # served without evo_rnn
import numpy as np, tensorflow as tf
d = sys.argv[1]
model = tf.saved_model.load(d + "/savedmodel-arith")
out = model.serve(tf.constant(np.load(d + "/tokens.npy"))).numpy()
np.testing.assert_allclose(out, np.load(d + "/keras.npy"), atol=1e-5)
print("savedmodel ok")
"""
    loaded = run_python(served, str(folder))
    assert loaded.returncode == 0 and "savedmodel ok" in loaded.stdout, loaded.stderr[-3000:]
    again = run_module(
        "evo_rnn.export",
        "--run",
        "tiny",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--out",
        str(tmp_path / "again"),
        "--top",
        "50",
        env=without_graphviz(),
    )
    assert again.returncode == 0, again.stderr[-2000:]
    with sqlite3.connect(tmp_path / "runs" / "tiny" / "search.sqlite") as db:
        members = db.execute("SELECT COUNT(*) FROM population").fetchone()[0]
    children = members - 2  # the GRU and the LSTM are baselines, exported apart
    assert f"holds {children} children besides the seed cells; exporting all {children} (--top 50" in again.stderr
    again_folder = tmp_path / "again" / "tiny" / folder.name
    assert (again_folder / "model-xml.keras").is_file()
    # Without Graphviz: every diagram as DOT, and the way to the PNGs said once.
    assert (again_folder / "cell.dot").read_text().startswith("digraph") and not (again_folder / "cell.png").exists()
    assert "cell.dot" in (tmp_path / "again" / "tiny" / "README.md").read_text()
    assert "install it and run `python -m evo_rnn.export --run tiny` again" in again.stderr


# One evaluation per job in this process (--workers 0): tests/core/test_faults.py kills it at
# every kind of moment. Here: a worker pool and batched jobs, killed from outside.
@pytest.mark.parametrize(
    "jobs",
    [
        [
            "--workers",
            "1",
            "--set",
            "search.halving_configs=4",
            "--set",
            "search.halving_epochs=1",
            "--set",
            "max_epochs=2",
            "--batched",
            "3",
        ],
    ],
    ids=["batched-jobs"],
)
def test_a_killed_search_resumes_without_losing_or_repeating_evaluations(tmp_path, jobs):
    args = search_args(tmp_path, "--max-candidates", "2", *jobs)
    database = tmp_path / "runs" / "tiny" / "search.sqlite"
    process = start(args)
    wait_for(lambda: database.exists() and len(rows(database)) >= 11, process)
    workers = children_of(process.pid)
    process.send_signal(signal.SIGKILL)
    try:
        process.communicate(timeout=60)  # an orphaned worker would hold the pipes open
    except subprocess.TimeoutExpired:
        for pid in children_of(process.pid) + workers:
            os.kill(pid, signal.SIGKILL)
        pytest.fail("the search's workers outlived it by a minute")
    deadline = time.time() + 15
    while [pid for pid in workers if os.path.exists(f"/proc/{pid}")] and time.time() < deadline:
        time.sleep(0.5)
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]  # the workers ended with it
    before = rows(database)
    resumed = run_module("evo_rnn.search", *args, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = rows(database)
    assert after[: len(before)] == before  # nothing completed was lost or rewritten
    trained = int(re.search(r"(\d+) trained", resumed.stderr).group(1))
    assert trained == len(after) - len(before)  # every evaluation the resumed run trained was new
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM steps WHERE outcome IS NULL").fetchone()[0] == 0
        children = db.execute(
            "SELECT COUNT(*) FROM steps WHERE kind='mutate' AND outcome NOT IN ('duplicate', 'unmutable')"
        ).fetchone()[0]
    assert children == 2
    if jobs[-2:] == ["--batched", "3"]:  # every evaluation trained by the batched engine, and exported
        with sqlite3.connect(database) as db:
            keys = {row[0] for row in db.execute("SELECT DISTINCT preset FROM evaluations")}
            config = json.loads(db.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
        # Two keys: full training, and the successive-halving rung's brief one (its own max_epochs).
        assert len(keys) == 2 and "engine=batched" in config["overrides"]
        exported = next(p for p in (tmp_path / "out" / "tiny").iterdir() if p.is_dir())
        assert (exported / "model-arith.keras").is_file() and (exported / "model-xml.keras").is_file()


@pytest.mark.parametrize("stop, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_and_sigterm_stop_within_seconds_cancel_the_workers_and_say_how_to_resume(tmp_path, stop, code, word):
    args = search_args(tmp_path, "--workers", "1")
    database = tmp_path / "runs" / "tiny" / "search.sqlite"
    process = start(args)

    # Once the first evaluation is stored the pool is busy with the next ones.
    wait_for(lambda: database.exists() and len(rows(database)) >= 1, process)
    workers = children_of(process.pid)
    assert workers  # the spawned pool (and multiprocessing's helper)
    started = time.time()
    stderr = interrupt(process, timeout=60, signal_number=stop)
    stopped = time.time() - started
    assert process.returncode == code, stderr[-3000:]
    assert "interrupted: the evaluations in flight were cancelled" in stderr and "rerun the same command" in stderr
    # Stopped before the seed cells were scored: nothing to export, and it says so (the way to
    # export after a later stop: tests/runs/test_ray_executor.py).
    assert "nothing to export yet: the seed cells are not all evaluated" in stderr
    assert not (tmp_path / "out" / "tiny").exists()
    assert stopped < 20, stopped  # seconds, under load (a few when idle)
    deadline = time.time() + 15
    while [pid for pid in workers if os.path.exists(f"/proc/{pid}")] and time.time() < deadline:
        time.sleep(0.5)
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]  # no worker left running
    # Resuming after a stop: test_a_killed_search_resumes_... and tests/core/test_faults.py.


def test_an_out_that_is_a_file_is_refused_before_any_training(tmp_path):
    (tmp_path / "afile").write_text("precious")
    args = search_args(tmp_path, "--max-candidates", "1")
    args[args.index("--out") + 1] = str(tmp_path / "afile")
    result = run_module("evo_rnn.search", *args, timeout=300)
    assert result.returncode == 2 and "afile is a file, not a folder" in stderr_lines(result)[-1]
    assert not (tmp_path / "runs").exists()  # refused before the run was made: nothing trained
    assert (tmp_path / "afile").read_text() == "precious"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tasks", "arith,sums"], "unknown task 'sums'"),
        (["--tasks", "memorize,arith"], "the filter task 'memorize' cannot also be a scored task"),
        (["--workers", "-1"], "argument --workers: expected a whole number >= 0, got -1"),
        (["--set", "search.population=3"], "unknown field 'search.population'"),
        (["--set", " max_epochs=3"], "the field name ' max_epochs' has spaces"),
        (["--set", "budgets.nosuch=5"], "unknown budget 'budgets.nosuch'; budgets: budgets.arith"),
        (["--tasks", "ptb", "--data-dir", "/nonexistent"], "ptb/ptb.train.txt not found in /nonexistent"),
        (["--run", "../x"], "invalid run name '../x'"),
        (["--batched", "many"], "expected `auto` or a whole number, got 'many'"),
        (["--batched", "0"], "argument --batched: expected `auto` or at least 1, got 0"),
        (["--set", "engine=fit"], "the engine is chosen with --batched P"),
        (
            ["--max-evaluations", "10", "--data-dir", str(SHARED)],
            "a budget of 10 evaluations cannot score the seed cells: with these settings they need at least 18; "
            "give --max-evaluations 18 or more",
        ),
        (
            ["--set", "search.max_evaluations=17", "--data-dir", str(SHARED)],
            "a budget of 17 evaluations cannot score the seed cells",
        ),
        (
            ["--set", "search.halving_configs=4", "--set", "max_epochs=3", "--data-dir", str(SHARED)],
            "successive halving needs search.configs_per_task (1) <= search.halving_configs (4) "
            "and 1 <= search.halving_epochs (3) < max_epochs (3)",
        ),
        (
            ["--set", "search.race_seeds=4", "--set", "search.race_max_seeds=2", "--data-dir", str(SHARED)],
            "search.race_seeds (4) is above search.race_max_seeds (2)",
        ),
        (["--data-dir", "/nonexistent"], "ptb/ptb.train.txt not found in /nonexistent"),  # the default fitness's data
        (["--strategy", "hill"], "invalid choice: 'hill'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run_module("evo_rnn.search", *args)
    assert result.returncode == 2
    lines = stderr_lines(result)
    assert len(lines) == 1 and message in lines[0], lines


def test_without_graphviz_the_search_runs_and_exports_dot_diagrams_then_refuses_other_settings(tmp_path):
    first = run_module(
        "evo_rnn.search",
        *search_args(tmp_path, "--workers", "0", "--max-candidates", "0", "--top", "1"),
        timeout=600,
        env=without_graphviz(),
    )
    assert first.returncode == 0, first.stderr[-2000:]
    note = [line for line in first.stderr.splitlines() if line.startswith("note: Graphviz")]
    assert len(note) == 1 and "python -m evo_rnn.export --run tiny" in note[0]  # said at the start, once
    assert first.stderr.index(note[0]) < first.stderr.index("search run 'tiny'")
    exported = next(p for p in (tmp_path / "out" / "tiny").iterdir() if p.is_dir())
    assert (exported / "cell.dot").is_file() and (exported / "model-arith.keras").is_file()
    spent = run_module(
        "evo_rnn.search",
        *search_args(tmp_path, "--workers", "0", "--no-export", "--budget-minutes", "0.0001"),
        timeout=600,
    )
    assert spent.returncode == 0 and "has spent its budget" in spent.stderr and "--budget-minutes" in spent.stderr
    other = run_module("evo_rnn.search", *search_args(tmp_path, "--seed", "1"))
    assert other.returncode == 2
    assert "was started as `python -m evo_rnn.search --run tiny" in stderr_lines(other)[0]
    assert "--run NEW_NAME" in stderr_lines(other)[0]


def test_batched_auto_is_the_hardware_default_and_a_run_resumes_with_its_engine(tmp_path):
    from evo_rnn.core import backend
    from evo_rnn.core.cli import UsageError
    from evo_rnn.runs.run import RunSettings
    from evo_rnn.training import engine_choice, presets

    assert backend.accelerator() == "cpu" and backend.default_batched_members() == backend.BATCHED_MEMBERS["cpu"]
    new = engine_choice.choose("auto")
    assert new.members == backend.BATCHED_MEMBERS["cpu"] > 1 and new.engine == "batched"  # a new run: batched jobs
    assert "engine=batched" in new.overrides([])
    fit_run = RunSettings("quick", (), 0, "python -m evo_rnn.search --batched 1")
    batched_run = RunSettings("quick", ("engine=batched",), 0, "python -m evo_rnn.search")
    resumed_fit = engine_choice.choose("auto", stored=fit_run.resolved_preset())
    assert resumed_fit.members == 1 and resumed_fit.overrides([]) == []  # resumes as it started
    assert engine_choice.choose("auto", stored=batched_run.resolved_preset()).members == backend.BATCHED_MEMBERS["cpu"]
    stored_before_the_rename = RunSettings("quick", ("engine=population",), 0, "python -m evo_rnn.search")
    assert (
        engine_choice.choose("auto", stored=stored_before_the_rename.resolved_preset()).members
        == backend.BATCHED_MEMBERS["cpu"]
    )
    assert stored_before_the_rename.resolved_preset() == batched_run.resolved_preset()  # it resumes
    assert engine_choice.choose(5, stored=fit_run.resolved_preset()).members == 5
    assert (
        presets.with_overrides(presets.get("quick"), engine_choice.choose(16).overrides([]))
        == batched_run.resolved_preset()
    )
    with pytest.raises(UsageError, match="--batched P"):  # one flag chooses the engine
        engine_choice.choose("auto", ["max_epochs=2", "engine=fit"])


def test_export_of_a_missing_run_names_the_fix(tmp_path):
    result = run_module("evo_rnn.export", "--run", "nope", "--runs-dir", str(tmp_path))
    assert result.returncode == 2
    assert "no search run at" in stderr_lines(result)[0] and "python -m evo_rnn.search --run nope" in result.stderr
