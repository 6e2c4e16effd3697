"""Is the memorization filter a lottery? The filter scores of a search's children, split by
whether they passed: a filter that decides by luck puts children on both sides close to its
threshold; one that separates cells that learn from cells that cannot leaves a gap around it.

A child's filter score is its best validation score on the filter task over the
configurations it got there (its parent's best first, `search.filter_configs`).

    python benchmarks/filter_scores.py benchmarks/results/strategies-default/evolution-seed1000.sqlite \
        benchmarks/results/default-fitness/runs/default-seed*/search.sqlite
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from evo_rnn.runs.run import Run, RunFiles


def filter_scores(database: Path) -> tuple[float, str, list[float], list[float]]:
    """The run's filter threshold and task, and the filter scores of its filtered and of its
    passing children, each sorted."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "run"
        folder.mkdir()
        shutil.copyfile(database, folder / "search.sqlite")
        with Run.open(RunFiles("run", scratch), readonly=True) as run:
            search = run.preset.search
            filtered, passed = [], []
            for step in run.steps():
                if step["kind"] != "mutate" or step["outcome"] in (None, "duplicate", "unmutable"):
                    continue
                scores = [
                    e["valid_score"]
                    for e in run.evaluations(arch=step["arch"], task=search.filter_task)
                    if e["status"] == "ok" and e["valid_score"] is not None
                ]
                best = max(scores, default=0.0)
                (filtered if step["outcome"] == "filtered" else passed).append(best)
    return search.filter_threshold, search.filter_task, sorted(filtered), sorted(passed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("databases", nargs="+", type=Path, help="search runs' databases")
    args = parser.parse_args()
    for database in args.databases:
        threshold, task, filtered, passed = filter_scores(database)
        print(
            f"{database}: {task} threshold {threshold}; filtered {len(filtered)} at "
            f"{min(filtered, default=float('nan')):.3f}-{max(filtered, default=float('nan')):.3f}; passed "
            f"{len(passed)} at {min(passed, default=float('nan')):.3f}-{max(passed, default=float('nan')):.3f}"
        )


if __name__ == "__main__":
    main()
