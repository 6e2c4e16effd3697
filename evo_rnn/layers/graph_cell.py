"""`GraphCell`: a Keras 3 RNN cell that computes one step of a cell graph."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

import keras
import networkx as nx
import numpy as np
from keras import ops

from evo_rnn.cells import file_format
from evo_rnn.cells.graph import (
    input_node,
    output_nodes,
    reads_x_directly,
    state_names,
    state_nodes,
    topological_order,
    validate,
)
from evo_rnn.cells.ops import LEAKY_RELU_SLOPE, OPS, OpKind

__all__ = ["GraphCell"]


@dataclasses.dataclass(frozen=True)
class _LinearGroup:
    """All linear nodes fed by one source, computed as one fused matmul.

    Member k owns columns [k*units, (k+1)*units) of the fused kernel; `bias_slots[k]`
    is its index in the group's bias vector, or None when it has no bias.
    """

    source: str
    members: tuple[str, ...]
    bias_slots: tuple[int | None, ...]

    @property
    def n_biases(self) -> int:
        return sum(slot is not None for slot in self.bias_slots)


def _as_graph(graph: Any) -> nx.DiGraph:
    if isinstance(graph, nx.DiGraph):
        validate(graph)
        return graph.copy()
    if isinstance(graph, Mapping):
        return file_format.from_dict(dict(graph))
    if isinstance(graph, str):
        from evo_rnn.cells import zoo

        return zoo.get(graph)
    raise TypeError(
        "Received an invalid value for argument `graph`, expected a networkx.DiGraph cell, "
        f"its canonical dict (evo_rnn.cells.file_format.to_dict) or a zoo name, got {type(graph).__name__}."
    )


@keras.saving.register_keras_serializable(package="evo_rnn")
class GraphCell(keras.layers.Layer):
    """An RNN cell whose step is a cell graph (see `evo_rnn.cells.graph`).

    Use it like any Keras cell, `keras.layers.RNN(GraphCell(graph, units))`, or, faster,
    in `evo_rnn.layers.GraphRNN`, which projects the inputs of all time steps at once.

    All linear nodes fed by the same source share one fused kernel (one matmul per
    source per step). Weights start uniform in [-s/sqrt(units), s/sqrt(units)] for
    init scale s (the prior of Jozefowicz et al. 2015); biases at their node's
    `bias_init`. The states are `state_names(graph)` in order (`h` first); the output
    is the new `h`.

    Args:
        graph: the cell, as a `networkx.DiGraph`, its canonical dict
            (`evo_rnn.cells.file_format.to_dict`) or a zoo name (`evo_rnn.cells.zoo.names()`).
        units: the width of every vector in the cell.
        init_scale: s in the weight initialisation range above.
        seed: an int for reproducible initial weights, or None for Keras' global seed.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).
    """

    def __init__(self, graph: Any, units: int, init_scale: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(
                f"Received an invalid value for argument `units`, expected a positive integer, got {units!r}."
            )
        if (
            isinstance(init_scale, bool)
            or not isinstance(init_scale, (int, float))
            or not (math.isfinite(init_scale) and init_scale > 0)
        ):
            raise ValueError(
                "Received an invalid value for argument `init_scale`, expected a positive finite number, "
                f"got {init_scale!r}."
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Received an invalid value for argument `seed`, expected an int or None, got {seed!r}.")
        self._graph = _as_graph(graph)
        self.units = units
        self.init_scale = float(init_scale)
        self.seed = seed
        self.state_names = state_names(self._graph)
        self.state_size = [units] * len(self.state_names)
        self.output_size = units
        self._inputs_projected = False
        self._member_weights: tuple[dict, dict] | None = None
        self._plan_evaluation()

    # ----------------------------------------------------------------- structure

    def _plan_evaluation(self) -> None:
        graph = self._graph
        self._x = input_node(graph)
        self._reads = [state_nodes(graph)[s] for s in self.state_names]
        self._outputs = [output_nodes(graph)[s] for s in self.state_names]
        self._x_direct = reads_x_directly(graph)
        order = topological_order(graph)
        by_source: dict[str, list[str]] = {}
        for node in order:
            if graph.nodes[node]["op"] == "linear":
                (source,) = graph.predecessors(node)
                by_source.setdefault(source, []).append(node)
        # Deterministic creation order: x, then the states in order, then internal sources.
        sources = [s for s in [self._x, *self._reads] if s in by_source]
        sources += [s for s in order if s in by_source and s not in sources]
        paired_read, pairs = self._pair_x_with_a_state(by_source)
        first = {self._x: [x for _, x, _ in pairs], paired_read: [s for _, _, s in pairs]}
        self._groups: dict[str, _LinearGroup] = {}
        for source in sources:
            leading = first.get(source, [])
            members = tuple(leading + sorted(m for m in by_source[source] if m not in leading))
            slots, next_slot = [], 0
            for member in members:
                if graph.nodes[member]["bias_init"] is None:
                    slots.append(None)
                else:
                    slots.append(next_slot)
                    next_slot += 1
            self._groups[source] = _LinearGroup(source, members, tuple(slots))
        # (state read, add nodes) whose values come from one add of fused tensors.
        self._paired = (paired_read, tuple(add for add, _, _ in pairs)) if pairs else None
        self._member_of = {m: (g, k) for g in self._groups.values() for k, m in enumerate(g.members)}
        # Nodes computed one by one at each step; sources and linear nodes are handled apart.
        self._plan = [
            (node, graph.nodes[node]["op"], self._ordered_parents(node))
            for node in order
            if OPS[graph.nodes[node]["op"]].kind not in (OpKind.INPUT, OpKind.STATE, OpKind.LINEAR)
            and not (self._paired and node in self._paired[1])
        ]

    def _pair_x_with_a_state(self, by_source: dict[str, list[str]]) -> tuple[str | None, list[tuple[str, str, str]]]:
        """Finds `add(W_x? x, W_h? state)` nodes, as in every gate of the LSTM and GRU.

        Returns the state read node with most such adds and its `(add node, x-side
        linear, state-side linear)` triples, where both linears feed nothing else, sorted
        by add node; `(None, [])` when there are none. Those adds
        are then done once on the fused tensors (their linears laid out in the same
        order at the front of both groups) instead of once per gate.
        """
        graph = self._graph
        x_side = set(by_source.get(self._x, ()))
        best_read, best = None, []
        for read in self._reads:
            state_side = set(by_source.get(read, ()))
            pairs = []
            for node in sorted(graph):
                if graph.nodes[node]["op"] != "add":
                    continue
                parents = list(graph.predecessors(node))
                xs = [p for p in parents if p in x_side]
                hs = [p for p in parents if p in state_side]
                if len(xs) == 1 and len(hs) == 1 and all(graph.out_degree(p) == 1 for p in parents):
                    pairs.append((node, xs[0], hs[0]))
            if len(pairs) > len(best):
                best_read, best = read, pairs
        return best_read, best

    def _ordered_parents(self, node: str) -> list[str]:
        edges = self._graph.in_edges(node, data="operand")
        return [source for source, _, operand in sorted(edges, key=lambda e: (e[2] or 0, e[0]))]

    @property
    def graph(self) -> nx.DiGraph:
        """A copy of the cell graph."""
        return self._graph.copy()

    # ----------------------------------------------------------------- weights

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError("GraphCell needs inputs with a known last dimension (the input width), got None.")
        if self._x_direct and input_dim != self.units:
            users = sorted(s for s in self._graph.successors(self._x) if self._graph.nodes[s]["op"] != "linear")
            raise ValueError(
                f"This cell uses its input `x` directly (in node(s) {users}), which requires the input width "
                f"to equal `units` ({self.units}), got {input_dim}. Feed the cell through an Embedding or Dense "
                f"layer of width {self.units}, or use a cell that reads x only through linear nodes."
            )
        self.input_dim = int(input_dim)
        limit = self.init_scale / math.sqrt(self.units)
        self._kernels: dict[str, Any] = {}
        self._biases: dict[str, Any] = {}
        index = 0
        for source, group in self._groups.items():
            rows = self.input_dim if source == self._x else self.units
            seed = None if self.seed is None else self.seed + index
            index += 1
            self._kernels[source] = self.add_weight(
                name=f"kernel_{source}",
                shape=(rows, self.units * len(group.members)),
                initializer=keras.initializers.RandomUniform(-limit, limit, seed=seed),
            )
            if group.n_biases:
                starts = [
                    self._graph.nodes[m]["bias_init"]
                    for m, slot in zip(group.members, group.bias_slots)
                    if slot is not None
                ]
                values = np.repeat(np.asarray(starts, dtype="float64"), self.units)
                self._biases[source] = self.add_weight(
                    name=f"bias_{source}",
                    shape=(self.units * group.n_biases,),
                    initializer=keras.initializers.Constant(values),
                )
        self.built = True

    def _group_bias(self, group: _LinearGroup):
        """The bias to add to the group's fused matmul, or None."""
        if not group.n_biases:
            return None
        bias = self._biases[group.source] if self._member_weights is None else self._member_weights[1][group.source]
        if group.n_biases == len(group.members):
            return bias
        zeros = ops.zeros_like(bias[..., : self.units])
        parts = [
            zeros if slot is None else bias[..., slot * self.units : (slot + 1) * self.units]
            for slot in group.bias_slots
        ]
        return ops.concatenate(parts, axis=-1)

    def _linear_group(self, group: _LinearGroup, value):
        kernels = self._kernels if self._member_weights is None else self._member_weights[0]
        y = ops.matmul(value, kernels[group.source])
        bias = self._group_bias(group)
        return y if bias is None else y + bias

    @contextlib.contextmanager
    def member_weights(self, kernels: dict[str, Any], biases: dict[str, Any]) -> Iterator[None]:
        """Within this context the cell computes with these tensors instead of its own weights:
        the weights of many members of a batched job at once (`evo_rnn.training.batched_engine`).

        Args:
            kernels: per source (as the fused kernels `kernel_<source>`), [members, rows, width].
            biases: per source with biases, [members, 1, width] (broadcast over a batch).

        Inputs and states then carry the member axis first: [members, batch, ...].
        """
        self._require_built()
        previous, self._member_weights = self._member_weights, (kernels, biases)
        try:
            yield
        finally:
            self._member_weights = previous

    def fused_weights(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The cell's fused kernels and biases by source (the variables `member_weights` stands in for)."""
        self._require_built()
        return dict(self._kernels), dict(self._biases)

    def node_weights(self) -> dict[str, dict[str, np.ndarray]]:
        """The weights of every linear node, independent of the fused layout.

        Returns:
            `{linear node: {"kernel": array [in, units], "bias": array [units]}}`;
            "bias" is absent for nodes without a bias.
        """
        self._require_built()
        result = {}
        u = self.units
        for group in self._groups.values():
            kernel = ops.convert_to_numpy(self._kernels[group.source])
            bias = ops.convert_to_numpy(self._biases[group.source]) if group.n_biases else None
            for k, (member, slot) in enumerate(zip(group.members, group.bias_slots)):
                entry = {"kernel": kernel[:, k * u : (k + 1) * u].copy()}
                if slot is not None:
                    entry["bias"] = bias[slot * u : (slot + 1) * u].copy()
                result[member] = entry
        return result

    def set_node_weights(self, weights: Mapping[str, Mapping[str, Any]]) -> None:
        """Sets the weights of some or all linear nodes (the inverse of `node_weights`).

        Args:
            weights: `{linear node: {"kernel": [in, units], "bias": [units]}}`; either key
                may be left out to keep the current value.

        Raises:
            ValueError: an unknown node, an unknown key, a bias for a node without one,
                or a wrong shape.
        """
        self._require_built()
        u = self.units
        kernels = {s: ops.convert_to_numpy(v).copy() for s, v in self._kernels.items()}
        biases = {s: ops.convert_to_numpy(v).copy() for s, v in self._biases.items()}
        for node, entry in weights.items():
            if node not in self._member_of:
                raise ValueError(f"{node!r} is not a linear node of this cell; linear nodes: {sorted(self._member_of)}")
            unknown = sorted(set(entry) - {"kernel", "bias"})
            if unknown:
                raise ValueError(f"node {node!r}: unknown key(s) {unknown}; expected 'kernel' and/or 'bias'")
            group, k = self._member_of[node]
            if "kernel" in entry:
                kernel = np.asarray(entry["kernel"])
                expected = (kernels[group.source].shape[0], u)
                if kernel.shape != expected:
                    raise ValueError(f"node {node!r}: kernel must have shape {expected}, got {kernel.shape}")
                kernels[group.source][:, k * u : (k + 1) * u] = kernel
            if "bias" in entry:
                slot = group.bias_slots[k]
                if slot is None:
                    raise ValueError(f"node {node!r} has no bias (its bias_init is None)")
                bias = np.asarray(entry["bias"])
                if bias.shape != (u,):
                    raise ValueError(f"node {node!r}: bias must have shape {(u,)}, got {bias.shape}")
                biases[group.source][slot * u : (slot + 1) * u] = bias
        for source, value in kernels.items():
            self._kernels[source].assign(value)
        for source, value in biases.items():
            self._biases[source].assign(value)

    def _require_built(self) -> None:
        if not self.built:
            raise ValueError("This GraphCell is not built yet: call it on inputs (or build it) first.")

    # ----------------------------------------------------------------- computation

    def project_inputs(self, inputs):
        """The part of a step that depends on `x` alone, for any number of leading axes.

        Returns the concatenation of `x` itself (when the cell reads it directly) and the
        fused x-side linear maps with their biases. `GraphRNN` calls this once on a whole
        sequence ([batch, time, in]) so that the recurrent loop does no x-side matmul.
        """
        parts = []
        if self._x_direct:
            parts.append(inputs)
        if self._x in self._groups:
            parts.append(self._linear_group(self._groups[self._x], inputs))
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    @contextlib.contextmanager
    def inputs_projected(self) -> Iterator[None]:
        """Within this context `call` takes the output of `project_inputs` instead of `x`."""
        previous, self._inputs_projected = self._inputs_projected, True
        try:
            yield
        finally:
            self._inputs_projected = previous

    def call(self, inputs, states, training=None):
        if self._inputs_projected:
            return self.step_projected(inputs, states)
        return self.step_projected(self.project_inputs(inputs), states)

    def _store(self, values: dict, names: tuple[str, ...], fused) -> None:
        """Splits a fused [..., len(names) * units] tensor into the values of `names`, then
        computes the linear groups those values feed (a linear of a linear, or of a fused add)."""
        if len(names) == 1:
            values[names[0]] = fused
        elif names:
            for name, part in zip(names, ops.split(fused, len(names), axis=-1)):
                values[name] = part
        for name in names:
            if name in self._groups:
                group = self._groups[name]
                self._store(values, group.members, self._linear_group(group, values[name]))

    def step_projected(self, projected, states):
        """One step from the output of `project_inputs` for this step.

        Returns:
            `(output, new_states)` as `call`.
        """
        if not isinstance(states, (list, tuple)):
            states = [states]
        values: dict[str, Any] = {}
        x_side = projected
        if self._x_direct:
            values[self._x] = projected[..., : self.units]
            x_side = projected[..., self.units :]
        paired_read, paired_adds = self._paired or (None, ())
        if self._x in self._groups and paired_read is None:
            self._store(values, self._groups[self._x].members, x_side)
        for read, state in zip(self._reads, states):
            values[read] = state
            if read not in self._groups:
                continue
            group = self._groups[read]
            fused = self._linear_group(group, state)
            if read != paired_read:
                self._store(values, group.members, fused)
                continue
            # add(W_x? x, W_h? state) for every pair at once, then the unpaired rest.
            n, width = len(paired_adds), len(paired_adds) * self.units
            x_members = self._groups[self._x].members
            x_pairs = x_side if len(x_members) == n else x_side[..., :width]
            s_pairs = fused if len(group.members) == n else fused[..., :width]
            self._store(values, paired_adds, x_pairs + s_pairs)
            if len(x_members) > n:
                self._store(values, x_members[n:], x_side[..., width:])
            if len(group.members) > n:
                self._store(values, group.members[n:], fused[..., width:])
        for node, op, parents in self._plan:
            args = [values[p] for p in parents]
            if op == "const":
                value = ops.convert_to_tensor(self._graph.nodes[node]["value"], dtype=self.compute_dtype)
            elif op in ("identity", "output"):
                value = args[0]
            elif op == "leaky_relu":
                value = ops.leaky_relu(args[0], negative_slope=LEAKY_RELU_SLOPE)
            else:
                value = getattr(ops, OPS[op].keras_op)(*args)
            self._store(values, (node,), value)
        new_states = [values[out] for out in self._outputs]
        return new_states[0], new_states

    # ----------------------------------------------------------------- config

    def get_config(self) -> dict[str, Any]:
        config = {
            "graph": file_format.to_dict(self._graph),
            "units": self.units,
            "init_scale": self.init_scale,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
