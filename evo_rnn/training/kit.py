"""The training kit both engines share: a task's data (loaded once per process, drawn from the
training seed), the model (embedding, stacked `GraphRNN` layers, logits) and its initial
weights, the order of the training batches, per-position losses, seeding, and the errors that
are a candidate's own. The fit engine (`fit_engine`) and the batched engine (`batched_engine`)
read them from here, so a configuration trains on the same data and batches under either."""

from __future__ import annotations

import functools
import os
from typing import Any

import keras
import networkx as nx
import numpy as np

from evo_rnn import tasks
from evo_rnn.core.errors import InvalidCellError
from evo_rnn.layers import GraphCell, GraphRNN
from evo_rnn.tasks import Split, Task, TaskData
from evo_rnn.tasks.base import GeneratedTask
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.presets import Preset

__all__ = [
    "EVAL_BATCH",
    "batch_order",
    "build_model",
    "candidate_errors",
    "data_seed_of",
    "epoch_cap",
    "initial_weights",
    "load_task",
    "loss_weights",
    "position_stats",
    "reset_states",
    "seed_everything",
    "task_data",
]


EVAL_BATCH = 256  # rows per prediction batch for the non-stateful tasks


def epoch_cap(preset: Preset, task: Task) -> int:
    """The epochs `task` trains for at most: the preset's cap, or the task's own where lower
    (`ptb_chars` at `quick`: 8, where its seed-to-seed noise was measured)."""
    return preset.max_epochs if task.max_epochs is None else min(preset.max_epochs, task.max_epochs)


def load_task(name: str, preset: Preset, data_dir: str | os.PathLike | None = None) -> Task:
    """The task `name` configured as `preset` says."""
    return tasks.get(name, preset.task_config(name), data_dir)


@functools.lru_cache(maxsize=8)
def _cached_data(name: str, config: Any, data_dir: str | None, data_seed: int) -> TaskData:
    return tasks.get(name, config, data_dir).data(data_seed)


def data_seed_of(task: Task, seed: int, data_seed: int | None = None) -> int:
    """The seed task `task`'s data is drawn with for an evaluation with training seed `seed`:
    `data_seed` when given; else, for a generated task, the training seed itself (a replicate
    sees fresh data, so an interval over seeds covers data noise as well as initialisation);
    real datasets do not depend on it (0)."""
    if data_seed is not None:
        return data_seed
    return int(seed) if isinstance(task, GeneratedTask) else 0


def task_data(task: Task, data_dir: str | os.PathLike | None, data_seed: int) -> TaskData:
    """The task's splits, built once per process for each (task, config, data seed)."""
    return _cached_data(task.name, task.config, None if data_dir is None else str(data_dir), data_seed)


def _model_layers(graph: nx.DiGraph, task: Task, hparams: HParams, units: int, seed: int) -> list[keras.layers.Layer]:
    """The layers of the model, in order, constructed (not built): Embedding (or Dense, for
    music) of width `units`, `num_layers` GraphRNN layers (dropout between them when asked), and
    Dense logits. Construction and building in this order fix which layer takes which draws of
    Keras' global seed."""
    stateful = task.stateful
    if task.input_kind == "tokens":
        layers: list[keras.layers.Layer] = [keras.layers.Embedding(task.input_size, units)]
    else:
        layers = [keras.layers.Dense(units)]
    dropout = hparams.dropout
    if dropout:
        layers.append(keras.layers.Dropout(dropout, seed=seed))
    for layer in range(hparams.num_layers):
        cell = GraphCell(graph, units, init_scale=hparams.init_scale, seed=seed + 1000 * layer)
        layers.append(GraphRNN(cell, return_sequences=True, stateful=stateful))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, seed=seed + layer + 1))
    layers.append(keras.layers.Dense(task.output_size))
    return layers


def build_model(
    graph: nx.DiGraph,
    task: Task,
    hparams: HParams,
    units: int,
    seed: int,
    jit_compile: bool,
    batch_size: int | None = None,
    compile: bool = True,
) -> keras.Model:
    """Embedding (or Dense, for music) of width `units` -> `num_layers` GraphRNN layers ->
    Dense logits, compiled (unless `compile` is False) with SGD and global gradient-norm clipping."""
    batch = batch_size if task.stateful else None
    if task.input_kind == "tokens":
        inputs = keras.Input(batch_shape=(batch, None), dtype="int32")
    else:
        inputs = keras.Input(batch_shape=(batch, None, task.input_size))
    x = inputs
    for layer in _model_layers(graph, task, hparams, units, seed):
        x = layer(x)
    model = keras.Model(inputs, x)
    if not compile:
        return model
    if task.loss == "binary_crossentropy":
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(hparams.learning_rate, global_clipnorm=hparams.max_grad_norm)
    # On JAX, Keras' only compiled mode is XLA: without it every training step would run
    # eagerly (about 90 s per quick arith epoch on a CPU instead of 0.5 s), so JAX always compiles.
    model.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile or keras.backend.backend() == "jax")
    return model


