"""`python -m evo_rnn.ablation`: the paper's comparison table, every zoo cell on the chosen tasks."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import statistics
import sys
from pathlib import Path

from evo_rnn import architectures, cell_format, presets, run_lock, stats, tasks
from evo_rnn.cli import ArgumentParser, UsageError, run, whole_number
from evo_rnn.executors import (EvalJob, Executor, InlineExecutor, LocalPoolExecutor, PopulationJob, WorkerLostError,
                               run_jobs)
from evo_rnn.hparams import HParams
from evo_rnn.population import shape_batches
from evo_rnn.presets import sample_configs
from evo_rnn.results import BATCH_ORDER, EvalResult, Status
from evo_rnn.seeds import CONFIRM_SEED_OFFSET, MAX_CONFIRM_SEEDS, MAX_RUN_SEED
from evo_rnn.seeds import confirm_seeds as confirm_seeds_of
from evo_rnn.tensorboard_logs import TensorBoardLog, add_tensorboard_argument

__all__ = ["PAPER_TABLE_1", "PAPER_TIERS", "best_trial", "confirm_plan", "confirmed", "default_tasks", "main", "plan",
           "populations", "separation", "summarize"]

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


# The tiers Table 1 puts the cells in (higher is better; the order inside a tier is within the
# paper's own noise): arith: tanh and LSTM-f fail (~0.29), LSTM-i is between (0.75), the rest
# 0.87-0.92; XML: tanh and LSTM-f below every gated cell.
PAPER_TIERS: dict[str, dict[str, int]] = {
    "arith": {"tanh": 0, "lstm_f": 0, "lstm_i": 1, **{c: 2 for c in ("lstm", "lstm_o", "lstm_b", "gru", "mut1", "mut2",
                                                                     "mut3")}},
    "xml": {"tanh": 0, "lstm_f": 0, **{c: 1 for c in ("lstm", "lstm_i", "lstm_o", "lstm_b", "gru", "mut1", "mut2",
                                                      "mut3")}},
}


def default_tasks(data_dir: str | None) -> list[str]:
    """arith and xml, and ptb when its data is present."""
    try:
        tasks.check_data("ptb", data_dir)
    except FileNotFoundError:
        return ["arith", "xml"]
    return ["arith", "xml", "ptb"]


def markdown_table(best: dict[str, dict[str, dict[str, float]]], confirm: dict[str, dict[str, stats.Estimate]],
                   cells: list[str], task_names: list[str]) -> str:
    """Cells x tasks: the test score on the confirmation seeds with its 95% interval (when
    there are confirmation runs), the best tuning validation score (± its spread over
    replicates when there are several), and the paper's figure in brackets."""
    head = "| cell | " + " | ".join(f"{t}: confirmed test [95% CI] | tuning valid (paper)" for t in task_names) + " |"
    lines = [head, "|---" * (2 * len(task_names) + 1) + "|"]
    for cell in cells:
        row = []
        for t in task_names:
            measured, confirmation = best.get(cell, {}).get(t), confirm.get(cell, {}).get(t)
            paper = PAPER_TABLE_1[cell].get(t)
            row.append("—" if confirmation is None else confirmation.text(4))
            if measured is None:
                text = "—"
            elif measured["replicates"] > 1:
                text = f"{measured['valid']:.4f} ± {measured['valid_std']:.4f}"
            else:
                text = f"{measured['valid']:.4f}"
            row.append(text + (f" ({paper:.4f})" if paper is not None else ""))
        lines.append(f"| {cell} | " + " | ".join(row) + " |")
    return "\n".join(lines)


RowKey = tuple[str, str, int, int, str]  # (cell, task, trial, replicate or confirmation seed, phase)


def row_key(row: dict) -> RowKey:
    """A result row's place in the table: phase "tune" (rows written before phases existed) or
    "confirm" (rows written before replicates existed are replicate 0)."""
    return row["cell"], row["task"], row["trial"], row.get("replicate", 0), row.get("phase", "tune")


