"""Quick evaluations per minute: solo evaluations (`evo_rnn.training.fit_engine.evaluate`, one Keras model per
evaluation) against batched ones (`evo_rnn.training.batched_engine.evaluate_batched`, P
members per compiled program), the same configurations and seeds in the same run.

    python benchmarks/batched_throughput.py --backend jax --batched 8 --evaluations 16

The configurations are drawn from the paper's prior at the quick preset (`--seed`), grouped
by shape (layers), and trained P at a time. Prints a table row per mode and, last, `ratio R`
(batched evaluations per minute / solo evaluations per minute). `--solo-engine` also times
the batched engine with P = 1 (separates compiling once from batching). `--json FILE`
appends the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend", choices=("jax", "tensorflow"), default="tensorflow", help="Keras backend (default: tensorflow)"
    )
    parser.add_argument("--batched", type=int, default=8, help="members per compiled program (default: 8)")
    parser.add_argument("--evaluations", type=int, default=8, help="configurations, each with its seed (default: 8)")
    parser.add_argument("--task", default="arith", help="a generated task (default: arith)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the configurations (default: 0)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a quick preset field, e.g. max_epochs=5 (default: none)",
    )
    parser.add_argument("--skip-solo", action="store_true", help="time only the batched engine (default: both)")
    parser.add_argument(
        "--solo-engine", action="store_true", help="also time the batched engine one member at a time (default: off)"
    )
    parser.add_argument("--json", default=None, help="append the figures as one JSON line to this file")
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend

    import keras

    import evo_rnn  # noqa: F401
    from evo_rnn.training import fit_engine, presets
    from evo_rnn.training.batched_engine import evaluate_batched
    from evo_rnn.training.hyperparameters import pack_by_shape

    if keras.backend.backend() != args.backend:
        sys.exit(f"KERAS_BACKEND is {keras.backend.backend()!r}; run with --backend {keras.backend.backend()}")
    preset = presets.with_overrides(presets.get("quick"), args.set)
    configs = presets.sample_configs(preset, args.task, args.evaluations, args.seed)
    seeds = [args.seed + k for k in range(args.evaluations)]
    device = "cpu"
    if args.backend == "jax":
        import jax

        device = jax.devices()[0].device_kind
    rows = {}

    def timed(name: str, run) -> None:
        started = time.perf_counter()
        results = run()
        seconds = time.perf_counter() - started
        scores = [r.valid_score for r in results]
        rows[name] = {
            "seconds": seconds,
            "per_minute": 60 * len(results) / seconds,
            "ok": sum(r.ok for r in results),
            "mean_valid": sum(scores) / len(scores),
        }
        print(
            f"{name:24} {len(results)} evaluations in {seconds:7.1f} s = {rows[name]['per_minute']:6.2f}/min, "
            f"{rows[name]['ok']} ok, mean valid score {rows[name]['mean_valid']:.4f}",
            flush=True,
        )

    def batched(size: int):
        def run():
            results = [None] * len(configs)
            for chunk in pack_by_shape(configs, size):
                out = evaluate_batched("gru", args.task, [configs[k] for k in chunk], [seeds[k] for k in chunk], preset)
                for k, result in zip(chunk, out):
                    results[k] = result
            return results

        return run

    print(
        f"backend {args.backend}, device {device}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
        f"task {args.task}, {args.evaluations} evaluations, batched {args.batched}",
        flush=True,
    )
    if not args.skip_solo:
        timed(
            "solo (fit_engine.evaluate)",
            lambda: [fit_engine.evaluate("gru", args.task, c, seed=s, preset=preset) for c, s in zip(configs, seeds)],
        )
    if args.solo_engine:
        timed("engine, P = 1", batched(1))
    timed(f"batched, P = {args.batched}", batched(args.batched))
    if args.json:
        with open(args.json, "a") as handle:
            handle.write(
                json.dumps(
                    {
                        "backend": args.backend,
                        "device": device,
                        "population": args.batched,  # the raw results' name for P
                        "evaluations": args.evaluations,
                        "task": args.task,
                        "seed": args.seed,
                        "set": args.set,
                        "rows": rows,
                    },
                    sort_keys=True,
                )
                + "\n"
            )
    if not args.skip_solo:
        ratio = rows[f"batched, P = {args.batched}"]["per_minute"] / rows["solo (fit_engine.evaluate)"]["per_minute"]
        print(f"ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
