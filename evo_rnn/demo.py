"""`python -m evo_rnn.demo`: train a zoo cell on a generated memorisation task and draw it.

The built-in job until the architecture search exists: it shows the whole path a cell
takes in this package (graph -> `GraphCell` in `GraphRNN` -> trained under `tf.function`
-> saved as `.keras`, reloaded, predictions compared -> diagram rendered).

The task: read `length` random symbols (of `alphabet`), then, on as many recall markers,
reproduce them in order; only the recall positions are scored (chance: 1/alphabet).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

__all__ = ["make_memorization_data", "main"]


def make_memorization_data(
    n: int, length: int, alphabet: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs [n, 2*length] (symbols then markers), targets, and 0/1 sample weights."""
    symbols = rng.integers(0, alphabet, size=(n, length))
    markers = np.full((n, length), alphabet)  # token `alphabet` is the recall marker
    inputs = np.concatenate([symbols, markers], axis=1)
    targets = np.concatenate([np.zeros_like(symbols), symbols], axis=1)
    weights = np.concatenate([np.zeros((n, length)), np.ones((n, length))], axis=1)
    return inputs.astype("int32"), targets.astype("int32"), weights.astype("float32")


def build_model(cell_name: str, units: int, alphabet: int, seed: int):
    """Embedding -> GraphRNN(zoo cell) -> softmax over the alphabet."""
    import keras

    from evo_rnn.layers import GraphCell, GraphRNN

    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(alphabet + 1, units),
            GraphRNN(GraphCell(cell_name, units, seed=seed), return_sequences=True),
            keras.layers.Dense(alphabet, activation="softmax"),
        ],
        name=f"demo_{cell_name}",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2, clipnorm=5.0),
        loss="sparse_categorical_crossentropy",
        weighted_metrics=["accuracy"],
    )
    return model


def _job(args: argparse.Namespace) -> None:
    import keras

    from evo_rnn import architectures, cell_format
    from evo_rnn.cli import UsageError
    from evo_rnn.diagram import write_diagram

    graph = architectures.get(args.cell)  # unknown names fail here, before any work
    if args.epochs < 1 or args.units < 1 or args.length < 1 or args.alphabet < 2:
        raise UsageError("--epochs, --units and --length must be positive and --alphabet at least 2")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    diagram = write_diagram(graph, out / f"{args.cell}.png")
    cell_file = cell_format.save(graph, out / f"{args.cell}.json")
    print(f"cell {args.cell!r}: {graph.number_of_nodes()} nodes; wrote {cell_file} and {diagram}")

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train = make_memorization_data(4000, args.length, args.alphabet, rng)
    valid = make_memorization_data(500, args.length, args.alphabet, rng)
    model = build_model(args.cell, args.units, args.alphabet, args.seed)
    print(f"training {model.count_params():,} parameters for {args.epochs} epochs "
          f"(chance accuracy {1 / args.alphabet:.3f})")
    start = time.perf_counter()
    history = model.fit(
        train[0], train[1], sample_weight=train[2], batch_size=64, epochs=args.epochs,
        validation_data=valid, verbose=2,
    )
    seconds = time.perf_counter() - start
    accuracy = history.history["val_accuracy"][-1]
    print(f"validation accuracy on the recalled symbols: {accuracy:.3f} after {seconds:.1f} s")

    model_path = out / f"{args.cell}.keras"
    model.save(model_path)
    reloaded = keras.models.load_model(model_path)
    same = np.allclose(model.predict(valid[0][:32], verbose=0), reloaded.predict(valid[0][:32], verbose=0))
    print(f"saved {model_path}; reloaded with keras.models.load_model: predictions identical = {same}")


def main(argv: list[str] | None = None) -> int:
    """Runs the demo; returns the exit code (2 for bad input)."""
    from evo_rnn import architectures
    from evo_rnn.cli import ArgumentParser, run

    parser = ArgumentParser(prog="python -m evo_rnn.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="gru", help=f"zoo cell: {', '.join(architectures.names())} (default gru)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--length", type=int, default=5, help="symbols to memorise (default 5)")
    parser.add_argument("--alphabet", type=int, default=26, help="alphabet size (default 26)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    return run(parser, _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
