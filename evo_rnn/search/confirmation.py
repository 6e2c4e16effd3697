"""`python -m evo_rnn.confirm`: is a found cell really better? The top cells of a search run,
the GRU and the LSTM trained again on fresh seeds, each with its best configuration per task.

Every cell gets the same seeds (`scores.confirm_seeds`: never used by the search), so its
runs pair with the GRU's and the LSTM's seed by seed. The runs are cached in the run's
database like any evaluation (a confirmation resumes; asking for more seeds adds runs), and
`Scores.confirmation` turns them into the block the export writes into each summary: mean
test score with a 95% t interval, ratios to the GRU and the LSTM with intervals, and the
paired t-test's p-value against the GRU.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from evo_rnn.core.cli import (
    UsageError,
)
from evo_rnn.runs.executors import Executor
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.run import Run, RunFiles
from evo_rnn.runs.seeds import confirm_seeds
from evo_rnn.runs.service import Evaluations, Request
from evo_rnn.runs.tensorboard import TensorBoardLog
from evo_rnn.scoring.paper_scores import Scores, verdict
from evo_rnn.training import engine_choice
from evo_rnn.training.hyperparameters import HParams

__all__ = ["MIN_SEEDS", "confirm_run"]

MIN_SEEDS = 2  # an interval needs at least two runs
Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cells(run: Run, scores: Scores, top: int, log: Log) -> list[str]:
    """The best `top` children in the population (fewer if it holds fewer, said in `log`), then
    the seed cells (the LSTM) and the GRU: baselines, confirmed always and never counted in `top`."""
    children = scores.children(run.population())
    if top > len(children):
        log(
            f"confirm: the population of run {run.name!r} holds {len(children)} children besides the seed cells; "
            f"confirming {'all ' if children else ''}{len(children)} (--top {top} asked for more) and the baselines"
        )
    baselines = scores.baselines()
    ordered = [baselines[name] for name in ("lstm", "gru") if name in baselines]
    return list(dict.fromkeys([*children[:top], *ordered, *baselines.values()]))


def confirm_run(
    run: Run | RunFiles,
    top: int,
    seeds: int,
    executor: Executor,
    data_dir: str | os.PathLike | None = None,
    log: Log = _stderr,
    tensorboard: TensorBoardLog | None = None,
) -> list[str]:
    """Trains the best `top` cells of `run` (a `Run` open to write, or the `RunFiles` of one to
    open), the GRU and the LSTM on `seeds` fresh seeds with each one's best configuration per
    scored task, records every run in the run's database as it finishes, and records the
    confirmation (its seeds and cells) for the export.

    Returns:
        The confirmed architectures.

    Raises:
        UsageError: fewer than `MIN_SEEDS` seeds, or `top` < 1.
        EvoRnnError: the run does not exist or has no population yet.
    """
    if seeds < MIN_SEEDS:
        raise UsageError(f"--seeds must be at least {MIN_SEEDS}: an interval needs two runs (4 or more are better)")
    if top < 1:
        raise UsageError("--top must be at least 1")
    if isinstance(run, RunFiles):
        with Run.open(run) as opened:
            return confirm_run(opened, top, seeds, executor, data_dir, log, tensorboard)
    preset = run.preset
    scores = Scores.of(run)
    cells = _cells(run, scores, top, log)
    seed_list = confirm_seeds(run.seed, seeds)
    data = None if data_dir is None else str(Path(data_dir).resolve())
    requests = []
    for group, (arch, task) in enumerate((arch, task) for arch in cells for task in scores.tasks):
        requests += [
            Request(arch, task, HParams.from_json(key.hparams), key.seed, preset, phase="confirm", group=group)
            for key in scores.confirm_keys(arch, task, seed_list)
            if run.cached(key) is None
        ]
    log(
        f"confirm: {len(cells)} cells x {len(scores.tasks)} tasks x {seeds} seeds "
        f"({len(requests)} runs to train, the rest cached)"
    )
    members = engine_choice.confirmation_members(preset, seeds)
    Evaluations.of(run, executor, data, run_files=None, members_per_job=members, tensorboard=tensorboard).run(requests)
    run.set_meta(MetaKey.CONFIRMATION, {"seeds": seed_list, "cells": cells, "top": top})
    for arch in cells:
        for task in scores.tasks:
            block = scores.confirmation(arch, task)
            if block is not None:
                log(
                    f"confirm: {arch[:8]} {task}: test {block['mean']:.4f} over {block['seeds']} seeds: "
                    f"{verdict(block)}"
                )
    log(
        "confirm: these compare each cell at its confirmed configuration (seeds vary, the configuration does "
        "not); for a claim about a cell, `python -m evo_rnn.ablation --across` (docs/search.md)"
    )
    return cells
