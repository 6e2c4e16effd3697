"""`python -m evo_rnn.interop nasbench-nlp FILE.json -o DIR`: NAS-Bench-NLP recipes as cells.

Each recipe of the file (a list of recipes, or one recipe) becomes `DIR/recipe-<i>/cell.json`
and its diagram (`cell.png`, or `cell.dot` without Graphviz). A recipe that cannot be
represented is reported in one line naming its node and why, the others are still written,
and the exit code is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evo_rnn.cells import diagram, file_format
from evo_rnn.core.cli import ArgumentParser, UsageError, run
from evo_rnn.interop.nasbench_nlp import RecipeError, from_recipe
from evo_rnn.tasks.sources import read_capped

__all__ = ["main"]

MAX_RECIPES_BYTES = 100 * 2**20  # a recipes file larger than this (100 MiB) is refused unread


def _recipes(path: Path) -> list:
    try:
        data = json.loads(read_capped(path, MAX_RECIPES_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no file {path}; pass a NAS-Bench-NLP recipes .json file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} is not JSON ({error}); pass a NAS-Bench-NLP recipes .json file") from None
    except RecursionError:
        raise UsageError(f"{path} nests too deeply to read; a NAS-Bench-NLP recipe is a flat dict of nodes") from None
    recipes = data if isinstance(data, list) else [data]
    if not recipes:
        raise UsageError(f"{path} holds no recipes")
    return recipes


def _nasbench_nlp(args: argparse.Namespace) -> None:
    path, out = Path(args.file), Path(args.output)
    recipes = _recipes(path)
    picture = "cell.png" if diagram.graphviz_available() else "cell.dot"
    if picture == "cell.dot":
        print(f"interop: {diagram.GRAPHVIZ_MISSING}; writing each diagram as cell.dot instead", file=sys.stderr)
    failed = []
    for index, recipe in enumerate(recipes):
        name = f"nasbench-nlp-{path.stem}-{index}"
        try:
            graph = from_recipe(recipe, name=name)
        except RecipeError as error:
            print(f"interop: recipe {index} of {path}: {error}", file=sys.stderr)
            failed.append(index)
            continue
        folder = out / f"recipe-{index:03d}"
        file_format.save(graph, folder / "cell.json")
        diagram.write_diagram(graph, folder / picture, title=name)
        print(folder)
    if failed:
        raise UsageError(
            f"{len(failed)} of {len(recipes)} recipes could not be imported (above); the others are in {out}"
        )


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(prog="python -m evo_rnn.interop", description="Cells from other projects as evo_rnn cells.")
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    nlp = formats.add_parser("nasbench-nlp", help="NAS-Bench-NLP recipes (a .json list of recipes, or one recipe)")
    nlp.add_argument("file", help="the recipes .json file (required)")
    nlp.add_argument(
        "-o", "--output", required=True, help="the folder to write recipe-<i>/cell.json and diagrams to (required)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run(build_parser(), _nasbench_nlp, argv)


if __name__ == "__main__":
    raise SystemExit(main())
