"""The statistics behind intervals and rankings, against values computed by hand."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from evo_rnn.scoring.statistics import (
    SEEDS_ONLY,
    Estimate,
    cross_tier_tau,
    cross_tier_tau_interval,
    holm,
    mean_interval,
    min_of_ratios_interval,
    paired_ratio,
    paired_t_test,
    race,
)
from evo_rnn.training import hyperparameters, presets


def test_mean_interval_is_the_student_t_interval():
    estimate = mean_interval([0.5, 0.6, 0.7])
    # mean 0.6, s = 0.1, t(0.975, 2) = 4.302653: half width 4.302653 * 0.1 / sqrt(3)
    assert estimate.mean == pytest.approx(0.6)
    assert estimate.high - estimate.mean == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-6)
    assert estimate.to_dict() == {
        "mean": estimate.mean,
        "ci95": [estimate.low, estimate.high],
        "n": 3,
        "covers": SEEDS_ONLY,  # every interval says what varies inside it: seeds, not the configuration
    }
    single = mean_interval([0.4])
    assert math.isnan(single.low) and single.to_dict()["ci95"] == [None, None] and single.text() == "0.400"
    with pytest.raises(ValueError, match="at least one value"):
        mean_interval([])


def test_overlap_of_intervals():
    assert not Estimate(0.3, 0.25, 0.35, 4).overlaps(Estimate(0.5, 0.45, 0.55, 4))
    assert Estimate(0.3, 0.25, 0.46, 4).overlaps(Estimate(0.5, 0.45, 0.55, 4))
    assert Estimate(0.3, math.nan, math.nan, 1).overlaps(Estimate(0.9, 0.89, 0.91, 4))


def test_paired_ratio_and_t_test_pair_by_seed():
    ratio = paired_ratio([0.6, 0.9], [0.5, 1.0])
    assert ratio.mean == pytest.approx((0.6 + 0.9) / (0.5 + 1.0))
    assert paired_ratio([0.6], [0.0]) is None  # a baseline of 0 has no ratio
    # Scores that move together seed by seed: the pairing sees a difference the spread hides.
    baseline = [0.30, 0.50, 0.70, 0.40]
    better = [b + 0.02 + d for b, d in zip(baseline, [0.001, -0.001, 0.002, 0.0])]
    assert paired_t_test(better, baseline) < 0.001
    assert paired_t_test(baseline, baseline) == 1.0 and paired_t_test([0.5], [0.4]) is None
    with pytest.raises(ValueError, match="one baseline each"):
        paired_ratio([0.5, 0.6], [0.5])


def test_cross_tier_tau_counts_only_pairs_in_different_tiers():
    tiers = {"tanh": 0, "lstm_f": 0, "lstm_i": 1, "lstm": 2, "gru": 2}
    right = {"tanh": 0.2, "lstm_f": 0.25, "lstm_i": 0.5, "lstm": 0.9, "gru": 0.8}  # order inside a tier is free
    assert cross_tier_tau(right, tiers) == (1.0, 8)
    swapped = {**right, "lstm_i": 0.95}  # lstm_i above both top-tier cells: 2 of 8 pairs discordant
    assert cross_tier_tau(swapped, tiers) == (pytest.approx((6 - 2) / 8), 8)
    with pytest.raises(ValueError, match="different tiers"):
        cross_tier_tau({"lstm": 0.9, "gru": 0.8}, tiers)


def test_the_bank_stratifies_learning_rates_and_grows_by_appending():
    quick = presets.get("quick")
    bank = presets.sample_configs(quick, "arith", 16, seed=3)
    assert presets.sample_configs(quick, "arith", 4, seed=3) == bank[:4]  # more configs add, never change
    assert presets.sample_configs(quick, "arith", 4, seed=4) != bank[:4]
    low, high = min(hyperparameters.PRIOR["learning_rate"]), max(hyperparameters.PRIOR["learning_rate"])
    assert (
        bank[0]
        == hyperparameters.reference(quick.budget("arith"))
        == presets.sample_configs(quick, "xml", 1, seed=9)[0]
    )
    drawn = presets.sample_configs(quick, "arith", 17, seed=3)[1:]  # after the reference: the stratified draws
    for size in (2, 4, 8, 16):  # every prefix of 2^k puts one rate in each of 2^k log strata
        strata = sorted(int(size * math.log(c.learning_rate / low) / math.log(high / low)) for c in drawn[:size])
        assert strata == list(range(size)), (size, [c.learning_rate for c in drawn[:size]])
    assert {c.param_budget for c in bank} == {quick.budget("arith")} and max(c.num_layers for c in bank) <= 2
    assert [hyperparameters.van_der_corput(i) for i in range(5)] == [0.0, 0.5, 0.25, 0.75, 0.125]
    with pytest.raises(Exception, match="invalid learning-rate range"):
        hyperparameters.stratified_bank(random.Random(0), 1000, 2, learning_rates=(2.0, 1.0))


def test_holm_multiplies_the_kth_smallest_by_m_minus_k_plus_1_keeps_order_and_skips_untested():
    raw = [0.01, 0.04, None, 0.03, 0.005]
    adjusted = holm(raw)
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> 0.06 (monotone)
    assert adjusted[2] is None
    assert [a for a in adjusted if a is not None] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1
    assert holm([]) == [] and holm([None]) == [None]
    assert all(a >= r for a, r in zip(holm(raw), raw) if r is not None)


def test_holm_keeps_the_familywise_error_at_alpha_where_raw_p_values_do_not():
    # 10 true null hypotheses, 400 families: some raw p < 0.05 in most families, a Holm one in about 5%.
    rng = random.Random(3)
    raw_hits = holm_hits = 0
    for _ in range(400):
        p = [rng.random() for _ in range(10)]
        raw_hits += min(p) < 0.05
        holm_hits += min(holm(p)) < 0.05
    assert raw_hits / 400 > 0.3 and holm_hits / 400 < 0.09


def test_a_paired_ratio_is_the_ratio_of_the_means_not_the_mean_of_the_ratios():
    # The GRU's noise would bias a mean of per-seed ratios upwards: here 2/1 and 2/3 average 1.33,
    # while the two cells have the same mean score.
    assert paired_ratio([2.0, 2.0], [1.0, 3.0]).mean == pytest.approx(1.0)
    same = paired_ratio([0.4, 0.5, 0.6], [0.4, 0.5, 0.6])
    assert (same.mean, same.low, same.high) == pytest.approx((1.0, 1.0, 1.0))
    assert paired_ratio([0.5, 0.6], [0.0, 0.0]) is None and paired_ratio([0.5, 0.6], [0.4, 0.0]).mean > 1
    unbounded = paired_ratio([0.3, 0.1, 0.2], [0.4, -0.3, 0.1])  # a baseline not clearly above 0
    assert math.isnan(unbounded.low) and math.isnan(unbounded.high)


def test_the_ratio_interval_excludes_one_exactly_when_the_paired_t_test_rejects():
    rng = random.Random(7)
    for _ in range(200):
        baseline = [rng.uniform(0.3, 0.7) for _ in range(8)]
        values = [b * rng.uniform(0.85, 1.25) for b in baseline]
        estimate, p = paired_ratio(values, baseline), paired_t_test(values, baseline)
        assert (not estimate.low <= 1.0 <= estimate.high) == (p < 0.05)


def _paired_draws(rng: np.random.Generator, ratio: float, n: int, sd: float = 0.1, rho: float = 0.5):
    """`n` paired scores of a cell whose true mean is `ratio` times the baseline's 0.5: the
    quick arith GRU's noise (SD 0.1, about 20% of the score), correlated through the seed."""
    covariance = [[sd**2, rho * sd**2], [rho * sd**2, sd**2]]
    draws = rng.multivariate_normal([ratio * 0.5, 0.5], covariance, size=n)
    return draws[:, 0], draws[:, 1]


