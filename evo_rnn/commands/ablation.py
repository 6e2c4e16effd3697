"""`python -m evo_rnn.ablation --run NAME`: the paper's comparison table, zoo cells on the chosen
tasks, stored as a run.

Every cell trains the same configurations per task (the first `--trials` of the task's bank,
`presets.sample_configs`) on `--replicates` seeds each (`seeds.tuning_seeds`: the run's seed,
then its re-evaluation seeds). Each cell's best configuration per task (`Scores.best_config`:
the best mean over its seeds, as in the search) then trains again on `--confirm-seeds` fresh
seeds, the same for every cell (`seeds.confirm_seeds`, as the search's confirmation). Every
evaluation goes through the evaluation service into the run's database (`RUNS/NAME/search.sqlite`),
so rerunning the command trains nothing already trained and asking for more cells, tasks,
trials or seeds adds only what is new. The table (`evo_rnn.scoring.tables`) is printed, written
beside the database as `ablation.md` and `ablation.csv`, and rendered by `python -m
evo_rnn.report --run NAME`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any

from evo_rnn import tasks
from evo_rnn.cells import zoo
from evo_rnn.core.atomic_files import write_atomically
from evo_rnn.core.cli import ArgumentParser, UsageError, add_workers_argument, parse_options, whole_number
from evo_rnn.core.cli import run as run_command
from evo_rnn.runs.executors import Executor, local_executor
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.run import Run, RunFiles, RunSettings
from evo_rnn.runs.seeds import MAX_CONFIRM_SEEDS, MAX_REPLICATES, MAX_RUN_SEED, confirm_seeds, tuning_seeds
from evo_rnn.runs.service import Evaluations, Request
from evo_rnn.runs.tensorboard import TensorBoardLog, add_tensorboard_argument
from evo_rnn.scoring import across_runs, tables
from evo_rnn.scoring.paper_scores import Scores
from evo_rnn.scoring.tables import AblationSettings
from evo_rnn.tasks import data_files
from evo_rnn.training import engine_choice, presets
from evo_rnn.training.hyperparameters import HParams

__all__ = ["ablate", "build_parser", "combine_runs", "default_tasks", "main", "run", "tuning_requests"]

Log = Callable[[str], None]

# Fresh seeds each cell's best configuration is confirmed on: at 8, quick arith's 95% intervals
# were +-0.06 to +-0.16 (seeds 1000 and 1100), wider than the gaps between some of the paper's tiers.
CONFIRM_SEEDS = 16


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def default_tasks(data_dir: str | None) -> list[str]:
    """arith and xml, and ptb when its data is present."""
    try:
        tasks.check_data("ptb", data_dir)
    except FileNotFoundError:
        return ["arith", "xml"]
    return ["arith", "xml", "ptb"]


def _add_cell(run: Run, cell: str) -> str:
    """Stores an ablation's cell (a zoo name or a cell file) in `run`; returns its key.

    Raises:
        UsageError: the cell is one the run already holds under another name.
    """
    origin = tables.cell_origin(cell)
    arch = run.add_architecture(zoo.resolve(cell), origin)
    stored = run.lineage(arch)["origin"]  # the first origin an architecture was stored under
    if stored != origin:
        raise UsageError(
            f"cell {cell!r} is the same cell as {stored.split(':', 1)[-1]!r} in this run: give each cell once"
        )
    return arch


def tuning_requests(run: Run, settings: AblationSettings, preset: presets.Preset, seed: int) -> list[Request]:
    """Every cell x task x configuration x tuning seed, each cell's requests on a task one group
    (so they pack into batched jobs together). The configurations of a task are the same for
    every cell."""
    requests = []
    seeds = tuning_seeds(seed, settings.replicates)
    for group, (task, cell) in enumerate(itertools.product(settings.tasks, settings.cells)):
        configs = presets.sample_configs(preset, task, settings.trials, seed)
        arch = _add_cell(run, cell)
        requests += [
            Request(arch, task, config, s, preset, phase="tune", group=group) for s in seeds for config in configs
        ]
    return requests


def confirm_requests(
    run: Run, scores: Scores, settings: AblationSettings, preset: presets.Preset, seed: int
) -> list[Request]:
    """Each cell's best configuration per task (`Scores.best_config`) on the confirmation seeds."""
    requests = []
    for group, (task, cell) in enumerate(itertools.product(settings.tasks, settings.cells)):
        arch = tables.find_cell(run, cell)
        requests += [
            Request(arch, task, HParams.from_json(key.hparams), key.seed, preset, phase="confirm", group=group)
            for key in scores.confirm_keys(arch, task, confirm_seeds(seed, settings.confirm_seeds))
        ]
    return requests


