"""`python -m evo_rnn.confirm`: train the top cells of a search run, the GRU and the LSTM again on
fresh seeds and export them with their confirmation (`evo_rnn.search.confirmation`)."""

from __future__ import annotations

import argparse
import sys

from evo_rnn.core.cli import (
    ArgumentParser,
    add_workers_argument,
    run,
    whole_number,
)
from evo_rnn.runs.executors import local_executor
from evo_rnn.runs.run import RunFiles
from evo_rnn.runs.seeds import MAX_CONFIRM_SEEDS
from evo_rnn.runs.tensorboard import TensorBoardLog, add_tensorboard_argument
from evo_rnn.search.confirmation import MIN_SEEDS, confirm_run
from evo_rnn.tasks import data_files
from evo_rnn.views.export import export_run


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _job(args: argparse.Namespace) -> int:
    data_dir = str(data_files.resolve_data_dir(args.data_dir)[0].resolve())
    files = RunFiles(args.run, args.runs_dir)
    executor = local_executor(args.workers)
    try:
        confirm_run(
            files,
            args.top,
            args.seeds,
            executor,
            data_dir,
            tensorboard=None if args.tensorboard is None else TensorBoardLog(args.tensorboard),
        )
    except BaseException:  # Ctrl-C or an error: stop the workers; every finished run is stored
        executor.shutdown(cancel=True)
        raise
    executor.shutdown()
    if not args.no_export:
        path = export_run(files, args.out, args.top, data_dir)
        _stderr(f"exported the best cells with their confirmation to {path}")
    return 0


DESCRIPTION = (
    "Train the top cells of a search run, the GRU and the LSTM again on fresh seeds (the same for every "
    "cell) with each one's best configuration, and export each cell's mean test score with a 95% interval, "
    "its ratios to the GRU and the LSTM, and the paired t-test against the GRU."
)


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(prog="python -m evo_rnn.confirm", description=DESCRIPTION)
    parser.add_argument("--run", default="default", help="the run's name (default: default)")
    parser.add_argument("--runs-dir", default="runs", help="where runs live (default: runs/)")
    parser.add_argument(
        "--top",
        type=whole_number(1),
        default=3,
        help="how many of the best cells, besides the GRU and the LSTM (default: 3)",
    )
    parser.add_argument(
        "--seeds",
        type=whole_number(MIN_SEEDS, MAX_CONFIRM_SEEDS),
        default=8,
        help=f"fresh training seeds per cell and task, at least {MIN_SEEDS} (default: 8)",
    )
    add_workers_argument(parser)
    parser.add_argument(
        "--data-dir",
        default=None,
        help="dataset folder for ptb and the music sets (default: $EVO_RNN_DATA or datasets/)",
    )
    parser.add_argument(
        "--out",
        default="saved_architectures",
        help="export folder; the run is exported again to OUT/NAME/ (default: saved_architectures/)",
    )
    parser.add_argument("--no-export", action="store_true", help="do not export afterwards (default: export)")
    add_tensorboard_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run(build_parser(), _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
