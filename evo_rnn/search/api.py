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

from evo_rnn import tasks
from evo_rnn.cells import diagram, zoo
from evo_rnn.core.cli import (
    EXIT_INTERRUPTED,
    ArgumentParser,
    UsageError,
    add_workers_argument,
    number,
    parse_options,
    whole_number,
)
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.run import Run, RunFiles, RunSettings
from evo_rnn.runs.seeds import MAX_CONFIRM_SEEDS, MAX_RUN_SEED
from evo_rnn.runs.tensorboard import TensorBoardLog, add_tensorboard_argument
from evo_rnn.scoring.paper_scores import LeaderRow, Scores
from evo_rnn.search.confirmation import confirm_run
from evo_rnn.search.evolution import seed_evaluations
from evo_rnn.tasks import data_files
from evo_rnn.training import engine_choice, presets
from evo_rnn.views.export import check_out_dir, export_run

__all__ = ["DESCRIPTION", "SearchResult", "build_parser", "run", "search_job"]

DESCRIPTION = (
    "The evolutionary architecture search of Jozefowicz et al. (2015): resumable, confirmed on fresh seeds "
    "and exported at the end. With no flags: preset quick, tasks arith and xml, the preset's budget in "
    "evaluations on every core, the best 3 cells, the GRU and the LSTM retrained on 8 fresh seeds, the best 3 "
    "exported to saved_architectures/default/; rerun the same command to resume."
)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _overrides(args: argparse.Namespace, engine: engine_choice.EngineChoice) -> list[str]:
    """The run's preset overrides: `--set` items, then what --batched, --tasks, --seed-zoo and
    --strategy say."""
    overrides = engine.overrides(args.set)
    if args.tasks:
        overrides.append(f"search.tasks={args.tasks}")
    if args.seed_zoo:
        overrides.append("search.seed_cells=" + ",".join(zoo.names()))
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
        zoo.get(cell)
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
    from evo_rnn.runs.executors import local_executor

    if args.executor == "ray":
        from evo_rnn.runs.ray_executor import RayExecutor

        if args.workers == 0:
            raise UsageError(
                "--workers 0 trains in this process, which Ray does not; give --workers N for N "
                "evaluations at once on the cluster, or leave it out for as many as it holds"
            )
        return RayExecutor(
            args.ray_address, workers=args.workers, cpus_per_eval=args.cpus_per_eval, gpus_per_eval=args.gpus_per_eval
        )
    if args.ray_address or args.gpus_per_eval or args.cpus_per_eval != 1.0:
        raise UsageError("--ray-address, --cpus-per-eval and --gpus-per-eval go with --executor ray")
    return local_executor(args.workers)


def _check_args(args: argparse.Namespace) -> None:
    """What the flags' types cannot say alone (their ranges are checked as they are parsed)."""
    if args.confirm_seeds == 1:
        raise UsageError("--confirm-seeds must be 0 (no confirmation) or at least 2 (an interval needs two runs)")