def summarize(rows: list[dict], cell: str, task: str) -> dict[str, float] | None:
    """One cell on one task: per replicate (one training seed per config) the best validation
    score over the configs that trained ("ok") and the test score at that config; then the mean
    and the standard deviation of those over the replicates. None if nothing trained."""
    best: dict[int, dict] = {}
    for row in rows:
        if row["cell"] == cell and row["task"] == task and row["status"] == Status.OK and row_key(row)[4] == "tune":
            replicate = row_key(row)[3]
            if replicate not in best or row["valid_score"] > best[replicate]["valid_score"]:
                best[replicate] = row
    if not best:
        return None
    valid = [r["valid_score"] for r in best.values()]
    return {
        "replicates": len(valid),
        "valid": statistics.fmean(valid),
        "valid_std": statistics.stdev(valid) if len(valid) > 1 else 0.0,
        "test": statistics.fmean(r["test_score"] for r in best.values()),
    }


def best_trial(rows: list[dict], cell: str, task: str) -> int | None:
    """The tuning config with the best mean validation score over its replicates (a replicate
    that diverged or failed counts 0: a config that trains only sometimes is not the best);
    None if nothing was tuned."""
    scores: dict[int, list[float]] = {}
    for row in rows:
        if row["cell"] == cell and row["task"] == task and row_key(row)[4] == "tune":
            scores.setdefault(row["trial"], []).append(row["valid_score"] if row["status"] == Status.OK else 0.0)
    if not scores:
        return None
    return max(sorted(scores), key=lambda trial: statistics.fmean(scores[trial]))


def confirm_plan(cells: list[str], task_names: list[str], rows: list[dict], preset: presets.Preset, trials: int,
                 confirm_seeds: int, seed: int, data_dir: str | None) -> list[tuple[RowKey, EvalJob]]:
    """Every cell's best tuning config per task (`best_trial`) trained again on `confirm_seeds`
    fresh seeds, `scores.confirm_seeds` (`seed + CONFIRM_SEED_OFFSET + s`, as a search's confirmation): the same
    seeds for every cell, none used in tuning."""
    jobs = []
    for task_name in task_names:
        configs = sample_configs(preset, task_name, trials, seed)
        for cell in cells:
            trial = best_trial(rows, cell, task_name)
            if trial is None:
                continue
            graph = cell_format.dumps(architectures.get(cell))
            for s, fresh in enumerate(confirm_seeds_of(seed, confirm_seeds)):
                job = EvalJob(cell, graph, task_name, configs[trial].to_json(), fresh, preset, data_dir)
                jobs.append(((cell, task_name, trial, s, "confirm"), job))
    return jobs


def confirmed(rows: list[dict], cell: str, task: str) -> stats.Estimate | None:
    """The test score of `cell`'s confirmation runs on `task` (its best tuning config on fresh
    seeds; a run that diverged counts 0) with its 95% t interval; None without such runs.
    Only the runs of the current best config count (more tuning may have chosen another)."""
    trial = best_trial(rows, cell, task)
    scores = [row["test_score"] if row["status"] == Status.OK else 0.0
              for row in rows if row["cell"] == cell and row["task"] == task and row_key(row)[4] == "confirm"
              and row["trial"] == trial]
    return stats.mean_interval(scores) if scores else None


def separation(confirm: dict[str, stats.Estimate], task: str) -> list[str]:
    """What the confirmed scores say about the paper's tiers on `task`: Kendall's tau over the
    cell pairs that cross tiers, and whether each bottom-tier cell's interval lies below each
    of the LSTM's and the GRU's (non-overlapping 95% intervals). Empty where the paper has no
    tiers for the task or fewer than two tiers were measured."""
    tiers = PAPER_TIERS.get(task)
    if not tiers:
        return []
    measured = {cell: estimate.mean for cell, estimate in confirm.items() if cell in tiers}
    try:
        tau, pairs = stats.cross_tier_tau(measured, tiers)
    except ValueError:
        return []
    lines = [f"{task}: Kendall's tau against the paper's tiers over the {pairs} cell pairs that cross tiers: {tau:.2f}"]
    for low in (c for c in confirm if tiers.get(c) == 0):
        for high in ("lstm", "gru"):
            if high in confirm:
                below = (confirm[low].high < confirm[high].low) if not confirm[low].overlaps(confirm[high]) else False
                lines.append(f"{task}: {low} {confirm[low].text()} vs {high} {confirm[high].text()}: "
                             + ("below, the intervals do not overlap" if below else "not separated"))
    return lines


