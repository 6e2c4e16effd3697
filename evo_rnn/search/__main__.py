"""`python -m evo_rnn.search`: the evolutionary architecture search, resumable, exported at the end.

With no flags it runs the built-in default: preset `quick`, tasks arith and xml with the
memorization filter, about 12 minutes of search on this machine's cores, then the best
3 cells are exported to `saved_architectures/default/`. Its state lives in
`runs/default/search.sqlite`: re-running the same command resumes the run (until its time
budget is spent), Ctrl-C stops it cleanly and exports what it has.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import shlex
import sys

from evo_rnn import architectures, datafiles, presets, tasks
from evo_rnn.cli import ArgumentParser, UsageError, run

__all__ = ["main"]

EXIT_INTERRUPTED = 130


def _overrides(args: argparse.Namespace) -> list[str]:
    """The run's preset overrides: `--set` items, then what --tasks and --seed-zoo say."""
    overrides = list(args.set)
    if args.tasks:
        overrides.append(f"search.tasks={args.tasks}")
    if args.seed_zoo:
        overrides.append("search.seed_cells=" + ",".join(architectures.names()))
    return overrides


def _check_tasks(preset: presets.Preset, data_dir: str | None) -> None:
    """Unknown tasks, and real datasets missing from the data folder, fail before any work."""
    search = preset.search
    for name in (*search.tasks, search.filter_task):
        if name not in tasks.names():
            raise UsageError(f"unknown task {name!r}; known: {', '.join(tasks.names())}")
        tasks.check_data(name, data_dir)
    if search.filter_task in search.tasks:
        raise UsageError(f"the filter task {search.filter_task!r} cannot also be a scored task; remove it from --tasks")
    for cell in search.seed_cells:
        architectures.get(cell)


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
    from evo_rnn.search.executors import InlineExecutor, LocalPoolExecutor, warm_up_tensorflow

    if args.executor == "ray":
        from evo_rnn.search.ray_executor import RayExecutor

        return RayExecutor(args.ray_address, workers=args.workers or None, cpus_per_eval=args.cpus_per_eval,
                           gpus_per_eval=args.gpus_per_eval)
    if args.ray_address or args.gpus_per_eval or args.cpus_per_eval != 1.0:
        raise UsageError("--ray-address, --cpus-per-eval and --gpus-per-eval go with --executor ray")
    if args.workers == 0:
        warm_up_tensorflow()  # evaluations run in this process
        return InlineExecutor()
    return LocalPoolExecutor(args.workers)


