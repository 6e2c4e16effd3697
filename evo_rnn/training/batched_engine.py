"""Batched evaluation: P configurations of one cell on one task trained as one
compiled program, every weight carrying a leading member axis (HFTA's horizontal fusion).

Each member is the model `evo_rnn.training.kit.build_model` builds for its configuration and seed,
initialised exactly as that solo model; it trains with its own learning rate, gradient
clipping (global norm per member), learning-rate decay on plateau and early stop, and keeps
its best validation weights. A member whose loss becomes NaN or infinite is frozen and
recorded `diverged`; it changes nothing for the others (each member's arithmetic is its own
slice of every batched matmul). At the end each member's best weights go back into its own
Keras model, which computes its final scores and saves the same `.keras` file a solo
evaluation saves.

The training step and the validation forward pass are written with `keras.ops` and compiled
once for all the members: `jax.jit` on JAX, `tf.function` on TensorFlow. Each member
reads the training rows in its own order, `kit.batch_order(seed, epoch)`, the order in which
Keras' `fit` reads them in `evo_rnn.training.fit_engine.evaluate`: a member trains on the same batches alone,
in any batched job, and in its solo `evaluate` run, whose losses it matches over the first
epochs (later they part: training is chaotic in the seed and float rounding compounds; the measured
differences are in benchmarks/README.md).

What still differs from `evaluate`: divergence is checked at the end of each epoch rather than
after each batch, and dropout is not supported yet.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import networkx as nx
import numpy as np
from keras import ops

from evo_rnn.cells import zoo
from evo_rnn.core import backend
from evo_rnn.core.errors import EvoRnnError, InvalidCellError
from evo_rnn.layers import GraphRNN
from evo_rnn.layers.graph_rnn import run_projected
from evo_rnn.tasks import Split, Task
from evo_rnn.training import kit
from evo_rnn.training.hyperparameters import HParams, solve_units
from evo_rnn.training.presets import Preset
from evo_rnn.training.results import EvalResult, Status

__all__ = ["BatchedError", "evaluate_batched"]

EVAL_BATCH = kit.EVAL_BATCH
_MIN_DELTA = 1e-4  # keras.callbacks.ReduceLROnPlateau's default, which the solo evaluation uses


class BatchedError(EvoRnnError):
    """The members cannot be trained as one batched job (mixed shapes, nothing to train)."""


# --------------------------------------------------------------------------- the batched model


class _BatchedModel:
    """The forward pass of `build_model`'s architecture for P members at once, as a pure function
    of the stacked trainable weights (in the order of the template's `trainable_variables`)."""

    def __init__(self, template: keras.Model, task: Task, members: int):
        self.template, self.task, self.members = template, task, members
        self.index = {id(v): i for i, v in enumerate(template.trainable_variables)}
        layers = [layer for layer in template.layers if not isinstance(layer, keras.layers.InputLayer)]
        self.input_layer, self.output_layer = layers[0], layers[-1]
        self.rnns = [layer for layer in layers if isinstance(layer, GraphRNN)]

    def _get(self, weights: Sequence, variable) -> Any:
        return weights[self.index[id(variable)]]

    def initial_states(self, batch: int) -> list[list]:
        return [[ops.zeros((self.members, batch, rnn.cell.units)) for _ in rnn.cell.state_size] for rnn in self.rnns]

    def __call__(self, weights: Sequence, x, states: list[list]) -> tuple[Any, list[list]]:
        """Logits [P, batch, time, outputs] for inputs x ([P, batch, time] token ids, or
        [P, batch, time, features]), and every layer's final states (each [P, batch, units])."""
        p = self.members
        shape = ops.shape(x)  # dynamic where a trace left a dimension unknown (TensorFlow)
        batch, steps = shape[1], shape[2]
        if self.task.input_kind == "tokens":
            table = self._get(weights, self.input_layer.embeddings)  # [P, vocabulary, units]
            vocabulary, width = table.shape[1], table.shape[2]
            offsets = ops.reshape(ops.arange(p, dtype="int32") * vocabulary, (p, 1, 1))
            h = ops.take(ops.reshape(table, (p * vocabulary, width)), ops.cast(x, "int32") + offsets, axis=0)
        else:
            kernel = self._get(weights, self.input_layer.kernel)
            bias = self._get(weights, self.input_layer.bias)
            flat = ops.reshape(x, (p, -1, x.shape[-1]))
            h = ops.reshape(ops.matmul(flat, kernel) + ops.expand_dims(bias, 1), (p, batch, steps, kernel.shape[-1]))
        final = []
        for rnn, initial in zip(self.rnns, states):
            cell = rnn.cell
            kernels, biases = cell.fused_weights()
            member_kernels = {source: self._get(weights, v) for source, v in kernels.items()}
            member_biases = {source: ops.expand_dims(self._get(weights, v), 1) for source, v in biases.items()}
            with cell.member_weights(member_kernels, member_biases):
                projected = cell.project_inputs(ops.reshape(h, (p, -1, h.shape[-1])))
                projected = ops.reshape(projected, (p, batch, steps, projected.shape[-1]))
                outputs, new_states = run_projected(cell, ops.transpose(projected, (2, 0, 1, 3)), initial)
            h = ops.transpose(outputs, (1, 2, 0, 3))
            final.append(list(new_states))
        kernel = self._get(weights, self.output_layer.kernel)
        bias = self._get(weights, self.output_layer.bias)
        logits = ops.matmul(ops.reshape(h, (p, -1, h.shape[-1])), kernel) + ops.expand_dims(bias, 1)
        return ops.reshape(logits, (p, batch, steps, kernel.shape[-1])), final

    def position_losses(self, logits, targets):
        """Per position: the loss Keras' loss of the solo model computes (categorical
        cross-entropy; for music binary cross-entropy averaged over the notes), [P, batch, time],
        and the per-position NLL as the task's metrics read it (music: summed over the notes)."""
        if self.task.loss == "binary_crossentropy":
            per_note = ops.maximum(logits, 0.0) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))
            return ops.mean(per_note, axis=-1), ops.sum(per_note, axis=-1)
        picked = ops.take_along_axis(logits, ops.expand_dims(ops.cast(targets, "int32"), -1), axis=-1)[..., 0]
        nll = ops.logsumexp(logits, axis=-1) - picked
        return nll, nll


