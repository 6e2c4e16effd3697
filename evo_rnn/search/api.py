"""The search from Python: `evo_rnn.search.run(...)` does what `python -m evo_rnn.search` does
(the same checks, run database, resumption, confirmation and export) and returns a
`SearchResult` to read and use: the leaderboard with confirmed intervals, the best cells as
graphs, and as Keras layers ready for a model of your own.

    import evo_rnn.search
    result = evo_rnn.search.run(tasks=["text:corpus.txt"], budget_minutes=30, workers=2, run="mine")
    result.leaderboard[0].confirmed_interval     # the best cell's confirmed score, 95% interval
    layer = result.layer(rank=1, units=128)       # a GraphRNN over the best cell
    keras.Sequential([keras.layers.Embedding(vocabulary, 128), layer, keras.layers.Dense(classes)])

Calling it again with the same arguments resumes the run (a spent budget only exports again).
Bad input raises `EvoRnnError` with the one-line message the command prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from evo_rnn.errors import EvoRnnError
from evo_rnn.runs import RunFiles, open_run, population
from evo_rnn.scores import LeaderRow, Scores

__all__ = ["SearchResult", "run"]


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """A search run as it stands: where it lives, its leaderboard (confirmed cells first) and its export.

    Attributes:
        name: the run's name; `runs_dir` its folder's parent.
        leaderboard: `LeaderRow`s, best first (`Scores.leaderboard`: confirmed scores with their
            bootstrap interval, per task the confirmation block with Holm-adjusted p-values).
        export: the export's folder, or None when nothing was exported.
        interrupted: the run stopped on Ctrl-C (call `run` again to resume).
    """

    name: str
    runs_dir: Path
    leaderboard: list[LeaderRow]
    export: Path | None
    interrupted: bool
    _graphs: dict[str, nx.DiGraph] = dataclasses.field(repr=False, default_factory=dict)

    def cell(self, rank: int = 1) -> nx.DiGraph:
        """The cell ranked `rank` (from 1) as a graph (`evo_rnn.cell_format.save` writes it).

        Raises:
            EvoRnnError: no cell has that rank.
        """
        if not 1 <= rank <= len(self.leaderboard):
            raise EvoRnnError(f"rank {rank} is not on the leaderboard of run {self.name!r} "
                              f"({len(self.leaderboard)} cells)")
        return self._graphs[self.leaderboard[rank - 1].arch]

    def layer(self, rank: int = 1, units: int = 64, **kwargs: Any):
        """A `GraphRNN` layer over the cell ranked `rank`, `units` wide, untrained, for a model of
        your own; `kwargs` go to `GraphRNN` (e.g. `return_sequences=True`, `stateful=True`) and
        `init_scale` and `seed` to its `GraphCell`."""
        from evo_rnn.layers import GraphCell, GraphRNN

        cell_args = {key: kwargs.pop(key) for key in ("init_scale", "seed") if key in kwargs}
        return GraphRNN(GraphCell(self.cell(rank), units, **cell_args), **kwargs)

    @classmethod
    def load(cls, name: str, runs_dir: str | Path = "runs", export: str | Path | None = None,
             interrupted: bool = False) -> SearchResult:
        """The result of run `name` read from its database (read-only: it works while the run is
        written).

        Raises:
            EvoRnnError: the run does not exist.
        """
        files = RunFiles(name, runs_dir)
        with open_run(files, readonly=True) as (store, settings):
            members = population(store, name)
            scores = Scores(store, settings.resolved_preset(), settings.seed)
            board = scores.leaderboard(members) if members else []
            graphs = {row.arch: store.architecture(row.arch) for row in board}
        folder = None if export is None else Path(export)
        return cls(name, Path(runs_dir), board, folder if folder is not None and folder.is_dir() else None,
                   interrupted, graphs)


def _argv(options: dict[str, Any]) -> list[str]:
    """The command line that `options` (keyword arguments of `run`) stand for."""
    argv = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif key == "set":
            for item in value:
                argv += ["--set", str(item)]
        elif key == "tasks":
            argv += [flag, ",".join(value) if not isinstance(value, str) else value]
        else:
            argv += [flag, str(value)]
    return argv


def run(tasks: Sequence[str] | str | None = None, *, run: str = "default", preset: str = "quick",
        budget_minutes: float = 10.0, max_candidates: int | None = None, max_evaluations: int | None = None,
        workers: int | None = None, seed: int = 0, runs_dir: str | Path = "runs", out: str | Path = "saved_architectures",
        top: int = 3, confirm_seeds: int = 8, export: bool = True, strategy: str = "evolution",
        data_dir: str | Path | None = None, batched: int | str | None = None, set: Sequence[str] = (),
        progress: bool = True, **more: Any) -> SearchResult:
    """Runs (or resumes) the search `python -m evo_rnn.search` runs with the same options, and
    returns its `SearchResult`.

    Args:
        tasks: scored task names, the first gating the rest (`text:PATH`, `npz:PATH` and
            registered tasks included); None: the preset's.
        run, preset, budget_minutes, max_candidates, max_evaluations, workers, seed, runs_dir,
            out, top, confirm_seeds, strategy, data_dir, batched: as the command's flags.
        export: export the best `top` cells to `out/run/` at the end.
        set: preset overrides, e.g. `["max_epochs=5", "budgets.text=40000"]`.
        progress: log the search's progress to stderr as the command does; False silences it.
        more: any other flag of the command, by its name (`seed_zoo=True`, `tensorboard="tb"`).

    Raises:
        EvoRnnError: bad input (an unknown task, a bad file, a bad setting, a run started with
            other settings), with the command's one-line message.
    """
    from evo_rnn.search import __main__ as command

    options = {"tasks": tasks, "run": run, "preset": preset, "budget_minutes": budget_minutes,
               "max_candidates": max_candidates, "max_evaluations": max_evaluations, "workers": workers,
               "seed": seed, "runs_dir": runs_dir, "out": out, "top": top, "confirm_seeds": confirm_seeds,
               "no_export": not export, "strategy": strategy, "data_dir": data_dir, "batched": batched, "set": list(set),
               "quiet": True, **more}
    parser = command.build_parser()
    argv = _argv(options)
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        raise EvoRnnError(f"invalid options for the search: {' '.join(argv)} (see python -m evo_rnn.search --help)") \
            from None
    args.argv = argv
    quiet = contextlib.nullcontext() if progress else contextlib.redirect_stderr(io.StringIO())
    with quiet:
        code = command._job(args)
    return SearchResult.load(run, runs_dir, Path(out) / run if export else None,
                             interrupted=code == command.EXIT_INTERRUPTED)
