"""How often does a child pass the memorization filter, against how many mutations made it?

Draws children of the LSTM and the GRU (alternately) with the paper's mutation operator at
several maximum mutation rates (`mutate.mutate(max_rate=R)`: the per-node probability p is
drawn from U(0, R); the paper's rule is R = 1), trains each on the quick preset's filter task
(memorize) with the bank's first `search.filter_configs` configurations, as a child whose
parent has no configuration to pass on, and counts it as passing when its best validation
score reaches `search.filter_threshold`. Prints, per rate and per number of mutations, the
pass rate with its exact (Clopper-Pearson) 95% interval. Results go to a JSONL file as they
finish; rerunning skips them.

    python benchmarks/filter_pass_rate.py --rates 1,0.2,0.1 --children 40 --seed 0
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import random
from pathlib import Path

from scipy import stats

from evo_rnn.cells import file_format, mutation, zoo
from evo_rnn.runs.executors import Job, LocalPoolExecutor
from evo_rnn.training import presets

PARENTS = ("lstm", "gru")
BUCKETS = ((1, 1), (2, 2), (3, 5), (6, 1000))


def children(rate: float, count: int, seed: int) -> list[dict]:
    """`count` children at maximum mutation rate `rate`, each with its parent and mutation count."""
    out = []
    for index in range(count):
        parent = PARENTS[index % len(PARENTS)]
        rng = random.Random(f"{seed}:{rate}:{index}")
        child, applied = mutation.mutate(zoo.get(parent), rng, max_rate=rate)
        out.append(
            {
                "rate": rate,
                "child": index,
                "parent": parent,
                "mutations": len(applied),
                "graph": file_format.dumps(child),
            }
        )
    return out


def interval(passed: int, total: int) -> str:
    if not total:
        return "—"
    ci = stats.binomtest(passed, total).proportion_ci(confidence_level=0.95, method="exact")
    return f"{passed}/{total} = {passed / total:.2f} [{ci.low:.2f}, {ci.high:.2f}]"


def report(rows: list[dict], rates: list[float]) -> str:
    lines = [
        "| max rate | children | mean mutations | passed (95% CI) | "
        + " | ".join(f"{lo}{'' if hi == lo else '+' if hi > 100 else f'-{hi}'} mutations" for lo, hi in BUCKETS)
        + " |",
        "|---" * (4 + len(BUCKETS)) + "|",
    ]
    for rate in rates:
        mine = [r for r in rows if r["rate"] == rate]
        if not mine:
            continue
        cells = [
            interval(
                sum(r["passed"] for r in mine if lo <= r["mutations"] <= hi),
                sum(lo <= r["mutations"] <= hi for r in mine),
            )
            for lo, hi in BUCKETS
        ]
        mean = sum(r["mutations"] for r in mine) / len(mine)
        lines.append(
            f"| {rate:g} | {len(mine)} | {mean:.1f} | {interval(sum(r['passed'] for r in mine), len(mine))} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", default="1,0.2,0.1", help="comma-separated maximum mutation rates (default 1,0.2,0.1)"
    )
    parser.add_argument("--children", type=int, default=40, help="children per rate (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the children, the configurations and training")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/filter_pass_rate.jsonl")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    preset = presets.get("quick")
    search = preset.search
    configs = presets.sample_configs(preset, search.filter_task, search.filter_configs, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    done = {(r["rate"], r["child"]) for r in rows}
    pending = [
        c for rate in rates for c in children(rate, args.children, args.seed) if (c["rate"], c["child"]) not in done
    ]
    pool = LocalPoolExecutor(workers=args.workers, threads_per_worker=1)
    try:
        futures = {}
        for child in pending:
            for config in configs:
                job = Job(
                    f"child-{child['rate']}-{child['child']}",
                    child["graph"],
                    search.filter_task,
                    (config.to_json(),),
                    (args.seed,),
                    preset,
                )
                futures[pool.submit(job)] = child
        scores: dict[tuple, list[float]] = {}
        with out.open("a") as handle:
            for future in concurrent.futures.as_completed(futures):
                child, (result,) = futures[future], future.result()
                key = (child["rate"], child["child"])
                scores.setdefault(key, []).append(result.valid_score if result.ok else 0.0)
                if len(scores[key]) == len(configs):
                    best = max(scores[key])
                    row = {k: v for k, v in child.items() if k != "graph"}
                    row.update(
                        best_filter_score=best,
                        passed=best >= search.filter_threshold,
                        threshold=search.filter_threshold,
                        seed=args.seed,
                    )
                    rows.append(row)
                    handle.write(json.dumps(row) + "\n")
                    handle.flush()
                    print(json.dumps(row), flush=True)
    finally:
        pool.shutdown()
    print(report(rows, rates))


if __name__ == "__main__":
    main()
