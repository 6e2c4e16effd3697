"""Does the forget gate's advantage on `arith` (Jozefowicz et al. 2015, Table 1: LSTM 0.892
against LSTM-f 0.293) appear as the quick preset's arithmetic grows?

Trains tanh, LSTM, LSTM-f and the GRU with the same three fixed hyperparameter configs at
several scales of the task and training (preset overrides on top of `quick`), two
evaluations at a time (one TensorFlow thread each). With `--replicates R` every config is
trained with R seeds; a replicate's score for a cell is its best over the configs (as in
the ablation table). Prints per scale each cell's mean ± standard deviation over the
replicates, the ratios LSTM / LSTM-f and GRU / LSTM-f of the means, in how many replicates
each beat LSTM-f, and the mean seconds per evaluation. Results go to a JSONL file as they
finish; rerunning skips them.

    python benchmarks/arith_scale.py                       # every scale, one seed (about 30 min on 2 cores)
    python benchmarks/arith_scale.py --scales quick --replicates 6
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import statistics
from pathlib import Path

from evo_rnn.cells import file_format, zoo
from evo_rnn.runs.executors import Job, LocalPoolExecutor
from evo_rnn.training import presets
from evo_rnn.training.hyperparameters import HParams

CELLS = ("tanh", "lstm", "lstm_f", "gru")

# Preset overrides on top of `quick` (which is 2 digits, <= 1 distractor, 3,000 examples, 15 epochs).
SCALES: dict[str, list[str]] = {
    "quick": [],
    "quick-10k": ["arith.n_train=10000"],
    "3digits": ["arith.max_digits=3", "arith.max_distractors=3", "arith.n_train=10000"],
    "3digits-30ep": ["arith.max_digits=3", "arith.max_distractors=3", "arith.n_train=10000", "max_epochs=30"],
    "3distractors": ["arith.max_distractors=3", "arith.n_train=10000"],  # longer inputs, 2-digit sums
    "3digits-batch128": ["arith.max_digits=3", "arith.max_distractors=3", "arith.n_train=20000", "batch_size=128"],
}

# Three configs from the paper's prior that train well at the quick scale (the best GRU
# configs of the quick ablation); every cell gets the same ones.
CONFIGS = (
    {"init_scale": 0.3, "learning_rate": 5.0, "max_grad_norm": 1.0, "num_layers": 1},
    {"init_scale": 1.0, "learning_rate": 2.0, "max_grad_norm": 20.0, "num_layers": 2},
    {"init_scale": 0.7, "learning_rate": 1.0, "max_grad_norm": 1.0, "num_layers": 1},
)


def jobs_for(scale: str, replicates: int) -> list[tuple[dict, Job]]:
    """Every cell x config x replicate; replicate r of config i trains with seed i + r * len(CONFIGS)."""
    preset = presets.with_overrides(presets.get("quick"), SCALES[scale])
    jobs = []
    for replicate in range(replicates):
        for cell in CELLS:
            graph = file_format.dumps(zoo.get(cell))
            for index, config in enumerate(CONFIGS):
                hparams = HParams(param_budget=preset.budget("arith"), **config)
                seed = index + replicate * len(CONFIGS)
                key = {"scale": scale, "cell": cell, "config": index, "seed": seed}
                jobs.append((key, Job(cell, graph, "arith", (hparams.to_json(),), (seed,), preset)))
    return jobs


def best_per_replicate(rows: list[dict], cell: str) -> list[float]:
    """For each replicate (one seed per config), the cell's best validation score over the configs."""
    by_replicate: dict[int, float] = {}
    for r in rows:
        if r["cell"] == cell:
            replicate = r["seed"] // len(CONFIGS)
            by_replicate[replicate] = max(by_replicate.get(replicate, 0.0), r["valid_score"])
    return [by_replicate[k] for k in sorted(by_replicate)]


def report(rows: list[dict], scales: list[str]) -> str:
    """Per scale: each cell's best-of-configs score, mean ± standard deviation over replicates;
    the ratios of the means; in how many replicates the LSTM and the GRU beat LSTM-f."""
    lines = [
        "| scale | replicates | "
        + " | ".join(CELLS)
        + " | LSTM / LSTM-f | GRU / LSTM-f | LSTM > LSTM-f | GRU > LSTM-f | s per eval |",
        "|---" * (len(CELLS) + 7) + "|",
    ]
    for scale in scales:
        mine = [r for r in rows if r["scale"] == scale]
        if not mine:
            continue
        best = {c: best_per_replicate(mine, c) for c in CELLS}
        n = min(len(v) for v in best.values())
        best = {c: v[:n] for c, v in best.items()}  # complete replicates only
        mean = {c: statistics.fmean(v) for c, v in best.items()}
        spread = {c: statistics.stdev(v) if n > 1 else 0.0 for c, v in best.items()}
        wins = {c: sum(a > b for a, b in zip(best[c], best["lstm_f"])) for c in ("lstm", "gru")}
        seconds = statistics.fmean(r["seconds"] for r in mine)
        lines.append(
            f"| {scale} | {n} | "
            + " | ".join(f"{mean[c]:.3f}" + (f" ± {spread[c]:.3f}" if n > 1 else "") for c in CELLS)
            + f" | {mean['lstm'] / mean['lstm_f']:.2f} | {mean['gru'] / mean['lstm_f']:.2f}"
            + f" | {wins['lstm']} of {n} | {wins['gru']} of {n} | {seconds:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default=",".join(SCALES), help=f"comma-separated, of {', '.join(SCALES)}")
    parser.add_argument("--replicates", type=int, default=1, help="seeds per config (default 1)")
    parser.add_argument("--out", default="runs/arith_scale.jsonl")
    args = parser.parse_args()
    scales = args.scales.split(",")
    unknown = [s for s in scales if s not in SCALES]
    if unknown:
        parser.error(f"unknown scale(s) {unknown}; known: {', '.join(SCALES)}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    done = {(r["scale"], r["cell"], r["config"], r["seed"]) for r in rows}
    pending = [
        (k, j)
        for s in scales
        for k, j in jobs_for(s, args.replicates)
        if (k["scale"], k["cell"], k["config"], k["seed"]) not in done
    ]
    pool = LocalPoolExecutor(workers=2, threads_per_worker=1)
    try:
        futures = {pool.submit(job): key for key, job in pending}
        with out.open("a") as handle:
            for future in concurrent.futures.as_completed(futures):
                (result,) = future.result()
                row = {
                    **futures[future],
                    "valid_score": result.valid_score,
                    "epochs": result.epochs,
                    "seconds": result.seconds,
                    "status": str(result.status),
                }
                rows.append(row)
                handle.write(json.dumps(row) + "\n")
                handle.flush()
                print(json.dumps(row), flush=True)
    finally:
        pool.shutdown()
    print(report(rows, scales))


if __name__ == "__main__":
    main()