def test_the_intervals_cover_the_true_ratio_at_eight_seeds():
    """Simulated confirmations of a cell 3% better than the GRU, 8 seeds each: the ratio's 95%
    interval and the headline's (the minimum over two tasks) cover the truth at least 94% of
    the time (a percentile bootstrap of the minimum over per-seed ratios covered 0.86 here)."""
    rng = np.random.default_rng(2026)
    covered = sum((e := paired_ratio(*_paired_draws(rng, 1.03, 8))).low <= 1.03 <= e.high for _ in range(2000))
    assert covered / 2000 >= 0.94
    headline = 0
    for _ in range(1000):
        estimate = min_of_ratios_interval({task: _paired_draws(rng, 1.03, 8) for task in ("arith", "xml")})
        headline += estimate.low <= 1.03 <= estimate.high
    assert headline / 1000 >= 0.94
    one_task = min_of_ratios_interval({"arith": ([0.6, 0.7, 0.65], [0.5, 0.6, 0.55])})
    alone = paired_ratio([0.6, 0.7, 0.65], [0.5, 0.6, 0.55])
    assert (one_task.mean, one_task.low, one_task.high) == pytest.approx((alone.mean, alone.low, alone.high))
    assert min_of_ratios_interval({"arith": ([0.5, 0.6], [0.0, 0.0])}) is None
    with pytest.raises(ValueError, match="at least one task"):
        min_of_ratios_interval({})


