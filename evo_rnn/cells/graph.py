"""Cell graphs: the rules a cell obeys (`validate`), dead-node pruning and a builder.

A cell is a `networkx.DiGraph` whose nodes each carry an `op` from `evo_rnn.cells.ops.OPS`:

* one `x` node, the input at step t;
* per recurrent state `s` one `state` node (attribute `state="s"`) reading its previous
  value and one `output` node (attribute `state="s"`) producing its next value; state
  `h` is mandatory and its next value is the cell's output;
* `const` nodes (attribute `value`, a float) broadcast to the cell width;
* `linear` nodes, W·a + b with weights of their own (attribute `bias_init`: the float
  the bias starts at, or None for no bias);
* activations (`tanh`, `sigmoid`, `relu`, `leaky_relu`, `identity`) and element-wise `add`, `mul`,
  `sub`; the two in-edges of a `sub` node carry `operand=0` (minuend) and `operand=1`
  (subtrahend).

Every vector in the cell has the cell's width; only a `linear` node fed by `x` changes
width.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable

import networkx as nx

from evo_rnn.cells.ops import OPS, ORDERED_OPS, OpKind, op_spec
from evo_rnn.core.errors import InvalidCellError

__all__ = [
    "OUTPUT_STATE",
    "CellBuilder",
    "input_node",
    "output_nodes",
    "parameter_count",
    "prune",
    "reads_x_directly",
    "state_names",
    "state_nodes",
    "topological_order",
    "validate",
]

OUTPUT_STATE = "h"  # the state whose next value is the cell's output
NODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
STATE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")


def _nodes_with(graph: nx.DiGraph, kind: OpKind) -> list[str]:
    return sorted(n for n, op in graph.nodes(data="op") if op_spec(op) and OPS[op].kind is kind)


def input_node(graph: nx.DiGraph) -> str:
    """Returns the name of the cell's `x` node."""
    return _nodes_with(graph, OpKind.INPUT)[0]


def state_nodes(graph: nx.DiGraph) -> dict[str, str]:
    """Maps each state name to the node reading its previous value."""
    return {graph.nodes[n]["state"]: n for n in _nodes_with(graph, OpKind.STATE)}


def output_nodes(graph: nx.DiGraph) -> dict[str, str]:
    """Maps each state name to the node producing its next value."""
    return {graph.nodes[n]["state"]: n for n in _nodes_with(graph, OpKind.OUTPUT)}


def state_names(graph: nx.DiGraph) -> list[str]:
    """The cell's states in their canonical order: `h` first, then the others sorted.

    This is the order of `GraphCell.state_size` and of the states a Keras RNN returns
    (for the zoo LSTM: `[h, c]`, as `keras.layers.LSTM`).
    """
    names = set(output_nodes(graph)) | set(state_nodes(graph))
    return sorted(names, key=lambda s: (s != OUTPUT_STATE, s))


def topological_order(graph: nx.DiGraph) -> list[str]:
    """A deterministic topological order (ties broken by node name)."""
    return list(nx.lexicographical_topological_sort(graph))


def reads_x_directly(graph: nx.DiGraph) -> bool:
    """True when some node other than a `linear` consumes `x` (input width must equal units)."""
    x = input_node(graph)
    return any(graph.nodes[s]["op"] != "linear" for s in graph.successors(x))


def parameter_count(graph: nx.DiGraph, units: int, input_dim: int) -> int:
    """The number of trainable weights of the cell at `units` wide with `input_dim` inputs."""
    x = input_node(graph)
    total = 0
    for node, data in graph.nodes(data=True):
        if data["op"] != "linear":
            continue
        (source,) = graph.predecessors(node)
        total += (input_dim if source == x else units) * units
        total += units if data["bias_init"] is not None else 0
    return total


# --------------------------------------------------------------------------- validation