def _refuse_resumption(name: str, run_settings: RunSettings):
    """Raises UsageError unless the stored run is an ablation with the same preset and seed."""

    def refuse(stored: RunSettings, store) -> None:
        if stored.kind != "ablation":
            raise UsageError(
                f"run {name!r} is a {stored.kind} run (`{stored.command}`), not an ablation; choose another --run"
            )
        if stored.resolved_preset() != run_settings.resolved_preset() or stored.seed != run_settings.seed:
            raise UsageError(
                f"run {name!r} was started as `{stored.command}`; resume it with the same --preset, "
                "--set, --batched and --seed (cells, tasks, trials and seeds may change), or start "
                "another with --run NEW_NAME"
            )

    return refuse


def ablate(
    files: RunFiles,
    run_settings: RunSettings,
    settings: AblationSettings,
    executor: Executor,
    data_dir: str | None = None,
    members_per_job: int = 1,
    tensorboard: TensorBoardLog | None = None,
    log: Log = _stderr,
) -> list[tables.Row]:
    """Tunes and confirms `settings`' cells on its tasks into run `files` (under its lock),
    writes its table beside the database, and returns the table.

    Raises:
        UsageError: the run exists with another preset or seed, or is not an ablation.
        RunLockedError: another process is writing the run.
    """
    preset = run_settings.resolved_preset()
    with Run.start_or_resume(files, run_settings, refuse=_refuse_resumption(files.name, run_settings)) as (run, _):
        run.set_meta(MetaKey.ABLATION, settings.to_dict())

        def said(kind: str, data: dict) -> None:
            if kind == "evaluation":
                log(
                    f"{run.label(data['arch']):7} {data['task']:6} {data['status']:8} valid "
                    f"{data['valid_score']:.4f} ({data['seconds']:.0f} s)"
                )

        service = Evaluations.of(
            run,
            executor,
            data_dir,
            run_files=None,
            members_per_job=members_per_job,
            tensorboard=tensorboard,
            on_event=said,
        )
        tuning = tuning_requests(run, settings, preset, run_settings.seed)
        service.run(tuning)
        scores = Scores.of(run)
        run.set_meta(
            MetaKey.CONFIRMATION,
            {
                "seeds": confirm_seeds(run_settings.seed, settings.confirm_seeds),
                "cells": [tables.find_cell(run, c) for c in settings.cells],
                "top": len(settings.cells),
            },
        )
        service.run(confirm_requests(run, scores, settings, preset, run_settings.seed))
        log(
            f"ablation run {files.name!r}: {service.trained} evaluations trained, {service.cache_hits} from the "
            f"run's database ({files.database})"
        )
        table = tables.rows(scores, settings.cells, settings.tasks)
        write_tables(files, run_settings, settings, table)
    return table