def test_differences_that_do_not_vary_get_the_sign_test_not_certainty():
    # Three seeds, each 0.1 better: the t statistic is undefined; three signs out of three is p = 0.25.
    assert paired_t_test([0.6, 0.7, 0.8], [0.5, 0.6, 0.7]) == pytest.approx(0.25)
    assert paired_t_test([0.4] * 8, [0.5] * 8) == pytest.approx(2 / 2**8)
    assert paired_t_test([0.5, 0.5], [0.5, 0.5]) == 1.0


def test_kendalls_tau_comes_with_a_bootstrap_interval_over_the_seeds():
    tiers = {"tanh": 0, "lstm_f": 0, "lstm": 2, "gru": 2}
    rng = np.random.default_rng(3)
    means = {"tanh": 0.30, "lstm_f": 0.33, "lstm": 0.52, "gru": 0.50}
    per_seed = {cell: list(mean + rng.normal(0, 0.01, 8)) for cell, mean in means.items()}
    estimate, pairs = cross_tier_tau_interval(per_seed, tiers)
    assert pairs == 4 and estimate.mean == 1.0 and estimate.low == estimate.high == 1.0  # tiers far apart
    noisy = {cell: list(mean + rng.normal(0, 0.2, 8)) for cell, mean in means.items()}
    wide, _ = cross_tier_tau_interval(noisy, tiers)
    assert wide.low < wide.mean <= wide.high and wide.low < 0.5  # noise the point value hides
    assert cross_tier_tau_interval(noisy, tiers) == (wide, 4)  # seeded
    with pytest.raises(ValueError, match="same seeds"):
        cross_tier_tau_interval({**noisy, "gru": [0.5]}, tiers)


def test_a_race_settles_only_what_its_interval_settles_and_the_last_size_reads_the_point_estimate():
    gru = [0.5, 0.5]
    assert race([0.55, 0.55], gru, 1.0, prior_sd=0.03, final=False) is True  # 1.10 - 0.035 >= 1
    assert race([0.45, 0.45], gru, 1.0, prior_sd=0.03, final=False) is False  # 0.90 + 0.035 < 1
    assert race([0.505, 0.505], gru, 1.0, prior_sd=0.03, final=False) is None  # 1.01: open
    assert race([0.505, 0.505], gru, 1.0, prior_sd=0.03, final=True) is True
    assert race([0.495, 0.495], gru, 1.0, prior_sd=0.03, final=True) is False
    # From three seeds their own SD counts where it is larger than the prior one: 1.10 with per-seed
    # ratios 0.8, 1.1, 1.4 (SD 0.3) is not settled; with the prior alone it would be.
    spread = [0.4, 0.55, 0.7]
    assert race(spread, [0.5] * 3, 1.0, prior_sd=0.03, final=False) is None
    assert race([0.55] * 3, [0.5] * 3, 1.0, prior_sd=0.03, final=False) is True
    assert race([0.5], [0.0], 1.0, prior_sd=0.03, final=True) is False  # no ratio to a zero baseline
    with pytest.raises(ValueError, match="paired, non-empty"):
        race([0.5], [0.5, 0.5], 1.0, prior_sd=0.03, final=True)