def search_job(args: argparse.Namespace) -> int:
    """Runs (or resumes) the search the parsed options describe, then confirms and exports it;
    returns the exit code (130 after Ctrl-C or SIGTERM: the evaluations in flight are cancelled,
    and nothing is confirmed or exported, so that it stops within seconds)."""
    _check_args(args)
    files = RunFiles(args.run, args.runs_dir)
    stored = Run.stored_settings(files)
    engine = engine_choice.choose(args.batched, args.set, None if stored is None else stored.resolved_preset())
    members_per_job = engine.members
    overrides = _overrides(args, engine)
    preset = presets.with_overrides(presets.get(args.preset), overrides)
    args.max_evaluations = _evaluation_budget(args, preset)
    data_dir = str(data_files.resolve_data_dir(args.data_dir)[0].resolve())
    _check_tasks(preset, data_dir)
    if not args.no_export:  # before any training, not after the search
        check_out_dir(Path(args.out))
    command = "python -m evo_rnn.search" + "".join(f" {shlex.quote(a)}" for a in (args.argv or []))
    settings = RunSettings(args.preset, tuple(overrides), args.seed, command)
    if not args.no_export and not diagram.graphviz_available():
        _say(
            f"note: {diagram.GRAPHVIZ_MISSING}: the search runs and exports everything, with each diagram as "
            f"cell.dot; for the PNGs, install it and run `python -m evo_rnn.export --run {args.run}` afterwards"
        )
    with Run.start_or_resume(files, settings, refuse=_refuse_resumption(args, settings, preset)) as (run, new):
        if new:
            run.set_meta(MetaKey.VERSIONS, _versions())
        elif run.preset != preset:  # a task file moved: the run reads it from here on
            moved = [t for t in settings.task_names() if t not in run.settings.task_names()]
            _say(
                f"run {args.run!r}: its task file{'s' if len(moved) > 1 else ''} moved; reading "
                f"{', '.join(moved)} from now on (the same content: nothing is retrained)"
            )
            dataclasses.replace(run.settings, overrides=settings.overrides, command=settings.command).save(run.store)
            run = Run(files, run.store, RunSettings.load(run.store))
        tensorboard = None if args.tensorboard is None else TensorBoardLog(args.tensorboard)
        executor = _executor(args)
        run.set_meta(MetaKey.WORKERS, executor.workers)  # for the report's evaluations per worker
        interrupted = _evolve(run, args, executor, data_dir, members_per_job, tensorboard)
        if run.members() and args.confirm_seeds and not interrupted:
            try:
                confirm_run(run, args.top, args.confirm_seeds, executor, data_dir, log=_say, tensorboard=tensorboard)
            except KeyboardInterrupt:
                interrupted = True
                executor.shutdown(cancel=True)
                _say(
                    "interrupted during the confirmation: every finished run is stored; rerun the same command "
                    "to resume"
                )
        if not interrupted:
            executor.shutdown()
        has_population = bool(run.members())
        if has_population and not args.no_export and not interrupted:
            path = export_run(files, args.out, args.top, data_dir, command)
            _say(f"exported the best cells to {path}")
        elif has_population and interrupted:  # stop now; an export retrains models
            _say(f"to export the best cells found so far: python -m evo_rnn.export --run {args.run}")
        elif not has_population:
            _say("nothing to export yet: the seed cells are not all evaluated")
    return EXIT_INTERRUPTED if interrupted else 0


def _evaluation_budget(args: argparse.Namespace, preset: presets.Preset) -> int | None:
    """The run's budget in evaluations: --max-evaluations; without it and without
    --budget-minutes, the preset's (`search.max_evaluations`), so that the default search is the
    same on an idle and on a loaded machine.

    Raises:
        UsageError: the budget cannot score the seed cells (the search would end with nothing).
    """
    budget = args.max_evaluations
    if budget is None and args.budget_minutes is None:
        budget = preset.search.max_evaluations
    needed = seed_evaluations(preset)
    if budget is not None and budget < needed:
        raise UsageError(
            f"a budget of {budget} evaluations cannot score the seed cells: with these settings they need at "
            f"least {needed}; give --max-evaluations {needed} or more"
        )
    return budget


def _refuse_resumption(args: argparse.Namespace, settings: RunSettings, preset: presets.Preset):
    """Raises UsageError when the stored run may not be resumed with `settings`."""

    def refuse(stored: RunSettings, store) -> None:
        if stored.kind != "search":
            raise UsageError(
                f"run {args.run!r} is an {stored.kind} run (`{stored.command}`), not a search; choose another --run"
            )
        if not settings.resumes(stored, store):
            raise UsageError(
                f"run {args.run!r} was started as `{stored.command}`; resume it with the same --preset, "
                f"--tasks (a task file may move, not change), --set and --seed, or start another with --run NEW_NAME"
            )

    return refuse


def _budget_line(args: argparse.Namespace, search) -> str:
    """What the run's budget is and how long it should take: from this run's own evaluations
    when it has some, else said after its first one (`_ExpectedTime`)."""
    parts = []
    if args.max_evaluations is not None:
        parts.append(f"{args.max_evaluations} evaluations ({search.search_evaluations()} stored)")
    if args.budget_minutes is not None:
        parts.append(f"{args.budget_minutes:g} minutes of search time")
    budget = " and ".join(parts) or "no limit (Ctrl-C stops it; rerun to resume)"
    line = f"budget: {budget}; the seed cells need {seed_evaluations(search.preset)} of them and always finish"
    line += ", then the confirmation and the export"
    return line + (_expected(args, search) if search.search_evaluations() else "; the expected time follows")


