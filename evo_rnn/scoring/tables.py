"""The paper's comparison of recurrent cells (Jozefowicz et al. 2015, Table 1) and a run's own
version of it.

The paper's side: its figures (`PAPER_TABLE_1`) and the tiers they put the cells in
(`PAPER_TIERS`). The run's side, read from an ablation run's database (`python -m
evo_rnn.ablation` writes it, `python -m evo_rnn.report` renders it) with the search's own
scoring rules (`evo_rnn.scoring.paper_scores.Scores`): per cell and task, the best configuration by its mean
validation score over its tuning seeds, that configuration's test score on the confirmation's
fresh seeds with a 95% t interval, its ratio to the GRU paired by seed and the paired t-test,
and whether the confirmed scores keep the paper's tiers apart.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from evo_rnn.cells import zoo
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.run import Run
from evo_rnn.runs.store import Store
from evo_rnn.scoring import statistics
from evo_rnn.scoring.paper_scores import Scores

__all__ = [
    "PAPER_TABLE_1",
    "PAPER_TIERS",
    "AblationSettings",
    "Row",
    "cell_origin",
    "find_cell",
    "markdown",
    "rows",
    "separation",
    "verdicts",
]


# Jozefowicz et al. (2015), Table 1: best accuracy (Arith, XML) and exp(-NLL) (PTB) per cell.
PAPER_TABLE_1: dict[str, dict[str, float]] = {
    "tanh": {"arith": 0.29493, "xml": 0.32050, "ptb": 0.08782},
    "lstm": {"arith": 0.89228, "xml": 0.42470, "ptb": 0.08912},
    "lstm_f": {"arith": 0.29292, "xml": 0.23356, "ptb": 0.08808},
    "lstm_i": {"arith": 0.75109, "xml": 0.41371, "ptb": 0.08662},
    "lstm_o": {"arith": 0.86747, "xml": 0.42117, "ptb": 0.08933},
    "lstm_b": {"arith": 0.90163, "xml": 0.44434, "ptb": 0.08952},
    "gru": {"arith": 0.89565, "xml": 0.45963, "ptb": 0.09069},
    "mut1": {"arith": 0.92135, "xml": 0.47483, "ptb": 0.08968},
    "mut2": {"arith": 0.89735, "xml": 0.47324, "ptb": 0.09036},
    "mut3": {"arith": 0.90728, "xml": 0.46478, "ptb": 0.09161},
}

# The tiers Table 1 puts the cells in (higher is better; the order inside a tier is within the
# paper's own noise): arith: tanh and LSTM-f fail (~0.29), LSTM-i is between (0.75), the rest
# 0.87-0.92; XML: tanh and LSTM-f below every gated cell.
PAPER_TIERS: dict[str, dict[str, int]] = {
    "arith": {
        "tanh": 0,
        "lstm_f": 0,
        "lstm_i": 1,
        **dict.fromkeys(("lstm", "lstm_o", "lstm_b", "gru", "mut1", "mut2", "mut3"), 2),
    },
    "xml": {
        "tanh": 0,
        "lstm_f": 0,
        **dict.fromkeys(("lstm", "lstm_i", "lstm_o", "lstm_b", "gru", "mut1", "mut2", "mut3"), 1),
    },
}


@dataclasses.dataclass(frozen=True)
class AblationSettings:
    """What an ablation run compares (stored under `MetaKey.ABLATION`; a rerun may change them and
    adds what is new).

    Attributes:
        cells: zoo cells, in table order.
        tasks: tasks, in table order.
        trials: configurations per task, the first of the task's bank (`presets.sample_configs`),
            the same for every cell.
        replicates: training seeds per configuration (`seeds.tuning_seeds`).
        confirm_seeds: fresh seeds each cell's best configuration trains on again.
    """

    cells: tuple[str, ...]
    tasks: tuple[str, ...]
    trials: int
    replicates: int
    confirm_seeds: int

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "cells": list(self.cells), "tasks": list(self.tasks)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AblationSettings:
        return cls(
            tuple(data["cells"]),
            tuple(data["tasks"]),
            int(data["trials"]),
            int(data["replicates"]),
            int(data["confirm_seeds"]),
        )

    @classmethod
    def load(cls, run: Run) -> AblationSettings | None:
        """The ablation's settings of `run`; None for a run that is not an ablation."""
        data = run.meta(MetaKey.ABLATION)
        return None if data is None else cls.from_dict(data)


@dataclasses.dataclass(frozen=True)
class Row:
    """One cell on one task in a run's comparison.

    Attributes:
        cell, task: which.
        tuning_valid: the best configuration's mean validation score over its tuning seeds
            (`Scores.task_score`); None where nothing trained.
        tuning_seeds: the seeds that mean is over.
        confirmed: the test score on the confirmation seeds with its 95% interval; None before
            the confirmation (or after more tuning chose another configuration).
        ratio_to_gru: the ratio of mean test scores to the GRU's, paired by confirmation seed, with Fieller's interval.
        p_value_vs_gru: the paired t-test against the GRU.
        p_value_holm: that p-value Holm-adjusted over every cell and task of the comparison
            tested against the GRU (`statistics.holm`; None for the GRU and where there is no test).
        paper: the paper's figure (`PAPER_TABLE_1`), where it has one.
    """

    cell: str
    task: str
    tuning_valid: float | None
    tuning_seeds: int
    confirmed: statistics.Estimate | None
    ratio_to_gru: statistics.Estimate | None
    p_value_vs_gru: float | None
    paper: float | None
    p_value_holm: float | None = None
    confirmed_scores: tuple[float, ...] = ()  # the test score on each confirmation seed, in seed order


