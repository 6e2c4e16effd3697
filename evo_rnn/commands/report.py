"""`python -m evo_rnn.report --run NAME`: write the HTML report of a run, or compare search
strategies over runs (`evo_rnn.views.report`)."""

from __future__ import annotations

import argparse

from evo_rnn.core.cli import ArgumentParser, run, whole_number
from evo_rnn.runs.run import RunFiles
from evo_rnn.views.report import (
    write_comparison,
    write_report,
)


def _job(args: argparse.Namespace) -> None:
    if args.compare:
        print(write_comparison(args.compare, args.runs_dir, args.output))
        return
    print(write_report(RunFiles(args.run, args.runs_dir), args.output, args.top))


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(
        prog="python -m evo_rnn.report", description="One self-contained HTML page about a search or ablation run."
    )
    parser.add_argument("--run", default="default", help="the run's name (default: default)")
    parser.add_argument("--runs-dir", default="runs", help="where runs keep their state (default: runs/)")
    parser.add_argument("-o", "--output", default=None, help="the .html file (default: RUNS_DIR/NAME/report.html)")
    parser.add_argument("--top", type=whole_number(1), default=3, help="cells shown in detail (default: 3)")
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN",
        default=None,
        help="instead of one run's report: compare the search strategies of these runs (best "
        "confirmed score per run, each strategy's mean with a 95%% interval, a Mann-Whitney U "
        "test, the best score so far against evaluations); written to -o (default: "
        "RUNS_DIR/compare.html) with its plot beside it as .png (default: one run's report)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run(build_parser(), _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
