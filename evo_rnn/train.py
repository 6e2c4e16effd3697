"""Training and evaluating one cell on one task with one hyperparameter configuration."""

from __future__ import annotations

import functools
import gc
import math
import os
import time
from collections.abc import Callable
from typing import Any

import keras
import networkx as nx
import numpy as np

from evo_rnn import architectures, backend, tasks
from evo_rnn.errors import InvalidCellError
from evo_rnn.hparams import HParams, solve_units
from evo_rnn.layers import GraphCell, GraphRNN
from evo_rnn.presets import Preset
from evo_rnn.results import EvalResult, Status
from evo_rnn.tasks import Split, Task, TaskData
from evo_rnn.tasks.base import GeneratedTask

__all__ = ["SeededBatches", "batch_order", "build_model", "candidate_errors", "evaluate", "initial_weights", "load_task",
           "loss_weights", "seed_everything", "task_data", "data_seed_of"]

EVAL_BATCH = 256  # rows per prediction batch for the non-stateful tasks


# --------------------------------------------------------------------------- data


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


# --------------------------------------------------------------------------- model


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


def build_model(graph: nx.DiGraph, task: Task, hparams: HParams, units: int, seed: int, jit_compile: bool,
                batch_size: int | None = None, compile: bool = True) -> keras.Model:
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


def _reset_states(model: keras.Model) -> None:
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
        _reset_states(model)
    nll, correct = [], []
    for start in range(0, len(split), batch):
        rows = split.inputs[start:start + batch]
        if len(rows) < batch:  # pad the last batch: one traced shape, no retracing
            rows = np.concatenate([rows, np.zeros((batch - len(rows), *rows.shape[1:]), rows.dtype)])
        targets = split.targets[start:start + batch]
        logits = np.asarray(model.predict_on_batch(rows), dtype="float64")[: len(targets)]
        if task.loss == "binary_crossentropy":
            nll.append(_sigmoid_nll(logits, targets))
        else:
            n, c = _log_softmax_stats(logits, targets)
            nll.append(n)
            correct.append(c)
    if task.stateful:
        _reset_states(model)
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
    engines (Keras' fit here, `evo_rnn.batched`) read this order, so a configuration and
    seed trains on the same batches whichever engine runs it."""
    if not shuffle:
        return np.arange(n, dtype="int32")
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n).astype("int32")


class SeededBatches(keras.utils.PyDataset):
    """The training split as `fit` reads it: batches in `batch_order`, the epoch set by the
    `_BatchEpoch` callback before each epoch reads its first batch."""

    def __init__(self, split: Split, weights: np.ndarray, batch_size: int, seed: int, shuffle: bool):
        super().__init__(workers=1, use_multiprocessing=False)
        self.split, self.weights, self.batch_size, self.seed, self.shuffle = split, weights, batch_size, seed, shuffle
        self.set_epoch(1)

    def set_epoch(self, epoch: int) -> None:
        self.order = batch_order(self.seed, epoch, len(self.split), self.shuffle)

    @property
    def num_batches(self) -> int:
        """Every row once; a stateful task's stream only in whole batches (its batch shape is fixed)."""
        if self.shuffle:
            return math.ceil(len(self.split) / self.batch_size)
        return len(self.split) // self.batch_size

    def __len__(self) -> int:
        return self.num_batches

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return self.split.inputs[rows], self.split.targets[rows], self.weights[rows]


# --------------------------------------------------------------------------- callbacks


class _BatchEpoch(keras.callbacks.Callback):
    """Tells the `SeededBatches` which epoch begins (Keras counts from 0, `batch_order` from 1)."""

    def __init__(self, batches: SeededBatches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch + 1)



class _ValidationScore(keras.callbacks.Callback):
    """Puts the task's validation score into the logs as `val_score` and keeps the best weights."""

    def __init__(self, task: Task, split: Split, progress: Callable[[int, dict], None] | None):
        super().__init__()
        self.task, self.split, self.progress = task, split, progress
        self.best_score, self.best_weights, self.curve = -math.inf, None, []

    def on_epoch_begin(self, epoch, logs=None):
        if self.task.stateful:  # every epoch reads the stream from its start
            _reset_states(self.model)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        loss = float(logs.get("loss", math.nan))
        score = math.nan
        if math.isfinite(loss):
            score = self.task.metrics(self.split, *position_stats(self.model, self.task, self.split))["score"]
            if score > self.best_score:
                self.best_score, self.best_weights = score, self.model.get_weights()
        logs["val_score"] = score
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.curve.append({"epoch": epoch + 1, "loss": loss, "val_score": score, "learning_rate": lr})
        if self.progress:
            self.progress(epoch + 1, self.curve[-1])


class _StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first NaN or infinite batch loss (Keras' TerminateOnNaN, silent:
    it would print to stdout, which carries the machine-readable output)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True


class _DecayOnPlateau(keras.callbacks.ReduceLROnPlateau):
    """ReduceLROnPlateau on `val_score` that stops training after `max_decays` decays."""

    def __init__(self, max_decays: int, **kwargs):
        super().__init__(monitor="val_score", mode="max", min_lr=0.0, verbose=0, **kwargs)
        self.max_decays, self.decays = max_decays, 0

    def on_epoch_end(self, epoch, logs=None):
        if not math.isfinite((logs or {}).get("val_score", math.nan)):
            return
        before = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        super().on_epoch_end(epoch, logs)
        if float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)) < before:
            self.decays += 1
            if self.decays >= self.max_decays:
                self.model.stop_training = True