# --------------------------------------------------------------------------- compiled steps


def _value_and_grad(loss: Callable) -> Callable:
    """(weights, *args) -> ((total, aux), gradients) with the backend's autodiff."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.value_and_grad(loss, has_aux=True)
    if backend == "tensorflow":
        import tensorflow as tf

        def value_and_grad(weights, *args):
            weights = list(weights)
            with tf.GradientTape() as tape:
                tape.watch(weights)
                total, aux = loss(weights, *args)
            return (total, aux), tape.gradient(total, weights)

        return value_and_grad
    raise BatchedError(f"batched training runs on the jax and tensorflow backends, not {backend!r}")


def _compile(function: Callable, jit_compile: bool) -> Callable:
    """One compiled program for all the members: jax.jit, or tf.function (XLA if asked)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(function)
    import tensorflow as tf

    return tf.function(function, jit_compile=jit_compile, reduce_retracing=True)


class _Engine:
    """The compiled training step and evaluation pass of one batched job."""

    def __init__(self, model: _BatchedModel, data: _MemberData, jit_compile: bool):
        self.model, self.jit_compile = model, jit_compile
        self.inputs = ops.convert_to_tensor(data.inputs)  # every member's training rows, stacked
        self.targets = ops.convert_to_tensor(data.targets)
        self.weights = ops.convert_to_tensor(data.weights)
        self.steps = ops.convert_to_tensor(data.steps)  # [P]: each member's own time steps
        self._steps: dict[int, Callable] = {}

        def evaluate(weights, states, x, y):  # x, y: [P, batch, time, ...], each member's own rows
            logits, new_states = model(weights, x, states)
            _, nll = model.position_losses(logits, y)
            correct = None
            if model.task.loss != "binary_crossentropy":
                correct = ops.cast(ops.argmax(logits, axis=-1) == ops.cast(y, "int32"), "float32")
            return nll, correct, new_states

        self.evaluate = _compile(evaluate, jit_compile)

    def step(self, size: int) -> Callable:
        """The compiled training step for batches of `size` rows:
        (weights, states, orders [P, n + padding], start, count, learning rates, max norms, active,
        loss totals) -> (weights, states, loss totals). Each member's batch is its
        `orders[:, start:start + size]`, of which the first `count` rows count (a last, partial
        batch is padded to `size`, so one program serves every batch); its states (stateful
        tasks) are those the last step left, else zeros."""
        if size not in self._steps:
            self._steps[size] = self._make_step(size)
        return self._steps[size]

    def _make_step(self, size: int) -> Callable:
        grad = _value_and_grad(self._loss)
        members, stateful = self.model.members, self.model.task.stateful

        def step(weights, states, orders, start, count, learning_rate, max_norm, active, totals):
            rows = ops.slice(orders, (0, start), (members, size))
            if not stateful:
                states = self.model.initial_states(size)
            (_, (losses, new_states)), grads = grad(weights, states, rows, count)
            squares = [ops.sum(ops.reshape(g * g, (members, -1)), axis=1) for g in grads]
            norm = ops.sqrt(ops.sum(ops.stack(squares), axis=0))  # each member's global norm
            scale = learning_rate * max_norm / ops.maximum(norm, max_norm)  # clip_by_global_norm, then SGD
            updated = []
            for w, g in zip(weights, grads):
                shape = (members,) + (1,) * (len(w.shape) - 1)
                moved = w - ops.reshape(scale, shape) * g
                updated.append(ops.where(ops.reshape(active, shape) > 0, moved, w))  # frozen members stay put
            return updated, new_states, totals + losses * ops.cast(count, "float32")

        return _compile(step, self.jit_compile)

    def _loss(self, weights, states, rows, count):
        x = ops.take(self.inputs, rows, axis=0)  # rows [P, batch]: each member's own batch
        y = ops.take(self.targets, rows, axis=0)
        real = ops.cast(ops.arange(rows.shape[1]) < count, "float32")  # the padding rows of a last batch count 0
        w = ops.take(self.weights, rows, axis=0) * ops.reshape(real, (1, -1, 1))
        logits, new_states = self.model(weights, x, states)
        loss, _ = self.model.position_losses(logits, y)
        per_position = ops.reshape(loss * w, (self.model.members, -1))
        # Keras' sum over the batch's positions / their number, each member over its own data's
        # time steps (padding to a longer member's weighs 0 and is not counted).
        positions = ops.cast(count, "float32") * self.steps
        losses = ops.sum(per_position, axis=1) / positions
        return ops.sum(losses), (losses, new_states)