def write_tables(
    files: RunFiles, run_settings: RunSettings, settings: AblationSettings, table: list[tables.Row]
) -> None:
    """Writes the comparison beside the run's database: `ablation.md` (the table, how it was
    made, the paper's tiers) and `ablation.csv`."""
    seeds = "" if settings.replicates == 1 else f" (the best mean over {settings.replicates} training seeds)"
    lines = tables.verdicts(table, settings.tasks)
    text = (
        f"Per cell and task: {settings.trials} hyperparameter configurations tuned, the same for every cell; the "
        f"best by validation score{seeds} trained again on {settings.confirm_seeds} fresh seeds, the same for "
        f"every cell: its mean test score with a 95% t interval, its ratio to the GRU (of the mean test scores, "
        f"paired by seed, with Fieller's interval) with the paired t-test (Holm-adjusted over the table's tests in "
        f"brackets). The intervals vary the seeds at each cell's chosen configuration, not the choice: for claims "
        f"about the cells, combine runs with different --seed (`python -m evo_rnn.ablation --across RUN RUN ...`). "
        f"Preset `{run_settings.preset}`, "
        f"seed {run_settings.seed}; the paper's Table 1 in "
        f"brackets.\n\n`{run_settings.command}`\n\n{tables.markdown(table, settings.tasks)}\n"
        + "".join(f"\n- {line}" for line in lines)
        + ("\n" if lines else "")
    )
    write_atomically(files.root / "ablation.md", text.encode())
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "cell",
            "task",
            "tuning_valid",
            "tuning_seeds",
            "confirm_seeds",
            "confirm_test_mean",
            "confirm_ci95_low",
            "confirm_ci95_high",
            "ratio_to_gru",
            "ratio_ci95_low",
            "ratio_ci95_high",
            "p_value_vs_gru",
            "p_value_vs_gru_holm",
            "paper",
        ]
    )
    for row in table:
        confirmed = (
            ("", "", "") if row.confirmed is None else (row.confirmed.mean, row.confirmed.low, row.confirmed.high)
        )
        ratio = (
            ("", "", "")
            if row.ratio_to_gru is None
            else (row.ratio_to_gru.mean, row.ratio_to_gru.low, row.ratio_to_gru.high)
        )
        writer.writerow(
            [
                row.cell,
                row.task,
                "" if row.tuning_valid is None else row.tuning_valid,
                row.tuning_seeds,
                0 if row.confirmed is None else row.confirmed.n,
                *confirmed,
                *ratio,
                "" if row.p_value_vs_gru is None else row.p_value_vs_gru,
                "" if row.p_value_holm is None else row.p_value_holm,
                "" if row.paper is None else row.paper,
            ]
        )
    write_atomically(files.root / "ablation.csv", buffer.getvalue().encode())


def _ablate(args: argparse.Namespace) -> tuple[list[tables.Row], AblationSettings, RunFiles]:
    """Checks `args` (one line each), then tunes and confirms into the run; returns its table.
    On Ctrl-C the workers are cancelled and KeyboardInterrupt goes on (every finished evaluation
    is in the run)."""
    data_dir = str(data_files.resolve_data_dir(args.data_dir)[0].resolve())  # workers may run elsewhere
    task_names = args.tasks.split(",") if args.tasks else default_tasks(data_dir)
    for task_name in task_names:
        tasks.check_name(task_name)  # unknown names and bad file specs: one line (EvoRnnError)
    cells = args.cells.split(",") if args.cells else zoo.names()
    for cell in cells:
        zoo.resolve(cell)  # unknown names and bad cell files fail before any training
    if args.confirm_seeds == 1:
        raise UsageError("--confirm-seeds must be 0 (no confirmation) or at least 2 (an interval needs two runs)")
    engine = engine_choice.choose(args.batched, args.set)
    overrides = engine.overrides(args.set)
    command = "python -m evo_rnn.ablation" + "".join(f" {shlex.quote(a)}" for a in args.argv)
    run_settings = RunSettings(args.preset, tuple(overrides), args.seed, command, kind="ablation")
    preset = run_settings.resolved_preset()  # bad --set values fail before the run's folder is made
    for task_name in task_names:  # a missing dataset or an unusable file fails before any training
        tasks.check_data(task_name, data_dir, preset.task_config(task_name))
    settings = AblationSettings(
        tuple(dict.fromkeys(cells)), tuple(dict.fromkeys(task_names)), args.trials, args.replicates, args.confirm_seeds
    )
    files = RunFiles(args.run, args.runs_dir)
    executor = local_executor(args.workers)
    try:
        table = ablate(
            files,
            run_settings,
            settings,
            executor,
            data_dir,
            engine.members,
            None if args.tensorboard is None else TensorBoardLog(args.tensorboard),
        )
    except BaseException:
        executor.shutdown(cancel=True)
        raise
    executor.shutdown()
    return table, settings, files


