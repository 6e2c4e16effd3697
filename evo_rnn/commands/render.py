"""`python -m evo_rnn.render CELL -o OUT.{png,svg,dot}`: draw a zoo cell or a cell file."""

from __future__ import annotations

import argparse

from evo_rnn.cells import zoo
from evo_rnn.cells.diagram import write_diagram
from evo_rnn.core.cli import ArgumentParser, run

__all__ = ["main"]


def _job(args: argparse.Namespace) -> None:
    graph = zoo.resolve(args.cell)
    print(write_diagram(graph, args.output, title=args.title))


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(prog="python -m evo_rnn.render", description="Draw a cell graph.")
    parser.add_argument("cell", help=f"a zoo name ({', '.join(zoo.names())}) or a cell .json file (required)")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="the file to write: .png, .svg (both need Graphviz's dot) or .dot (required)",
    )
    parser.add_argument("--title", default=None, help="the caption (default: the cell's name)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run(build_parser(), _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