# --------------------------------------------------------------------------- evaluate

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


def evaluate(
    cell: nx.DiGraph | str,
    task: str | Task,
    hparams: HParams,
    seed: int,
    preset: Preset,
    data_dir: str | os.PathLike | None = None,
    data_seed: int | None = None,
    progress: Callable[[int, dict], None] | None = None,
    save_model: str | os.PathLike | None = None,
) -> EvalResult:
    """Trains `cell` on `task` with `hparams` and reports validation and test results.

    Args:
        cell: a cell graph, a zoo name or a cell file.
        task: a task name (configured by `preset`) or a `Task`.
        hparams: the configuration; `units` is solved from its parameter budget.
        seed: seeds weights, dropout and the order of training batches. Same seed, same
            result on CPU.
        preset: epochs, patience, decays, batch size, XLA.
        data_dir: where real datasets are read.
        data_seed: the seed of generated task data; None: `data_seed_of` (the training seed, so
            that candidates trained with one seed see the same data and scores compare).
        progress: called after each epoch with (epoch, {"loss", "val_score", ...}).
        save_model: when training went well, the trained model (best validation weights) is
            saved there as a `.keras` file.

    Returns:
        An `EvalResult`; its status says whether training went well, diverged or failed
        (the candidate's fault: `candidate_errors()`). Errors of our own code propagate.
    """
    started = time.perf_counter()
    graph = architectures.resolve(cell) if isinstance(cell, (str, os.PathLike)) else cell
    task = load_task(task, preset, data_dir) if isinstance(task, str) else task
    result = EvalResult(status=Status.OK, task=task.name, preset=preset.name, seed=seed, hparams=hparams.to_dict())
    data = task_data(task, data_dir, data_seed_of(task, seed, data_seed))
    registered = backend.custom_gradient_names()
    try:
        seed_everything(seed, preset.jit_compile)
        batch = task.batch_size if task.stateful else preset.batch_size
        try:
            result.units = solve_units(graph, hparams.param_budget, hparams.num_layers)
            model = build_model(graph, task, hparams, result.units, seed, preset.jit_compile, batch)
        except candidate_errors() as error:
            result.status, result.message = Status.FAILED, f"{type(error).__name__}: {str(error)[:500]}"
            return result
        result.model_params = model.count_params()
        result.params = sum(layer.cell.count_params() for layer in model.layers if isinstance(layer, GraphRNN))
        validation = _ValidationScore(task, data.valid, progress)
        callbacks = [
            _StopOnNaN(),
            validation,
            _DecayOnPlateau(preset.max_decays, factor=preset.lr_decay, patience=preset.patience),
        ]
        weights = loss_weights(data.train)
        if task.stateful:  # in order (`batch_order`), from arrays: a dataset's batch size is not static
            whole = len(data.train) // batch * batch
            fit_data = {"x": data.train.inputs[:whole], "y": data.train.targets[:whole],
                        "sample_weight": weights[:whole], "batch_size": batch}
        else:
            batches = SeededBatches(data.train, weights, batch, seed, shuffle=True)
            callbacks.insert(0, _BatchEpoch(batches))
            fit_data = {"x": batches}
        try:
            # shuffle=False: the rows are in `batch_order` already (fit would shuffle the batches)
            history = model.fit(**fit_data, epochs=preset.max_epochs, shuffle=False, callbacks=callbacks, verbose=0)
        except candidate_errors() as error:
            result.status, result.message = Status.FAILED, f"{type(error).__name__}: {str(error)[:500]}"
            return result
        result.curve = validation.curve
        result.epochs = len(history.history.get("loss", []))
        losses = history.history.get("loss", [])
        if not losses or not all(math.isfinite(x) for x in losses) or validation.best_weights is None:
            result.status, result.message = Status.DIVERGED, "the training loss became NaN or infinite"
            return result
        model.set_weights(validation.best_weights)
        result.valid_metrics = task.metrics(data.valid, *position_stats(model, task, data.valid))
        result.test_metrics = task.metrics(data.test, *position_stats(model, task, data.test))
        result.valid_score = result.valid_metrics["score"]
        result.test_score = result.test_metrics["score"]
        if save_model is not None:
            model.save(save_model)
        return result
    finally:
        result.seconds = round(time.perf_counter() - started, 3)
        keras.backend.clear_session()
        backend.forget_custom_gradients(registered)
        gc.collect()