def cell_origin(cell: str) -> str:
    """How an ablation records a cell it was given: a zoo name as "zoo:NAME", a cell file as
    "file:PATH" (the path as given, the label the table shows)."""
    return f"zoo:{cell}" if cell in zoo.names() else f"file:{cell}"


def find_cell(store: Store | Run, cell: str) -> str | None:
    """The architecture key of an ablation's cell (a zoo name, or a cell file's path as given),
    or None where the run never stored it. A file is found by its recorded origin, so the table
    reads even where the file has moved since."""
    if cell in zoo.names():
        return store.find_architecture(zoo.get(cell))
    return store.find_origin(cell_origin(cell))


def rows(scores: Scores, cells: list[str] | tuple[str, ...], tasks: list[str] | tuple[str, ...]) -> list[Row]:
    """The comparison of `cells` on `tasks` as the run of `scores` measured it (cell by cell, each
    cell's tasks in order); cells the run never trained are left out."""
    found = {cell: find_cell(scores.store, cell) for cell in ("gru", *cells)}
    table = []
    for cell in cells:
        arch = found[cell]
        if arch is None:
            continue
        for task in tasks:
            confirmed = scores.confirmed_test(arch, task)
            ratio, p_value = (
                (None, None) if found["gru"] is None or confirmed is None else scores.versus_gru(arch, task)
            )
            table.append(
                Row(
                    cell,
                    task,
                    scores.task_score(arch, task),
                    scores.seeds_on_best(arch, task),
                    confirmed,
                    ratio,
                    p_value,
                    PAPER_TABLE_1.get(cell, {}).get(task),
                    confirmed_scores=tuple(scores.confirmed_scores(arch, task) or ()),
                )
            )
    adjusted = scores.holm_adjusted(tasks)  # the run's one family: its confirmed cells other than the GRU
    return [
        row if row.cell == "gru" else dataclasses.replace(row, p_value_holm=adjusted.get((found[row.cell], row.task)))
        for row in table
    ]


def separation(
    confirmed: dict[str, statistics.Estimate], task: str, per_seed: dict[str, Sequence[float]] | None = None
) -> list[str]:
    """What the confirmed scores say about the paper's tiers on `task`: Kendall's tau over the
    cell pairs that cross tiers (with a 95% bootstrap interval over the confirmation seeds when
    `per_seed` gives every cell's score per seed), and whether each bottom-tier cell's interval
    lies below each of the LSTM's and the GRU's (non-overlapping 95% intervals). Empty where the
    paper has no tiers for the task or fewer than two tiers were measured."""
    tiers = PAPER_TIERS.get(task)
    if not tiers:
        return []
    measured = {cell: estimate.mean for cell, estimate in confirmed.items() if cell in tiers}
    try:
        tau, pairs = statistics.cross_tier_tau(measured, tiers)
    except ValueError:
        return []
    interval = ""
    seeds = {cell: per_seed[cell] for cell in measured if per_seed and per_seed.get(cell)}
    if len(seeds) == len(measured) and len({len(s) for s in seeds.values()}) == 1:
        estimate, _ = statistics.cross_tier_tau_interval(seeds, tiers)
        if not math.isnan(estimate.low):
            interval = f" [{estimate.low:.2f}, {estimate.high:.2f}] (95% bootstrap over the {estimate.n} seeds)"
    lines = [
        f"{task}: Kendall's tau against the paper's tiers over the {pairs} cell pairs that cross tiers: "
        f"{tau:.2f}{interval}"
    ]
    for low in (c for c in confirmed if tiers.get(c) == 0):
        for high in ("lstm", "gru"):
            if high in confirmed:
                below = not confirmed[low].overlaps(confirmed[high]) and confirmed[low].high < confirmed[high].low
                lines.append(
                    f"{task}: {low} {confirmed[low].text()} vs {high} {confirmed[high].text()}: "
                    + ("below, the intervals do not overlap" if below else "not separated")
                )
    return lines


def verdicts(table: list[Row], tasks: list[str] | tuple[str, ...]) -> list[str]:
    """`separation` for every task of a comparison."""
    return [
        line
        for task in tasks
        for line in separation(
            {r.cell: r.confirmed for r in table if r.task == task and r.confirmed},
            task,
            {r.cell: r.confirmed_scores for r in table if r.task == task and r.confirmed},
        )
    ]


def _text(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(table: list[Row], tasks: list[str] | tuple[str, ...]) -> str:
    """The comparison as a Markdown table: a row per cell; per task the confirmed test score
    [95% CI], the ratio to the GRU [95% CI] with the paired t-test's p (and its Holm-adjusted
    value over the table's tests), and the tuning validation score with the paper's figure in
    brackets."""
    head = (
        "| cell | "
        + " | ".join(
            f"{t}: confirmed test [95% CI] | {t}: ratio to GRU [95% CI], p | {t}: tuning valid (paper)" for t in tasks
        )
        + " |"
    )
    lines = [head, "|---" * (3 * len(tasks) + 1) + "|"]
    by_cell: dict[str, dict[str, Row]] = {}
    for row in table:
        by_cell.setdefault(row.cell, {})[row.task] = row
    for cell, cell_rows in by_cell.items():
        cells = []
        for task in tasks:
            row = cell_rows.get(task)
            if row is None:
                cells += ["—", "—", "—"]
                continue
            cells.append("—" if row.confirmed is None else row.confirmed.text(4))
            ratio = "—" if row.ratio_to_gru is None else row.ratio_to_gru.text(3)
            holm = "" if row.p_value_holm is None else f" (Holm {row.p_value_holm:.2g})"
            cells.append(ratio if row.p_value_vs_gru is None else f"{ratio}, p = {row.p_value_vs_gru:.2g}{holm}")
            cells.append(_text(row.tuning_valid) + ("" if row.paper is None else f" ({row.paper:.4f})"))
        lines.append(f"| {cell} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
