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

The command line `python -m evo_rnn.search` is this module's `main` (`evo_rnn/search/__main__.py`
only calls it): `run` and the command share one implementation.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import io
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from evo_rnn import architectures, backend, datafiles, diagram, presets, tasks
from evo_rnn.cli import ArgumentParser, UsageError, add_workers_argument, number, parse_options, whole_number
from evo_rnn.cli import run as run_command
from evo_rnn.errors import EvoRnnError
from evo_rnn.runs import RunFiles, open_run, population
from evo_rnn.scores import LeaderRow, Scores
from evo_rnn.seeds import MAX_CONFIRM_SEEDS, MAX_RUN_SEED
from evo_rnn.tensorboard_logs import TensorBoardLog, add_tensorboard_argument

__all__ = ["DESCRIPTION", "SearchResult", "build_parser", "main", "run"]

DESCRIPTION = ("The evolutionary architecture search of Jozefowicz et al. (2015): resumable, confirmed on fresh seeds "
               "and exported at the end. With no flags: preset quick, tasks arith and xml, 10 minutes of search on "
               "every core, the best 3 cells, the GRU and the LSTM retrained on 4 fresh seeds, the best 3 exported to "
               "saved_architectures/default/; rerun the same command to resume.")
EXIT_INTERRUPTED = 130


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _batched_members(text: str) -> int | str:
    """--batched: `auto` or a whole number (checked to be >= 1 with the other flags)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected `auto` or a whole number, got {text!r}") from None


def _members_per_job(args: argparse.Namespace, stored) -> int:
    """The members per batched job: the flag's number; for `auto`, `backend.BATCHED_MEMBERS` for this
    hardware, except that a run started with one evaluation per job (Keras' fit) resumes so."""
    if args.batched != "auto":
        return args.batched
    if stored is not None and stored.resolved_preset().engine != "batched":
        return 1
    return backend.default_batched_members()


def _overrides(args: argparse.Namespace, members_per_job: int) -> list[str]:
    """The run's preset overrides: `--set` items, then what --batched, --tasks and
    --seed-zoo say."""
    overrides = list(args.set)
    if members_per_job > 1 and not any(item.startswith("engine=") for item in overrides):
        overrides.append("engine=batched")  # a member's result must not depend on its company
    if args.tasks:
        overrides.append(f"search.tasks={args.tasks}")
    if args.seed_zoo:
        overrides.append("search.seed_cells=" + ",".join(architectures.names()))
    if args.strategy != "evolution":
        overrides.append(f"search.strategy={args.strategy}")
    return overrides


def _check_tasks(preset: presets.Preset, data_dir: str | None) -> None:
    """Unknown tasks, and real datasets missing from the data folder, fail before any work."""
    search = preset.search
    for name in (*search.tasks, search.filter_task):
        tasks.check_name(name)  # unknown names and bad file specs: one line (EvoRnnError)
        tasks.check_data(name, data_dir, preset.task_config(name))
    if search.filter_task in search.tasks:
        raise UsageError(f"the filter task {search.filter_task!r} cannot also be a scored task; remove it from --tasks")
    for cell in search.seed_cells:
        architectures.get(cell)
    from evo_rnn.search.evolution import check_halving

    check_halving(preset)


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("evo_rnn", "tensorflow", "keras", "numpy", "networkx"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def _executor(args: argparse.Namespace):
    """The executor the flags ask for (Ray is imported only here, only when asked for)."""
    from evo_rnn.executors import local_executor

    if args.executor == "ray":
        from evo_rnn.ray_executor import RayExecutor

        return RayExecutor(args.ray_address, workers=args.workers or None, cpus_per_eval=args.cpus_per_eval,
                           gpus_per_eval=args.gpus_per_eval)
    if args.ray_address or args.gpus_per_eval or args.cpus_per_eval != 1.0:
        raise UsageError("--ray-address, --cpus-per-eval and --gpus-per-eval go with --executor ray")
    return local_executor(args.workers)


def _check_args(args: argparse.Namespace) -> None:
    """What the flags' types cannot say alone (their ranges are checked as they are parsed)."""
    if args.confirm_seeds == 1:
        raise UsageError("--confirm-seeds must be 0 (no confirmation) or at least 2 (an interval needs two runs)")
    if args.batched != "auto" and args.batched < 1:
        raise UsageError("--batched must be auto or at least 1")


def _job(args: argparse.Namespace) -> int:
    from evo_rnn.export import export_run
    from evo_rnn.runs import RunSettings
    from evo_rnn.search.evolution import Evolution
    from evo_rnn.search.progress import Progress
    from evo_rnn.search.scheduler import Scheduler
    from evo_rnn.store import Store

    _check_args(args)
    files = RunFiles(args.run, args.runs_dir)
    stored = None
    if files.database.exists():
        with Store(files.database, readonly=True) as store:
            stored = RunSettings.load(store)
    members_per_job = _members_per_job(args, stored)
    overrides = _overrides(args, members_per_job)
    preset = presets.with_overrides(presets.get(args.preset), overrides)
    data_dir = str(datafiles.resolve_data_dir(args.data_dir)[0].resolve())
    _check_tasks(preset, data_dir)
    command = "python -m evo_rnn.search" + "".join(f" {shlex.quote(a)}" for a in (args.argv or []))
    settings = RunSettings(args.preset, tuple(overrides), args.seed, command)
    if not args.no_export and not diagram.graphviz_available():
        _say(f"note: {diagram.GRAPHVIZ_MISSING}: the search runs and exports everything, with each diagram as "
             f"cell.dot; for the PNGs, install it and run `python -m evo_rnn.export --run {args.run}` afterwards")
    with files.writing(), Store(files.database) as store:
        stored = RunSettings.load(store)
        if stored is None:
            settings.start(store)
            store.set_meta("versions", _versions())
        elif stored.kind != "search":
            raise UsageError(f"run {args.run!r} is an {stored.kind} run (`{stored.command}`), not a search; choose "
                             "another --run")
        elif not settings.resumes(stored, store):
            raise UsageError(
                f"run {args.run!r} was started as `{stored.command}`; resume it with the same --preset, "
                f"--tasks (a task file may move, not change), --set and --seed, or start another with --run NEW_NAME"
            )
        elif stored.resolved_preset() != preset:  # a task file moved: the run reads it from here on
            moved = [t for t in settings.task_names() if t not in stored.task_names()]
            _say(f"run {args.run!r}: its task file{'s' if len(moved) > 1 else ''} moved; reading "
                 f"{', '.join(moved)} from now on (the same content: nothing is retrained)")
            dataclasses.replace(stored, overrides=settings.overrides, command=settings.command).save(store)
        tensorboard = None if args.tensorboard is None else TensorBoardLog(args.tensorboard)
        executor = _executor(args)
        store.set_meta("workers", executor.workers)  # for the report's evaluations per worker
        progress = Progress(live=None if not args.quiet else False)
        evolution = Evolution(store, preset, seed=args.seed, max_candidates=args.max_candidates)
        search = Scheduler(
            evolution, executor, data_dir=data_dir,
            budget_seconds=None if args.budget_minutes is None else args.budget_minutes * 60,
            run_files=files, on_event=progress, members_per_job=members_per_job,
            tensorboard=tensorboard, max_evaluations=args.max_evaluations,
        )
        progress.attach(search)
        _say(f"search run {args.run!r}: {files.database} (preset {preset.name}, tasks "
             f"{', '.join(preset.search.tasks)}, filter {preset.search.filter_task}, "
             f"{executor.workers} worker{'s' if executor.workers != 1 else ''})")
        if search.out_of_time():
            _say(f"run {args.run!r} has spent its budget of {args.budget_minutes:g} minute"
                 f"{'' if args.budget_minutes == 1 else 's'} "
                 f"({search.elapsed() / 60:.1f} min searched): nothing new is trained; to go on, rerun with a larger "
                 f"--budget-minutes (e.g. {2 * args.budget_minutes:g}), or start another run with --run NEW_NAME")
        elif search.out_of_evaluations():
            _say(f"run {args.run!r} has spent its budget of {args.max_evaluations} evaluations "
                 f"({search.search_evaluations()} stored): nothing new is trained; to go on, rerun with a larger "
                 f"--max-evaluations, or start another run with --run NEW_NAME")
        interrupted = False
        try:
            with progress:
                search.run()
        except KeyboardInterrupt:
            interrupted = True
            _say("interrupted: the evaluations in flight were cancelled, everything finished is stored; "
                 "rerun the same command to resume")
        _say(progress.summary_line())
        unfinished = len(store.steps(unfinished=True))
        if unfinished and not interrupted:
            _say(f"{unfinished} step{'s' if unfinished != 1 else ''} unfinished: the budget was spent before "
                 f"{'their' if unfinished != 1 else 'its'} next evaluations started; a rerun with a larger "
                 f"--budget-minutes finishes {'them' if unfinished != 1 else 'it'}")
        if store.population() and args.confirm_seeds and not interrupted:
            from evo_rnn.confirm import confirm_run

            try:
                confirm_run(files, args.top, args.confirm_seeds, executor, data_dir, log=_say, tensorboard=tensorboard)
            except KeyboardInterrupt:
                interrupted = True
                executor.shutdown(cancel=True)
                _say("interrupted during the confirmation: every finished run is stored; rerun the same command "
                     "to resume")
        if not interrupted:
            executor.shutdown()
        has_population = bool(store.population())
        if has_population and not args.no_export:
            path = export_run(files, args.out, args.top, data_dir, command)
            _say(f"exported the best cells to {path}")
        elif not has_population:
            _say("nothing to export yet: the seed cells are not all evaluated")
    return EXIT_INTERRUPTED if interrupted else 0


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(prog="python -m evo_rnn.search", description=DESCRIPTION)
    parser.add_argument("--preset", default="quick", choices=list(presets.PRESETS),
                        help="task sizes and training settings: quick (CPU minutes) or paper (GPU scale) "
                             "(default: quick)")
    parser.add_argument("--tasks", default=None,
                        help="comma-separated scored tasks, the first one gates the rest (default: the preset's; "
                             "quick: arith,xml)")
    parser.add_argument("--budget-minutes", type=number(), default=10.0,
                        help="the run's total search time over all resumptions; evaluations running when it is "
                             "spent finish; the confirmation and the export come after it (default: 10)")
    parser.add_argument("--max-candidates", type=whole_number(0), default=None,
                        help="stop after this many new child architectures (default: no limit)")
    parser.add_argument("--max-evaluations", type=whole_number(1), default=None, metavar="N",
                        help="the run's budget in evaluations (trainings stored in the run, over all resumptions; "
                             "those in flight when it is reached finish): two strategies get the same number of "
                             "trainings whatever each costs; the time budget still applies, pass a large "
                             "--budget-minutes to make this the only one (default: no limit)")
    add_workers_argument(parser)
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: a process pool on this machine; ray: Ray tasks on a cluster (default: local)")
    parser.add_argument("--ray-address", default=None,
                        help="with --executor ray: the cluster to join (`ray start --head` prints it) "
                             "(default: a local Ray instance)")
    parser.add_argument("--cpus-per-eval", type=number(), default=1.0,
                        help="with --executor ray: CPUs each evaluation reserves (default: 1)")
    parser.add_argument("--gpus-per-eval", type=number(0.0, above=False), default=0.0,
                        help="with --executor ray: GPUs each evaluation reserves, fractions pack several on "
                             "one GPU, e.g. 0.25 (default: 0)")
    parser.add_argument("--batched", type=_batched_members, default="auto", metavar="P",
                        help="send the requests of one step for one architecture, task and shape as batched "
                             "jobs of at most P members, trained as one compiled program (evo_rnn.batched; "
                             "sets --set engine=batched); 1: one evaluation per job with Keras' fit (the same "
                             "batches; results agree over the first epochs only, so a run keeps to one engine) (default: auto, 16 on a CPU and 256 "
                             "on a GPU, as measured; a run started with 1 resumes with 1)")
    parser.add_argument("--run", default="default",
                        help="run name: its state is RUNS_DIR/NAME/search.sqlite, its export OUT/NAME/ "
                             "(default: default)")
    parser.add_argument("--runs-dir", default="runs", help="where runs keep their state (default: runs/)")
    parser.add_argument("--seed", type=whole_number(0, MAX_RUN_SEED), default=0,
                        help="seeds the search and every training run (default: 0)")
    parser.add_argument("--data-dir", default=None,
                        help="dataset folder for ptb and the music sets (default: $EVO_RNN_DATA or datasets/)")
    parser.add_argument("--top", type=whole_number(1), default=3, help="architectures exported, best first (default: 3)")
    parser.add_argument("--out", default="saved_architectures",
                        help="export folder; the run is exported to OUT/NAME/ (default: saved_architectures/)")
    parser.add_argument("--confirm-seeds", type=whole_number(0, MAX_CONFIRM_SEEDS), default=8, metavar="S",
                        help="at the end, train the top cells, the GRU and the LSTM again on S fresh seeds with their "
                             "best configurations (python -m evo_rnn.confirm; 0: skip) (default: 8)")
    parser.add_argument("--no-export", action="store_true", help="do not export at the end (default: export)")
    parser.add_argument("--strategy", choices=presets.STRATEGIES, default="evolution",
                        help="evolution: children of population members (the paper); random: children of the "
                             "seed cells (LSTM, GRU) by the same mutations, never selected by score, with the same "
                             "filter, gate, configurations and confirmation, the baseline a search must beat "
                             "(default: evolution)")
    parser.add_argument("--seed-zoo", action="store_true",
                        help="start from the whole zoo, not just LSTM and GRU (default: LSTM and GRU)")
    add_tensorboard_argument(parser)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a preset field, repeatable, e.g. max_epochs=5, search.configs_per_task=4, "
                             "budgets.arith=30000 (default: none)")
    parser.add_argument("--quiet", action="store_true",
                        help="log lines instead of the live panel (default: the panel on a terminal, lines elsewhere)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input, 130 after Ctrl-C)."""
    parser = build_parser()
    parser.set_defaults(argv=sys.argv[1:] if argv is None else argv)
    return run_command(parser, _job, argv)


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
        run: the run's name (its state is `runs_dir/run/`); the other options are the
            command's flags of the same names (`preset`, `budget_minutes`, `max_candidates`,
            `max_evaluations`, `workers`, `seed`, `runs_dir`, `out`, `top`, `confirm_seeds`,
            `strategy`, `data_dir`, `batched`).
        export: export the best `top` cells to `out/run/` at the end.
        set: preset overrides, e.g. `["max_epochs=5", "budgets.text=40000"]`.
        progress: log the search's progress to stderr as the command does; False silences it.
        more: any other flag of the command, by its name (`seed_zoo=True`, `tensorboard="tb"`).

    Raises:
        EvoRnnError: bad input (an unknown task, a bad file, a bad setting, a run started with
            other settings), with the command's one-line message.
    """
    options = {"tasks": tasks, "run": run, "preset": preset, "budget_minutes": budget_minutes,
               "max_candidates": max_candidates, "max_evaluations": max_evaluations, "workers": workers,
               "seed": seed, "runs_dir": runs_dir, "out": out, "top": top, "confirm_seeds": confirm_seeds,
               "no_export": not export, "strategy": strategy, "data_dir": data_dir, "batched": batched, "set": set,
               "quiet": True, **more}
    args = parse_options(build_parser(), options)
    quiet = contextlib.nullcontext() if progress else contextlib.redirect_stderr(io.StringIO())
    with quiet:
        code = _job(args)
    return SearchResult.load(run, runs_dir, Path(out) / run if export else None,
                             interrupted=code == EXIT_INTERRUPTED)
