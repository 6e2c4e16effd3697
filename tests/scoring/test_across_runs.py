"""Claims about a cell over independent ablation runs: the interval holds configuration choice
(simulated: it covers the cell's true ratio where a run's own interval does not), and the
combination keeps the cells every run confirmed, the GRU as the baseline and Holm's family."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evo_rnn.scoring import across_runs, statistics
from evo_rnn.scoring.tables import Row


def test_over_runs_the_interval_covers_a_cells_true_ratio_where_one_runs_own_interval_does_not():
    """A cell truly 3% better than the GRU. Each run tunes both and confirms on 8 paired seeds;
    which configuration wins moves a run's ratio by SD 0.08 in log (quick arith: the same cell's
    ratio moved by SD 0.11 between runs, each run's own SE 0.06). A run's Fieller interval
    conditions on its configuration and misses the cell's ratio far more often than 5%; the
    interval over 4 runs covers it at the nominal 0.95."""
    rng = np.random.default_rng(0)
    truth, configuration_sd, seeds, runs, trials = 1.03, 0.08, 8, 4, 2000
    within, across = 0, 0
    for _ in range(trials):
        ratios = []
        for _ in range(runs):
            run_truth = truth * math.exp(rng.normal(0, configuration_sd))  # this run's chosen configurations
            gru = rng.normal(0.50, 0.03, seeds)
            cell = run_truth * gru + rng.normal(0, 0.02, seeds)  # paired by seed
            ratio = statistics.paired_ratio(cell, gru)
            ratios.append(ratio.mean)
            within += ratio.low <= truth <= ratio.high
        estimate, _ = statistics.ratio_across_runs(ratios)
        across += estimate.low <= truth <= estimate.high
    assert across / trials >= 0.94
    assert within / (trials * runs) < 0.8  # a run's own interval says nothing about the cell


def test_the_ratio_over_runs_is_the_geometric_mean_with_a_t_interval_of_log_ratios():
    estimate, p = statistics.ratio_across_runs([1.1, 0.9, 1.2])
    logs = np.log([1.1, 0.9, 1.2])
    assert estimate.mean == pytest.approx(math.exp(logs.mean()))
    half = 4.302652729911275 * logs.std(ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert (estimate.low, estimate.high) == pytest.approx((math.exp(logs.mean() - half), math.exp(logs.mean() + half)))
    assert estimate.covers == statistics.SEEDS_AND_CONFIGURATION and estimate.n == 3
    assert p == pytest.approx(statistics.paired_t_test(list(logs), [0.0] * 3))
    one, p_one = statistics.ratio_across_runs([1.05])
    assert one.mean == pytest.approx(1.05) and math.isnan(one.low) and p_one is None
    same, p_same = statistics.ratio_across_runs([1.1, 1.1, 1.1])  # no spread: no interval, and p says little
    assert same.mean == pytest.approx(1.1) and math.isnan(same.low) and math.isnan(same.high) and p_same == 0.25
    for bad in ([], [1.0, 0.0], [1.0, -0.5]):
        with pytest.raises(ValueError):
            statistics.ratio_across_runs(bad)


def row(cell: str, task: str, mean: float | None, ratio: float | None, p: float | None = 0.5) -> Row:
    confirmed = None if mean is None else statistics.Estimate(mean, mean - 0.1, mean + 0.1, 8)
    ratio_estimate = None if ratio is None else statistics.Estimate(ratio, ratio - 0.1, ratio + 0.1, 8)
    return Row(cell, task, 0.5, 2, confirmed, ratio_estimate, p, None)


def test_combine_keeps_what_every_run_confirmed_with_the_gru_as_the_baseline_and_holm_over_the_rest():
    first = [
        row("gru", "arith", 0.5, 1.0, 1.0),
        row("lstm", "arith", 0.55, 1.1),
        row("tanh", "arith", 0.3, 0.6),
        row("mut1", "arith", None, None),  # not confirmed in one run: left out
        row("lstm", "xml", 0.8, 0.95),  # a task the other run did not confirm: left out
    ]
    second = [
        row("tanh", "arith", 0.28, 0.55),
        row("lstm", "arith", 0.52, 1.0),
        row("gru", "arith", 0.52, 1.0, 1.0),
        row("mut1", "arith", 0.6, 1.2),
    ]
    combined = across_runs.combine({"a": first, "b": second})
    assert [(c.cell, c.task) for c in combined] == [("gru", "arith"), ("lstm", "arith"), ("tanh", "arith")]
    gru, lstm, tanh = combined
    assert gru.ratio_to_gru is None and gru.p_value_vs_gru is None and gru.per_run == (0.5, 0.52)
    assert gru.confirmed.mean == pytest.approx(0.51) and gru.confirmed.covers == statistics.SEEDS_AND_CONFIGURATION
    assert lstm.per_run == (1.1, 1.0) and lstm.ratio_to_gru.mean == pytest.approx(math.sqrt(1.1))
    assert [lstm.p_value_holm, tanh.p_value_holm] == pytest.approx(
        statistics.holm([lstm.p_value_vs_gru, tanh.p_value_vs_gru])
    )
    text = across_runs.markdown(combined, ["a", "b"])
    assert "| gru | arith | 0.5100" in text and "baseline" in text and "| lstm | arith |" in text
    with pytest.raises(ValueError):
        across_runs.combine({})
