"""Evaluations per minute of the quick preset through each executor: the local process pool
and Ray, at 1 and 2 workers, on the same fixed list of jobs in the same run.

Each executor first runs one warm-up job per worker (process start, TensorFlow import,
task data), then the timed jobs. TensorFlow's thread pools get cores / workers threads in
every case (Ray: --cpus-per-eval = cores / workers). Prints evaluations per minute, the
scaling ratio of 2 workers over 1 for each executor, and Ray's overhead per evaluation over
the local pool.

    python benchmarks/executor_scaling.py               # 8 GRU evaluations on arith, quick preset
    python benchmarks/executor_scaling.py --jobs 4 --task memorize
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import time

from evo_rnn.cells import file_format, zoo
from evo_rnn.runs.executors import Job, LocalPoolExecutor
from evo_rnn.training import (
    hyperparameters,
    presets,
)


def make_jobs(task: str, count: int, seed: int, preset: presets.Preset) -> list[Job]:
    rng = random.Random(seed)
    graph = file_format.dumps(zoo.get("gru"))
    configs = [hyperparameters.sample(rng, preset.budget(task), max_layers=1) for _ in range(count)]
    return [Job("gru", graph, task, (c.to_json(),), (seed,), preset) for c in configs]


def timed(executor, jobs: list[Job], warmup: list[Job]) -> float:
    """Seconds to run `jobs`, after one warm-up job per worker."""
    for future in [executor.submit(job) for job in warmup[: executor.workers]]:
        future.result()
    started = time.perf_counter()
    futures = [executor.submit(job) for job in jobs]
    concurrent.futures.wait(futures)
    for future in futures:
        future.result()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--task", default="arith")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    preset = presets.get("quick")
    jobs = make_jobs(args.task, args.jobs, args.seed, preset)
    warmup = make_jobs("memorize", 2, args.seed + 1, presets.with_overrides(preset, ["max_epochs=1"]))
    rates: dict[tuple[str, int], float] = {}
    for workers in (1, 2):
        pool = LocalPoolExecutor(workers, threads_per_worker=max(1, cores // workers))
        seconds = timed(pool, jobs, warmup)
        pool.shutdown()
        rates["local", workers] = len(jobs) / seconds * 60
        print(
            f"local pool, {workers} worker(s): {seconds:7.1f} s, {rates['local', workers]:6.2f} evaluations/min",
            flush=True,
        )
        if args.no_ray:
            continue
        from evo_rnn.runs.ray_executor import RayExecutor

        ray_executor = RayExecutor(workers=workers, cpus_per_eval=cores / workers, num_cpus=cores)
        seconds = timed(ray_executor, jobs, warmup)
        ray_executor.shutdown()
        rates["ray", workers] = len(jobs) / seconds * 60
        print(
            f"ray,        {workers} worker(s): {seconds:7.1f} s, {rates['ray', workers]:6.2f} evaluations/min",
            flush=True,
        )
    for kind in ("local", "ray"):
        if (kind, 2) in rates:
            print(f"scaling {kind}: 2 workers / 1 worker = {rates[kind, 2] / rates[kind, 1]:.2f}x")
    for workers in (1, 2):
        if ("ray", workers) in rates:
            overhead = 60 / rates["ray", workers] - 60 / rates["local", workers]
            print(
                f"ray overhead at {workers} worker(s): {overhead:+.2f} s per evaluation "
                f"(ray / local throughput = {rates['ray', workers] / rates['local', workers]:.2f})"
            )


if __name__ == "__main__":
    main()