# --------------------------------------------------------------------------- per-member bookkeeping


class _Member:
    """One member's training state on the host: learning-rate decay on plateau (as
    `keras.callbacks.ReduceLROnPlateau` on the validation score, stopping after `max_decays`
    decays, as the solo evaluation), its best score and curve."""

    def __init__(self, config: HParams, preset: Preset):
        self.learning_rate = config.learning_rate
        self.patience, self.factor, self.max_decays = preset.patience, preset.lr_decay, preset.max_decays
        self.best_score, self.monitored, self.wait, self.decays = -math.inf, -math.inf, 0, 0
        self.curve: list[dict[str, float]] = []
        self.status, self.active, self.has_best = Status.OK, True, False

    def end_epoch(self, epoch: int, loss: float, score: float) -> bool:
        """Records an epoch; returns whether its weights are the member's best so far."""
        self.curve.append({"epoch": epoch, "loss": loss, "val_score": score, "learning_rate": self.learning_rate})
        if not math.isfinite(loss):
            self.status, self.active = Status.DIVERGED, False
            return False
        best = score > self.best_score
        if best:
            self.best_score, self.has_best = score, True
        if not math.isfinite(score):
            return False
        if score > self.monitored + _MIN_DELTA:
            self.monitored, self.wait = score, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.learning_rate *= self.factor
                self.wait = 0
                self.decays += 1
                if self.decays >= self.max_decays:
                    self.active = False
        return best


# --------------------------------------------------------------------------- evaluate_batched


def _check(configs: Sequence[HParams], seeds: Sequence[int]) -> None:
    if len(configs) < 1:
        raise BatchedError("a batched job needs at least one member (P >= 1)")
    if len(configs) != len(seeds):
        raise BatchedError(f"{len(configs)} configurations but {len(seeds)} seeds: give one seed per member")
    shapes = {c.shape for c in configs}
    if len(shapes) > 1:
        raise BatchedError(
            f"the members of one batched job must share their shape (layers, parameter budget), "
            f"got {sorted(shapes)}: group the configurations by shape and train each group"
        )
    if any(c.dropout for c in configs):
        raise BatchedError(
            "batched training does not support dropout yet; train members with dropout "
            "one at a time with evo_rnn.training.fit_engine.evaluate"
        )


