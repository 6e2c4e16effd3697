"""Claims about cells, not configurations: one comparison table from several independent
ablation runs of the same cells and tasks (`python -m evo_rnn.ablation --across RUN RUN ...`).

A run's table (`evo_rnn.scoring.tables`) conditions on the configuration its tuning chose for
each cell: its intervals say how much other training seeds would move a figure, not how much
another tuning would (on quick arith the same cell's ratio to the GRU moved by SD 0.11 between
two runs while each run's own standard error was 0.06). Runs with different seeds draw their
own configuration bank, tune on their own seeds and confirm on their own fresh seeds, so the
spread of their results holds both sources, and an interval over runs is the one a claim
about a cell needs (`statistics.ratio_across_runs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from evo_rnn.scoring import statistics
from evo_rnn.scoring.tables import Row

__all__ = ["CellAcrossRuns", "combine", "markdown"]


@dataclasses.dataclass(frozen=True)
class CellAcrossRuns:
    """One cell on one task over independent runs.

    Attributes:
        cell, task: which.
        confirmed: the mean over runs of each run's confirmed mean test score, with a t interval
            over runs (`covers`: seeds and configuration choice).
        ratio_to_gru: the geometric mean over runs of each run's paired ratio to the GRU with
            its interval over runs; None for the GRU itself (the baseline).
        p_value_vs_gru: the t-test over runs that the log-ratio is 0 (None for the GRU or with
            one run).
        p_value_holm: that p-value Holm-adjusted over every other cell and task of the table.
        per_run: each run's ratio to the GRU (its confirmed mean score for the GRU), in run order.
    """

    cell: str
    task: str
    confirmed: statistics.Estimate
    ratio_to_gru: statistics.Estimate | None
    p_value_vs_gru: float | None
    per_run: tuple[float, ...]
    p_value_holm: float | None = None


def combine(tables: Mapping[str, Sequence[Row]]) -> list[CellAcrossRuns]:
    """The cells and tasks every run of `tables` (run name -> its rows) confirmed, in the first
    run's order, each over the runs. A cell whose ratio a run could not form (the GRU's mean
    test score was not positive) is left out.

    Raises:
        ValueError: no runs.
    """
    if not tables:
        raise ValueError("a comparison across runs needs at least one run")
    by_run = [{(r.cell, r.task): r for r in rows if r.confirmed is not None} for rows in tables.values()]
    combined = []
    for key in by_run[0]:
        found = [table.get(key) for table in by_run]
        if any(row is None for row in found):
            continue
        cell, task = key
        confirmed = dataclasses.replace(
            statistics.mean_interval([row.confirmed.mean for row in found]), covers=statistics.SEEDS_AND_CONFIGURATION
        )
        if cell == "gru":
            combined.append(CellAcrossRuns(cell, task, confirmed, None, None, tuple(r.confirmed.mean for r in found)))
            continue
        if any(row.ratio_to_gru is None for row in found):
            continue
        ratios = [row.ratio_to_gru.mean for row in found]
        ratio, p_value = statistics.ratio_across_runs(ratios)
        combined.append(CellAcrossRuns(cell, task, confirmed, ratio, p_value, tuple(ratios)))
    adjusted = statistics.holm([row.p_value_vs_gru for row in combined])
    return [dataclasses.replace(row, p_value_holm=p) for row, p in zip(combined, adjusted, strict=True)]


def markdown(combined: Sequence[CellAcrossRuns], runs: Sequence[str]) -> str:
    """The combination as a Markdown table, a row per cell and task."""
    lines = [
        f"| cell | task | confirmed test over {len(runs)} runs [95% CI] | ratio to GRU [95% CI], p (Holm) | "
        f"per run: {', '.join(runs)} |",
        "|---|---|---|---|---|",
    ]
    for row in combined:
        if row.ratio_to_gru is None:
            ratio = "baseline"
            per_run = ", ".join(f"{value:.4f}" for value in row.per_run) + " (test)"
        else:
            ratio = row.ratio_to_gru.text(3)
            if row.p_value_vs_gru is not None:
                ratio += f", p = {row.p_value_vs_gru:.2g} (Holm {row.p_value_holm:.2g})"
            per_run = ", ".join(f"{value:.3f}" for value in row.per_run)
        lines.append(f"| {row.cell} | {row.task} | {row.confirmed.text(4)} | {ratio} | {per_run} |")
    return "\n".join(lines)
