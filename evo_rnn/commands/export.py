"""`python -m evo_rnn.export --run NAME`: export the best cells of a search run again (`evo_rnn.views.export`)."""

from __future__ import annotations

import argparse

from evo_rnn.core.cli import ArgumentParser, run, whole_number
from evo_rnn.runs.run import RunFiles
from evo_rnn.views.export import (
    export_run,
)


def _job(args: argparse.Namespace) -> None:
    path = export_run(RunFiles(args.run, args.runs_dir), args.out, args.top, args.data_dir)
    print(path)


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(
        prog="python -m evo_rnn.export",
        description="Export the best cells of a search run (cell, diagram, trained models, summary).",
    )
    parser.add_argument("--run", default="default", help="the run's name (default: default)")
    parser.add_argument("--runs-dir", default="runs", help="where runs live (default: runs/)")
    parser.add_argument("--out", default="saved_architectures", help="export folder (default: saved_architectures/)")
    parser.add_argument(
        "--top", type=whole_number(1), default=3, help="how many architectures, best first (default: 3)"
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="dataset folder, for retraining a model the run did not keep and for PTB's vocabulary "
        "(default: $EVO_RNN_DATA or datasets/)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run(build_parser(), _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