def evaluate_batched(
    cell: nx.DiGraph | str,
    task: str | Task,
    configs: Sequence[HParams],
    seeds: Sequence[int],
    preset: Preset,
    data_dir: str | os.PathLike | None = None,
    data_seed: int | None = None,
    save_models: Sequence[str | os.PathLike | None] | None = None,
) -> list[EvalResult]:
    """Trains member i (`configs[i]` with `seeds[i]`) of `cell` on `task`, all members as one
    compiled program, and reports each as `evaluate` would.

    Args:
        cell: a cell graph, a zoo name or a cell file.
        task: a task name (configured by `preset`) or a `Task`.
        configs: the members' configurations; all of one shape (layers and parameter budget,
            hence units). Callers group configurations by shape.
        seeds: one training seed per member (initialisation and batch order).
        preset: epochs, patience, decays, batch size; `jit_compile` chooses XLA on TensorFlow
            (JAX always compiles).
        data_dir: as for `evaluate`.
        data_seed: as for `evaluate` (None: each member's data seed is `kit.data_seed_of` its
            training seed, so members of a generated task with different seeds train on
            different data, in the same compiled program).
        save_models: per member, where to save its trained model (`.keras`, best validation
            weights) when it trained well, or None.

    Returns:
        One `EvalResult` per member, in order. `seconds` is the batched job's wall-clock time
        divided by the number of members. A batched job that runs out of memory is split in two
        halves, each trained on its own (and so on); a single member that does not fit is
        recorded `failed`, as a solo evaluation would be.

    Raises:
        BatchedError: no members, mixed shapes, one seed missing, or dropout.
    """
    _check(configs, seeds)
    save_models = list(save_models) if save_models is not None else [None] * len(configs)
    graph = zoo.resolve(cell) if isinstance(cell, (str, os.PathLike)) else cell
    task = kit.load_task(task, preset, data_dir) if isinstance(task, str) else task
    data_seeds = [kit.data_seed_of(task, seed, data_seed) for seed in seeds]
    return _evaluate_or_split(graph, task, list(configs), list(seeds), preset, data_dir, data_seeds, save_models)


def _out_of_memory(error: BaseException) -> bool:
    """Whether `error` says the device or host ran out of memory: one of the candidate errors
    other than an invalid cell, or JAX's runtime error with XLA's RESOURCE_EXHAUSTED."""
    memory_errors = tuple(e for e in kit.candidate_errors() if e is not InvalidCellError)
    return isinstance(error, memory_errors) or "RESOURCE_EXHAUSTED" in str(error)[:2000]


def _evaluate_or_split(
    graph,
    task: Task,
    configs: list[HParams],
    seeds: list[int],
    preset: Preset,
    data_dir,
    data_seeds: list[int],
    save_models: list,
) -> list[EvalResult]:
    try:
        return _evaluate(graph, task, configs, seeds, preset, data_dir, data_seeds, save_models)
    except Exception as error:
        if not _out_of_memory(error):
            raise
        if len(configs) == 1:
            return [
                EvalResult(
                    status=Status.FAILED,
                    task=task.name,
                    preset=preset.name,
                    seed=seeds[0],
                    hparams=configs[0].to_dict(),
                    message=f"{type(error).__name__}: {str(error)[:500]}",
                )
            ]
        half = len(configs) // 2
        return _evaluate_or_split(
            graph, task, configs[:half], seeds[:half], preset, data_dir, data_seeds[:half], save_models[:half]
        ) + _evaluate_or_split(
            graph, task, configs[half:], seeds[half:], preset, data_dir, data_seeds[half:], save_models[half:]
        )


class _MemberData:
    """Each member's task data (generated tasks draw it from the member's seed), laid out for
    one compiled program: the distinct training splits stacked along the rows, each padded to
    the longest one's time steps (padding weighs 0), member i reading rows `offsets[i]` on."""

    def __init__(self, task: Task, data_dir, data_seeds: list[int]):
        distinct = list(dict.fromkeys(data_seeds))
        self.datas = [kit.task_data(task, data_dir, seed) for seed in distinct]
        self.index = [distinct.index(seed) for seed in data_seeds]  # member -> its data
        self.n = len(self.datas[0].train)
        # Whether the members' data can share one program: the same numbers of rows per split.
        self.uniform = len({(len(d.train), len(d.valid), len(d.test)) for d in self.datas}) == 1
        if not self.uniform:
            return

        def stack(arrays: list[np.ndarray]) -> np.ndarray:
            longest = max(a.shape[1] for a in arrays)
            return np.concatenate(
                [np.pad(a, [(0, 0), (0, longest - a.shape[1])] + [(0, 0)] * (a.ndim - 2)) for a in arrays]
            )

        trains = [data.train for data in self.datas]
        self.inputs, self.targets = stack([t.inputs for t in trains]), stack([t.targets for t in trains])
        self.weights = stack([kit.loss_weights(t) for t in trains])  # scaled per split, as alone
        self.offsets = np.array([k * self.n for k in self.index], "int32")
        self.steps = np.array([trains[k].inputs.shape[1] for k in self.index], "float32")  # each member's time steps

    def split(self, member: int, name: str) -> Split:
        return getattr(self.datas[self.index[member]], name)


