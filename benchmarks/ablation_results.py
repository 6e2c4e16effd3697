"""Reads the ablation results recorded before the ablation became a run (a folder's
`results.jsonl`, one JSON row per evaluation: cell, task, trial, replicate, phase, status,
scores) and prints the table those runs printed, so that the figures in benchmarks/README.md can
be checked against their raw results.

    python benchmarks/ablation_results.py benchmarks/results/ablation-quick-arith-r2-seed600

Their rules, kept here as they were: per replicate the best validation score over the configs
that trained and the test score at that config, mean and spread over replicates; the best
config is the best mean over replicates (a failed replicate counts 0); the confirmation's test
scores of that config with a 95% t interval. New ablations are runs (`python -m evo_rnn.ablation
--run NAME`), scored by `evo_rnn.scoring.tables`.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from evo_rnn.scoring import statistics as stats
from evo_rnn.scoring.tables import PAPER_TABLE_1, separation

RowKey = tuple[str, str, int, int, str]  # (cell, task, trial, replicate or confirmation seed, phase)


def read_rows(path: Path) -> list[dict]:
    """The rows of a results folder (its results.jsonl) or of a .jsonl file."""
    file = path / "results.jsonl" if path.is_dir() else path
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]


def row_key(row: dict) -> RowKey:
    """A row's place in the table: phase "tune" (rows written before phases existed) or
    "confirm" (rows written before replicates existed are replicate 0)."""
    return row["cell"], row["task"], row["trial"], row.get("replicate", 0), row.get("phase", "tune")


def summarize(rows: list[dict], cell: str, task: str) -> dict[str, float] | None:
    """Per replicate the best validation score over the configs that trained ("ok") and the test
    score at that config; their mean and standard deviation over replicates. None if nothing trained."""
    best: dict[int, dict] = {}
    for row in rows:
        if row["cell"] == cell and row["task"] == task and row["status"] == "ok" and row_key(row)[4] == "tune":
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
    """The tuning config with the best mean validation score over its replicates (a failed or
    diverged replicate counts 0); None if nothing was tuned."""
    scores: dict[int, list[float]] = {}
    for row in rows:
        if row["cell"] == cell and row["task"] == task and row_key(row)[4] == "tune":
            scores.setdefault(row["trial"], []).append(row["valid_score"] if row["status"] == "ok" else 0.0)
    if not scores:
        return None
    return max(sorted(scores), key=lambda trial: statistics.fmean(scores[trial]))


def confirmed(rows: list[dict], cell: str, task: str) -> stats.Estimate | None:
    """The confirmation's test scores of the best config (a run that did not train counts 0)
    with its 95% t interval; None without confirmation rows."""
    trial = best_trial(rows, cell, task)
    scores = [
        row["test_score"] if row["status"] == "ok" else 0.0
        for row in rows
        if row["cell"] == cell and row["task"] == task and row_key(row)[4] == "confirm" and row["trial"] == trial
    ]
    return stats.mean_interval(scores) if scores else None


def markdown_table(rows: list[dict]) -> str:
    """The table the old ablation printed: per task the confirmed test score [95% CI] and the
    best tuning validation score (± its spread over replicates) with the paper's figure."""
    cells = list(dict.fromkeys(row["cell"] for row in rows))
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    head = "| cell | " + " | ".join(f"{t}: confirmed test [95% CI] | tuning valid (paper)" for t in tasks) + " |"
    lines = [head, "|---" * (2 * len(tasks) + 1) + "|"]
    for cell in cells:
        row = []
        for task in tasks:
            summary, estimate = summarize(rows, cell, task), confirmed(rows, cell, task)
            paper = PAPER_TABLE_1.get(cell, {}).get(task)
            row.append("—" if estimate is None else estimate.text(4))
            if summary is None:
                text = "—"
            elif summary["replicates"] > 1:
                text = f"{summary['valid']:.4f} ± {summary['valid_std']:.4f}"
            else:
                text = f"{summary['valid']:.4f}"
            row.append(text + (f" ({paper:.4f})" if paper is not None else ""))
        lines.append(f"| {cell} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def verdicts(rows: list[dict]) -> list[str]:
    """What the confirmed scores say about the paper's tiers, per task (`comparison.separation`)."""
    lines = []
    for task in dict.fromkeys(row["task"] for row in rows):
        found = {cell: confirmed(rows, cell, task) for cell in dict.fromkeys(row["cell"] for row in rows)}
        lines += separation({cell: e for cell, e in found.items() if e is not None}, task)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results folder (with results.jsonl) or a .jsonl file")
    rows = read_rows(parser.parse_args().results)
    print(markdown_table(rows))
    for line in verdicts(rows):
        print(line)


if __name__ == "__main__":
    main()
