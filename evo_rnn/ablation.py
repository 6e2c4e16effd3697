"""`python -m evo_rnn.ablation`: the paper's comparison table, every zoo cell on the chosen tasks."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from evo_rnn import architectures, datafiles, presets, tasks
from evo_rnn.cli import ArgumentParser, UsageError, run
from evo_rnn.evaluate import sample_configs

__all__ = ["PAPER_TABLE_1", "default_tasks", "main"]

# Jozefowicz et al. (2015), Table 1: best accuracy (Arith, XML) and exp(-NLL) (PTB) per cell.
PAPER_TABLE_1: dict[str, dict[str, float]] = {
    "tanh": {"arith": 0.29493, "xml": 0.32050, "ptb": 0.08782},
    "lstm": {"arith": 0.89228, "xml": 0.42470, "ptb": 0.08912},
    "lstm_f": {"arith": 0.29292, "xml": 0.23356, "ptb": 0.08808},
    "lstm_i": {"arith": 0.75109, "xml": 0.41371, "ptb": 0.08662},
    "lstm_o": {"arith": 0.86747, "xml": 0.42117, "ptb": 0.08933},
    "lstm_b": {"arith": 0.90163, "xml": 0.44434, "ptb": 0.08952},
    "gru": {"arith": 0.89565, "xml": 0.45963, "ptb": 0.09069},
    "mut1": {"arith": 0.92135, "xml": 0.47483, "ptb": 0.08968},
    "mut2": {"arith": 0.89735, "xml": 0.47324, "ptb": 0.09036},
    "mut3": {"arith": 0.90728, "xml": 0.46478, "ptb": 0.09161},
}


def default_tasks(data_dir: str | None) -> list[str]:
    """arith and xml, and ptb when its data is present."""
    try:
        for path in datafiles.DATASETS["ptb"]:
            datafiles.locate(path, data_dir)
    except FileNotFoundError:
        return ["arith", "xml"]
    return ["arith", "xml", "ptb"]


def markdown_table(best: dict[str, dict[str, float]], task_names: list[str]) -> str:
    """Cells x tasks: measured best validation score, with the paper's figure in brackets."""
    head = "| cell | " + " | ".join(f"{t} (paper)" for t in task_names) + " |"
    lines = [head, "|---" * (len(task_names) + 1) + "|"]
    for cell in architectures.names():
        row = []
        for t in task_names:
            measured = best.get(cell, {}).get(t)
            paper = PAPER_TABLE_1[cell].get(t)
            text = "—" if measured is None else f"{measured:.4f}"
            row.append(text + (f" ({paper:.4f})" if paper is not None else ""))
        lines.append(f"| {cell} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _job(args: argparse.Namespace) -> None:
    from evo_rnn import train

    preset = presets.with_overrides(presets.get(args.preset), args.set)
    task_names = args.tasks.split(",") if args.tasks else default_tasks(args.data_dir)
    unknown = [t for t in task_names if t not in tasks.names()]
    if unknown:
        raise UsageError(f"unknown task(s) {unknown}; known: {', '.join(tasks.names())}")
    cells = args.cells.split(",") if args.cells else architectures.names()
    for cell in cells:
        architectures.get(cell)  # unknown names fail before any training
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out / "results.jsonl"
    done = set()
    if rows_path.exists():  # resume: skip what an earlier run of the same command finished
        for line in rows_path.read_text().splitlines():
            row = json.loads(line)
            done.add((row["cell"], row["task"], row["trial"]))
    best: dict[str, dict[str, float]] = {}
    with rows_path.open("a") as rows:
        for task_name in task_names:
            task = train.load_task(task_name, preset, args.data_dir)
            configs = sample_configs(preset, task_name, args.trials, args.seed)  # the same for every cell
            for cell in cells:
                for trial, config in enumerate(configs):
                    if (cell, task_name, trial) in done:
                        continue
                    result = train.evaluate(cell, task, config, seed=args.seed + trial, preset=preset,
                                            data_dir=args.data_dir)
                    row = {"cell": cell, "task": task_name, "trial": trial, **result.to_dict()}
                    rows.write(json.dumps(row, sort_keys=True) + "\n")
                    rows.flush()
                    print(f"{cell:7} {task_name:6} trial {trial}: {result.status:8} valid {result.valid_score:.4f} "
                          f"test {result.test_score:.4f} ({result.seconds:.0f} s)", file=sys.stderr, flush=True)
    results = [json.loads(line) for line in rows_path.read_text().splitlines()]
    with (out / "ablation.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cell", "task", "trials", "best_valid_score", "test_score_at_best", "paper"])
        for cell in cells:
            for task_name in task_names:
                mine = [r for r in results if r["cell"] == cell and r["task"] == task_name and r["status"] == "ok"]
                if not mine:
                    continue
                top = max(mine, key=lambda r: r["valid_score"])
                best.setdefault(cell, {})[task_name] = top["valid_score"]
                writer.writerow([cell, task_name, len(mine), f"{top['valid_score']:.5f}", f"{top['test_score']:.5f}",
                                 PAPER_TABLE_1[cell].get(task_name, "")])
    table = markdown_table(best, task_names)
    command = " ".join(["python -m evo_rnn.ablation", *sys.argv[1:]]) if args.command is None else args.command
    (out / "ablation.md").write_text(
        f"Best validation score over {args.trials} hyperparameter configs per cell and task "
        f"(the same configs for every cell), preset `{preset.name}`, seed {args.seed}; "
        f"the paper's Table 1 in brackets.\n\n`{command}`\n\n{table}\n"
    )
    print(table)


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    parser = ArgumentParser(prog="python -m evo_rnn.ablation", description=__doc__.split(": ", 1)[1])
    parser.add_argument("--preset", default="quick", choices=list(presets.PRESETS))
    parser.add_argument("--tasks", default=None,
                        help="comma-separated tasks (default arith,xml and ptb when its data is present)")
    parser.add_argument("--cells", default=None, help="comma-separated zoo cells (default all)")
    parser.add_argument("--trials", type=int, default=3, help="hyperparameter configs per cell and task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="runs/ablation", help="output folder; rerunning resumes (default runs/ablation)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a preset field")
    parser.add_argument("--command", default=None, help=argparse.SUPPRESS)
    return run(parser, _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