def _evaluate(
    graph,
    task: Task,
    configs: list[HParams],
    seeds: list[int],
    preset: Preset,
    data_dir,
    data_seeds: list[int],
    save_models: list,
) -> list[EvalResult]:
    data = _MemberData(task, data_dir, data_seeds)
    if not data.uniform:  # e.g. a task whose size depends on the seed: one program per data
        groups: dict[int, list[int]] = {}
        for i, seed in enumerate(data_seeds):
            groups.setdefault(seed, []).append(i)
        results: list[EvalResult | None] = [None] * len(configs)
        for members in groups.values():
            out = _evaluate(
                graph,
                task,
                [configs[i] for i in members],
                [seeds[i] for i in members],
                preset,
                data_dir,
                [data_seeds[i] for i in members],
                [save_models[i] for i in members],
            )
            for i, result in zip(members, out):
                results[i] = result
        return results
    started = time.perf_counter()
    members = len(configs)
    results = [
        EvalResult(status=Status.OK, task=task.name, preset=preset.name, seed=s, hparams=c.to_dict())
        for c, s in zip(configs, seeds)
    ]
    batch_size = task.batch_size if task.stateful else preset.batch_size
    registered = backend.custom_gradient_names()
    try:
        try:
            units = solve_units(graph, configs[0].param_budget, configs[0].num_layers)

            def member_model(i: int) -> keras.Model:  # member i's solo model, as `evaluate` builds it
                kit.seed_everything(seeds[i], preset.jit_compile)
                return kit.build_model(graph, task, configs[i], units, seeds[i], preset.jit_compile, batch_size)

            template = member_model(0)
            initial = [[np.asarray(v.value) for v in template.trainable_variables]]
            for i in range(1, members):  # each member exactly as its solo model starts
                kit.seed_everything(seeds[i], preset.jit_compile)
                initial.append(kit.initial_weights(graph, task, configs[i], units, seeds[i]))
        except InvalidCellError as error:  # the cell's own fault, the same for every member
            for result in results:
                result.status, result.message = Status.FAILED, f"{type(error).__name__}: {str(error)[:500]}"
            return results
        for result in results:
            result.units, result.model_params = units, template.count_params()
            result.params = sum(layer.cell.count_params() for layer in template.layers if isinstance(layer, GraphRNN))
        members_model = _BatchedModel(template, task, members)
        weights = [
            ops.convert_to_tensor(np.stack([member[k] for member in initial]))
            for k in range(len(template.trainable_variables))
        ]
        engine = _Engine(members_model, data, preset.jit_compile)
        states = [_Member(c, preset) for c in configs]
        best = list(weights)
        n = data.n
        norms = ops.convert_to_tensor(np.array([c.max_grad_norm for c in configs], "float32"))
        eval_steps = max(d.inputs.shape[1] for dd in data.datas for d in (dd.valid, dd.test))
        for epoch in range(1, kit.epoch_cap(preset, task) + 1):
            if not any(s.active for s in states):
                break
            active = [s.active for s in states]
            orders = np.stack(
                [
                    kit.batch_order(seed, epoch, n, shuffle=not task.stateful) + offset
                    for seed, offset in zip(seeds, data.offsets)
                ]
            )  # rows of each member's own data
            rnn_states = members_model.initial_states(batch_size)
            totals = ops.zeros((members,))
            rates = ops.convert_to_tensor(np.array([s.learning_rate for s in states], "float32"))
            mask = ops.convert_to_tensor(np.array(active, "float32"))
            padding = -n % batch_size
            orders = ops.convert_to_tensor(np.pad(orders, ((0, 0), (0, padding))))
            seen = 0
            for start in range(0, n, batch_size):  # no host round trip inside an epoch
                count = min(batch_size, n - start)
                if task.stateful and count < batch_size:
                    break
                weights, rnn_states, totals = engine.step(batch_size)(
                    weights, rnn_states, orders, np.int32(start), np.int32(count), rates, norms, mask, totals
                )
                seen += count
            epoch_losses = ops.convert_to_numpy(totals).astype("float64") / seen
            scores = [
                m["score"] if m else math.nan
                for m in _metrics(engine, members_model, task, data, "valid", weights, batch_size, eval_steps)
            ]
            improved = []
            for i, member in enumerate(states):
                if not active[i]:
                    improved.append(False)
                    continue
                improved.append(member.end_epoch(epoch, float(epoch_losses[i]), scores[i]))
                results[i].epochs = epoch
            if any(improved):
                keep = ops.convert_to_tensor(np.array(improved, "float32"))
                best = [
                    ops.where(ops.reshape(keep, (members,) + (1,) * (len(w.shape) - 1)) > 0, w, b)
                    for w, b in zip(weights, best)
                ]
        valid = _metrics(engine, members_model, task, data, "valid", best, batch_size, eval_steps)
        test = _metrics(engine, members_model, task, data, "test", best, batch_size, eval_steps)
        best_numpy = None
        for i, (result, member) in enumerate(zip(results, states)):
            result.curve = member.curve
            if member.status is Status.DIVERGED or not member.has_best or valid[i] is None or test[i] is None:
                result.status, result.message = Status.DIVERGED, "the training loss became NaN or infinite"
                continue
            result.valid_metrics, result.test_metrics = valid[i], test[i]
            result.valid_score, result.test_score = valid[i]["score"], test[i]["score"]
            if save_models[i] is not None:
                if best_numpy is None:
                    best_numpy = [ops.convert_to_numpy(b) for b in best]
                model = template if i == 0 else member_model(i)
                for variable, value in zip(model.trainable_variables, best_numpy):
                    variable.assign(value[i])
                model.save(save_models[i])
        return results
    finally:
        seconds = round((time.perf_counter() - started) / members, 3)
        for result in results:
            result.seconds = seconds
        keras.backend.clear_session()
        backend.forget_custom_gradients(registered)


