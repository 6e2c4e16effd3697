"""The statistics behind intervals and rankings, against values computed by hand."""

from __future__ import annotations

import math
import random

import pytest

from evo_rnn.scoring.statistics import (
    Estimate,
    cross_tier_tau,
    holm,
    mean_interval,
    min_of_means_interval,
    paired_ratio,
    paired_t_test,
)
from evo_rnn.training import hyperparameters, presets


def test_mean_interval_is_the_student_t_interval():
    estimate = mean_interval([0.5, 0.6, 0.7])
    # mean 0.6, s = 0.1, t(0.975, 2) = 4.302653: half width 4.302653 * 0.1 / sqrt(3)
    assert estimate.mean == pytest.approx(0.6)
    assert estimate.high - estimate.mean == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-6)
    assert estimate.to_dict() == {"mean": estimate.mean, "ci95": [estimate.low, estimate.high], "n": 3}
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
    assert ratio.mean == pytest.approx((1.2 + 0.9) / 2)
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


def test_the_min_of_means_interval_covers_the_true_minimum_about_95_percent_of_the_time():
    rng = random.Random(5)
    covered, trials = 0, 200
    for trial in range(trials):
        per_task = {"a": [rng.gauss(1.00, 0.03) for _ in range(8)], "b": [rng.gauss(1.02, 0.03) for _ in range(8)]}
        estimate = min_of_means_interval(per_task, seed=trial)
        assert estimate.low <= estimate.mean <= estimate.high and estimate.n == 8
        covered += estimate.low <= 1.00 <= estimate.high
    assert 0.85 <= covered / trials <= 0.99


def test_the_min_of_means_interval_resamples_seeds_together_and_refuses_ragged_input():
    # Task b is low exactly where a is high: resampled together, the minimum barely moves.
    per_task = {"a": [1.0, 1.2, 1.0, 1.2], "b": [1.2, 1.0, 1.2, 1.0]}
    together = min_of_means_interval(per_task)
    assert together.mean == pytest.approx(1.1) and together.high <= 1.1 + 1e-9
    assert math.isnan(min_of_means_interval({"a": [1.0]}).low)
    assert math.isnan(min_of_means_interval({"a": [1.0, 1.0], "b": [0.5, 0.5]}).low)
    with pytest.raises(ValueError, match="same, nonzero number of seeds"):
        min_of_means_interval({"a": [1.0, 2.0], "b": [1.0]})
    assert min_of_means_interval(per_task, seed=1) == min_of_means_interval(per_task, seed=1)  # seeded
