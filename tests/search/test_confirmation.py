"""Confirmation of a search run on fresh seeds: which cells, which seeds, the block's numbers
against scipy, caching, the export's block and words, and bad input."""

from __future__ import annotations

import json

import pytest
from scipy import stats as scipy_stats

from evo_rnn.cells import zoo
from evo_rnn.core.cli import UsageError
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.executors import InlineExecutor
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.run import RunFiles
from evo_rnn.runs.store import Store
from evo_rnn.scoring import statistics
from evo_rnn.scoring.paper_scores import Scores
from evo_rnn.search.confirmation import confirm_run
from evo_rnn.views.export import export_run

from conftest import SeededFake, run_module, stderr_lines


def test_the_top_cells_the_gru_and_the_lstm_train_on_the_same_fresh_seeds(searched):
    files, preset = searched
    evaluate, said = SeededFake(), []
    cells = confirm_run(files, top=2, seeds=3, executor=InlineExecutor(evaluate), log=said.append)
    with Store(files.database) as store:
        gru = store.find_architecture(zoo.get("gru"))
        lstm = store.find_architecture(zoo.get("lstm"))
        scores = Scores(store, preset, 0)
        ranked = sorted(store.population(), key=lambda a: (-scores.overall(a), a))
        children = [arch for arch in ranked if arch not in (gru, lstm)]
        assert len(children) >= 2  # the top 2 children, then the seed cells as baselines, never counted in --top
        assert cells == [*children[:2], lstm, gru]
        assert {seed for *_, seed in evaluate.calls} == {100_000, 100_001, 100_002}  # fresh: the search used 0
        assert len(evaluate.calls) == len(cells) * 2 * 3  # every cell x task x seed once
        for arch, task, config, _ in evaluate.calls:  # each with its best configuration on the task
            assert json.loads(config) == scores.best_result(arch, task).hparams
        top = next(arch for arch in ranked if arch != gru)
        block = scores.confirmation(top, "arith")

        def tests(arch):
            return [
                store.cached(key).test_score for key in scores.confirm_keys(arch, "arith", [100_000, 100_001, 100_002])
            ]

        mine, theirs = tests(top), tests(gru)
        assert block["mean"] == pytest.approx(sum(mine) / 3) and block["seeds"] == 3 and block["score"] == "test"
        assert block["ratio_to_gru"]["mean"] == pytest.approx(sum(mine) / sum(theirs))  # a ratio of means
        assert block["p_value_vs_gru"] == pytest.approx(scipy_stats.ttest_rel(mine, theirs).pvalue)
        assert block["ci95"][0] < block["mean"] < block["ci95"][1]
        gru_block = scores.confirmation(gru, "arith")
        assert gru_block["ratio_to_gru"]["mean"] == pytest.approx(1.0) and gru_block["p_value_vs_gru"] == 1.0
        assert scores.confirmation(top, "xml")["ratio_to_lstm"] is not None
    # Again: everything comes from the cache; more --top than the population says so.
    again = SeededFake()
    confirm_run(files, top=50, seeds=3, executor=InlineExecutor(again), log=said.append)
    assert any("confirming all" in line and "(--top 50 asked for more)" in line for line in said)
    assert len(again.calls) == 0 or all(c[0] not in cells for c in again.calls)


def test_the_export_carries_the_block_and_says_it_in_words(searched, tmp_path):
    files, _ = searched
    confirm_run(files, top=2, seeds=3, executor=InlineExecutor(SeededFake()), log=lambda _: None)
    out = export_run(files, tmp_path / "out", top=2, log=lambda _: None)
    first = sorted(p for p in out.iterdir() if p.is_dir())[0]
    summary = json.loads((first / "summary.json").read_text())
    assert summary["tasks"]["arith"]["confirm"]["seeds"] == 3
    readme = (out / "README.md").read_text()
    assert "over 3 fresh seeds" in readme and "GRU on arith: test" in readme
    assert ("not distinguishable from the GRU (p = " in readme) or ("than the GRU (p = " in readme)


