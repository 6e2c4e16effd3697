"""Statistics for telling a better cell from a lucky draw: means with t intervals over seeds,
paired ratios, the paired t-test with Holm's correction for testing many cells and tasks at
once, a bootstrap interval for the minimum over tasks of mean ratios (the headline score),
and Kendall's tau over the pairs that cross tiers.

Every interval here is over independent training seeds of one configuration (the runs are
the sample); with few seeds the t distribution makes the intervals honestly wide.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats

__all__ = [
    "Estimate",
    "cross_tier_tau",
    "holm",
    "mean_interval",
    "min_of_means_interval",
    "paired_ratio",
    "paired_t_test",
]

CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A mean over `n` runs with its 95% interval (`low`, `high`; NaN with fewer than 2 runs)."""

    mean: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, float | int | list[float]]:
        """`{"mean": m, "ci95": [lo, hi], "n": n}`; JSON has no NaN, so an unknown bound is null."""
        bound = [None if math.isnan(x) else x for x in (self.low, self.high)]
        return {"mean": self.mean, "ci95": bound, "n": self.n}

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


def paired_ratio(values: Sequence[float], baseline: Sequence[float]) -> Estimate | None:
    """The mean over seeds of `values[s] / baseline[s]` (the same seed and configuration on
    both sides) with its t interval; None when a baseline run scored 0 (no ratio exists).

    Raises:
        ValueError: the two lists differ in length.
    """
    if len(values) != len(baseline):
        raise ValueError(f"paired values need one baseline each: {len(values)} values, {len(baseline)} baselines")
    if any(b <= 0 for b in baseline):
        return None
    return mean_interval([v / b for v, b in zip(values, baseline)])


def paired_t_test(values: Sequence[float], baseline: Sequence[float]) -> float | None:
    """The two-sided p-value of the paired t-test that `values` and `baseline` (paired by seed)
    have the same mean; None for fewer than 2 pairs or pairs that do not vary (nothing to test:
    identical runs give p = 1.0)."""
    if len(values) != len(baseline):
        raise ValueError(f"paired values need one baseline each: {len(values)} values, {len(baseline)} baselines")
    if len(values) < 2:
        return None
    differences = [v - b for v, b in zip(values, baseline)]
    if all(d == differences[0] for d in differences):
        return 1.0 if differences[0] == 0 else 0.0
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


def min_of_means_interval(
    per_task: Mapping[str, Sequence[float]], confidence: float = CONFIDENCE, resamples: int = 2000, seed: int = 0
) -> Estimate:
    """The minimum over tasks of the mean over seeds (e.g. of a cell's ratios to the GRU, the
    paper's score on a confirmation), with a percentile bootstrap interval over seeds: seed s
    is one draw of every task (the same seeds on every task, resampled together), so the
    interval covers seed noise on every task at once. NaN bounds for fewer than 2 seeds or
    seeds that do not vary.

    Raises:
        ValueError: no tasks, or tasks with different numbers of seeds.
    """
    samples = [np.asarray(values, dtype="float64") for values in per_task.values()]
    if not samples or len({len(s) for s in samples}) != 1 or not len(samples[0]):
        raise ValueError("the minimum over tasks needs the same, nonzero number of seeds on every task")
    point = float(min(s.mean() for s in samples))
    n = len(samples[0])
    if n < 2 or all(np.all(s == s[0]) for s in samples):
        return Estimate(point, math.nan, math.nan, n)

    def statistic(*tasks: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.min(np.stack([t.mean(axis=axis) for t in tasks]), axis=0)

    result = scipy_stats.bootstrap(
        tuple(samples),
        statistic,
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Estimate(point, float(low), float(high), n)


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