def combine_runs(
    names: Sequence[str], runs_dir: str | os.PathLike = "runs", log: Log = _stderr
) -> list[across_runs.CellAcrossRuns]:
    """The comparison of ablation runs `names` (in `runs_dir`) over the runs: a claim about each
    cell, configuration choice inside its interval (`evo_rnn.scoring.across_runs`). The runs
    must share a protocol (preset, overrides, trials, replicates, and each shared task's
    settings) and no training seed; a cell given as a file must be the same cell in every run.
    Cells and tasks not confirmed by every run are left out, and `log` says which.

    Raises:
        EvoRnnError: a run does not exist; UsageError: fewer than 2 runs, a run that is not an
            ablation, runs of different protocols or sharing seeds.
    """
    if len(set(names)) < 2:
        raise UsageError("--across needs at least two different ablation runs (an interval over runs needs two)")
    for name in dict.fromkeys(names):  # every name checked before any run is read
        if not RunFiles(name, runs_dir).database.is_file():
            raise UsageError(
                f"no ablation run {name!r} in {runs_dir}: check the name and --runs-dir (`python -m evo_rnn.ablation "
                f"--run {name} --seed S` makes one)"
            )
    loaded: dict[str, list[tables.Row]] = {}
    protocols, seeds, task_keys, cell_keys = {}, {}, {}, {}
    for name in dict.fromkeys(names):
        with Run.open(RunFiles(name, runs_dir), readonly=True) as run:
            settings = AblationSettings.load(run)
            if settings is None:
                raise UsageError(f"run {name!r} is not an ablation: --across combines python -m evo_rnn.ablation runs")
            protocols[name] = {
                "preset": run.settings.preset,
                "--set": sorted(run.settings.overrides),
                "--trials": settings.trials,
                "--replicates": settings.replicates,
            }
            seeds[name], task_keys[name] = run.trained_with()
            cell_keys[name] = {cell: tables.find_cell(run, cell) for cell in settings.cells}
            loaded[name] = tables.rows(Scores.of(run), settings.cells, settings.tasks)
    for a, b in itertools.combinations(protocols, 2):
        differ = [field for field in protocols[a] if protocols[a][field] != protocols[b][field]]
        differ += [
            f"{task}'s settings"
            for task in task_keys[a].keys() & task_keys[b].keys()
            if task_keys[a][task] != task_keys[b][task]
        ]
        if differ:
            raise UsageError(
                f"runs {a!r} and {b!r} differ in {', '.join(differ)}: combine runs made by the same command and "
                "version of evo_rnn with different --seed"
            )
        changed = [
            cell
            for cell in cell_keys[a].keys() & cell_keys[b].keys()
            if None not in (cell_keys[a][cell], cell_keys[b][cell]) and cell_keys[a][cell] != cell_keys[b][cell]
        ]
        if changed:
            raise UsageError(
                f"cell {changed[0]!r} is a different cell in runs {a!r} and {b!r} (the file changed between them): "
                "combine runs of the same cells"
            )
        shared = seeds[a] & seeds[b]
        if shared:
            raise UsageError(
                f"runs {a!r} and {b!r} share {len(shared)} training seeds (e.g. {min(shared)}), so they are not "
                "independent: give each run a --seed at least --confirm-seeds apart from the others"
            )
    combined = across_runs.combine(loaded)
    shown = {(row.cell, row.task) for row in combined}
    confirmed = {(row.cell, row.task) for rows in loaded.values() for row in rows if row.confirmed is not None}
    if confirmed - shown:
        log(
            "left out, not confirmed by every run: "
            + ", ".join(f"{cell} on {task}" for cell, task in sorted(confirmed - shown))
        )
    if not combined:
        raise UsageError(
            f"runs {', '.join(map(repr, loaded))} confirmed no cell on a task in common: combine runs of the same "
            "cells and tasks (each run confirmed: --confirm-seeds 2 or more)"
        )
    return combined


