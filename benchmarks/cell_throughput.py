"""Training-step throughput of GraphRNN (zoo LSTM, GRU) against Keras' own LSTM and GRU.

Same model around each recurrent layer (embedding -> one RNN layer -> dense softmax),
batch 20, 32 steps, vocabulary 50, plain SGD; each variant trains for `--steps` steps per
repetition, repetitions interleaved so that machine noise hits every variant alike.
Prints tokens/s (median over repetitions) and the ratio ours / Keras (> 1: ours faster).

    python benchmarks/cell_throughput.py                  # units 128 and 512
    python benchmarks/cell_throughput.py --units 128 --reps 3 --jit
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import keras
import numpy as np

import evo_rnn

BATCH, STEPS, VOCAB = 20, 32, 50

PAIRS = {
    "lstm": lambda units: keras.layers.LSTM(units, return_sequences=True),
    "gru": lambda units: keras.layers.GRU(units, reset_after=False, return_sequences=True),
}


def build(rnn_layer, jit: bool) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((STEPS,), batch_size=BATCH, dtype="int32"),
            keras.layers.Embedding(VOCAB, rnn_layer.cell.units),
            rnn_layer,
            keras.layers.Dense(VOCAB, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", jit_compile=jit)
    return model


def time_steps(model: keras.Model, x: np.ndarray, y: np.ndarray, steps: int) -> float:
    """Tokens per second over `steps` training steps."""
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * BATCH * STEPS / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    parser.add_argument("--steps", type=int, default=10, help="training steps per repetition (default 10)")
    parser.add_argument("--jit", action="store_true", help="compile the train step with XLA")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x = rng.integers(0, VOCAB, size=(BATCH, STEPS)).astype("int32")
    y = rng.integers(0, VOCAB, size=(BATCH, STEPS)).astype("int32")
    print(
        f"backend {keras.backend.backend()}, keras {keras.__version__}, jit_compile={args.jit}, "
        f"batch {BATCH} x {STEPS} steps, vocab {VOCAB}, {args.reps} reps x {args.steps} steps, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'cell':6} {'units':>5} {'evo_rnn tok/s':>14} {'keras tok/s':>12} {'ratio':>6}")
    for units in args.units:
        for cell, keras_layer in PAIRS.items():
            models = {
                "evo_rnn": build(evo_rnn.GraphRNN(evo_rnn.GraphCell(cell, units), return_sequences=True), args.jit),
                "keras": build(keras_layer(units), args.jit),
            }
            for model in models.values():  # trace and warm up
                time_steps(model, x, y, 2)
            samples: dict[str, list[float]] = {name: [] for name in models}
            for _ in range(args.reps):
                for name, model in models.items():
                    samples[name].append(time_steps(model, x, y, args.steps))
            ours, theirs = (statistics.median(samples[n]) for n in ("evo_rnn", "keras"))
            print(f"{cell:6} {units:5d} {ours:14,.0f} {theirs:12,.0f} {ours / theirs:6.2f}", flush=True)
            keras.backend.clear_session()


if __name__ == "__main__":
    main()
