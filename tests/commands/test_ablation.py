"""The ablation as a run: the same configurations and seeds for every cell, the best
configuration by its mean over seeds (the search's rule), the confirmation's interval (the
search's rule), resuming trains nothing, the report renders it, other runs are not mixed in; the
paper's tiers; and the old results' reader in benchmarks/ reproducing the shipped tables."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sqlite3
import subprocess
import sys

import pytest

from evo_rnn.cells import file_format, zoo
from evo_rnn.commands import ablation
from evo_rnn.commands import export as export_command
from evo_rnn.commands import search as search_command
from evo_rnn.core.cli import UsageError
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.executors import InlineExecutor
from evo_rnn.runs.run import Run, RunFiles, RunSettings
from evo_rnn.runs.seeds import confirm_seeds, replicate_seed, tuning_seeds
from evo_rnn.runs.store import Store
from evo_rnn.scoring import across_runs, statistics, tables
from evo_rnn.scoring.paper_scores import Scores
from evo_rnn.scoring.tables import AblationSettings
from evo_rnn.training import presets
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.views.report import write_report

from conftest import ROOT, SHARED, ConfigSeedFake, FakeEvaluator, quiet, run_module

SETTINGS = AblationSettings(("gru", "lstm"), ("arith", "xml"), trials=4, replicates=3, confirm_seeds=3)


def run_settings(seed: int = 0, overrides: tuple[str, ...] = ()) -> RunSettings:
    return RunSettings("quick", overrides, seed, "python -m evo_rnn.ablation --run abl", kind="ablation")


def test_tuning_seeds_are_the_runs_seed_then_its_reevaluation_seeds():
    assert tuning_seeds(7, 3) == [7, replicate_seed(7, 0), replicate_seed(7, 1)]
    assert tuning_seeds(7, 1) == [7]


def test_every_cell_trains_the_same_configurations_on_the_same_seeds(tmp_path):
    files = RunFiles("tuning", tmp_path)
    with Run.start_or_resume(files, run_settings(), refuse=lambda *_: None) as (run, _):
        requests = ablation.tuning_requests(run, SETTINGS, presets.get("quick"), seed=5)
    assert len(requests) == 2 * 2 * 4 * 3
    for task in SETTINGS.tasks:
        plans = [
            {(r.hparams, r.seed) for r in requests if r.task == task and r.arch == arch}
            for arch in {r.arch for r in requests}
        ]
        assert plans[0] == plans[1] and len(plans[0]) == 4 * 3
        assert {seed for _, seed in plans[0]} == set(tuning_seeds(5, 3))
        bank = presets.sample_configs(presets.get("quick"), task, 4, 5)
        assert {config for config, _ in plans[0]} == set(bank)
    # One group per cell and task, so one cell's configurations pack into batched jobs together.
    assert len({(r.arch, r.task) for r in requests}) == len({r.group for r in requests}) == 4


def test_the_table_uses_the_searchs_rules_and_a_rerun_trains_nothing(tmp_path):
    files = RunFiles("abl", tmp_path / "runs")
    fake = ConfigSeedFake()
    table = ablation.ablate(files, run_settings(), SETTINGS, InlineExecutor(fake), log=quiet)
    tuned = [c for c in fake.calls if c[3] < 100_000]
    confirmed = [c for c in fake.calls if c[3] >= 100_000]
    assert len(tuned) == 2 * 2 * 4 * 3 and len(confirmed) == 2 * 2 * 3
    with Store(files.database, readonly=True) as store:
        for row in table:
            arch = store.find_architecture(zoo.get(row.cell))
            means: dict[str, list[float]] = {}
            for evaluation in store.evaluations(arch=arch, task=row.task):
                if evaluation["seed"] in tuning_seeds(0, 3):
                    means.setdefault(HParams.from_dict(evaluation["hparams"]).to_json(), []).append(
                        evaluation["valid_score"]
                    )
            best = max(means, key=lambda config: sum(means[config]) / 3)  # the best mean over seeds
            assert row.tuning_valid == pytest.approx(sum(means[best]) / 3) and row.tuning_seeds == 3
            chosen = {c[2] for c in confirmed if c[0] == arch and c[1] == row.task}
            assert chosen == {best}  # the confirmation trained that configuration, on the fresh seeds
            scores = [
                e["test_score"] for e in store.evaluations(arch=arch, task=row.task) if e["seed"] in confirm_seeds(0, 3)
            ]
            expected = statistics.mean_interval(scores)
            assert (row.confirmed.mean, row.confirmed.low, row.confirmed.high) == pytest.approx(
                (expected.mean, expected.low, expected.high)
            )
            assert row.paper == tables.PAPER_TABLE_1[row.cell][row.task]
    gru_rows = [row for row in table if row.cell == "gru"]
    assert all(row.ratio_to_gru.mean == pytest.approx(1.0) and row.p_value_vs_gru == 1.0 for row in gru_rows)
    assert all(row.p_value_holm is None for row in gru_rows)  # the GRU is not tested against itself
    others = [row for row in table if row.cell != "gru"]
    assert [row.p_value_holm for row in others] == pytest.approx(
        statistics.holm([row.p_value_vs_gru for row in others])
    )
    markdown = (files.root / "ablation.md").read_text()
    assert tables.markdown(table, SETTINGS.tasks) in markdown and "(0.8956)" in markdown
    assert (files.root / "ablation.csv").read_text().startswith("cell,task,tuning_valid")
    calls = len(fake.calls)
    again = ablation.ablate(files, run_settings(), SETTINGS, InlineExecutor(fake), log=quiet)
    assert len(fake.calls) == calls and again == table  # resumed from the run's database
    more = dataclasses.replace(SETTINGS, trials=5)
    ablation.ablate(files, run_settings(), more, InlineExecutor(fake), log=quiet)
    assert len(fake.calls) - calls >= 2 * 2 * 3  # the fifth configuration, for every cell, task and seed
    assert not any(c in fake.calls[:calls] for c in fake.calls[calls:])  # and nothing already trained


def test_another_seed_preset_or_kind_of_run_is_refused_and_nothing_is_written(tmp_path):
    files = RunFiles("abl", tmp_path / "runs")
    small = dataclasses.replace(SETTINGS, trials=1, replicates=1, confirm_seeds=0)
    ablation.ablate(files, run_settings(), small, InlineExecutor(FakeEvaluator()), log=quiet)
    with Store(files.database) as store:
        count = store.evaluation_count()
    for other in (run_settings(seed=3), run_settings(overrides=("max_epochs=3",))):
        with pytest.raises(UsageError, match="resume it with the same --preset"):
            ablation.ablate(files, other, small, InlineExecutor(FakeEvaluator()), log=quiet)
    search = RunFiles("searched", tmp_path / "runs")
    search.root.mkdir(parents=True)
    with Store(search.database) as store:
        RunSettings("quick", (), 0, "python -m evo_rnn.search").start(store)
    with pytest.raises(UsageError, match="is a search run"):
        ablation.ablate(search, run_settings(), small, InlineExecutor(FakeEvaluator()), log=quiet)
    with Store(files.database) as store:
        assert store.evaluation_count() == count


def test_the_report_renders_an_ablation_run(tmp_path):
    files = RunFiles("abl", tmp_path / "runs")
    settings = AblationSettings(("tanh", "lstm", "gru"), ("arith",), trials=2, replicates=1, confirm_seeds=2)
    table = ablation.ablate(files, run_settings(), settings, InlineExecutor(ConfigSeedFake()), log=quiet)
    page = write_report(files, tmp_path / "report.html").read_text()
    assert "Ablation run <code>abl</code>" in page and "Leaderboard" not in page
    for row in table:
        assert row.confirmed.text(4) in page
    assert "Kendall&#x27;s tau against the paper&#x27;s tiers" in page
    assert "Spread over configurations" in page


def test_across_runs_combines_independent_ablations_and_refuses_runs_that_are_not(tmp_path, capsys):
    runs = tmp_path / "runs"
    settings = AblationSettings(("tanh", "lstm", "gru"), ("arith",), trials=2, replicates=1, confirm_seeds=3)
    tables_by_run = {}
    for name, seed in (("a", 0), ("b", 1000), ("c", 2000)):
        tables_by_run[name] = ablation.ablate(
            RunFiles(name, runs), run_settings(seed), settings, InlineExecutor(ConfigSeedFake()), log=quiet
        )
    said = []
    combined = ablation.combine_runs(["a", "b", "c"], runs, log=said.append)
    assert said == []  # every run confirmed every cell
    lstm = next(c for c in combined if c.cell == "lstm")
    ratios = [next(r for r in tables_by_run[n] if r.cell == "lstm").ratio_to_gru.mean for n in "abc"]
    assert lstm.per_run == tuple(ratios) and lstm.ratio_to_gru.covers == statistics.SEEDS_AND_CONFIGURATION
    assert lstm.ratio_to_gru == statistics.ratio_across_runs(ratios)[0]
    assert ablation.main(["--across", "a", "b", "c", "--runs-dir", str(runs)]) == 0
    assert across_runs.markdown(combined, ["a", "b", "c"]) in capsys.readouterr().out

    # Not independent, not the same protocol, not an ablation, one run: one line each, exit 2.
    other = dataclasses.replace(settings, trials=3)
    ablation.ablate(RunFiles("more", runs), run_settings(3000), other, InlineExecutor(ConfigSeedFake()), log=quiet)
    ablation.ablate(RunFiles("near", runs), run_settings(1), settings, InlineExecutor(ConfigSeedFake()), log=quiet)
    search = RunFiles("searched", runs)
    search.root.mkdir(parents=True)
    with Store(search.database) as store:
        RunSettings("quick", (), 5000, "python -m evo_rnn.search").start(store)
    for names, message in (
        (["a", "near"], "share 2 training seeds (e.g. 100001)"),  # a confirms on 100000-100002, near on 100001-100003
        (["a", "more"], "differ in --trials"),
        (["a", "searched"], "'searched' is not an ablation"),
        (["a", "a"], "at least two different ablation runs"),
        (["a", "missing"], "no ablation run 'missing' in"),
        (["a", "b", "--cells", "gru"], "drop --cells"),
    ):
        assert ablation.main(["--across", *names, "--runs-dir", str(runs)]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and message in error[0], error


def test_a_cell_file_is_ablated_beside_zoo_cells_under_its_path_and_a_duplicate_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    file_format.save(zoo.get("mut1"), tmp_path / "found" / "cell.json")
    file_format.save(zoo.get("gru"), tmp_path / "gru-again.json")
    settings = AblationSettings(("gru", "found/cell.json"), ("arith",), trials=2, replicates=1, confirm_seeds=2)
    files = RunFiles("abl", tmp_path / "runs")
    table = ablation.ablate(files, run_settings(), settings, InlineExecutor(ConfigSeedFake()), log=quiet)
    # Another run of the same path after the file changed is another cell: --across refuses the pair.
    file_format.save(zoo.get("mut2"), tmp_path / "found" / "cell.json")
    other = RunFiles("changed", tmp_path / "runs")
    ablation.ablate(other, run_settings(1000), settings, InlineExecutor(ConfigSeedFake()), log=quiet)
    with pytest.raises(UsageError, match="'found/cell.json' is a different cell in runs 'abl' and 'changed'"):
        ablation.combine_runs(["abl", "changed"], tmp_path / "runs", log=quiet)
    found = next(row for row in table if row.cell == "found/cell.json")
    assert found.confirmed is not None and found.ratio_to_gru is not None and found.paper is None
    (tmp_path / "found" / "cell.json").unlink()  # the table reads from the run, not the file
    with Run.open(files, readonly=True) as run:
        assert tables.rows(Scores.of(run), settings.cells, settings.tasks) == table
    assert "found/cell.json" in write_report(files, tmp_path / "report.html").read_text()
    same = dataclasses.replace(settings, cells=("gru", "gru-again.json"))
    with pytest.raises(UsageError, match="'gru-again.json' is the same cell as 'gru'"):
        ablation.ablate(RunFiles("dup", tmp_path / "runs"), run_settings(), same, InlineExecutor(FakeEvaluator()))


def test_the_papers_tiers_are_read_by_kendalls_tau_and_non_overlapping_intervals():
    confirm = {
        "tanh": statistics.Estimate(0.20, 0.18, 0.22, 4),
        "lstm_f": statistics.Estimate(0.44, 0.40, 0.50, 4),
        "lstm_i": statistics.Estimate(0.6, 0.55, 0.65, 4),
        "lstm": statistics.Estimate(0.43, 0.41, 0.45, 4),
        "gru": statistics.Estimate(0.9, 0.85, 0.95, 4),
    }
    lines = tables.separation(confirm, "arith")
    assert lines[0].startswith("arith: Kendall's tau against the paper's tiers over the 8 cell pairs")
    assert lines[0].endswith("0.50")  # lstm_f and lstm_i above lstm: 2 of 8 pairs discordant -> (6 - 2) / 8
    assert "tanh 0.200 [0.180, 0.220] vs lstm" in lines[1] and lines[1].endswith("below, the intervals do not overlap")
    assert lines[3].startswith("arith: lstm_f") and lines[3].endswith("not separated")  # overlaps the LSTM
    assert tables.separation(confirm, "ptb") == []


def test_the_ablation_command_stores_a_run_the_report_renders_and_a_rerun_trains_nothing(tmp_path, capsys):
    runs = str(tmp_path / "runs")
    args = [
        "--run",
        "abl",
        "--runs-dir",
        runs,
        "--cells",
        "gru,lstm",
        "--tasks",
        "arith",
        "--trials",
        "2",
        "--replicates",
        "1",
        "--confirm-seeds",
        "2",
        "--workers",
        "0",
        "--set",
        "max_epochs=1",
        "--set",
        "arith.n_train=64",
        "--set",
        "arith.n_valid=32",
        "--set",
        "arith.n_test=32",
        "--tensorboard",
        str(tmp_path / "tb"),
    ]
    first = run_module("evo_rnn.ablation", *args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "| gru |" in first.stdout and "(0.8956)" in first.stdout
    assert "8 evaluations trained" in first.stderr  # 2 cells x 2 configs, then 2 cells x 2 fresh seeds
    assert len(list((tmp_path / "tb").iterdir())) == 8
    report = run_module("evo_rnn.report", "--run", "abl", "--runs-dir", runs, "-o", str(tmp_path / "abl.html"))
    assert report.returncode == 0, report.stderr[-2000:]
    assert "Ablation run" in (tmp_path / "abl.html").read_text()
    # The rest in this process (one interpreter less each): a rerun, the Python API, bad input.
    capsys.readouterr()
    assert ablation.main(args) == 0 and "0 evaluations trained, 8 from the run's database" in capsys.readouterr().err
    database = tmp_path / "runs" / "abl" / "search.sqlite"
    count = sqlite3.connect(database).execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    # The same run from Python: its rows are the command's table, and it trains nothing more.
    rows = ablation.run(
        ["gru", "lstm"],
        ["arith"],
        run="abl",
        runs_dir=runs,
        trials=2,
        replicates=1,
        confirm_seeds=2,
        workers=0,
        progress=False,
        set=["max_epochs=1", "arith.n_train=64", "arith.n_valid=32", "arith.n_test=32"],
    )
    assert [row.cell for row in rows] == ["gru", "lstm"] and all(row.confirmed.n == 2 for row in rows)
    assert tables.markdown(rows, ("arith",)) in first.stdout
    with pytest.raises(EvoRnnError, match="resume it with the same --preset"):
        ablation.run(["gru"], ["arith"], run="abl", runs_dir=runs, seed=5, workers=0, progress=False)
    for main, extra, words in [
        (ablation.main, ["--seed", "5"], "resume it with the same --preset"),
        (ablation.main, ["--tasks", "sums"], "unknown task 'sums'"),
        (ablation.main, ["--confirm-seeds", "1"], "--confirm-seeds must be 0"),
        (search_command.main, ["--workers", "0", "--data-dir", str(SHARED)], "is an ablation run"),
        (export_command.main, ["--out", str(tmp_path / "out")], "is an ablation run, not a search"),
    ]:
        base = ["--run", "abl", "--runs-dir", runs] if main is not ablation.main else args
        code = main([*base, *extra])
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and words in lines[0], (main.__module__, lines)
    assert sqlite3.connect(database).execute("SELECT COUNT(*) FROM evaluations").fetchone()[0] == count


# ---------------------------------------------------------------------------- results from before runs

SHIPPED = sorted(p for p in (ROOT / "benchmarks" / "results").glob("ablation-*") if p.is_dir())
ABLATION_RESULTS = [p for p in SHIPPED if (p / "results.jsonl").is_file()]  # from before ablations were runs
ABLATION_RUNS = [p for p in SHIPPED if (p / "search.sqlite").is_file()]


def test_every_shipped_ablation_keeps_its_raw_results():
    assert SHIPPED and all(p in ABLATION_RESULTS or p in ABLATION_RUNS for p in SHIPPED)


@pytest.mark.parametrize("folder", ABLATION_RUNS, ids=lambda p: p.name)
def test_every_shipped_ablation_run_rebuilds_its_table_from_its_database(folder):
    with Run.open(RunFiles(folder.name, folder.parent), readonly=True) as run:
        settings = AblationSettings.load(run)
        table = tables.markdown(tables.rows(Scores.of(run), settings.cells, settings.tasks), settings.tasks)
    shipped = (folder / "ablation.md").read_text()
    shipped_rows = {line for line in shipped.splitlines() if line.startswith("|")}
    assert table.count("\n") > 2 and set(table.splitlines()) == shipped_rows


@pytest.fixture(scope="module")
def old_results_reader():
    spec = importlib.util.spec_from_file_location("ablation_results", ROOT / "benchmarks" / "ablation_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("folder", ABLATION_RESULTS, ids=lambda p: p.name)
def test_the_old_results_reader_reproduces_every_shipped_table(folder, old_results_reader):
    rows = old_results_reader.read_rows(folder)
    shipped = (folder / "ablation.md").read_text()
    table = old_results_reader.markdown_table(rows).splitlines()
    assert len(table) > 2 and set(table) == {line for line in shipped.splitlines() if line.startswith("|")}
    assert all(line in shipped for line in old_results_reader.verdicts(rows))


def test_the_old_results_reader_runs_from_the_shell():
    folder = ROOT / "benchmarks" / "results" / "ablation-quick-arith-r2-seed600"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ablation_results.py"), str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0 and "| gru |" in result.stdout, result.stderr


def test_the_shipped_table_across_runs_is_rebuilt_from_the_shipped_databases():
    shipped = (ROOT / "benchmarks" / "results" / "across-quick-arith" / "across.md").read_text()
    names = re.search(r"--across (.+?) --runs-dir", shipped).group(1).split()
    combined = ablation.combine_runs(names, ROOT / "benchmarks" / "results")
    assert across_runs.markdown(combined, names) in shipped
    tanh = next(row for row in combined if row.cell == "tanh")
    assert tanh.ratio_to_gru.high < 1 and tanh.p_value_holm < 0.05  # the one claim about a cell that holds
