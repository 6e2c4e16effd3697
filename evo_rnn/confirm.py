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

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from evo_rnn import architectures, datafiles
from evo_rnn.cli import ArgumentParser, UsageError, add_workers_argument, run, whole_number
from evo_rnn.evaluations import Evaluations, Request
from evo_rnn.executors import Executor, local_executor
from evo_rnn.export import export_run
from evo_rnn.hparams import HParams
from evo_rnn.runs import RunFiles, open_run, population
from evo_rnn.scores import CONFIRM_META, Scores, verdict
from evo_rnn.seeds import MAX_CONFIRM_SEEDS, confirm_seeds
from evo_rnn.store import Store
from evo_rnn.tensorboard_logs import TensorBoardLog, add_tensorboard_argument

__all__ = ["MIN_SEEDS", "build_parser", "confirm_run", "main"]

MIN_SEEDS = 2  # an interval needs at least two runs
Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cells(store: Store, scores: Scores, top: int, log: Log, name: str) -> list[str]:
    """The best `top` members of the population (fewer if it holds fewer, said in `log`), then
    the GRU and the LSTM."""
    members = population(store, name)
    ranked = sorted(members, key=lambda arch: (-scores.overall(arch), arch))
    if top > len(ranked):
        log(f"confirm: the population of run {name!r} holds {len(ranked)} cells; confirming all {len(ranked)} "
            f"(--top {top} asked for more)")
    baselines = [store.find_architecture(architectures.get(cell)) for cell in ("gru", "lstm")]
    return list(dict.fromkeys([*ranked[:top], *(arch for arch in baselines if arch is not None)]))


def confirm_run(files: RunFiles, top: int, seeds: int, executor: Executor, data_dir: str | os.PathLike | None = None,
                log: Log = _stderr, tensorboard: TensorBoardLog | None = None) -> list[str]:
    """Trains the best `top` cells of the run, the GRU and the LSTM on `seeds` fresh seeds with
    each one's best configuration per scored task, records every run in the run's database
    as it finishes, and records the confirmation (its seeds and cells) for the export.

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
    with open_run(files) as (store, settings):
        preset = settings.resolved_preset()
        scores = Scores(store, preset, settings.seed)
        cells = _cells(store, scores, top, log, files.name)
        seed_list = confirm_seeds(settings.seed, seeds)
        data = None if data_dir is None else str(Path(data_dir).resolve())
        requests = []
        for group, (arch, task) in enumerate((arch, task) for arch in cells for task in scores.tasks):
            requests += [Request(arch, task, HParams.from_json(key.hparams), key.seed, preset, phase="confirm",
                                 group=group)
                         for key in scores.confirm_keys(arch, task, seed_list) if store.cached(key) is None]
        log(f"confirm: {len(cells)} cells x {len(scores.tasks)} tasks x {seeds} seeds "
            f"({len(requests)} runs to train, the rest cached)")
        # A cell's seeds on a task train as one batched job under the batched engine.
        members = seeds if preset.engine == "batched" else 1
        Evaluations(store, executor, data, members_per_job=members, tensorboard=tensorboard).run(requests)
        store.set_meta(CONFIRM_META, {"seeds": seed_list, "cells": cells, "top": top})
        for arch in cells:
            for task in scores.tasks:
                block = scores.confirmation(arch, task)
                if block is not None:
                    log(f"confirm: {arch[:8]} {task}: test {block['mean']:.4f} over {block['seeds']} seeds: "
                        f"{verdict(block)}")
    return cells


def _job(args: argparse.Namespace) -> int:
    data_dir = str(datafiles.resolve_data_dir(args.data_dir)[0].resolve())
    files = RunFiles(args.run, args.runs_dir)
    executor = local_executor(args.workers)
    try:
        confirm_run(files, args.top, args.seeds, executor, data_dir,
                    tensorboard=None if args.tensorboard is None else TensorBoardLog(args.tensorboard))
    except BaseException:  # Ctrl-C or an error: stop the workers; every finished run is stored
        executor.shutdown(cancel=True)
        raise
    executor.shutdown()
    if not args.no_export:
        path = export_run(files, args.out, args.top, data_dir)
        _stderr(f"exported the best cells with their confirmation to {path}")
    return 0


DESCRIPTION = ("Train the top cells of a search run, the GRU and the LSTM again on fresh seeds (the same for every "
               "cell) with each one's best configuration, and export each cell's mean test score with a 95% interval, "
               "its ratios to the GRU and the LSTM, and the paired t-test against the GRU.")


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(prog="python -m evo_rnn.confirm", description=DESCRIPTION)
    parser.add_argument("--run", default="default", help="the run's name (default: default)")
    parser.add_argument("--runs-dir", default="runs", help="where runs live (default: runs/)")
    parser.add_argument("--top", type=whole_number(1), default=3, help="how many of the best cells, besides the GRU and the "
                                                             "LSTM (default: 3)")
    parser.add_argument("--seeds", type=whole_number(MIN_SEEDS, MAX_CONFIRM_SEEDS), default=8, help=f"fresh training seeds per cell and task, at least "
                                                               f"{MIN_SEEDS} (default: 8)")
    add_workers_argument(parser)
    parser.add_argument("--data-dir", default=None,
                        help="dataset folder for ptb and the music sets (default: $EVO_RNN_DATA or datasets/)")
    parser.add_argument("--out", default="saved_architectures",
                        help="export folder; the run is exported again to OUT/NAME/ (default: saved_architectures/)")
    parser.add_argument("--no-export", action="store_true", help="do not export afterwards (default: export)")
    add_tensorboard_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run(build_parser(), _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