def _metrics(
    engine: _Engine,
    members_model: _BatchedModel,
    task: Task,
    data: _MemberData,
    name: str,
    weights,
    batch_size: int,
    steps: int,
) -> list[dict[str, float] | None]:
    """Every member's metrics on its own split `name` (None where a prediction is not finite),
    computed as `kit.position_stats` does: stateful tasks from reset states, in batch order.
    Rows are padded to `steps` time steps (the causal model's earlier outputs do not change), so
    that every split runs through one compiled program."""
    batch = batch_size if task.stateful else EVAL_BATCH
    splits = [data.split(i, name) for i in range(members_model.members)]
    distinct = [getattr(d, name) for d in data.datas]
    states = members_model.initial_states(batch)
    nll_parts, correct_parts = [], []
    for start in range(0, len(distinct[0]), batch):
        count = len(distinct[0].inputs[start : start + batch])
        padded = []
        for split in distinct:  # each distinct split's rows, padded to one traced shape
            rows, targets = split.inputs[start : start + batch], split.targets[start : start + batch]
            pad_rows, pad_steps = batch - count, (0 if task.stateful else steps - rows.shape[1])
            if pad_rows or pad_steps:
                widths = [(0, pad_rows), (0, pad_steps)] + [(0, 0)] * (rows.ndim - 2)
                rows = np.pad(rows, widths)
                targets = np.pad(targets, widths[: targets.ndim])
            padded.append((rows, targets))
        x = np.stack([padded[k][0] for k in data.index])  # [P, batch, steps, ...]: each member's own rows
        y = np.stack([padded[k][1] for k in data.index])
        if not task.stateful:
            states = members_model.initial_states(batch)
        nll, correct, states = engine.evaluate(weights, states, ops.convert_to_tensor(x), ops.convert_to_tensor(y))
        nll_parts.append(ops.convert_to_numpy(nll)[:, :count].astype("float64"))
        if correct is not None:
            correct_parts.append(ops.convert_to_numpy(correct)[:, :count] > 0.5)
    nll = np.concatenate(nll_parts, axis=1)
    correct = np.concatenate(correct_parts, axis=1) if correct_parts else None
    metrics = []
    for i, split in enumerate(splits):
        length = split.inputs.shape[1]
        mine = nll[i][:, :length]
        metrics.append(
            task.metrics(split, mine, None if correct is None else correct[i][:, :length])
            if np.isfinite(mine).all()
            else None
        )
    return metrics
