"""`python -m evo_rnn.demo`: train a zoo cell on a generated memorisation task and draw it.

A one-minute tour of a single cell (`scripts/demo.sh`): it shows the whole path a cell
takes in this package (graph -> `GraphCell` in `GraphRNN` -> trained under `tf.function`
-> saved as `.keras`, reloaded, predictions compared -> diagram rendered).

The task is `memorize` (`evo_rnn.tasks`): read `length` random symbols of `alphabet`, then,
on as many recall markers, reproduce them in order (chance: 1/alphabet).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]


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

    from evo_rnn import tasks
    from evo_rnn.cells import file_format, zoo
    from evo_rnn.cells.diagram import graphviz_available, write_diagram
    from evo_rnn.core.cli import UsageError

    graph = zoo.get(args.cell)  # unknown names fail here, before any work
    if args.epochs < 1 or args.units < 1 or args.length < 1 or not 2 <= args.alphabet <= 26:
        raise UsageError("--epochs, --units and --length must be positive and --alphabet in 2..26")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    diagram = write_diagram(graph, out / f"{args.cell}.{'png' if graphviz_available() else 'dot'}")
    cell_file = file_format.save(graph, out / f"{args.cell}.json")
    print(f"cell {args.cell!r}: {graph.number_of_nodes()} nodes; wrote {cell_file} and {diagram}")

    keras.utils.set_random_seed(args.seed)
    data = tasks.get("memorize", tasks.MemorizeConfig(length=args.length, alphabet=args.alphabet)).data(args.seed)
    train = (data.train.inputs, data.train.targets, data.train.weights)
    valid = (data.valid.inputs, data.valid.targets, data.valid.weights)
    model = build_model(args.cell, args.units, args.alphabet, args.seed)
    print(
        f"training {model.count_params():,} parameters for {args.epochs} epochs "
        f"(chance accuracy {1 / args.alphabet:.3f})"
    )
    start = time.perf_counter()
    history = model.fit(
        train[0],
        train[1],
        sample_weight=train[2],
        batch_size=64,
        epochs=args.epochs,
        validation_data=valid,
        verbose=2,
    )
    seconds = time.perf_counter() - start
    accuracy = history.history["val_accuracy"][-1]
    print(f"validation accuracy on the recalled symbols: {accuracy:.3f} after {seconds:.1f} s")

    model_path = out / f"{args.cell}.keras"
    model.save(model_path)
    reloaded = keras.models.load_model(model_path)
    same = np.allclose(model.predict(valid[0][:32], verbose=0), reloaded.predict(valid[0][:32], verbose=0))
    print(f"saved {model_path}; reloaded with keras.models.load_model: predictions identical = {same}")


def build_parser():
    """The command line's parser."""
    from evo_rnn.cells import zoo
    from evo_rnn.core.cli import ArgumentParser

    parser = ArgumentParser(
        prog="python -m evo_rnn.demo",
        description="Train a zoo cell on a generated memorisation task, save, reload and draw it.",
    )
    parser.add_argument("--cell", default="gru", help=f"zoo cell: {', '.join(zoo.names())} (default: gru)")
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (default: 15)")
    parser.add_argument("--units", type=int, default=64, help="the cell's width (default: 64)")
    parser.add_argument("--length", type=int, default=5, help="symbols to memorise (default: 5)")
    parser.add_argument("--alphabet", type=int, default=26, help="alphabet size, 2 to 26 (default: 26)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the data and the weights (default: 0)")
    parser.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the demo; returns the exit code (2 for bad input)."""
    from evo_rnn.core.cli import run

    return run(build_parser(), _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
