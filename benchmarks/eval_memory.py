"""Memory over many evaluations in one process: RSS after each of N quick evaluations.

Each evaluation clears the Keras session; memory must stay flat. Prints RSS per
evaluation and the growth from the 5th to the last evaluation (the first ones warm
TensorFlow's caches), as MB and as a ratio.

    python benchmarks/eval_memory.py            # 50 evaluations of the zoo GRU on memorize
    python benchmarks/eval_memory.py --n 20 --task arith
"""

from __future__ import annotations

import argparse
import resource
import time

from evo_rnn.training import fit_engine, presets
from evo_rnn.training.hyperparameters import HParams


def rss_mb() -> float:
    """Current resident set size (Linux /proc), in MB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--task", default="memorize")
    parser.add_argument("--cell", default="gru")
    args = parser.parse_args()
    preset = presets.with_overrides(
        presets.get("quick"),
        [
            "max_epochs=1",
            "memorize.n_train=256",
            "memorize.n_valid=64",
            "memorize.n_test=64",
            "arith.n_train=256",
            "arith.n_valid=64",
            "arith.n_test=64",
        ],
    )
    config = HParams(
        init_scale=1.0, learning_rate=1.0, max_grad_norm=5.0, num_layers=2, param_budget=preset.budget(args.task)
    )
    readings = []
    start = time.perf_counter()
    for i in range(args.n):
        result = fit_engine.evaluate(args.cell, args.task, config, seed=i, preset=preset)
        readings.append(rss_mb())
        print(
            f"evaluation {i + 1:3d}: {result.status} score {result.valid_score:.3f}  RSS {readings[-1]:8.1f} MB",
            flush=True,
        )
    base = readings[min(4, len(readings) - 1)]
    print(
        f"{args.n} evaluations in {time.perf_counter() - start:.0f} s; RSS after #5 {base:.1f} MB, "
        f"after #{args.n} {readings[-1]:.1f} MB: growth {readings[-1] - base:+.1f} MB "
        f"(ratio {readings[-1] / base:.3f})"
    )


if __name__ == "__main__":
    main()