def _job(args: argparse.Namespace) -> int:
    if args.across:
        given = [flag for flag, value in (("--cells", args.cells), ("--tasks", args.tasks)) if value is not None]
        if given:
            raise UsageError(
                f"--across combines the cells and tasks the runs confirmed; drop {' and '.join(given)} (they choose "
                "what a new run trains)"
            )
        combined = combine_runs(args.across, args.runs_dir)
        print(across_runs.markdown(combined, list(dict.fromkeys(args.across))))

        _stderr(
            "intervals over runs: each run chose its own configurations on its own seeds, so they hold the "
            "configuration's choice as well as the seeds' (docs/search.md)"
        )
        return 0
    try:
        table, settings, files = _ablate(args)
    except KeyboardInterrupt:
        _stderr(
            f"interrupted: every finished evaluation is in {RunFiles(args.run, args.runs_dir).database}; rerun "
            "the same command to resume"
        )
        return 130
    print(tables.markdown(table, settings.tasks))
    for line in tables.verdicts(table, settings.tasks):
        print(line)
    _stderr(f"the table is in {files.root / 'ablation.md'}; `python -m evo_rnn.report --run {files.name}` renders it")
    return 0


def run(
    cells: Sequence[str] | None = None,
    tasks: Sequence[str] | None = None,
    *,
    run: str = "ablation",
    runs_dir: str | os.PathLike = "runs",
    preset: str = "quick",
    seed: int = 0,
    trials: int = 8,
    replicates: int = 2,
    confirm_seeds: int = CONFIRM_SEEDS,
    batched: int = 8,
    workers: int | None = None,
    data_dir: str | os.PathLike | None = None,
    set: Sequence[str] = (),
    progress: bool = True,
    **more: Any,
) -> list[tables.Row]:
    """What `python -m evo_rnn.ablation` does, from Python: the comparison table of `cells` on
    `tasks`, stored as run `run` (calling it again resumes it; its `ablation.md` and `.csv` are
    written beside the database). Returns the table's rows (`tables.Row`: the confirmed test
    score and the ratio to the GRU with their intervals, the p-value and its Holm adjustment).

        from evo_rnn.commands import ablation
        rows = ablation.run(["gru", "lstm", "mut1"], ["text:corpus.txt"], seed=3, workers=2)

    Args:
        cells: zoo names (None: the whole zoo).
        tasks: task names, a user's `text:PATH` and `npz:PATH` included (None: the paper's
            tasks whose data is present).
        run: the run's name; its state is `runs_dir/run/`.
        runs_dir: where runs keep their state.
        preset: `quick` or `paper`.
        seed: the run's seed (tuning and confirmation seeds derive from it).
        trials: configurations tuned per cell and task, the same for every cell.
        replicates: training seeds per tuning configuration.
        confirm_seeds: fresh seeds each cell's best configuration is trained on again.
        batched: members per compiled batched job (1: Keras' fit, one at a time).
        workers: worker processes (None: every core; 0: in this process).
        data_dir: the folder of the paper's real datasets.
        set: preset overrides, e.g. `["max_epochs=3"]`.
        progress: the command's log on stderr; False silences it.
        more: any other flag of the command by its name (`tensorboard="tb"`).

    Raises:
        EvoRnnError: bad input, with the command's one-line message.
        KeyboardInterrupt: after cancelling the workers; every finished evaluation is kept.
    """
    options = {
        "run": run,
        "runs_dir": runs_dir,
        "preset": preset,
        "seed": seed,
        "cells": [cells] if isinstance(cells, str) else cells,
        "tasks": [tasks] if isinstance(tasks, str) else tasks,
        "trials": trials,
        "replicates": replicates,
        "confirm_seeds": confirm_seeds,
        "batched": batched,
        "workers": workers,
        "data_dir": data_dir,
        "set": set,
        **more,
    }
    args = parse_options(build_parser(), options)
    with contextlib.nullcontext() if progress else contextlib.redirect_stderr(io.StringIO()):
        return _ablate(args)[0]