def test_bad_input_is_refused_and_touches_nothing(searched, tmp_path):
    files, _ = searched
    before = files.database.read_bytes()
    with pytest.raises(UsageError, match="--seeds must be at least 2"):
        confirm_run(files, top=2, seeds=1, executor=InlineExecutor(SeededFake()))
    with pytest.raises(EvoRnnError, match="no search run at"):
        confirm_run(RunFiles("nosuch", tmp_path / "runs"), top=2, seeds=2, executor=InlineExecutor(SeededFake()))
    assert files.database.read_bytes() == before
    for args, message in (
        (["--run", "nosuch", "--runs-dir", str(tmp_path / "runs")], "no search run at"),
        (
            ["--run", "tiny", "--runs-dir", str(tmp_path / "runs"), "--seeds", "1"],
            "argument --seeds: expected a whole number from 2 to 1000, got 1",
        ),
    ):
        result = run_module("evo_rnn.confirm", *args, "--workers", "0")
        assert result.returncode == 2 and len(stderr_lines(result)) == 1 and message in stderr_lines(result)[0]


def test_confirmed_cells_are_reported_by_what_held_up_on_fresh_seeds(searched, tmp_path):
    files, _preset = searched
    confirm_run(files, top=3, seeds=3, executor=InlineExecutor(SeededFake()), log=lambda _: None)
    out = export_run(files, tmp_path / "out", top=3, log=lambda _: None)
    summaries = [json.loads((p / "summary.json").read_text()) for p in sorted(out.iterdir()) if p.is_dir()]
    ranked = sorted((s for s in summaries if s["rank"] is not None), key=lambda s: s["rank"])
    confirmed = [s["confirmed_score"] for s in ranked]
    assert None not in confirmed and confirmed == sorted(confirmed, reverse=True)  # ranked by the confirmation
    baselines = {s["baseline"]: s for s in summaries if s["rank"] is None}  # confirmed too, never ranked
    assert set(baselines) == {"gru", "lstm"} and baselines["gru"]["folder"] == "baseline-gru"
    assert baselines["gru"]["confirmed_score"] == pytest.approx(1.0) and len(ranked) == 3
    # The GRU's own ratio is 1 by definition: the leaderboard says so instead of a zero-width interval.
    board = (out / "README.md").read_text()
    row = next(line for line in board.splitlines() if line.startswith("| baseline (gru) |"))
    assert "1 (the reference)" in row and "[1.000, 1.000]" not in row
    for summary in summaries:
        assert summary["confirmed_score"] == pytest.approx(
            min(t["confirm"]["ratio_to_gru"]["mean"] for t in summary["tasks"].values())
        )


def test_the_headline_score_has_a_simultaneous_interval_and_p_values_are_holm_adjusted(searched, tmp_path):
    files, preset = searched
    confirm_run(files, top=3, seeds=4, executor=InlineExecutor(SeededFake()), log=lambda _: None)
    out = export_run(files, tmp_path / "out", top=3, log=lambda _: None)
    summaries = [json.loads((p / "summary.json").read_text()) for p in sorted(out.iterdir()) if p.is_dir()]
    with Store(files.database) as store:
        scores = Scores(store, preset, 0)
        gru = scores.baseline_arch
        cells = store.get_meta(MetaKey.CONFIRMATION)["cells"]
        family = [(a, t) for a in cells if a != gru for t in scores.tasks]
        raw = [scores.confirmation(a, t)["p_value_vs_gru"] for a, t in family]
    assert len(family) >= 4
    expected = dict(zip(family, statistics.holm(raw)))
    for summary in summaries:
        low, high = summary["confirmed_score_ci95"]
        if summary["arch"] == gru:  # the reference: its ratio to itself is 1 on every seed
            assert low == pytest.approx(1.0) and high == pytest.approx(1.0) and summary["confirmed_score"] == 1.0
        else:
            assert low < summary["confirmed_score"] <= high or low <= summary["confirmed_score"] < high
        for task, block in summary["tasks"].items():
            assert block["confirm"]["p_value_vs_gru_holm"] == pytest.approx(expected.get((summary["arch"], task)))
            if summary["arch"] != gru:  # the GRU is not tested against itself: not in the family
                assert block["confirm"]["p_value_vs_gru_holm"] >= block["confirm"]["p_value_vs_gru"]
    assert "Holm-adjusted p = " in (out / "README.md").read_text()
