"""The paper's six graph mutations: a child cell from a parent, never changing the parent.

Jozefowicz et al. (2015), section 3.1: draw a mutation probability p uniformly; visit every
node and, with probability p, apply one random transformation:

1. `swap_activation`: an activation becomes another activation;
2. `swap_elementwise`: an element-wise op becomes another element-wise op;
3. `insert_activation`: a random activation is inserted between the node and one of its parents;
4. `remove_node`: the node is removed (its consumers read one of its parents instead);
5. `replace_with_ancestor`: the node is replaced by one of its ancestors;
6. `replace_with_combination`: the node is replaced by the sum, product or difference of an
   ancestor of the node and an ancestor of another random node.

"Activations" are tanh, sigmoid, relu and the paper's Linear(a, x) for a in {0, 1, 0.9, 1.1}
(a `linear` node whose bias starts at a). Dead nodes are pruned; a child that breaks a rule
of the cell format, or is the same architecture as its parent, is rejected and sampling
repeats, up to `max_attempts` times.
"""

from __future__ import annotations

import dataclasses
import random

import networkx as nx

from evo_rnn.cells.graph import prune, validate
from evo_rnn.cells.hashing import same_architecture
from evo_rnn.cells.ops import ELEMENTWISE, OPS, ORDERED_OPS, OpKind
from evo_rnn.core.errors import EvoRnnError, InvalidCellError

__all__ = ["ACTIVATION_CHOICES", "MUTATIONS", "Mutation", "MutationError", "mutate"]

MUTATIONS = (
    "swap_activation",
    "swap_elementwise",
    "insert_activation",
    "remove_node",
    "replace_with_ancestor",
    "replace_with_combination",
)
# (op, bias_init): the activations a mutation may choose; ("linear", a) is Linear(a, x).
ACTIVATION_CHOICES: tuple[tuple[str, float | None], ...] = (
    ("tanh", None),
    ("sigmoid", None),
    ("relu", None),
    ("linear", 0.0),
    ("linear", 1.0),
    ("linear", 0.9),
    ("linear", 1.1),
)
_INNER = (OpKind.ACTIVATION, OpKind.ELEMENTWISE, OpKind.LINEAR)


class MutationError(EvoRnnError):
    """No valid child was found within the allowed attempts."""


@dataclasses.dataclass(frozen=True)
class Mutation:
    """One transformation applied to make a child: its kind, the node it targeted, what it did."""

    kind: str
    node: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def _kind(graph: nx.DiGraph, node: str) -> OpKind:
    return OPS[graph.nodes[node]["op"]].kind


def _is_activation(graph: nx.DiGraph, node: str) -> bool:
    return _kind(graph, node) in (OpKind.ACTIVATION, OpKind.LINEAR)


def _new_name(graph: nx.DiGraph, stem: str) -> str:
    index = 1
    while f"{stem}{index}" in graph:
        index += 1
    return f"{stem}{index}"


def _set_activation(graph: nx.DiGraph, node: str, choice: tuple[str, float | None]) -> None:
    op, bias = choice
    graph.nodes[node].clear()
    graph.nodes[node].update({"op": op, **({"bias_init": bias} if op == "linear" else {})})


def _describe(choice: tuple[str, float | None]) -> str:
    op, bias = choice
    if op != "linear":
        return op
    return "Linear(no bias)" if bias is None else f"Linear({bias:g})"


def _current(graph: nx.DiGraph, node: str) -> tuple[str, float | None]:
    data = graph.nodes[node]
    return (data["op"], data.get("bias_init")) if data["op"] == "linear" else (data["op"], None)


def _redirect(graph: nx.DiGraph, node: str, replacement: str) -> None:
    """Makes every consumer of `node` read `replacement` instead, then removes `node`."""
    for consumer in list(graph.successors(node)):
        attrs = dict(graph.edges[node, consumer])
        if graph.has_edge(replacement, consumer):
            raise InvalidCellError(f"{consumer!r} would read {replacement!r} twice", consumer)
        graph.add_edge(replacement, consumer, **attrs)
    graph.remove_node(node)


def _applicable(graph: nx.DiGraph, node: str) -> list[str]:
    kind = _kind(graph, node)
    if kind is OpKind.OUTPUT:
        return ["insert_activation"]
    if kind not in _INNER:
        return []  # sources (x, states, constants) are never mutated
    kinds = ["insert_activation", "remove_node", "replace_with_ancestor", "replace_with_combination"]
    if _is_activation(graph, node):
        kinds.append("swap_activation")
    if kind is OpKind.ELEMENTWISE:
        kinds.append("swap_elementwise")
    return kinds