def _job(args: argparse.Namespace) -> int:
    from evo_rnn.export import RunFiles, export_run, load_run_preset
    from evo_rnn.search.algorithm import Search
    from evo_rnn.search.progress import Progress
    from evo_rnn.store import Store

    if args.workers is not None and args.workers < 0:
        raise UsageError("--workers must be 0 (in this process) or more")
    if args.budget_minutes is not None and args.budget_minutes <= 0:
        raise UsageError("--budget-minutes must be positive")
    if args.max_candidates is not None and args.max_candidates < 0:
        raise UsageError("--max-candidates must be 0 or more")
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    overrides = _overrides(args)
    preset = presets.with_overrides(presets.get(args.preset), overrides)
    data_dir = str(datafiles.resolve_data_dir(args.data_dir)[0].resolve())
    _check_tasks(preset, data_dir)
    files = RunFiles(args.run, args.runs_dir)
    command = "python -m evo_rnn.search" + "".join(f" {shlex.quote(a)}" for a in (args.argv or []))
    config = {"preset": args.preset, "overrides": overrides, "seed": args.seed, "command": command}
    with Store(files.database) as store:
        stored = store.get_meta("config")
        if stored is None:
            store.set_meta("config", config)
            store.set_meta("versions", _versions())
        elif load_run_preset(stored) != preset or stored["seed"] != args.seed:
            raise UsageError(
                f"run {args.run!r} was started as `{stored.get('command')}`; resume it with the same --preset, "
                f"--tasks, --set and --seed, or start another with --run NEW_NAME"
            )
        executor = _executor(args)
        progress = Progress(live=None if not args.quiet else False)
        search = Search(
            store, executor, preset, seed=args.seed, data_dir=data_dir,
            budget_seconds=None if args.budget_minutes is None else args.budget_minutes * 60,
            max_candidates=args.max_candidates, models_dir=files.models, on_event=progress,
        )
        progress.attach(search)
        print(f"search run {args.run!r}: {files.database} (preset {preset.name}, tasks "
              f"{', '.join(preset.search.tasks)}, filter {preset.search.filter_task}, "
              f"{executor.workers} worker{'s' if executor.workers != 1 else ''})", file=sys.stderr, flush=True)
        interrupted = False
        try:
            with progress:
                search.run()
            executor.shutdown()
        except KeyboardInterrupt:
            interrupted = True
            print("interrupted: the evaluations in flight were cancelled, everything finished is stored; "
                  "rerun the same command to resume", file=sys.stderr, flush=True)
        print(progress.summary_line(), file=sys.stderr, flush=True)
        has_population = bool(store.population())
    if has_population and not args.no_export:
        path = export_run(files, args.out, args.top, data_dir, command)
        print(f"exported the best cells to {path}", file=sys.stderr)
    elif not has_population:
        print("nothing to export yet: the seed cells are not all evaluated", file=sys.stderr)
    return EXIT_INTERRUPTED if interrupted else 0


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input, 130 after Ctrl-C)."""
    parser = ArgumentParser(prog="python -m evo_rnn.search", description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    parser.add_argument("--preset", default="quick", choices=list(presets.PRESETS), help="default quick")
    parser.add_argument("--tasks", default=None,
                        help="comma-separated scored tasks, the first one gates the rest (default: the preset's; "
                             "quick: arith,xml)")
    parser.add_argument("--budget-minutes", type=float, default=12.0,
                        help="the run's total search time over all resumptions (default 12); evaluations running "
                             "when it is spent finish")
    parser.add_argument("--max-candidates", type=int, default=None,
                        help="stop after this many new child architectures (default: no limit)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: CPU cores); 0 runs evaluations in this process")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: a process pool on this machine (default); ray: Ray tasks on a cluster")
    parser.add_argument("--ray-address", default=None,
                        help="with --executor ray: the cluster to join (`ray start --head` prints it); "
                             "default: a local Ray instance")
    parser.add_argument("--cpus-per-eval", type=float, default=1.0,
                        help="with --executor ray: CPUs each evaluation reserves (default 1)")
    parser.add_argument("--gpus-per-eval", type=float, default=0.0,
                        help="with --executor ray: GPUs each evaluation reserves, fractions pack several on "
                             "one GPU, e.g. 0.25 (default 0)")
    parser.add_argument("--run", default="default", help="run name: state in RUNS_DIR/NAME/search.sqlite (default: default)")
    parser.add_argument("--runs-dir", default="runs", help="default runs/")
    parser.add_argument("--seed", type=int, default=0, help="seeds the search and every training run (default 0)")
    parser.add_argument("--data-dir", default=None, help="dataset folder (default $EVO_RNN_DATA or datasets/)")
    parser.add_argument("--top", type=int, default=3, help="architectures exported (default 3)")
    parser.add_argument("--out", default="saved_architectures", help="export folder (default saved_architectures/)")
    parser.add_argument("--no-export", action="store_true", help="do not export at the end")
    parser.add_argument("--seed-zoo", action="store_true", help="start from the whole zoo, not just LSTM and GRU")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a preset field, e.g. max_epochs=5, search.configs_per_task=4, "
                             "search.filter_threshold=0.3")
    parser.add_argument("--quiet", action="store_true", help="log lines instead of the live panel")
    parser.set_defaults(argv=sys.argv[1:] if argv is None else argv)
    return run(parser, _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
