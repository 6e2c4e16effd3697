"""How many runs a comparison of search strategies needs: a power calculation from measured runs.

Reads search runs (their databases) of the strategy experiment, takes each run's best
confirmed ratio to the GRU (the outcome `python -m evo_rnn.report --compare` compares), and
from the spread of that outcome between runs of one strategy prints:

- the smallest difference between the strategies' mean outcomes that N paired runs per
  strategy detect with 80% power (two-sided paired t-test at 5%, normal approximation), and
- the runs per strategy a difference of 3% of the mean outcome needs.

The runs of a pair share their seed, so their difference may vary less than two independent
runs; until paired runs with independent children exist, the spread between runs of one
strategy (times sqrt 2) stands for the spread of a pair's difference, an upper bound when the
pairing helps.

    python benchmarks/strategy_power.py benchmarks/results/strategies-protocol2-b72/*.sqlite
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import tempfile
from pathlib import Path

from scipy import stats as scipy_stats

from evo_rnn.runs.run import RunFiles
from evo_rnn.scoring.strategy_comparison import load_outcome


def outcomes(databases: list[Path]) -> dict[str, list[float]]:
    """Each strategy's best confirmed ratios, one per run (runs without one left out)."""
    found: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index, database in enumerate(databases):
            # a run folder of its own, read-only use (a run's database is `NAME/search.sqlite`)
            name = f"{index}-{database.parent.name if database.stem == 'search' else database.stem}"
            folder = Path(scratch) / name
            folder.mkdir()
            shutil.copyfile(database, folder / "search.sqlite")
            outcome = load_outcome(RunFiles(name, scratch))
            if outcome.best_confirmed is not None:
                found.setdefault(outcome.strategy, []).append(outcome.best_confirmed)
    return found


def detectable(sd_difference: float, runs: int, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest mean difference `runs` pairs detect with `power` (normal approximation)."""
    z = scipy_stats.norm.ppf(1 - alpha / 2) + scipy_stats.norm.ppf(power)
    return z * sd_difference / math.sqrt(runs)


def runs_needed(sd_difference: float, difference: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """The pairs of runs a mean difference `difference` needs for `power`."""
    z = scipy_stats.norm.ppf(1 - alpha / 2) + scipy_stats.norm.ppf(power)
    return math.ceil((z * sd_difference / difference) ** 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "databases", nargs="+", type=Path, help="the runs' databases (NAME.sqlite or NAME/search.sqlite)"
    )
    parser.add_argument("--runs", type=int, default=5, help="paired runs per strategy to evaluate (default: 5)")
    args = parser.parse_args()
    found = outcomes([d if d.suffix == ".sqlite" else d / "search.sqlite" for d in args.databases])
    for strategy, values in sorted(found.items()):
        print(
            f"{strategy}: {len(values)} runs, best confirmed ratio {statistics.fmean(values):.3f} "
            f"(SD between runs {statistics.stdev(values):.3f})"
            if len(values) > 1
            else f"{strategy}: {values}"
        )
    pooled = [v for values in found.values() for v in values]
    spreads = [statistics.stdev(values) for values in found.values() if len(values) > 1]
    if not spreads:
        raise SystemExit("need at least two runs of one strategy with a confirmed best cell")
    sd_run = math.sqrt(statistics.fmean(s**2 for s in spreads))
    sd_difference = sd_run * math.sqrt(2)
    mean = statistics.fmean(pooled)
    print(f"SD of one run's outcome {sd_run:.3f}; of a pair's difference, taken as independent: {sd_difference:.3f}")
    print(
        f"{args.runs} pairs detect (80% power, 5% two-sided) a difference of "
        f"{detectable(sd_difference, args.runs):.3f} ({detectable(sd_difference, args.runs) / mean:.0%} of the mean "
        f"outcome {mean:.3f})"
    )
    print(
        f"a difference of 3% of the mean outcome ({0.03 * mean:.3f}) needs {runs_needed(sd_difference, 0.03 * mean)} "
        f"pairs of runs at this budget"
    )


if __name__ == "__main__":
    main()