def initial_weights(graph: nx.DiGraph, task: Task, hparams: HParams, units: int, seed: int) -> list[np.ndarray]:
    """The trainable weights `build_model` starts with for this configuration and seed (in the
    order of its `trainable_variables`), made by building its layers alone, in the same order,
    without tracing a model: what a member of a batched job starts from, in milliseconds.

    Call it where `build_model` would be called (after `seed_everything(seed, ...)`): the
    input and output layers draw from Keras' global seed as they do there.
    """
    layers = _model_layers(graph, task, hparams, units, seed)
    batch = task.batch_size if task.stateful else None  # a stateful layer needs its batch size to build
    shape: tuple = (batch, None) if task.input_kind == "tokens" else (batch, None, task.input_size)
    for layer in layers:
        layer.build(shape)
        shape = (batch, None, units)
    return [keras.ops.convert_to_numpy(w) for layer in layers for w in layer.trainable_weights]


def reset_states(model: keras.Model) -> None:
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()


def _log_softmax_stats(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=-1))
    picked = np.take_along_axis(shifted, targets[..., None].astype(int), axis=-1)[..., 0]
    return log_z - picked, logits.argmax(axis=-1) == targets


def _sigmoid_nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Binary NLL summed over the last axis (the notes), computed stably from logits."""
    return (np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))).sum(axis=-1)


def position_stats(model: keras.Model, task: Task, split: Split) -> tuple[np.ndarray, np.ndarray | None]:
    """Per position: NLL of the target, and whether the argmax is right (None for music).

    Stateful tasks are run from reset states in batch order, as in training.
    """
    batch = task.batch_size if task.stateful else EVAL_BATCH
    if task.stateful:
        reset_states(model)
    nll, correct = [], []
    for start in range(0, len(split), batch):
        rows = split.inputs[start : start + batch]
        if len(rows) < batch:  # pad the last batch: one traced shape, no retracing
            rows = np.concatenate([rows, np.zeros((batch - len(rows), *rows.shape[1:]), rows.dtype)])
        targets = split.targets[start : start + batch]
        logits = np.asarray(model.predict_on_batch(rows), dtype="float64")[: len(targets)]
        if task.loss == "binary_crossentropy":
            nll.append(_sigmoid_nll(logits, targets))
        else:
            n, c = _log_softmax_stats(logits, targets)
            nll.append(n)
            correct.append(c)
    if task.stateful:
        reset_states(model)
    return np.concatenate(nll), (np.concatenate(correct) if correct else None)


def loss_weights(split: Split) -> np.ndarray:
    """The split's weights scaled to mean 1, so that Keras' mean over all positions equals
    the mean over the scored ones (the paper's per-character loss; keeps learning rates
    comparable across tasks with different shares of scored positions)."""
    return (split.weights * (split.weights.size / split.weights.sum())).astype("float32")


def batch_order(seed: int, epoch: int, n: int, shuffle: bool) -> np.ndarray:
    """The order in which an evaluation with training seed `seed` reads the `n` training rows in
    epoch `epoch` (from 1), consecutive `batch_size` rows a batch: a permutation seeded by
    (seed, epoch), or in order for stateful tasks, whose batches continue each other. Both
    engines (Keras' fit here, `evo_rnn.training.batched_engine`) read this order, so a configuration and
    seed trains on the same batches whichever engine runs it."""
    if not shuffle:
        return np.arange(n, dtype="int32")
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n).astype("int32")


_DETERMINISM_ON = False


def seed_everything(seed: int, jit_compile: bool) -> None:
    """Seeds Keras; turns on TensorFlow's op determinism, except for XLA runs (Keras refuses
    XLA under op determinism), whose results may then differ in the last bits."""
    global _DETERMINISM_ON
    keras.utils.set_random_seed(seed)
    if not jit_compile and not _DETERMINISM_ON and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        _DETERMINISM_ON = True


def candidate_errors() -> tuple[type[BaseException], ...]:
    """The failures that are the candidate's fault, recorded as `failed` (the search goes on):
    a cell that cannot be built or sized (`InvalidCellError`), and a model too large for the
    memory it runs in. Any other exception is a bug of ours and propagates."""
    errors: list[type[BaseException]] = [InvalidCellError, MemoryError]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        errors.append(tf.errors.ResourceExhaustedError)
    return tuple(errors)