def plan(cells: list[str], task_names: list[str], preset: presets.Preset, trials: int, replicates: int,
         seed: int, data_dir: str | None) -> list[tuple[RowKey, EvalJob]]:
    """Every cell x task x config x replicate. The configs of a task are the same for every cell;
    replicate r of config `trial` trains with seed `seed + trial + r * trials`."""
    if trials * replicates > CONFIRM_SEED_OFFSET:
        raise UsageError(f"--trials x --replicates must stay under {CONFIRM_SEED_OFFSET} (the confirmation seeds' range)")
    jobs = []
    for task_name in task_names:
        configs = sample_configs(preset, task_name, trials, seed)
        for cell in cells:
            graph = cell_format.dumps(architectures.get(cell))
            for replicate in range(replicates):
                for trial, config in enumerate(configs):
                    job = EvalJob(cell, graph, task_name, config.to_json(), seed + trial + replicate * trials,
                                  preset, data_dir)
                    jobs.append(((cell, task_name, trial, replicate, "tune"), job))
    return jobs


def populations(jobs: list[tuple[RowKey, EvalJob]], size: int) -> list[tuple[list[RowKey], PopulationJob]]:
    """The jobs as populations of at most `size` members, each of one cell, task and shape
    (layers and budget), in plan order."""
    groups: dict[tuple[str, str], list[tuple[RowKey, EvalJob]]] = {}
    for key, job in jobs:
        groups.setdefault((job.arch, job.task), []).append((key, job))
    batched = []
    for members in groups.values():
        configs = [HParams.from_dict(json.loads(job.hparams)) for _, job in members]
        for chunk in shape_batches(configs, size):
            first = members[chunk[0]][1]
            batched.append(([members[i][0] for i in chunk], PopulationJob(
                first.arch, first.graph, first.task, tuple(members[i][1].hparams for i in chunk),
                tuple(members[i][1].seed for i in chunk), first.preset, first.data_dir)))
    return batched


def _check_settings(path: Path, preset: presets.Preset, seed: int, trials: int, populations: bool = False) -> None:
    """Records what the results in an output folder depend on (preset with overrides, seed,
    configs per task, the batch order, and whether populations trained them: the engines agree
    to float rounding, not bit for bit), and refuses to resume a folder started with other ones:
    their rows would be mixed into one table. More cells, tasks or replicates may be added."""
    settings = {"preset": dataclasses.asdict(preset), "seed": seed, "trials": trials, "batch_order": BATCH_ORDER}
    if populations:
        settings["engine"] = "population"
    canonical = json.loads(json.dumps(settings))  # tuples as lists, as read back
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise UsageError(f"{path} is not valid JSON; delete it only if {path.parent} holds no results") from None
        if stored != canonical:
            raise UsageError(f"{path.parent} holds an ablation run with another preset, --set, --seed, --trials or "
                             f"--population (or none); "
                             f"rerun with those or choose another --out")
    else:
        path.write_text(json.dumps(canonical, indent=1, sort_keys=True) + "\n")


