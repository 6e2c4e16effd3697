"""`python -m evo_rnn.evaluate`: train a cell on a task with K random hyperparameter configs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import networkx as nx

from evo_rnn import tasks
from evo_rnn.cells import graph as cell_graph
from evo_rnn.cells import zoo
from evo_rnn.core.cli import ArgumentParser, parse_options, whole_number
from evo_rnn.core.cli import run as run_command
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.seeds import SEED_LIMIT
from evo_rnn.runs.tensorboard import TensorBoardLog, add_tensorboard_argument
from evo_rnn.tasks import data_files
from evo_rnn.training import engine_choice, presets
from evo_rnn.training.presets import sample_configs
from evo_rnn.training.results import EvalResult

__all__ = ["build_parser", "format_table", "main", "run"]

DESCRIPTION = "Train a cell on a task with K random hyperparameter configurations drawn from the paper's prior."

MAX_TRIALS = 100_000  # trial k trains with seed SEED + k, which must stay a valid seed


def format_table(results: list) -> str:
    """A plain-text table of evaluation results."""
    head = (
        f"{'#':>2} {'status':8} {'valid':>7} {'test':>7} {'lr':>5} {'init':>4} {'clip':>4} {'L':>1} {'units':>5} "
        f"{'epochs':>6} {'time':>6}  metrics"
    )
    lines = [head]
    for i, r in enumerate(results):
        h = r.hparams
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in r.valid_metrics.items() if k != "score")
        lines.append(
            f"{i:>2} {r.status:8} {r.valid_score:7.4f} {r.test_score:7.4f} {h['learning_rate']:5g} "
            f"{h['init_scale']:4g} {h['max_grad_norm']:4g} {h['num_layers']:1d} {r.units:5d} {r.epochs:6d} "
            f"{r.seconds:5.1f}s  "
            f"{metrics or r.message[:60]}"
        )
    return "\n".join(lines)


def _trained(
    args: argparse.Namespace,
    graph: nx.DiGraph,
    on_result: Callable[[EvalResult], None] | None = None,
    tensorboard: TensorBoardLog | None = None,
) -> tuple[presets.Preset, list[EvalResult]]:
    """The preset and the results of `args`' trials of `graph` (checked input first, one line
    each), trained through the evaluation service as a run's are (`service.evaluate_apart`):
    trial k with seed SEED + k, up to `--batched` trials of one shape per job."""
    engine = engine_choice.choose(args.batched, args.set)
    preset = presets.with_overrides(presets.get(args.preset), engine.overrides(args.set))
    # An unknown task, a missing dataset or an unusable file fails in one line, before Keras loads.
    tasks.check_data(tasks.check_name(args.task), args.data_dir, preset.task_config(args.task))
    from tqdm import tqdm

    from evo_rnn.runs.service import evaluate_apart
    from evo_rnn.training import kit

    kit.load_task(args.task, preset, args.data_dir)  # a file the checks let through fails here, before training
    configs = sample_configs(preset, args.task, args.trials, args.seed)
    name = Path(args.arch).stem if args.arch.endswith(".json") else args.arch
    with tqdm(total=len(configs), desc="trials", unit="trial", file=sys.stderr, disable=args.quiet, leave=False) as bar:

        def heard(result: EvalResult) -> None:
            bar.update(1)
            if on_result is not None:
                on_result(result)

        results = evaluate_apart(
            graph,
            name,
            args.task,
            configs,
            [args.seed + k for k in range(len(configs))],
            preset,
            data_dir=args.data_dir,
            data_seed=args.data_seed,
            members_per_job=engine.members,
            tensorboard=tensorboard,
            on_result=heard,
        )
    return preset, results


def _job(args: argparse.Namespace) -> None:
    graph = zoo.resolve(args.arch)
    tensorboard = None if args.tensorboard is None else TensorBoardLog(args.tensorboard)
    preset, results = _trained(
        args, graph, (lambda result: _print_json(args, result)) if args.json else None, tensorboard
    )
    if not args.json:
        print(
            f"{args.arch} on {args.task}, preset {preset.name}, seed {args.seed}"
            + (f", batched jobs of up to {args.batched}" if args.batched not in (None, 1) else "")
        )
        print(format_table(results))
        ok = [r for r in results if r.ok]
        if ok:
            best = max(ok, key=lambda r: r.valid_score)
            print(
                f"best: trial {results.index(best)}: valid {best.valid_score:.4f}, test {best.test_score:.4f}, "
                f"hparams {json.dumps(best.hparams, sort_keys=True)}"
            )


def run(
    arch: str | os.PathLike | nx.DiGraph,
    task: str,
    *,
    preset: str = "quick",
    trials: int = 1,
    seed: int = 0,
    set: Sequence[str] = (),
    batched: int | None = None,
    data_dir: str | os.PathLike | None = None,
    data_seed: int | None = None,
    progress: bool = False,
) -> list[EvalResult]:
    """What `python -m evo_rnn.evaluate` does, from Python: `trials` configurations of the
    task's bank (`presets.sample_configs`), trial k trained with seed `seed + k`; one
    `EvalResult` per trial, in order (`.test_score`, `.valid_metrics`, `.hparams`, `.ok`).

        from evo_rnn.commands.evaluate import run
        results = run("gru", "text:corpus.txt", trials=4, set=["max_epochs=5"])

    Args:
        arch: a zoo name, a cell `.json` file, or a cell graph (`evo_rnn.cells.graph.validate`).
        task: a task name (`text:PATH`, `npz:PATH` and registered tasks included).
        preset: `quick` or `paper`.
        trials: configurations of the task's bank, from its first.
        seed: seeds the bank; trial k trains with seed `seed + k`.
        set: preset overrides, e.g. `["max_epochs=3"]`.
        batched: train the trials this many at a time as one compiled program; 1 or None: one
            at a time with Keras' fit (`evo_rnn.training.engine_choice`).
        data_dir: the folder of the paper's real datasets.
        data_seed: fixes the generated tasks' data (None: each trial's training seed).
        progress: the command's progress bars on stderr.

    Raises:
        EvoRnnError: bad input, with the command's one-line message.
    """
    if isinstance(arch, nx.DiGraph):
        cell_graph.validate(arch)
        graph, name = arch, "graph"
    elif isinstance(arch, (str, os.PathLike)):
        graph, name = zoo.resolve(arch), os.fspath(arch)
    else:
        raise EvoRnnError(f"arch must be a zoo name, a cell .json path or a networkx.DiGraph, got {arch!r}")
    args = parse_options(
        build_parser(),
        {
            "arch": name,
            "task": task,
            "preset": preset,
            "trials": trials,
            "seed": seed,
            "set": set,
            "batched": batched,
            "data_dir": data_dir,
            "data_seed": data_seed,
            "quiet": not progress,
        },
    )
    return _trained(args, graph)[1]


def _print_json(args: argparse.Namespace, result) -> None:
    print(json.dumps({"arch": args.arch, **result.to_dict()}, sort_keys=True), flush=True)


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(prog="python -m evo_rnn.evaluate", description=DESCRIPTION)
    parser.add_argument(
        "--arch", required=True, help=f"the cell: a zoo name ({', '.join(zoo.names())}) or a cell .json file (required)"
    )
    parser.add_argument(
        "--task",
        required=True,
        metavar="TASK",
        help=f"the task to train on, configured by the preset: {', '.join(tasks.names())}, or your "
        "files: text:PATH[?unit=word&vocab=N] (a UTF-8 text, or a folder with train.txt, "
        "valid.txt, test.txt), npz:PATH (arrays x and y) (required)",
    )
    parser.add_argument(
        "--preset",
        default="quick",
        choices=list(presets.PRESETS),
        help="task sizes and training settings (default: quick)",
    )
    parser.add_argument(
        "--trials", type=whole_number(1, MAX_TRIALS), default=1, help="random hyperparameter configs (default: 1)"
    )
    parser.add_argument(
        "--seed",
        type=whole_number(0, SEED_LIMIT - 1 - MAX_TRIALS),
        default=0,
        help="seeds the configs; trial k trains with seed SEED + k (default: 0)",
    )
    parser.add_argument(
        "--data-seed",
        type=whole_number(0, SEED_LIMIT - 1),
        default=None,
        help="seed of the generated task data (arith, xml, memorize) (default: each trial's "
        "training seed, as in the search)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"dataset folder for ptb and the music sets (default: ${data_files.DATA_ENV} or datasets/)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a preset field, repeatable, e.g. max_epochs=3, arith.max_digits=5, "
        "budgets.ptb=100000 (default: none)",
    )
    engine_choice.add_batched_argument(parser, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object per result (default: a table)")
    add_tensorboard_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar (default: a bar on stderr)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run_command(build_parser(), _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
