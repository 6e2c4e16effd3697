"""Do the default search's winners hold up? For each run database given: the confirmed cells
(its children and the LSTM), each with its search score (the ratio of paired means to the GRU
over the search's seeds, validation score), that score's interval (Fieller, over the same
seeds), and its confirmed ratio (mean test scores over the 8 fresh confirmation seeds, paired
with the GRU's); then, per run and over all runs, the Pearson correlation of search score and
confirmed ratio, and whether any selected child's confirmed ratio lies below its search
interval. Reads only; prints a Markdown table and writes it with `--out`.

    python benchmarks/default_fitness_check.py benchmarks/results/default-fitness/runs/default-seed1 ...
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evo_rnn.runs.metadata import MetaKey  # noqa: E402
from evo_rnn.runs.run import Run, RunFiles  # noqa: E402
from evo_rnn.scoring.paper_scores import Scores  # noqa: E402


def rows_of(folder: Path) -> list[dict]:
    files = RunFiles(folder.name, folder.parent)
    with Run.open(files, readonly=True) as run:
        scores = Scores.of(run)
        confirmation = run.meta(MetaKey.CONFIRMATION)
        if not confirmation:
            raise SystemExit(f"{folder}: not confirmed")
        baselines = scores.baselines()
        rows = []
        for arch in confirmation["cells"]:
            if arch == baselines.get("gru"):
                continue
            for task in scores.tasks:
                interval = scores.search_interval(arch, task)
                confirmed, p = scores.versus_gru(arch, task)
                mine, _ = scores.paired_seed_scores(arch, task)
                rows.append(
                    {
                        "run": folder.name,
                        "cell": arch[:8],
                        "role": "LSTM (baseline)" if arch == baselines.get("lstm") else "child",
                        "task": task,
                        "search_seeds": len(mine),
                        "search": scores.ratios(arch, [task])[task],
                        "low": interval.low if interval else math.nan,
                        "high": interval.high if interval else math.nan,
                        "confirmed": confirmed.mean if confirmed else math.nan,
                        "confirmed_low": confirmed.low if confirmed else math.nan,
                        "confirmed_high": confirmed.high if confirmed else math.nan,
                        "p": p,
                    }
                )
    return rows


def correlation(rows: list[dict]) -> float:
    pairs = [(r["search"], r["confirmed"]) for r in rows if not math.isnan(r["confirmed"])]
    if len(pairs) < 3:
        return math.nan
    return float(stats.pearsonr(*zip(*pairs)).statistic)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (each holding search.sqlite)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    lines = [
        "| run | cell | role | search seeds | search score [95% interval] | confirmed ratio [95% interval] "
        "| p vs GRU | below its search interval |",
        "|---|---|---|---|---|---|---|---|",
    ]
    everything, summary = [], []
    for folder in args.runs:
        rows = rows_of(folder)
        everything += rows
        for r in rows:
            below = r["role"] == "child" and not math.isnan(r["low"]) and r["confirmed"] < r["low"]
            lines.append(
                f"| {r['run']} | `{r['cell']}` | {r['role']} | {r['search_seeds']} | {r['search']:.3f} "
                f"[{r['low']:.3f}, {r['high']:.3f}] | {r['confirmed']:.3f} [{r['confirmed_low']:.3f}, "
                f"{r['confirmed_high']:.3f}] | {r['p']:.3g} | {'**yes**' if below else 'no'} |"
            )
        below = sum(r["role"] == "child" and r["confirmed"] < r["low"] for r in rows)
        summary.append(
            f"- {folder.name}: {len(rows)} confirmed cells, correlation of search score and confirmed ratio "
            f"{correlation(rows):.3f}; selected children whose confirmed ratio is below their search interval: {below}"
        )
    summary.append(f"- all runs together: correlation {correlation(everything):.3f} over {len(everything)} cells")
    text = "\n".join([*lines, "", *summary]) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