def _job(args: argparse.Namespace) -> int:
    preset = presets.with_overrides(presets.get(args.preset), args.set)
    task_names = args.tasks.split(",") if args.tasks else default_tasks(args.data_dir)
    unknown = [t for t in task_names if t not in tasks.names()]
    if unknown:
        raise UsageError(f"unknown task(s) {unknown}; known: {', '.join(tasks.names())}")
    cells = args.cells.split(",") if args.cells else architectures.names()
    for cell in cells:
        architectures.get(cell)  # unknown names fail before any training
    data_dir = None if args.data_dir is None else str(Path(args.data_dir).resolve())  # workers may run elsewhere
    for task_name in task_names:
        tasks.check_data(task_name, data_dir)  # a missing dataset fails before any training
    out = Path(args.out)
    with run_lock.hold(out / "ablation.lock", f"the ablation in {out}"):  # one process writes it at a time
        return _ablate(args, preset, cells, task_names, data_dir, out)


def _ablate(args: argparse.Namespace, preset: presets.Preset, cells: list[str], task_names: list[str],
            data_dir: str | None, out: Path) -> int:
    """Tunes, confirms and writes the table into `out` (locked by the caller); returns the exit code."""
    _check_settings(out / "settings.json", preset, args.seed, args.trials, bool(args.population))
    log = None if args.tensorboard is None else TensorBoardLog(args.tensorboard)
    rows_path = out / "results.jsonl"
    results = [json.loads(line) for line in rows_path.read_text().splitlines()] if rows_path.exists() else []
    done = {row_key(row) for row in results}  # resume: skip what an earlier run of the same command finished
    jobs: list = [(key, job) for key, job in plan(cells, task_names, preset, args.trials, args.replicates, args.seed,
                                                  data_dir) if key not in done]
    if args.population:
        jobs = populations(jobs, args.population)
    if args.workers == 1:
        executor: Executor = InlineExecutor()  # evaluations run in this process
    else:
        executor = LocalPoolExecutor(args.workers)
    with rows_path.open("a") as handle:

        def record(key: RowKey, result: EvalResult) -> None:
            cell, task_name, trial, replicate, phase = key
            row = {"cell": cell, "task": task_name, "trial": trial, "replicate": replicate, "phase": phase,
                   **result.to_dict()}
            handle.write(json.dumps(row, sort_keys=True) + "\n")
            handle.flush()
            results.append(row)
            if log is not None:
                log.write(result, cell, phase, {"trial": trial, "replicate": replicate})
            print(f"{cell:7} {task_name:6} {phase:7} trial {trial} seed {result.seed}: {result.status:8} "
                  f"valid {result.valid_score:.4f} test {result.test_score:.4f} ({result.seconds:.0f} s)",
                  file=sys.stderr, flush=True)

        try:
            run_jobs(executor, jobs, record)
            # Confirmation: each cell's best tuning config on fresh seeds, once its tuning is in.
            confirm_jobs = [(key, job) for key, job in confirm_plan(cells, task_names, results, preset, args.trials,
                                                                    args.confirm_seeds, args.seed, data_dir)
                            if key not in {row_key(row) for row in results}]
            if args.population:
                confirm_jobs = populations(confirm_jobs, args.population)
            run_jobs(executor, confirm_jobs, record)
            executor.shutdown()
        except (KeyboardInterrupt, WorkerLostError) as error:
            executor.shutdown(cancel=True)
            reason = "interrupted" if isinstance(error, KeyboardInterrupt) else f"stopped: {error}"
            print(f"{reason}; every finished evaluation is in {rows_path}; rerun the same command to resume",
                  file=sys.stderr, flush=True)
            return 130 if isinstance(error, KeyboardInterrupt) else 1
    best: dict[str, dict[str, dict[str, float]]] = {}
    confirm: dict[str, dict[str, stats.Estimate]] = {}
    with (out / "ablation.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cell", "task", "trials", "replicates", "best_valid_score", "best_valid_std",
                         "test_score_at_best", "best_trial", "confirm_seeds", "confirm_test_mean", "confirm_ci95_low",
                         "confirm_ci95_high", "paper"])
        for cell in cells:
            for task_name in task_names:
                summary = summarize(results, cell, task_name)
                if summary is None:
                    continue
                best.setdefault(cell, {})[task_name] = summary
                estimate = confirmed(results, cell, task_name)
                if estimate is not None:
                    confirm.setdefault(cell, {})[task_name] = estimate
                writer.writerow([cell, task_name, args.trials, summary["replicates"], f"{summary['valid']:.5f}",
                                 f"{summary['valid_std']:.5f}", f"{summary['test']:.5f}",
                                 best_trial(results, cell, task_name), estimate.n if estimate else 0,
                                 *(("", "", "") if estimate is None else
                                   (f"{x:.5f}" for x in (estimate.mean, estimate.low, estimate.high))),
                                 PAPER_TABLE_1[cell].get(task_name, "")])
    table = markdown_table(best, confirm, cells, task_names)
    verdicts = [line for t in task_names
                for line in separation({c: confirm[c][t] for c in confirm if t in confirm[c]}, t)]
    command = " ".join(["python -m evo_rnn.ablation", *sys.argv[1:]])
    seeds = ("" if args.replicates == 1 else
             f", mean ± standard deviation over {args.replicates} training seeds per config")
    (out / "ablation.md").write_text(
        f"Per cell and task: {args.trials} hyperparameter configs tuned (the same bank for every cell; best "
        f"validation score{seeds}), then the best config trained again on {args.confirm_seeds} fresh seeds "
        f"(the same for every cell), whose mean test score is given with its 95% t interval. Preset "
        f"`{preset.name}`, seed {args.seed}; the paper's Table 1 in brackets.\n\n`{command}`\n\n{table}\n"
        + "".join(f"\n- {line}" for line in verdicts) + ("\n" if verdicts else "")
    )
    print(table)
    for line in verdicts:
        print(line)
    return 0


