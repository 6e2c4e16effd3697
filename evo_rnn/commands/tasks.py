"""`python -m evo_rnn.tasks list | show TASK | download ptb|music`: see the tasks and fetch their data."""

from __future__ import annotations

import argparse

from evo_rnn import tasks
from evo_rnn.core.cli import ArgumentParser, UsageError, run
from evo_rnn.tasks import data_files


def _show(args: argparse.Namespace) -> None:
    from evo_rnn.training import presets

    config = None if args.preset is None else presets.get(args.preset).task_config(args.task)
    task = tasks.get(args.task, config, data_dir=args.data_dir)
    data = task.data(args.seed)
    split = getattr(data, args.split)
    print(f"{task.name}: {task.description}")
    scale = f"preset {args.preset}" if args.preset else "the paper's scale; --preset quick for the quick one"
    print(f"config ({scale}): {task.config}")
    shape = "x".join(map(str, split.inputs.shape))
    print(
        f"{args.split}: {len(split)} rows, inputs {shape} ({task.input_kind}, size {task.input_size}), "
        f"{task.output_size} outputs, loss {task.loss}, {split.scored:,} scored positions"
        + (f", stateful batches of {task.batch_size}" if task.stateful else "")
    )
    for index in range(min(args.n, len(split))):
        print(f"\n[{index}]\n{task.decode(split, index)}")


def _list(args: argparse.Namespace) -> None:
    for name in tasks.names():
        try:
            description = tasks.get(name).description
        except tasks.PluginError as error:  # one broken plug-in does not hide the other tasks
            description = f"BROKEN: {error}"
        print(f"{name:10} {description}")
    for name, problem in tasks.plugin_problems().items():
        print(f"{name:10} BROKEN: {problem}")


def _download(args: argparse.Namespace) -> None:
    from evo_rnn.tasks.music import MUSIC_FILES, canonical_music

    wanted = list(data_files.DATASETS) if args.dataset == "all" else [args.dataset]
    if any(d not in data_files.DATASETS for d in wanted):
        raise UsageError(f"unknown dataset {args.dataset!r}; choose ptb, music or all")
    check = dict.fromkeys(MUSIC_FILES.values(), canonical_music)
    for dataset in wanted:
        for path in data_files.download(dataset, args.data_dir, mirror=args.mirror, canonicalizers=check):
            print(f"verified and wrote {path}")


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    from evo_rnn.training import presets

    parser = ArgumentParser(prog="python -m evo_rnn.tasks", description="The paper's tasks and their data.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the tasks").set_defaults(job=_list)
    show = commands.add_parser("show", help="describe a task and print decoded samples")
    show.add_argument("task", help=f"the task to show: {', '.join(tasks.names())} (required)")
    show.add_argument(
        "--preset",
        default=None,
        choices=list(presets.PRESETS),
        help="show the task at this preset's size, e.g. quick, as a search with it trains on "
        "(default: the paper's scale)",
    )
    show.add_argument("--n", type=int, default=3, help="samples to print (default: 3)")
    show.add_argument("--seed", type=int, default=0, help="seed of the generated data (default: 0)")
    show.add_argument(
        "--split", choices=("train", "valid", "test"), default="train", help="which split to sample (default: train)"
    )
    show.add_argument(
        "--data-dir",
        default=None,
        help=f"dataset folder for ptb and the music sets (default: ${data_files.DATA_ENV} or datasets/)",
    )
    show.set_defaults(job=_show)
    download = commands.add_parser("download", help="download and verify ptb / music data")
    download.add_argument("dataset", help="ptb, music or all (required)")
    download.add_argument(
        "--data-dir", default=None, help=f"where to write (default: ${data_files.DATA_ENV} or datasets/)"
    )
    download.add_argument(
        "--mirror",
        default=None,
        help="base URL of a mirror serving the same file names (default: the published sources)",
    )
    download.set_defaults(job=_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run(build_parser(), lambda args: args.job(args), argv)


if __name__ == "__main__":
    raise SystemExit(main())