def _expected(args: argparse.Namespace, search) -> str:
    """The time the evaluation budget should take from here, at the run's pace so far."""
    rate = search.seconds_per_evaluation()
    if rate is None or args.max_evaluations is None:
        return ""
    left = max(0, args.max_evaluations - search.search_evaluations())
    return f"; expected: about {left * rate / 60:.0f} min more for {left} evaluations, at this run's pace so far"


def _evolve(
    run: Run,
    args: argparse.Namespace,
    executor,
    data_dir: str,
    members_per_job: int,
    tensorboard: TensorBoardLog | None,
) -> bool:
    """The evolution's steps until the budget is spent; returns whether Ctrl-C stopped them."""
    from evo_rnn.search.evolution import Evolution
    from evo_rnn.search.progress import Progress
    from evo_rnn.search.scheduler import Scheduler

    progress = Progress(live=None if not args.quiet else False)
    said = False
    # The pace once past the start-up (batched jobs finish many evaluations at once).
    enough = None if args.max_evaluations is None else max(2 * executor.workers, args.max_evaluations // 10)

    def on_event(kind: str, data: dict) -> None:
        nonlocal said
        progress(kind, data)
        if kind == "evaluation" and not said and enough is not None:
            if search.trained >= enough and search.elapsed() >= 120:
                said = True
                if expected := _expected(args, search):
                    _say(expected.removeprefix("; "))

    evolution = Evolution(run.store, run.preset, seed=run.seed, max_candidates=args.max_candidates)
    search = Scheduler(
        evolution,
        executor,
        data_dir=data_dir,
        budget_seconds=None if args.budget_minutes is None else args.budget_minutes * 60,
        run_files=run.files,
        on_event=on_event,
        members_per_job=members_per_job,
        tensorboard=tensorboard,
        max_evaluations=args.max_evaluations,
    )
    progress.attach(search)
    _say(
        f"search run {args.run!r}: {run.files.database} (preset {run.preset.name}, tasks "
        f"{', '.join(run.preset.search.tasks)}, filter {run.preset.search.filter_task}, "
        f"{executor.workers} worker{'s' if executor.workers != 1 else ''})"
    )
    _say(_budget_line(args, search))
    if search.out_of_time():
        _say(
            f"run {args.run!r} has spent its budget of {args.budget_minutes:g} minute"
            f"{'' if args.budget_minutes == 1 else 's'} "
            f"({search.elapsed() / 60:.1f} min searched): nothing new is trained; to go on, rerun with a larger "
            f"--budget-minutes (e.g. {2 * args.budget_minutes:g}), or start another run with --run NEW_NAME"
        )
    elif search.out_of_evaluations():
        _say(
            f"run {args.run!r} has spent its budget of {args.max_evaluations} evaluations "
            f"({search.search_evaluations()} stored): nothing new is trained; to go on, rerun with a larger "
            f"--max-evaluations, or start another run with --run NEW_NAME"
        )
    interrupted = False
    try:
        with progress:
            search.run()
    except KeyboardInterrupt:
        interrupted = True
        _say(
            "interrupted: the evaluations in flight were cancelled, everything finished is stored; "
            "rerun the same command to resume (it confirms and exports at the end)"
        )
    _say(progress.summary_line())
    unfinished = len(run.steps(unfinished=True))
    if unfinished and not interrupted:
        _say(
            f"{unfinished} step{'s' if unfinished != 1 else ''} unfinished: the budget was spent before "
            f"{'their' if unfinished != 1 else 'its'} next evaluations started; a rerun with a larger "
            f"{'--max-evaluations' if args.max_evaluations is not None else '--budget-minutes'} finishes "
            f"{'them' if unfinished != 1 else 'it'}"
        )
    return interrupted


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(prog="python -m evo_rnn.search", description=DESCRIPTION)
    parser.add_argument(
        "--preset",
        default="quick",
        choices=list(presets.PRESETS),
        help="task sizes and training settings: quick (CPU minutes) or paper (GPU scale) (default: quick)",
    )
    parser.add_argument(
        "--tasks",
        default=None,
        help="comma-separated scored tasks, the first one gates the rest (default: the preset's; quick: arith,xml)",
    )
    parser.add_argument(
        "--budget-minutes",
        type=number(),
        default=None,
        help="the run's total search time over all resumptions; evaluations running when it is "
        "spent finish, the seed cells' always; the confirmation and the export come after it "
        "(default: none: the budget is in evaluations, --max-evaluations)",
    )
    parser.add_argument(
        "--max-candidates",
        type=whole_number(0),
        default=None,
        help="stop after this many new child architectures (default: no limit)",
    )
    parser.add_argument(
        "--max-evaluations",
        type=whole_number(1),
        default=None,
        metavar="N",
        help="the run's budget in evaluations (trainings stored in the run, over all resumptions, the "
        "confirmation's not counted; those in flight when it is reached finish, the seed cells' always): the "
        "same search on an idle and on a loaded machine, and two strategies get the same number of trainings "
        "(default: the preset's search.max_evaluations, 100 for quick, unless --budget-minutes is given; "
        "a budget below what the seed cells need is refused)",
    )
    add_workers_argument(parser)
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: a process pool on this machine; ray: Ray tasks on a cluster (default: local)",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        help="with --executor ray: the cluster to join (`ray start --head` prints it) (default: a local Ray instance)",
    )
    parser.add_argument(
        "--cpus-per-eval",
        type=number(),
        default=1.0,
        help="with --executor ray: CPUs each evaluation reserves (default: 1)",
    )
    parser.add_argument(
        "--gpus-per-eval",
        type=number(0.0, above=False),
        default=0.0,
        help="with --executor ray: GPUs each evaluation reserves, fractions pack several on "
        "one GPU, e.g. 0.25 (default: 0)",
    )
    engine_choice.add_batched_argument(parser, default="auto")
    parser.add_argument(
        "--run",
        default="default",
        help="run name: its state is RUNS_DIR/NAME/search.sqlite, its export OUT/NAME/ (default: default)",
    )
    parser.add_argument("--runs-dir", default="runs", help="where runs keep their state (default: runs/)")
    parser.add_argument(
        "--seed",
        type=whole_number(0, MAX_RUN_SEED),
        default=0,
        help="seeds the search and every training run (default: 0)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="dataset folder for ptb and the music sets (default: $EVO_RNN_DATA or datasets/)",
    )
    parser.add_argument(
        "--top", type=whole_number(1), default=3, help="architectures exported, best first (default: 3)"
    )
    parser.add_argument(
        "--out",
        default="saved_architectures",
        help="export folder; the run is exported to OUT/NAME/ (default: saved_architectures/)",
    )
    parser.add_argument(
        "--confirm-seeds",
        type=whole_number(0, MAX_CONFIRM_SEEDS),
        default=8,
        metavar="S",
        help="at the end, train the top cells, the GRU and the LSTM again on S fresh seeds with their "
        "best configurations (python -m evo_rnn.confirm; 0: skip) (default: 8)",
    )
    parser.add_argument("--no-export", action="store_true", help="do not export at the end (default: export)")
    parser.add_argument(
        "--strategy",
        choices=presets.STRATEGIES,
        default="evolution",
        help="evolution: children of population members (the paper); random: children of the "
        "seed cells (LSTM, GRU) by the same mutations, never selected by score, with the same "
        "filter, gate, configurations and confirmation, the baseline a search must beat "
        "(default: evolution)",
    )
    parser.add_argument(
        "--seed-zoo",
        action="store_true",
        help="start from the whole zoo, not just LSTM and GRU (default: LSTM and GRU)",
    )
    add_tensorboard_argument(parser)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a preset field, repeatable, e.g. max_epochs=5, search.configs_per_task=4, "
        "budgets.arith=30000 (default: none)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="log lines instead of the live panel (default: the panel on a terminal, lines elsewhere)",
    )
    return parser


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """A search run as it stands: where it lives, its leaderboard (confirmed cells first) and its export.

    Attributes:
        name: the run's name; `runs_dir` its folder's parent.
        leaderboard: `LeaderRow`s, best first (`Scores.leaderboard`: confirmed scores with their
            bootstrap interval, per task the confirmation block with Holm-adjusted p-values).
        export: the export's folder, or None when nothing was exported.
        interrupted: the run stopped on Ctrl-C (call `run` again to resume; it confirms and exports at the end).
    """

    name: str
    runs_dir: Path
    leaderboard: list[LeaderRow]
    export: Path | None
    interrupted: bool
    _graphs: dict[str, nx.DiGraph] = dataclasses.field(repr=False, default_factory=dict)

    def cell(self, rank: int = 1) -> nx.DiGraph:
        """The cell ranked `rank` (from 1) as a graph (`evo_rnn.cells.file_format.save` writes it).

        Raises:
            EvoRnnError: no cell has that rank.
        """
        if not 1 <= rank <= len(self.leaderboard):
            raise EvoRnnError(
                f"rank {rank} is not on the leaderboard of run {self.name!r} ({len(self.leaderboard)} cells)"
            )
        return self._graphs[self.leaderboard[rank - 1].arch]

    def layer(self, rank: int = 1, units: int = 64, **kwargs: Any):
        """A `GraphRNN` layer over the cell ranked `rank`, `units` wide, untrained, for a model of
        your own; `kwargs` go to `GraphRNN` (e.g. `return_sequences=True`, `stateful=True`) and
        `init_scale` and `seed` to its `GraphCell`."""
        from evo_rnn.layers import GraphCell, GraphRNN

        cell_args = {key: kwargs.pop(key) for key in ("init_scale", "seed") if key in kwargs}
        return GraphRNN(GraphCell(self.cell(rank), units, **cell_args), **kwargs)

    @classmethod
    def load(
        cls, name: str, runs_dir: str | Path = "runs", export: str | Path | None = None, interrupted: bool = False
    ) -> SearchResult:
        """The result of run `name` read from its database (read-only: it works while the run is
        written).

        Raises:
            EvoRnnError: the run does not exist.
        """
        with Run.open(RunFiles(name, runs_dir), readonly=True) as run:
            members = run.population()
            board = Scores.of(run).leaderboard(members) if members else []
            graphs = {row.arch: run.architecture(row.arch) for row in board}
        folder = None if export is None else Path(export)
        return cls(
            name, Path(runs_dir), board, folder if folder is not None and folder.is_dir() else None, interrupted, graphs
        )