DESCRIPTION = "The paper's comparison table: every chosen zoo cell trained with the same configs on the chosen tasks."


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(prog="python -m evo_rnn.ablation", description=DESCRIPTION)
    parser.add_argument("--preset", default="quick", choices=list(presets.PRESETS),
                        help="task sizes and training settings (default: quick)")
    parser.add_argument("--tasks", default=None,
                        help="comma-separated tasks (default: arith,xml, and ptb when its data is present)")
    parser.add_argument("--cells", default=None,
                        help=f"comma-separated zoo cells (default: all: {', '.join(architectures.names())})")
    parser.add_argument("--trials", type=whole_number(1), default=8,
                        help="hyperparameter configs per cell and task, the bank's first ones, the same for every "
                             "cell (default: 8)")
    parser.add_argument("--confirm-seeds", type=whole_number(0, MAX_CONFIRM_SEEDS), default=8, metavar="S",
                        help="train each cell's best config per task again on S fresh seeds (the same for every "
                             "cell) and report its test score with a 95%% interval (default: 8)")
    parser.add_argument("--replicates", type=whole_number(1), default=2,
                        help="training seeds per tuning config; the best config is the best mean over them (one "
                             "seed's luck does not choose it) and the table gives the mean and spread of the best "
                             "(default: 2)")
    parser.add_argument("--workers", type=whole_number(1), default=1,
                        help="evaluations at once, each in its own process (default: 1, in this process)")
    parser.add_argument("--population", type=whole_number(0), default=8, metavar="P",
                        help="train each cell's configs and replicates of one shape P at a time as one compiled "
                             "program (evo_rnn.population: the same batches as Keras' fit, the same results to float "
                             "rounding); 0: one at a time with Keras' fit (default: 8)")
    parser.add_argument("--seed", type=whole_number(0, MAX_RUN_SEED), default=0, help="seeds the configs and the training runs (default: 0)")
    parser.add_argument("--data-dir", default=None,
                        help="dataset folder for ptb and the music sets (default: $EVO_RNN_DATA or datasets/)")
    parser.add_argument("--out", default="runs/ablation",
                        help="output folder; rerunning resumes (default: runs/ablation)")
    add_tensorboard_argument(parser)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a preset field, repeatable, e.g. max_epochs=5 (default: none)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run(build_parser(), _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
