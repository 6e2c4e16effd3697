"""How many runs a comparison of search strategies needs: a power calculation from measured runs.

Reads search runs (their databases) of the strategy experiment, takes each run's best
confirmed child's ratio to the GRU (the outcome `python -m evo_rnn.report --compare`
compares; the seed cells left out), pairs the runs by seed (the two strategies of a seed
share the seed cells' training and the confirmation seeds, and draw their own children),
checks that a pair's children differ from the first mutation on, and prints:

- the pairs' mean difference with its 95% t interval and the paired t-test (two pairs or more),
- the smallest difference between the strategies that N pairs detect with 80% power
  (two-sided paired t-test at 5%, noncentral t), from the measured SD of a pair's
  difference (with fewer than two pairs: the spread between runs of one strategy times sqrt 2,
  as if the runs were independent), and
- the pairs a difference of 3% of the mean outcome needs.

    python benchmarks/strategy_power.py benchmarks/results/strategies-protocol2-b72/*.sqlite
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import tempfile
from pathlib import Path

from scipy import optimize
from scipy import stats as scipy_stats

from evo_rnn.runs.run import Run, RunFiles
from evo_rnn.scoring.strategy_comparison import RunOutcome, compare, load_outcome


def outcomes(databases: list[Path]) -> list[tuple[RunOutcome, list[str]]]:
    """Per run: what it reached (`load_outcome`: its strategy, seed, best confirmed child's
    ratio) and its children's architectures in the order they were drawn."""
    found = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, database in enumerate(databases):
            # a run folder of its own, read-only use (a run's database is `NAME/search.sqlite`)
            name = f"{index}-{database.parent.name if database.stem == 'search' else database.stem}"
            folder = Path(scratch) / name
            folder.mkdir()
            shutil.copyfile(database, folder / "search.sqlite")
            outcome = load_outcome(RunFiles(name, scratch))
            with Run.open(RunFiles(name, scratch), readonly=True) as run:
                children = [s["arch"] for s in run.steps() if s["kind"] == "mutate" and s["arch"]]
            found.append((outcome, children))
    return found


def power_of(difference: float, sd_difference: float, runs: int, alpha: float = 0.05) -> float:
    """The power of the two-sided paired t-test over `runs` pairs for a true mean difference
    `difference` (the noncentral t distribution: exact for normal differences)."""
    if runs < 2:
        return 0.0
    df, shift = runs - 1, difference / sd_difference * math.sqrt(runs)
    critical = scipy_stats.t.ppf(1 - alpha / 2, df)
    wrong_side = scipy_stats.nct.cdf(-critical, df, shift)  # negligible; scipy gives NaN for some far tails
    return float(scipy_stats.nct.sf(critical, df, shift) + (0.0 if math.isnan(wrong_side) else wrong_side))


def detectable(sd_difference: float, runs: int, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest mean difference `runs` pairs detect with `power` (inf with fewer than 2)."""
    if runs < 2:
        return math.inf
    # Far enough that the power is above `power` (noncentrality the critical t plus 10), near
    # enough for the noncentral t's numerics.
    upper = (scipy_stats.t.ppf(1 - alpha / 2, runs - 1) + 10) * sd_difference / math.sqrt(runs)
    return float(optimize.brentq(lambda d: power_of(d, sd_difference, runs, alpha) - power, 1e-9, upper))


def runs_needed(sd_difference: float, difference: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """The pairs of runs a mean difference `difference` needs for `power` (at least 2)."""
    runs = 2
    while power_of(difference, sd_difference, runs, alpha) < power and runs < 10_000:
        runs += 1
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "databases", nargs="+", type=Path, help="the runs' databases (NAME.sqlite or NAME/search.sqlite)"
    )
    parser.add_argument("--runs", type=int, default=5, help="paired runs per strategy to evaluate (default: 5)")
    args = parser.parse_args()
    runs = outcomes([d if d.suffix == ".sqlite" else d / "search.sqlite" for d in args.databases])
    by_strategy: dict[str, list[float]] = {}
    for outcome, children in runs:
        print(
            f"{outcome.strategy} seed {outcome.seed}: best confirmed child's ratio {outcome.best_confirmed}, "
            f"{len(children)} children drawn"
        )
        if outcome.best_confirmed is not None:
            by_strategy.setdefault(outcome.strategy, []).append(outcome.best_confirmed)
    # Pairs: the same seed, two strategies. Their children must differ from the first mutation on.
    by_seed: dict[int, dict[str, list[str]]] = {}
    for outcome, children in runs:
        by_seed.setdefault(outcome.seed, {})[outcome.strategy] = children
    # The pairs' differences, interval and test: the comparison `report --compare` prints.
    paired = compare([outcome for outcome, _ in runs])["paired"]
    differences = [] if paired is None else paired["differences"]
    by_pair = {} if paired is None else dict(zip(paired["seeds"], differences, strict=True))
    for seed, pair in sorted(by_seed.items()):
        if len(pair) != 2:
            continue
        (a, children_a), (b, children_b) = sorted(pair.items())
        common = sum(x == y for x, y in zip(children_a, children_b, strict=False))
        print(
            f"pair seed {seed}: {common} of the first {min(len(children_a), len(children_b))} children the same "
            f"in {a} and {b}; first children {children_a[:1]} and {children_b[:1]}"
        )
        if seed in by_pair:
            print(f"pair seed {seed}: {a} - {b} = {by_pair[seed]:+.4f}")
    pooled = [v for values in by_strategy.values() for v in values]
    if not pooled:
        raise SystemExit("no run has a confirmed child yet")
    mean = statistics.fmean(pooled)
    if len(differences) >= 2:
        sd_difference = statistics.stdev(differences)
        estimate = paired["estimate"]
        print(
            f"{len(differences)} pairs: mean difference {estimate.mean:+.4f} [{estimate.low:+.4f}, "
            f"{estimate.high:+.4f}] (95% t interval), paired t-test p = {paired['p_value']:.3g}; SD of a pair's "
            f"difference {sd_difference:.4f} (measured)"
        )
    else:
        spreads = [statistics.stdev(values) for values in by_strategy.values() if len(values) > 1]
        if not spreads:
            raise SystemExit("need two pairs, or two confirmed runs of one strategy, for a spread")
        sd_difference = math.sqrt(statistics.fmean(s**2 for s in spreads)) * math.sqrt(2)
        print(f"SD of a pair's difference from one strategy's spread, as independent: {sd_difference:.4f}")
    wanted, have = detectable(sd_difference, args.runs), detectable(sd_difference, max(len(differences), 1))
    print(
        f"{args.runs} pairs detect (80% power, 5% two-sided) a difference of {wanted:.4f} ({wanted / mean:.1%} of "
        f"the mean outcome {mean:.3f}); the {len(differences)} pairs here detect {have:.4f} ({have / mean:.1%})"
    )
    print(
        f"a difference of 3% of the mean outcome ({0.03 * mean:.4f}) needs {runs_needed(sd_difference, 0.03 * mean)} "
        f"pairs of runs at this budget"
    )


if __name__ == "__main__":
    main()