def run(
    tasks: Sequence[str] | str | None = None,
    *,
    run: str = "default",
    preset: str = "quick",
    budget_minutes: float | None = None,
    max_candidates: int | None = None,
    max_evaluations: int | None = None,
    workers: int | None = None,
    seed: int = 0,
    runs_dir: str | Path = "runs",
    out: str | Path = "saved_architectures",
    top: int = 3,
    confirm_seeds: int = 8,
    export: bool = True,
    strategy: str = "evolution",
    data_dir: str | Path | None = None,
    batched: int | str | None = None,
    set: Sequence[str] = (),
    progress: bool = True,
    **more: Any,
) -> SearchResult:
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
    options = {
        "tasks": tasks,
        "run": run,
        "preset": preset,
        "budget_minutes": budget_minutes,
        "max_candidates": max_candidates,
        "max_evaluations": max_evaluations,
        "workers": workers,
        "seed": seed,
        "runs_dir": runs_dir,
        "out": out,
        "top": top,
        "confirm_seeds": confirm_seeds,
        "no_export": not export,
        "strategy": strategy,
        "data_dir": data_dir,
        "batched": batched,
        "set": set,
        "quiet": True,
        **more,
    }
    args = parse_options(build_parser(), options)
    quiet = contextlib.nullcontext() if progress else contextlib.redirect_stderr(io.StringIO())
    with quiet:
        code = search_job(args)
    return SearchResult.load(run, runs_dir, Path(out) / run if export else None, interrupted=code == EXIT_INTERRUPTED)
