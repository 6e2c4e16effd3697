"""`python -m evo_rnn.write_zoo DIR`: write every zoo cell as `<name>.json` and `<name>.png`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from evo_rnn.cells import diagram, file_format, zoo

__all__ = ["main", "write_zoo"]


def write_zoo(directory: str | os.PathLike, diagrams: bool = True) -> list[Path]:
    """Writes `<name>.json` (and `<name>.png` when `diagrams`) for every zoo cell."""
    directory = Path(directory)
    written = []
    for name in zoo.names():
        graph = zoo.get(name)
        written.append(file_format.save(graph, directory / f"{name}.json"))
        if diagrams:
            written.append(diagram.write_diagram(graph, directory / f"{name}.png"))
    return written


def build_parser():
    """The command line's parser."""
    from evo_rnn.core.cli import ArgumentParser

    parser = ArgumentParser(prog="python -m evo_rnn.write_zoo", description="Write the zoo cells as JSON + PNG.")
    parser.add_argument("directory", help="where to write <name>.json and <name>.png (required)")
    parser.add_argument(
        "--no-diagrams", action="store_true", help="write the JSON files only (default: JSON and PNG diagrams)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    from evo_rnn.core.cli import run

    parser = build_parser()

    def job(args: argparse.Namespace) -> None:
        for path in write_zoo(args.directory, diagrams=not args.no_diagrams):
            print(path)

    return run(parser, job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
