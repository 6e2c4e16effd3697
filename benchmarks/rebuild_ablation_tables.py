"""Rebuilds the tables (`ablation.md`, `ablation.csv`) of shipped ablation runs from their
databases, with today's statistics, training nothing: the same rows the ablation command
writes at its end (`evo_rnn.commands.ablation.write_tables`).

    python benchmarks/rebuild_ablation_tables.py benchmarks/results/ablation-*/

A run's figures change only where the statistics changed (for example the ratio to the GRU,
a ratio of means with Fieller's interval since it stopped being a mean of per-seed ratios).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evo_rnn.commands.ablation import write_tables
from evo_rnn.runs.run import Run, RunFiles
from evo_rnn.scoring import tables
from evo_rnn.scoring.paper_scores import Scores


def rebuild(folder: Path) -> Path:
    """Rewrites the tables of the ablation run stored in `folder`; returns its `ablation.md`."""
    files = RunFiles(folder.name, folder.parent)
    with Run.open(files, readonly=True) as run:
        settings = tables.AblationSettings.load(run)
        if settings is None:
            raise SystemExit(f"{folder} holds no ablation run")
        table = tables.rows(Scores.of(run), settings.cells, settings.tasks)
        write_tables(files, run.settings, settings, table)
    return files.root / "ablation.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="ablation run folders (each holds search.sqlite)")
    for folder in parser.parse_args().folders:
        print(rebuild(folder.resolve()))


if __name__ == "__main__":
    main()