DESCRIPTION = (
    "The paper's comparison table: zoo cells trained with the same configurations on the chosen tasks, each "
    "cell's best configuration confirmed on fresh seeds, stored as a run (rerun to resume)."
)


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(prog="python -m evo_rnn.ablation", description=DESCRIPTION)
    parser.add_argument(
        "--run",
        default="ablation",
        help="run name: its state is RUNS_DIR/NAME/search.sqlite, its table RUNS_DIR/NAME/ablation.md "
        "(default: ablation)",
    )
    parser.add_argument("--runs-dir", default="runs", help="where runs keep their state (default: runs/)")
    parser.add_argument(
        "--preset",
        default="quick",
        choices=list(presets.PRESETS),
        help="task sizes and training settings (default: quick)",
    )
    parser.add_argument(
        "--tasks", default=None, help="comma-separated tasks (default: arith,xml, and ptb when its data is present)"
    )
    parser.add_argument(
        "--cells",
        default=None,
        help="comma-separated zoo cells or cell .json files (e.g. an export's 1-ab12cd34/cell.json; the path as "
        f"given names it in the table) (default: the zoo: {', '.join(zoo.names())})",
    )
    parser.add_argument(
        "--trials",
        type=whole_number(1),
        default=8,
        help="hyperparameter configs per cell and task, the bank's first ones, the same for every cell (default: 8)",
    )
    parser.add_argument(
        "--replicates",
        type=whole_number(1, MAX_REPLICATES),
        default=2,
        help="training seeds per tuning config; the best config is the best mean over them (one "
        "seed's luck does not choose it) (default: 2)",
    )
    parser.add_argument(
        "--confirm-seeds",
        type=whole_number(0, MAX_CONFIRM_SEEDS),
        default=CONFIRM_SEEDS,
        metavar="S",
        help="train each cell's best config per task again on S fresh seeds (the same for every "
        "cell) and report its test score with a 95%% interval; 0: no confirmation (default: "
        f"{CONFIRM_SEEDS}: at 8, quick arith's intervals were +-0.06 to +-0.16, wider than some "
        "tier gaps)",
    )
    parser.add_argument(
        "--across",
        nargs="+",
        default=None,
        metavar="RUN",
        help="train nothing: combine finished ablation runs of the same command with different --seed into one "
        "table whose intervals are over runs, configuration choice inside (a claim about a cell, not a "
        "configuration) (default: none: tune and confirm into --run)",
    )
    add_workers_argument(parser)
    engine_choice.add_batched_argument(parser, default=8)
    parser.add_argument(
        "--seed",
        type=whole_number(0, MAX_RUN_SEED),
        default=0,
        help="seeds the configs and the training runs (default: 0)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="dataset folder for ptb and the music sets (default: $EVO_RNN_DATA or datasets/)",
    )
    add_tensorboard_argument(parser)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a preset field, repeatable, e.g. max_epochs=5 (default: none)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input, 130 after Ctrl-C, 143 after SIGTERM)."""
    parser = build_parser()
    parser.set_defaults(argv=sys.argv[1:] if argv is None else argv)
    return run_command(parser, _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
