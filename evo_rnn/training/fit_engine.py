"""The fit engine: one configuration of one cell on one task trained with Keras' `fit`, with
the paper's schedule (validation score each epoch, learning-rate decay on a plateau, a stop on
NaN), scored with the weights of its best validation epoch (`evaluate`)."""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Callable

import keras
import networkx as nx
import numpy as np

from evo_rnn.cells import zoo
from evo_rnn.core import backend
from evo_rnn.layers import GraphRNN
from evo_rnn.tasks import Split, Task
from evo_rnn.training.hyperparameters import HParams, solve_units
from evo_rnn.training.kit import (
    batch_order,
    build_model,
    candidate_errors,
    data_seed_of,
    epoch_cap,
    load_task,
    loss_weights,
    position_stats,
    reset_states,
    seed_everything,
    task_data,
)
from evo_rnn.training.presets import Preset
from evo_rnn.training.results import EvalResult, Status

__all__ = ["SeededBatches", "evaluate"]


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
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.split.inputs[rows], self.split.targets[rows], self.weights[rows]


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
            reset_states(self.model)

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
    graph = zoo.resolve(cell) if isinstance(cell, (str, os.PathLike)) else cell
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
            fit_data = {
                "x": data.train.inputs[:whole],
                "y": data.train.targets[:whole],
                "sample_weight": weights[:whole],
                "batch_size": batch,
            }
        else:
            batches = SeededBatches(data.train, weights, batch, seed, shuffle=True)
            callbacks.insert(0, _BatchEpoch(batches))
            fit_data = {"x": batches}
        try:
            # shuffle=False: the rows are in `batch_order` already (fit would shuffle the batches)
            history = model.fit(
                **fit_data, epochs=epoch_cap(preset, task), shuffle=False, callbacks=callbacks, verbose=0
            )
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