def _apply(graph: nx.DiGraph, node: str, kind: str, rng: random.Random) -> str:
    """Applies one transformation to `graph` in place; returns what it did."""
    if kind == "swap_activation":
        choice = rng.choice([c for c in ACTIVATION_CHOICES if c != _current(graph, node)])
        before = _describe(_current(graph, node))
        _set_activation(graph, node, choice)
        return f"{before} -> {_describe(choice)}"
    if kind == "swap_elementwise":
        before = graph.nodes[node]["op"]
        after = rng.choice([op for op in ELEMENTWISE if op != before])
        graph.nodes[node]["op"] = after
        parents = sorted(graph.predecessors(node))
        rng.shuffle(parents)
        for index, parent in enumerate(parents):
            graph.edges[parent, node].pop("operand", None)
            if after in ORDERED_OPS:
                graph.edges[parent, node]["operand"] = index
        return f"{before} -> {after}" + (f" ({parents[0]} - {parents[1]})" if after in ORDERED_OPS else "")
    if kind == "insert_activation":
        parent = rng.choice(sorted(graph.predecessors(node)))
        choice = rng.choice(ACTIVATION_CHOICES)
        inserted = _new_name(graph, "m")
        attrs = dict(graph.edges[parent, node])
        graph.remove_edge(parent, node)
        graph.add_node(inserted)
        _set_activation(graph, inserted, choice)
        graph.add_edge(parent, inserted)
        graph.add_edge(inserted, node, **attrs)
        return f"{_describe(choice)} {inserted!r} between {parent!r} and {node!r}"
    if kind == "remove_node":
        parent = rng.choice(sorted(graph.predecessors(node)))
        _redirect(graph, node, parent)
        return f"consumers now read {parent!r}"
    if kind == "replace_with_ancestor":
        ancestor = rng.choice(sorted(nx.ancestors(graph, node)))
        _redirect(graph, node, ancestor)
        return f"replaced by ancestor {ancestor!r}"
    if kind == "replace_with_combination":
        other = rng.choice(sorted(n for n in graph if n != node and _kind(graph, n) is not OpKind.OUTPUT))
        first = rng.choice(sorted(nx.ancestors(graph, node)))
        second = rng.choice(sorted(nx.ancestors(graph, other) | {other}))
        op = rng.choice(ELEMENTWISE)
        combined = _new_name(graph, "m")
        graph.add_node(combined, op=op)
        for index, source in enumerate((first, second)):
            if graph.has_edge(source, combined):
                raise InvalidCellError(f"{combined!r} would read {source!r} twice", combined)
            graph.add_edge(source, combined, **({"operand": index} if op in ORDERED_OPS else {}))
        _redirect(graph, node, combined)
        return f"replaced by {op}({first!r}, {second!r}) as {combined!r}"
    raise ValueError(f"unknown mutation kind {kind!r}")  # a bug in this module, not bad input


def mutate(
    graph: nx.DiGraph, rng: random.Random, max_attempts: int = 100, max_rate: float = 1.0
) -> tuple[nx.DiGraph, list[Mutation]]:
    """A valid child of `graph`, different from it, and the transformations that made it.

    Args:
        graph: the parent cell (not modified).
        rng: the source of randomness; the same seed gives the same child.
        max_attempts: how many children to sample before giving up.
        max_rate: the per-node mutation probability p is drawn uniformly from [0, max_rate]
            (the paper: 1, about half the nodes of an LSTM mutate on average; smaller values
            make children with fewer mutations, which pass the filter far more often:
            `benchmarks/filter_pass_rate.py`).

    Raises:
        MutationError: no valid, different child in `max_attempts` samples.
    """
    validate(graph)
    for _ in range(max_attempts):
        child = graph.copy()
        applied: list[Mutation] = []
        p = rng.random() * max_rate
        try:
            for node in sorted(graph):
                if node not in child or rng.random() >= p:
                    continue
                kinds = _applicable(child, node)
                if not kinds:
                    continue
                kind = rng.choice(kinds)
                applied.append(Mutation(kind, node, _apply(child, node, kind, rng)))
            if not applied:
                continue
            child = prune(child)
            validate(child)
        except (InvalidCellError, nx.NetworkXError):
            continue
        if same_architecture(child, graph):
            continue
        child.graph.pop("name", None)
        return child, applied
    raise MutationError(
        f"no valid child of this cell in {max_attempts} attempts; the cell may be too small to mutate "
        "(try another parent or raise max_attempts)"
    )
