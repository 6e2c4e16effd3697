"""Search strategies compared over runs (`evo_rnn.scoring.strategy_comparison`, `python -m
evo_rnn.report --compare`)."""

from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from evo_rnn.runs.executors import InlineExecutor
from evo_rnn.runs.run import RunFiles, RunSettings
from evo_rnn.runs.store import Store
from evo_rnn.scoring import statistics, strategy_comparison
from evo_rnn.search.confirmation import confirm_run
from evo_rnn.training import presets

from conftest import SeededFake, run_module, run_search, search_preset

FIELDS = {
    "tasks": "arith,xml",
    "race_seeds": 1,
    "race_max_seeds": 1,
    "population_size": 100,
    "reevaluate_probability": 0.0,
    "configs_per_task": 3,
    "filter_configs": 2,
    "first_task_ratio": 0.0,
    "filter_threshold": 0.0,
    "halving_configs": 0,
}


def _run(tmp_path, name, strategy, seed):
    files = RunFiles(name, tmp_path / "runs")
    files.database.parent.mkdir(parents=True)
    overrides = [f"search.{k}={v}" for k, v in {**FIELDS, "strategy": strategy}.items()]
    preset = search_preset(**FIELDS, strategy=strategy)
    assert presets.with_overrides(presets.get("quick"), overrides) == preset
    with Store(files.database) as store:
        RunSettings("quick", tuple(overrides), seed, f"python -m evo_rnn.search --run {name}").save(store)
        run_search(store, preset, SeededFake(), seed=seed, max_evaluations=60)
    confirm_run(files, top=2, seeds=3, executor=InlineExecutor(SeededFake()), log=lambda _: None)
    return files


@pytest.fixture
def compared(tmp_path):
    names = []
    for strategy in ("evolution", "random"):
        for seed in (1, 2, 3):
            name = f"{strategy}-{seed}"
            _run(tmp_path, name, strategy, seed)
            names.append(name)
    return tmp_path / "runs", names


def test_each_run_gives_its_budget_curve_and_best_confirmed_cell(compared):
    runs_dir, names = compared
    outcomes = [strategy_comparison.load_outcome(RunFiles(name, runs_dir)) for name in names]
    for outcome in outcomes:
        assert outcome.strategy == outcome.name.split("-")[0] and outcome.seed == int(outcome.name.split("-")[1])
        assert 60 <= outcome.search_evaluations <= 61 and outcome.evaluations > outcome.search_evaluations
        counts = [n for n, _ in outcome.curve]
        assert outcome.curve and counts == sorted(counts) and counts[-1] <= outcome.search_evaluations
        assert outcome.best_confirmed is not None and outcome.best_confirmed_arch is not None
        with Store(runs_dir / outcome.name / "search.sqlite", readonly=True) as store:
            seeded = {step["arch"] for step in store.steps() if step["kind"] == "seed"}
            assert store.lineage(outcome.best_confirmed_arch)["origin"] == "mutation"  # a child, not the LSTM
        assert outcome.best_confirmed_arch not in seeded
        curve = strategy_comparison.best_so_far(outcome, [0, counts[0], outcome.search_evaluations])
        assert math.isnan(curve[0]) and curve[1] == outcome.curve[0][1]
        assert curve[2] == max(score for _, score in outcome.curve)  # the best so far never falls


def test_the_comparison_gives_means_with_intervals_and_the_rank_test(compared, tmp_path):
    runs_dir, names = compared
    outcomes = [strategy_comparison.load_outcome(RunFiles(name, runs_dir)) for name in names]
    result = strategy_comparison.compare(outcomes)
    evolution, random_ = (result["strategies"][s] for s in ("evolution", "random"))
    assert evolution["runs"] == random_["runs"] == 3
    values = {s: [o.best_confirmed for o in outcomes if o.strategy == s] for s in ("evolution", "random")}
    assert evolution["estimate"] == statistics.mean_interval(values["evolution"])
    expected = scipy_stats.mannwhitneyu(values["evolution"], values["random"], alternative="two-sided")
    assert result["mann_whitney"]["p_value"] == pytest.approx(expected.pvalue)
    # Paired by seed: the same seed cells and confirmation seeds, each strategy's own children.
    paired = result["paired"]
    by_run = {(o.strategy, o.seed): o.best_confirmed for o in outcomes}
    differences = [by_run["evolution", seed] - by_run["random", seed] for seed in (1, 2, 3)]
    assert paired["seeds"] == [1, 2, 3] and paired["differences"] == pytest.approx(differences)
    assert paired["estimate"].mean == pytest.approx(sum(differences) / 3) and paired["left_out"] == {}
    assert paired["p_value"] == pytest.approx(statistics.paired_t_test(values["evolution"], values["random"]))
    # The command line writes the page and its plot.
    out = tmp_path / "compare.html"
    done = run_module("evo_rnn.report", "--compare", *names, "--runs-dir", str(runs_dir), "-o", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert "Paired by seed (3 pairs: 1, 2, 3)" in page
    assert "Mann-Whitney U test" in page and page.count("<tr>") >= 6 + 2 and "data:image/png" in page
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    missing = run_module("evo_rnn.report", "--compare", "nosuch", "--runs-dir", str(runs_dir))
    assert missing.returncode == 2 and "no search run at" in missing.stderr


def outcome(strategy: str, seed: int, best: float | None) -> strategy_comparison.RunOutcome:
    return strategy_comparison.RunOutcome(f"{strategy}-{seed}", strategy, seed, 10, 9, [], 3, best, "a" * 32)


def test_pairs_leave_out_what_cannot_pair_and_equal_differences_give_no_interval():
    outcomes = [
        outcome("evolution", 1, 1.05),
        outcome("random", 1, 1.02),
        outcome("evolution", 2, 1.04),
        outcome("random", 2, 1.01),
        outcome("evolution", 3, 1.03),  # no random run
        outcome("evolution", 4, 1.03),
        outcome("random", 4, None),  # no confirmed child
        outcome("evolution", 5, 1.0),
        outcome("evolution", 5, 1.1),  # two runs of one strategy
        outcome("random", 5, 1.0),
    ]
    paired = strategy_comparison.compare(outcomes)["paired"]
    assert paired["seeds"] == [1, 2] and paired["differences"] == pytest.approx([0.03, 0.03])
    assert paired["left_out"] == {
        3: "one strategy only",
        4: "a run without a confirmed child",
        5: "two runs of one strategy",
    }
    assert paired["estimate"].mean == pytest.approx(0.03) and math.isnan(paired["estimate"].low)
