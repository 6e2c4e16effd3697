"""Statistics for telling a better cell from a lucky draw: means with t intervals over seeds,
ratios of paired means with Fieller's interval, the paired t-test with Holm's correction for
testing many cells and tasks at once, a simultaneous interval for the minimum over tasks of
those ratios (the headline score), and Kendall's tau over the pairs that cross tiers with a
bootstrap interval.

Every interval here but one is over independent training seeds of one configuration (the
runs are the sample): it says how much another draw of seeds would move the figure, not how
much another choice of configuration would (`Estimate.covers` says so in every exported
interval). The exception, `ratio_across_runs`, is over independent runs that each chose their
own configuration: the interval for a claim about a cell.
With few seeds the t distribution makes the intervals honestly wide; a simulation test checks
their coverage at 8 seeds.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats

__all__ = [
    "SEEDS_AND_CONFIGURATION",
    "SEEDS_ONLY",
    "Estimate",
    "cross_tier_tau",
    "cross_tier_tau_interval",
    "holm",
    "mean_interval",
    "min_of_ratios_interval",
    "paired_ratio",
    "paired_t_test",
    "race",
    "ratio_across_runs",
    "varying_mean_interval",
]

CONFIDENCE = 0.95
# What an interval's randomness is: training seeds only, the configuration chosen beforehand.
SEEDS_ONLY = "training seeds; the configuration fixed (its choice is not inside the interval)"
# Over independent runs, each choosing its configuration on its own tuning seeds: a claim about a cell.
SEEDS_AND_CONFIGURATION = (
    "training seeds and configuration choice (independent runs, each tuning and choosing its own configuration)"
)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """An estimate over `n` runs with its 95% interval (`low`, `high`; NaN with fewer than 2
    runs or where the interval is unbounded); `covers` says what varies inside the interval."""

    mean: float
    low: float
    high: float
    n: int
    covers: str = SEEDS_ONLY

    def to_dict(self) -> dict[str, float | int | list[float] | str]:
        """`{"mean": m, "ci95": [lo, hi], "n": n, "covers": ...}`; JSON has no NaN, so an unknown
        bound is null."""
        bound = [None if math.isnan(x) else x for x in (self.low, self.high)]
        return {"mean": self.mean, "ci95": bound, "n": self.n, "covers": self.covers}

    def overlaps(self, other: Estimate) -> bool:
        """Whether the two intervals share a point (an unknown interval overlaps everything)."""
        if any(math.isnan(x) for x in (self.low, self.high, other.low, other.high)):
            return True
        return self.low <= other.high and other.low <= self.high

    def text(self, digits: int = 3) -> str:
        """`m [lo, hi]`, or just `m` without an interval."""
        if math.isnan(self.low):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """The mean of `values` with its Student t interval (NaN bounds for fewer than 2 values).

    Raises:
        ValueError: no values.
    """
    if not values:
        raise ValueError("an estimate needs at least one value")
    n, mean = len(values), statistics.fmean(values)
    if n < 2:
        return Estimate(mean, math.nan, math.nan, n)
    half = scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def varying_mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """`mean_interval`, with NaN bounds where every value is the same: values that do not vary
    show no spread to build an interval from (a zero-width interval would claim certainty).
    For small samples of whole runs, where exact agreement happens (two runs that found the
    same cell).

    Raises:
        ValueError: no values.
    """
    interval = mean_interval(values, confidence)
    if len(set(values)) == 1:
        return dataclasses.replace(interval, low=math.nan, high=math.nan)
    return interval


def paired_ratio(values: Sequence[float], baseline: Sequence[float], confidence: float = CONFIDENCE) -> Estimate | None:
    """The ratio of the means of `values` and `baseline`, paired by seed (the same seed and
    configuration on both sides), with Fieller's interval: the ratios R for which the paired
    t-test of `values - R * baseline` does not reject at `1 - confidence`. It is exact for
    normal scores, so its coverage is the nominal one at any number of seeds, and it excludes
    1 exactly when `paired_t_test` rejects. The mean of per-seed ratios, by contrast, is biased
    upwards by the baseline's noise (by about its squared coefficient of variation), which is
    the size of the effects a search looks for.

    Returns:
        The estimate (NaN bounds with fewer than 2 seeds, or when the baseline's mean is not
        clearly above 0 at this confidence: the interval is then unbounded); None when the
        baseline's mean is not positive (no ratio exists).

    Raises:
        ValueError: the two lists differ in length or are empty.
    """
    if len(values) != len(baseline):
        raise ValueError(f"paired values need one baseline each: {len(values)} values, {len(baseline)} baselines")
    if not len(values):
        raise ValueError("a ratio needs at least one pair")
    v, b = np.asarray(values, dtype="float64"), np.asarray(baseline, dtype="float64")
    mean_v, mean_b, n = float(v.mean()), float(b.mean()), len(v)
    if mean_b <= 0:
        return None
    ratio = mean_v / mean_b
    if n < 2:
        return Estimate(ratio, math.nan, math.nan, n)
    (var_v, cov), (_, var_b) = np.cov(v, b, ddof=1)
    q = scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) ** 2 / n
    # (mean_v - R mean_b)^2 <= q (var_v - 2 R cov + R^2 var_b), a quadratic in R: a R^2 + b R + c <= 0
    a_, b_, c_ = mean_b**2 - q * var_b, -2 * (mean_v * mean_b - q * cov), mean_v**2 - q * var_v
    discriminant = b_**2 - 4 * a_ * c_
    if a_ <= 0 or discriminant < 0:
        return Estimate(ratio, math.nan, math.nan, n)
    root = math.sqrt(discriminant)
    return Estimate(ratio, min(ratio, (-b_ - root) / (2 * a_)), max(ratio, (-b_ + root) / (2 * a_)), n)


def ratio_across_runs(ratios: Sequence[float], confidence: float = CONFIDENCE) -> tuple[Estimate, float | None]:
    """A cell's ratio to the GRU as a claim about the cell, not one configuration of it: the
    geometric mean of the ratios that independent runs confirmed (each run chose the cell's and
    the GRU's configuration on its own tuning seeds, then confirmed both on its own fresh
    seeds), with a Student t interval of the log-ratios over runs, and the one-sample t-test
    that their mean is 0 (the cell equals the GRU). Between runs the ratio moves by the seeds
    and by which configuration won the tuning, so this interval holds both; a run's own
    interval (`paired_ratio`) holds only the first, and is too narrow for a claim about a cell.

    The estimand is the geometric mean of a run's ratio. The interval is exact when the runs'
    log-ratios are normal (simulated: 0.95 at 2 to 8 runs; heavy tails such as t with 3 degrees
    of freedom: 0.95-0.96). With few runs it is anti-conservative when they are skewed, e.g.
    when one run in ten picks a bad configuration for the GRU: coverage 0.84-0.89 at 4 runs in
    such simulations. Two runs give almost no power (t = 12.7).

    Returns:
        The estimate (`covers` = SEEDS_AND_CONFIGURATION; NaN bounds with one run, or where the
        runs agree exactly: no spread to build an interval from) and the
        p-value (None with one run; `paired_t_test`'s edge cases where the runs agree exactly).

    Raises:
        ValueError: no ratios, or one that is not positive (a log-ratio needs a positive ratio).
    """
    if not len(ratios):
        raise ValueError("a ratio across runs needs at least one run")
    if any(not r > 0 for r in ratios):
        raise ValueError(f"ratios across runs must be positive, got {list(ratios)}")
    logs = [math.log(r) for r in ratios]
    interval = varying_mean_interval(logs, confidence)
    estimate = Estimate(
        math.exp(interval.mean), math.exp(interval.low), math.exp(interval.high), len(logs), SEEDS_AND_CONFIGURATION
    )
    return estimate, paired_t_test(logs, [0.0] * len(logs))


def paired_t_test(values: Sequence[float], baseline: Sequence[float]) -> float | None:
    """The two-sided p-value of the paired t-test that `values` and `baseline` (paired by seed)
    have the same mean; None for fewer than 2 pairs. Differences that do not vary leave the t
    statistic undefined: identical runs give 1.0, and n differences of one sign the exact sign
    test's 2^(1-n) (not 0: two seeds that agree prove little)."""
    if len(values) != len(baseline):
        raise ValueError(f"paired values need one baseline each: {len(values)} values, {len(baseline)} baselines")
    if len(values) < 2:
        return None
    differences = np.subtract(values, baseline, dtype="float64")
    scale = max(1.0, float(np.max(np.abs(np.concatenate([np.asarray(values), np.asarray(baseline)])))))
    if np.ptp(differences) <= 1e-9 * scale:  # constant up to float rounding: no variance to test with
        if np.all(np.abs(differences) <= 1e-9 * scale):
            return 1.0
        return float(scipy_stats.binomtest(len(differences), len(differences), 0.5).pvalue)
    return float(scipy_stats.ttest_rel(values, baseline).pvalue)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of a family of p-values (None: no test, left out of the
    family and returned as None): the k-th smallest of m is multiplied by m - k + 1, made
    monotone and capped at 1. Rejecting where the adjusted p < alpha keeps the chance of any
    false claim in the family at most alpha (Holm 1979), whatever the dependence."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - k) * p))
        adjusted[i] = running
    return adjusted


def min_of_ratios_interval(
    per_task: Mapping[str, tuple[Sequence[float], Sequence[float]]], confidence: float = CONFIDENCE
) -> Estimate | None:
    """The minimum over tasks of the ratio of paired means (`paired_ratio`: a cell's scores
    against the GRU's on the same seeds, per task), the paper's headline score on a
    confirmation, with a simultaneous interval: each task's Fieller interval at confidence
    `1 - (1 - confidence) / tasks` (Bonferroni), the minimum of their lower and of their upper
    bounds. When every task's interval holds, which happens with probability at least
    `confidence`, the minimum of the true ratios lies between those minima: the coverage is
    at least nominal whatever the correlation between tasks (a percentile bootstrap of the
    minimum covers less at 8 seeds). NaN bounds where a task's interval is unbounded.

    Returns:
        The estimate; None when a task has no ratio (its baseline's mean is not positive).

    Raises:
        ValueError: no tasks.
    """
    if not per_task:
        raise ValueError("the minimum over tasks needs at least one task")
    each = 1 - (1 - confidence) / len(per_task)
    estimates = [paired_ratio(values, baseline, each) for values, baseline in per_task.values()]
    if any(e is None for e in estimates):
        return None
    point = min(e.mean for e in estimates)
    n = min(e.n for e in estimates)
    if any(math.isnan(e.low) or math.isnan(e.high) for e in estimates):
        return Estimate(point, math.nan, math.nan, n)
    return Estimate(point, min(e.low for e in estimates), min(e.high for e in estimates), n)


def cross_tier_tau(measured: Mapping[str, float], tiers: Mapping[str, int]) -> tuple[float, int]:
    """Kendall's tau between `measured` scores and `tiers` (a higher tier should score higher)
    over the pairs of cells in different tiers: (concordant - discordant) / pairs, and the
    number of pairs. A tie in the measured scores counts as neither.

    Raises:
        ValueError: no cells in different tiers.
    """
    cells = [c for c in measured if c in tiers]
    concordant = discordant = pairs = 0
    for i, a in enumerate(cells):
        for b in cells[i + 1 :]:
            if tiers[a] == tiers[b]:
                continue
            pairs += 1
            agreement = (measured[a] - measured[b]) * (tiers[a] - tiers[b])
            concordant += agreement > 0
            discordant += agreement < 0
    if not pairs:
        raise ValueError("no two cells in different tiers: nothing to compare")
    return (concordant - discordant) / pairs, pairs


def cross_tier_tau_interval(
    per_seed: Mapping[str, Sequence[float]],
    tiers: Mapping[str, int],
    confidence: float = CONFIDENCE,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[Estimate, int]:
    """`cross_tier_tau` of the cells' mean scores over seeds, with a percentile bootstrap
    interval over the seeds: every cell was trained on the same seeds, so a resample draws
    seeds with replacement and takes every cell's mean over them (the cells' noise and its
    correlation kept). Seeded: the same data give the same interval.

    Returns:
        The tau estimate (NaN bounds for fewer than 2 seeds) and the number of pairs.

    Raises:
        ValueError: no cells in different tiers, or cells with different numbers of seeds.
    """
    cells = [c for c in per_seed if c in tiers]
    if len({len(per_seed[c]) for c in cells}) > 1:
        raise ValueError("every cell needs the same seeds")
    samples = np.array([np.asarray(per_seed[c], dtype="float64") for c in cells]) if cells else np.empty((0, 0))
    tau, pairs = cross_tier_tau({c: float(samples[i].mean()) for i, c in enumerate(cells)}, tiers)
    n = samples.shape[1]
    if n < 2:
        return Estimate(tau, math.nan, math.nan, n), pairs
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        means = samples[:, rng.integers(0, n, n)].mean(axis=1)
        draws.append(cross_tier_tau({c: float(means[i]) for i, c in enumerate(cells)}, tiers)[0])
    low, high = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Estimate(tau, float(low), float(high), n), pairs


def race(
    values: Sequence[float],
    baseline: Sequence[float],
    threshold: float,
    prior_sd: float,
    final: bool,
    confidence: float = CONFIDENCE,
) -> bool | None:
    """One call of a race: is a cell's ratio to the baseline (the ratio of their means over the
    seeds they share, paired by seed) at or above `threshold`? True when the one-sided
    `confidence` interval lies above it, False when it lies below, None while it holds
    `threshold` (train more seeds). With `final` (no more seeds to come) the point estimate
    settles what the interval leaves open.

    The interval is a normal one with the per-seed ratio's SD taken as the larger of `prior_sd`
    (the fitness's seed-to-seed SD measured beforehand: `benchmarks/README.md`, the noise table)
    and, from 3 seeds, the seeds' own SD: with 1 or 2 seeds a sample SD is no estimate at all,
    and the measured noise keeps a lucky early pair from settling a race. It decides which cells
    earn more seeds; no claim about a cell rests on it (the confirmation's paired t-test does).
    A baseline mean that is not positive makes every ratio undefined: False.
    """
    if len(values) != len(baseline) or not values:
        raise ValueError(f"a race needs paired, non-empty scores; got {len(values)} and {len(baseline)}")
    base = float(np.mean(baseline))
    if base <= 0:
        return False
    ratio = float(np.mean(values)) / base
    per_seed = [v / b for v, b in zip(values, baseline) if b > 0]
    sd = max(prior_sd, statistics.stdev(per_seed) if len(per_seed) >= 3 else 0.0)
    half = float(scipy_stats.norm.ppf(confidence)) * sd / math.sqrt(len(values))
    if ratio - half >= threshold:
        return True
    if ratio + half < threshold:
        return False
    return ratio >= threshold if final else None