def _check_number(node: str, key: str, value: object, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    too_large = isinstance(value, int) and abs(value) > sys.float_info.max  # math.isfinite would overflow
    if isinstance(value, bool) or not isinstance(value, (int, float)) or too_large or not math.isfinite(value):
        expected = "a finite float or None" if allow_none else "a finite float"
        got = f"an integer of {len(str(abs(value)))} digits" if too_large else repr(value)
        raise InvalidCellError(f"node {node!r}: attribute {key!r} must be {expected}, got {got}", node)


def _check_node(node: object, data: dict) -> None:
    if not isinstance(node, str) or not NODE_NAME.fullmatch(node):
        raise InvalidCellError(
            f"node {node!r}: node names must be strings of letters, digits, '_', '.', '-' "
            "starting with a letter or '_' (at most 64 characters)",
            str(node),
        )
    op = data.get("op")
    spec = op_spec(op)
    if spec is None:
        raise InvalidCellError(f"node {node!r}: unknown op {op!r}; known ops: {', '.join(OPS)}", node)
    extra = sorted(set(data) - {"op", *spec.attributes})
    if extra:
        raise InvalidCellError(
            f"node {node!r} (op {op!r}): unexpected attribute(s) {extra}; "
            f"this op takes {list(spec.attributes) or 'none'}",
            node,
        )
    for key in spec.attributes:
        if key not in data:
            raise InvalidCellError(f"node {node!r} (op {op!r}): missing attribute {key!r}", node)
    if op == "linear":
        _check_number(node, "bias_init", data["bias_init"], allow_none=True)
    elif op == "const":
        _check_number(node, "value", data["value"], allow_none=False)
    elif spec.kind in (OpKind.STATE, OpKind.OUTPUT):
        state = data["state"]
        if not isinstance(state, str) or not STATE_NAME.fullmatch(state):
            raise InvalidCellError(
                f"node {node!r}: state names are identifiers of at most 32 characters, got {state!r}",
                node,
            )


def _check_edges(graph: nx.DiGraph) -> None:
    for node in graph:
        op = graph.nodes[node]["op"]
        spec = OPS[op]
        parents = sorted(graph.predecessors(node))
        if len(parents) != spec.arity:
            what = "no inputs (it is a source)" if spec.arity == 0 else f"exactly {spec.arity} input(s)"
            raise InvalidCellError(f"node {node!r} (op {op!r}) takes {what}, has {len(parents)}: {parents}", node)
        if spec.kind is OpKind.OUTPUT and graph.out_degree(node):
            raise InvalidCellError(
                f"output node {node!r} feeds {sorted(graph.successors(node))}; "
                "take the value from the node before it instead",
                node,
            )
        for parent in parents:
            attrs = graph.edges[parent, node]
            extra = sorted(set(attrs) - {"operand"})
            if extra:
                raise InvalidCellError(f"edge {parent!r} -> {node!r}: unexpected attribute(s) {extra}", node)
            if "operand" in attrs and op not in ORDERED_OPS:
                raise InvalidCellError(
                    f"edge {parent!r} -> {node!r} carries `operand`, which only edges into "
                    f"{sorted(ORDERED_OPS)} nodes take",
                    node,
                )
        if op in ORDERED_OPS:
            operands = sorted(graph.edges[p, node].get("operand", -1) for p in parents)
            if operands != [0, 1] or any(isinstance(o, bool) for o in operands):
                raise InvalidCellError(
                    f"node {node!r} (op {op!r}): its two in-edges must carry operand=0 (left) "
                    f"and operand=1 (right), got {operands}",
                    node,
                )


def _check_states(graph: nx.DiGraph) -> None:
    inputs = _nodes_with(graph, OpKind.INPUT)
    if len(inputs) != 1:
        raise InvalidCellError(f"a cell has exactly one 'x' node, this one has {len(inputs)}: {inputs}")
    for kind, word in ((OpKind.STATE, "state"), (OpKind.OUTPUT, "output")):
        seen: dict[str, str] = {}
        for node in _nodes_with(graph, kind):
            state = graph.nodes[node]["state"]
            if state in seen:
                raise InvalidCellError(
                    f"nodes {seen[state]!r} and {node!r} are both the {word} node of state {state!r}", node
                )
            seen[state] = node
    reads, outputs = state_nodes(graph), output_nodes(graph)
    if OUTPUT_STATE not in outputs:
        raise InvalidCellError(f"the cell has no output node for state {OUTPUT_STATE!r} (its output)")
    for state in sorted(set(reads) | set(outputs)):
        if state not in outputs:
            raise InvalidCellError(
                f"state {state!r} is read by node {reads[state]!r} but no output node gives its next value",
                reads[state],
            )
        if state not in reads:
            raise InvalidCellError(
                f"state {state!r} has output node {outputs[state]!r} but no state node reading it",
                outputs[state],
            )


def _live_nodes(graph: nx.DiGraph) -> set[str]:
    """Nodes on which the cell's output depends, now or through later steps."""
    reads, outputs = state_nodes(graph), output_nodes(graph)
    live: set[str] = set()
    live_states, frontier = {OUTPUT_STATE}, [OUTPUT_STATE]
    while frontier:
        state = frontier.pop()
        if state not in outputs:
            continue
        needed = nx.ancestors(graph, outputs[state]) | {outputs[state]}
        if state in reads:
            needed.add(reads[state])
        live |= needed
        for node in needed:
            other = graph.nodes[node].get("state")
            if graph.nodes[node]["op"] == "state" and other not in live_states:
                live_states.add(other)
                frontier.append(other)
    return live


def validate(graph: nx.DiGraph) -> None:
    """Checks every rule of the cell format.

    Args:
        graph: the cell.

    Raises:
        InvalidCellError: naming the offending node and the problem: unknown ops, bad
            attributes, wrong arity, unpaired or missing states, cycles, dead (dangling)
            nodes, outputs that depend on constants alone, a cell that never reads `x`
            or never reads its previous state.
    """
    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        raise InvalidCellError(
            f"a cell is a networkx.DiGraph (directed, no parallel edges), got {type(graph).__name__}"
        )
    if graph.number_of_nodes() == 0:
        raise InvalidCellError("the cell has no nodes")
    for node, data in graph.nodes(data=True):
        _check_node(node, data)
    _check_states(graph)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
        raise InvalidCellError(
            f"the cell has a cycle {path}; recurrence goes through state/output nodes, not edges",
            cycle[0][0],
        )
    _check_edges(graph)
    for node in topological_order(graph):
        if graph.nodes[node]["op"] == "linear":
            (source,) = graph.predecessors(node)
            if graph.nodes[source]["op"] == "const":
                raise InvalidCellError(
                    f"linear node {node!r} is fed by const {source!r}: that is just a bias; "
                    "use the linear's bias_init instead",
                    node,
                )
    live = _live_nodes(graph)
    x = input_node(graph)
    if x not in live:
        raise InvalidCellError(f"the cell never reads its input: no path leads from {x!r} to the output", x)
    for node in sorted(graph):
        if node not in live:
            raise InvalidCellError(
                f"node {node!r} is dead: the cell's output never depends on it; "
                "remove it or call evo_rnn.cells.graph.prune(graph)",
                node,
            )
    variable = {x, *state_nodes(graph).values()}
    for state, out in sorted(output_nodes(graph).items()):
        if not (nx.ancestors(graph, out) & variable):
            raise InvalidCellError(
                f"output node {out!r} (state {state!r}) depends on constants only, not on x or any state",
                out,
            )
    if not any(graph.out_degree(n) for n in state_nodes(graph).values()):
        raise InvalidCellError(
            "the cell never reads its previous state, so it is not recurrent: connect a state node to the computation"
        )


def prune(graph: nx.DiGraph) -> nx.DiGraph:
    """Returns a copy of `graph` without its dead nodes (nothing the output depends on).

    A state whose value never reaches the output is removed with its state and output
    nodes. The `x` node is always kept. `graph` itself is not changed.
    """
    live = _live_nodes(graph)
    live |= {n for n, op in graph.nodes(data="op") if op == "x"}
    return graph.subgraph(n for n in graph if n in live).copy()


# --------------------------------------------------------------------------- builder


class CellBuilder:
    """Builds a cell graph in a few readable lines, the way the paper writes equations.

    Each method adds one node and returns its name, so calls nest like the equations:

        b = CellBuilder("tanh")
        pre = b.add("pre", b.linear("W_xh", "x", bias_init=0.0), b.linear("W_hh", "h"))
        b.output("h", b.activation("tanh", "h_new", pre))
        graph = b.build()

    Args:
        name: the cell's name (stored as graph attribute `name`; not part of its identity).
        states: the recurrent states; `h` (the output) is always one of them. State node
            names equal the state names; output nodes are named `<state>_next`.
    """

    def __init__(self, name: str | None = None, states: Iterable[str] = (OUTPUT_STATE,)):
        self._graph = nx.DiGraph()
        if name is not None:
            self._graph.graph["name"] = name
        self._graph.add_node("x", op="x")
        for state in dict.fromkeys([OUTPUT_STATE, *states]):
            self._graph.add_node(state, op="state", state=state)

    def _node(self, name: str, op: str, parents: Iterable[str] = (), **attributes) -> str:
        if name in self._graph:
            raise InvalidCellError(f"node {name!r} already exists in this cell", name)
        parents = list(parents)
        for parent in parents:
            if parent not in self._graph:
                raise InvalidCellError(f"node {name!r}: its input {parent!r} does not exist yet", name)
        self._graph.add_node(name, op=op, **attributes)
        ordered = op in ORDERED_OPS
        for index, parent in enumerate(parents):
            self._graph.add_edge(parent, name, **({"operand": index} if ordered else {}))
        return name

    def const(self, name: str, value: float) -> str:
        """A fixed scalar broadcast to the cell width."""
        return self._node(name, "const", value=float(value))

    def linear(self, name: str, source: str, bias_init: float | None = None) -> str:
        """W·source (+ b, when `bias_init` is a float, the value b starts at)."""
        bias = None if bias_init is None else float(bias_init)
        return self._node(name, "linear", [source], bias_init=bias)

    def activation(self, op: str, name: str, source: str) -> str:
        """op(source) for op in tanh, sigmoid, relu, leaky_relu, identity."""
        return self._node(name, op, [source])

    def add(self, name: str, a: str, b: str) -> str:
        """a + b."""
        return self._node(name, "add", [a, b])

    def mul(self, name: str, a: str, b: str) -> str:
        """a * b (element-wise)."""
        return self._node(name, "mul", [a, b])

    def sub(self, name: str, a: str, b: str) -> str:
        """a - b."""
        return self._node(name, "sub", [a, b])

    def output(self, state: str, source: str) -> str:
        """Declares `source` as the next value of `state`."""
        return self._node(f"{state}_next", "output", [source], state=state)

    def build(self) -> nx.DiGraph:
        """Returns the finished cell (a copy), validated."""
        graph = self._graph.copy()
        validate(graph)
        return graph
