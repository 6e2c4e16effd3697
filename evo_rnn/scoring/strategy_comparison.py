"""Search strategies compared over runs: does evolution beat random search at one budget?

Each run is read from its database (`load_outcome`): its strategy and seed, how many
evaluations it stored, the best search score of a child so far after each evaluation
(`best_so_far`), and the best confirmed score of a cell other than the GRU (the minimum over
tasks of its ratio to the GRU on the confirmation's fresh seeds: the number a reader
should believe). `compare` gives each strategy's mean over runs with a 95% t interval and the
two-sided Mann-Whitney U test between the strategies; `python -m evo_rnn.report --compare RUN
RUN ...` renders it with the plot of the best score so far against evaluations.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.outcomes import SCORED_CHILD_OUTCOMES, Outcome
from evo_rnn.runs.run import Run, RunFiles
from evo_rnn.runs.seeds import confirm_seeds
from evo_rnn.scoring import statistics
from evo_rnn.scoring.paper_scores import Scores

__all__ = ["RunOutcome", "best_so_far", "compare", "load_outcome"]


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What one search run reached.

    Attributes:
        name, strategy, seed: the run.
        evaluations: evaluations stored in the run, its confirmation's included.
        search_evaluations: the search's evaluations, the confirmation's left out (what
            `--max-evaluations` counts).
        curve: (evaluations stored, child score) for every child scored on every task, in the
            order they finished.
        children: new children drawn (the search's candidates).
        best_confirmed: the best confirmed score of a confirmed child (None: the run was not
            confirmed, or confirmed no child), and `best_confirmed_arch` that cell. The seed
            cells are left out: they are the same in every run of a seed.
    """

    name: str
    strategy: str
    seed: int
    evaluations: int
    search_evaluations: int
    curve: list[tuple[int, float]]
    children: int
    best_confirmed: float | None
    best_confirmed_arch: str | None


def load_outcome(files: RunFiles) -> RunOutcome:
    """Reads run `files` (read-only: it works while the run is written).

    Raises:
        EvoRnnError: the run does not exist or is not a search.
    """
    with Run.open(files, readonly=True) as run:
        store, settings, preset = run.store, run.settings, run.preset
        times = store.evaluation_times(below_seed=confirm_seeds(settings.seed, 1)[0])  # the search's, in order
        steps = [s for s in store.steps() if s["finished"] is not None]
        curve = [
            (bisect.bisect_right(times, s["finished"]), float(s["score"]))
            for s in sorted(steps, key=lambda s: s["finished"])
            if s["kind"] == "mutate" and s["outcome"] in SCORED_CHILD_OUTCOMES and s["score"] is not None
        ]
        scores = Scores.of(run)
        meta = run.meta(MetaKey.CONFIRMATION)
        best, best_arch = None, None
        if meta:
            # What the strategy found: its children, never a seed cell (the LSTM's ratio is the same
            # for both strategies of a pair, so it would hide their difference).
            seeded = {s["arch"] for s in steps if s["kind"] == "seed"} | {scores.baseline_arch}
            cells = [arch for arch in meta["cells"] if arch not in seeded]
            for row in scores.leaderboard(cells):
                if row.confirmed is not None and (best is None or row.confirmed > best):
                    best, best_arch = row.confirmed, row.arch
        children = sum(
            s["kind"] == "mutate" and s["outcome"] not in (Outcome.DUPLICATE, Outcome.UNMUTABLE) for s in steps
        )
        return RunOutcome(
            files.name,
            preset.search.strategy,
            settings.seed,
            store.evaluation_count(),
            len(times),
            curve,
            children,
            best,
            best_arch,
        )


def best_so_far(outcome: RunOutcome, grid: Sequence[int]) -> np.ndarray:
    """The best child score the run had recorded once it had stored each number of evaluations
    in `grid` (NaN before its first scored child)."""
    counts = [n for n, _ in outcome.curve]
    running = np.maximum.accumulate([score for _, score in outcome.curve]) if outcome.curve else np.array([])
    values = []
    for n in grid:
        index = bisect.bisect_right(counts, n)
        values.append(float(running[index - 1]) if index else math.nan)
    return np.array(values)


def compare(outcomes: Sequence[RunOutcome]) -> dict[str, Any]:
    """Per strategy: its runs' best confirmed scores, their mean with a 95% t interval; and the
    two-sided Mann-Whitney U test between the two strategies' best confirmed scores (None
    unless there are exactly two strategies with at least one confirmed run each). Runs that
    were not confirmed are counted but left out of the statistics."""
    by_strategy: dict[str, list[RunOutcome]] = {}
    for outcome in outcomes:
        by_strategy.setdefault(outcome.strategy, []).append(outcome)
    table = {}
    for strategy, runs in sorted(by_strategy.items()):
        values = [r.best_confirmed for r in runs if r.best_confirmed is not None]
        estimate = statistics.mean_interval(values) if values else None
        table[strategy] = {
            "runs": len(runs),
            "confirmed_runs": len(values),
            "values": values,
            "estimate": estimate,
            "children": [r.children for r in runs],
            "search_evaluations": [r.search_evaluations for r in runs],
        }
    test, paired = None, None
    if len(table) == 2 and all(t["values"] for t in table.values()):
        (a, first), (b, second) = table.items()
        result = scipy_stats.mannwhitneyu(first["values"], second["values"], alternative="two-sided")
        test = {"strategies": [a, b], "u": float(result.statistic), "p_value": float(result.pvalue)}
        paired = _paired_by_seed(outcomes, a, b)
    return {"strategies": table, "mann_whitney": test, "paired": paired}


def _paired_by_seed(outcomes: Sequence[RunOutcome], a: str, b: str) -> dict[str, Any] | None:
    """Runs of strategies `a` and `b` with the same seed (the same seed cells' training, the same
    confirmation seeds, their own children): the mean of the differences `a - b` of their best
    confirmed children's scores with a 95% t interval (NaN bounds where every pair differs by
    the same) and the paired t-test, and the seeds left out with why (two runs of one strategy,
    one strategy only, a run without a confirmed child). None with no complete pair."""
    by_seed: dict[int, dict[str, list[float | None]]] = {}
    for outcome in outcomes:
        if outcome.strategy in (a, b):
            by_seed.setdefault(outcome.seed, {}).setdefault(outcome.strategy, []).append(outcome.best_confirmed)
    pairs, left_out = [], {}
    for seed, runs in sorted(by_seed.items()):
        if any(len(values) > 1 for values in runs.values()):
            left_out[seed] = "two runs of one strategy"
        elif len(runs) < 2:
            left_out[seed] = "one strategy only"
        elif runs[a][0] is None or runs[b][0] is None:
            left_out[seed] = "a run without a confirmed child"
        else:
            pairs.append((seed, runs[a][0], runs[b][0]))
    if not pairs:
        return None
    differences = [x - y for _, x, y in pairs]
    return {
        "strategies": [a, b],
        "seeds": [seed for seed, _, _ in pairs],
        "differences": differences,
        "estimate": statistics.varying_mean_interval(differences),
        "p_value": statistics.paired_t_test([x for _, x, _ in pairs], [y for _, _, y in pairs]),
        "left_out": left_out,
    }
