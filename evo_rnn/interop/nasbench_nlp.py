"""NAS-Bench-NLP cells (Klyuchnikov et al. 2020) in and out: their "recipes" as cell graphs.

A recipe is a dict of nodes `{name: {"op": ..., "input": [...]}}` over the inputs `x` and
`h_prev_0`, `h_prev_1`, ... (the previous values of the cell's states); node `h_new_i` is
the next value of state i, and `h_new_0` is the cell's output. As in NAS-Bench-NLP's own
cell (`CustomRNNCell` in fmsnew/nas-bench-nlp-release, `custom_rnn.py`), the nodes of one
step are computed in the order of their inputs, whatever the order of the dict's keys, so a
node reading `h_new_i` reads the value state i takes in the same step (`h_prev_i` is the
one it had before); the graph says the same: the node `h_new_i` feeds both its output node
and the nodes that read it. Their ops, and what they become here:

- `linear` (any number of inputs): one weight matrix per input, summed, one bias -> one
  `linear` node per input (`NAME.w0`, `NAME.w1`, ...; the first has the bias), summed by
  `add` nodes (`NAME.sum1`, ...; the last is `NAME`);
- `activation_tanh`, `activation_sigm`, `activation_leaky_relu` -> `tanh`, `sigmoid`,
  `leaky_relu` (slope 0.01, PyTorch's default, which NAS-Bench-NLP uses);
- `elementwise_sum`, `elementwise_prod` (over all inputs) -> chains of `add` / `mul`;
- `blend` (inputs z, a, b: z*a + (1-z)*b) -> b + z*(a - b): `NAME.diff` (sub),
  `NAME.gate` (mul) and `NAME` (add).

States: `h_prev_0`/`h_new_0` is state `h` (the output), `h_prev_i` state `s<i>`; output
nodes are `h_new_<i>.out`. Nodes the output never depends on (a state computed but never
read) are pruned: NAS-Bench-NLP computes them, but they change nothing. `to_recipe` inverts
`from_recipe` (a sum of single-use linears becomes one multi-input linear again, the blend
pattern a blend), so every recipe comes back as it was, less its dead nodes.

A recipe is refused with a `RecipeError` naming the node when it is malformed, has a cycle,
numbers a state beyond its own size (a recipe of n nodes has at most n states), or makes a
cell larger than a cell file holds (`evo_rnn.cells.file_format.MAX_NODES`, `MAX_EDGES`).
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from typing import Any

import networkx as nx

from evo_rnn.cells.file_format import MAX_EDGES, MAX_NODES
from evo_rnn.cells.graph import NODE_NAME, OUTPUT_STATE, output_nodes, prune, state_nodes, topological_order, validate
from evo_rnn.core.errors import EvoRnnError

__all__ = ["RecipeError", "from_recipe", "to_recipe"]

ACTIVATIONS = {"activation_tanh": "tanh", "activation_sigm": "sigmoid", "activation_leaky_relu": "leaky_relu"}
ELEMENTWISE = {"elementwise_sum": "add", "elementwise_prod": "mul"}
OPS = ("linear", *ACTIVATIONS, *ELEMENTWISE, "blend")
_PREV = re.compile(r"h_prev_([0-9]+)")
_NEW = re.compile(r"h_new_([0-9]+)")
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80  # a node name is at most 64 characters; anything longer is cut in messages


class RecipeError(EvoRnnError):
    """A recipe that is malformed or cannot be represented as a cell graph (or a graph as a recipe)."""


def _state(index: int) -> str:
    return OUTPUT_STATE if index == 0 else f"s{index}"


def _short(value: Any) -> str:
    """`repr(value)`, cut to a line (recipes come from files, and their strings can be of any length)."""
    return _SHORT.repr(value)


def _state_index(match: re.Match, where: str, limit: int) -> int | None:
    """The state index of a matched `h_new_<i>` / `h_prev_<i>`, None when it is `limit` or more
    (found without turning a long digit string into a number, or a number into a range).

    Raises:
        RecipeError: starting with `where`, for an index written with leading zeros.
    """
    digits = match.group(1)
    if len(digits) > 1 and digits[0] == "0":
        canonical = match.group(0)[: match.start(1)] + (digits.lstrip("0") or "0")
        raise RecipeError(
            f"{where}: state indices are written without leading zeros "
            f"({_short(canonical)}, not {_short(match.group(0))})"
        )
    if len(digits) > len(str(limit)) or int(digits) >= limit:
        return None
    return int(digits)


def _check(recipe: Any) -> tuple[dict[str, tuple[str, list[str]]], int]:
    """The recipe's nodes as {name: (op, inputs)} and its number of states, or a RecipeError
    naming the first problem."""
    if not isinstance(recipe, Mapping) or not recipe:
        raise RecipeError(f"a NAS-Bench-NLP recipe is a non-empty dict of nodes, got {type(recipe).__name__}")
    if len(recipe) > MAX_NODES:
        raise RecipeError(
            f"the recipe has {len(recipe)} nodes, over the limit of {MAX_NODES} that a cell file holds "
            "(evo_rnn.cells.file_format.MAX_NODES); import a smaller cell"
        )
    nodes: dict[str, tuple[str, list[str]]] = {}
    n_inputs = 0
    for name, spec in recipe.items():
        if not isinstance(name, str) or not NODE_NAME.fullmatch(name) or _PREV.fullmatch(name) or name == "x":
            raise RecipeError(
                f"recipe node {_short(name)}: not a usable node name "
                "(letters, digits, _ . -, at most 64; not x or h_prev_i)"
            )
        if (
            not isinstance(spec, Mapping)
            or not isinstance(spec.get("op"), str)
            or not isinstance(spec.get("input"), list)
        ):
            raise RecipeError(f'recipe node {name!r}: expected {{"op": str, "input": [names]}}, got {_short(spec)}')
        op, inputs = spec["op"], spec["input"]
        if op not in OPS:
            raise RecipeError(
                f"recipe node {name!r}: unknown op {_short(op)}; NAS-Bench-NLP's ops are {', '.join(OPS)}"
            )
        n_inputs += len(inputs)
        if n_inputs > MAX_EDGES:
            raise RecipeError(
                f"recipe node {name!r}: the recipe's nodes have over {MAX_EDGES} inputs in all, more "
                "edges than a cell file holds (evo_rnn.cells.file_format.MAX_EDGES); import a smaller cell"
            )
        if not inputs or not all(isinstance(i, str) for i in inputs):
            raise RecipeError(f"recipe node {name!r} ({op}): its input must be a non-empty list of node names")
        arity = {"blend": (3, 3), **dict.fromkeys(ACTIVATIONS, (1, 1)), **dict.fromkeys(ELEMENTWISE, (2, None))}
        needed = arity.get(op)
        if needed and not (needed[0] <= len(inputs) <= (needed[1] or len(inputs))):
            raise RecipeError(
                f"recipe node {name!r} ({op}) takes {needed[0]}{'' if needed[1] else ' or more'} "
                f"input(s), has {len(inputs)}"
            )
        if op != "linear" and len(set(inputs)) < len(inputs):
            raise RecipeError(
                f"recipe node {name!r} ({op}) uses the same input twice ({_short(inputs)}): a cell graph "
                "has one edge per pair of nodes, so this cannot be represented"
            )
        nodes[name] = (op, inputs)
    outputs = set()
    for name in nodes:
        if match := _NEW.fullmatch(name):
            index = _state_index(match, f"recipe node {name!r}", len(nodes))
            if index is None:  # a recipe has at most one state per node
                raise RecipeError(
                    f"recipe node {name!r}: the state index is out of range, as a recipe of {len(nodes)} "
                    f"node(s) has at most {len(nodes)} state(s); number the states from 0 "
                    "(h_new_0, h_new_1, ...)"
                )
            outputs.add(index)
    if 0 not in outputs:
        raise RecipeError("the recipe has no node h_new_0 (the cell's output)")
    n_states = max(outputs) + 1
    missing = sorted(set(range(n_states)) - outputs)  # n_states <= len(nodes) <= MAX_NODES
    if missing:
        raise RecipeError(f"the recipe has h_new_{n_states - 1} but no h_new_{missing[0]}: states are numbered from 0")
    for name, (_op, inputs) in nodes.items():
        for source in inputs:
            prev = _PREV.fullmatch(source)
            if prev and _state_index(prev, f"recipe node {name!r} reads {_short(source)}", n_states) is None:
                raise RecipeError(
                    f"recipe node {name!r} reads {_short(source)} but the recipe has no "
                    f"{_short(source.replace('h_prev_', 'h_new_', 1))} giving its next value"
                )
            if not prev and source != "x" and source not in nodes:
                raise RecipeError(f"recipe node {name!r} reads {_short(source)}, which is not a node of the recipe")
    return nodes, n_states


def _computation_order(nodes: Mapping[str, tuple[str, list[str]]]) -> list[str]:
    """The recipe's nodes in the order NAS-Bench-NLP computes them within a step: each after
    the nodes it reads (a topological order, ties broken by name), never the dict's order.

    Raises:
        RecipeError: naming a cycle among the nodes.
    """
    reads = nx.DiGraph()
    reads.add_nodes_from(nodes)
    reads.add_edges_from((source, name) for name, (_, inputs) in nodes.items() for source in inputs if source in nodes)
    try:
        return list(nx.lexicographical_topological_sort(reads))
    except nx.NetworkXUnfeasible:
        cycle = [source for source, _ in nx.find_cycle(reads)]
        raise RecipeError(
            f"recipe nodes {' -> '.join(cycle + cycle[:1])} form a cycle; within a step a node can read "
            "only nodes computed before it, and a state's previous value as h_prev_i"
        ) from None


def from_recipe(recipe: Mapping[str, Any], name: str | None = None) -> nx.DiGraph:
    """The cell graph of a NAS-Bench-NLP recipe (see the module's docstring), validated.

    The result does not depend on the order of the recipe's keys: nodes are translated in
    the order of their inputs, as NAS-Bench-NLP computes them.

    Raises:
        RecipeError: naming the node and why, for a malformed recipe or one that cannot be
            represented (the same input twice in an element-wise op, a cycle, a state index
            beyond the recipe's size, a cell over the cell file's limits, ...).
    """
    nodes, n_states = _check(recipe)
    graph = nx.DiGraph()
    if name is not None:
        graph.graph["name"] = name
    graph.add_node("x", op="x")
    for index in range(n_states):
        graph.add_node(f"h_prev_{index}", op="state", state=_state(index))

    def node(node_name: str, op: str, parents: list[str], **attributes) -> str:
        if node_name in graph:
            raise RecipeError(
                f"recipe node names clash at {node_name!r}: the translation of a recipe node makes a "
                "node of that name (NAME.w<i>, NAME.sum<i>, NAME.diff, NAME.gate, h_new_<i>.out); "
                "rename it"
            )
        graph.add_node(node_name, op=op, **attributes)
        for index, parent in enumerate(parents):  # every parent is in the graph: nodes come in computation order
            graph.add_edge(parent, node_name, **({"operand": index} if op == "sub" else {}))
        return node_name

    def chain(base: str, op: str, terms: list[str]) -> None:
        total = terms[0]
        for index, term in enumerate(terms[1:], start=1):
            total = node(base if index == len(terms) - 1 else f"{base}.sum{index}", op, [total, term])

    for recipe_name in _computation_order(nodes):
        op, inputs = nodes[recipe_name]
        if op == "linear":
            if len(inputs) == 1:
                node(recipe_name, "linear", inputs, bias_init=0.0)
            else:
                chain(
                    recipe_name,
                    "add",
                    [
                        node(f"{recipe_name}.w{i}", "linear", [source], bias_init=0.0 if i == 0 else None)
                        for i, source in enumerate(inputs)
                    ],
                )
        elif op in ACTIVATIONS:
            node(recipe_name, ACTIVATIONS[op], inputs)
        elif op in ELEMENTWISE:
            chain(recipe_name, ELEMENTWISE[op], inputs)
        else:  # blend: z*a + (1-z)*b = b + z*(a - b)
            z, a, b = inputs
            if a == b:  # z*a + (1-z)*a is a
                raise RecipeError(
                    f"recipe node {recipe_name!r} (blend) blends {a!r} with itself: that is just {a!r}; use it directly"
                )
            gate = node(f"{recipe_name}.gate", "mul", [z, node(f"{recipe_name}.diff", "sub", [a, b])])
            node(recipe_name, "add", [b, gate])
    for index in range(n_states):
        node(f"h_new_{index}.out", "output", [f"h_new_{index}"], state=_state(index))
    graph = prune(graph)
    if graph.number_of_nodes() > MAX_NODES or graph.number_of_edges() > MAX_EDGES:
        raise RecipeError(
            f"the recipe makes a cell of {graph.number_of_nodes()} nodes and {graph.number_of_edges()} "
            f"edges, over the limits of {MAX_NODES} and {MAX_EDGES} that a cell file holds; "
            "import a smaller cell"
        )
    try:
        validate(graph)
    except EvoRnnError as error:
        raise RecipeError(f"the recipe does not make a valid cell: {error}") from error
    return graph


# --------------------------------------------------------------------------- out


def _single_use(graph: nx.DiGraph, node: str, op: str) -> bool:
    return graph.nodes[node]["op"] == op and graph.out_degree(node) == 1


def _natural(name: str) -> list:
    """A sort key that puts `f.w2` before `f.w10`."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def _terms(graph: nx.DiGraph, node: str, op: str) -> tuple[list[str], set[str]]:
    """The operands of a sum or product in name order (a graph keeps no order for them), with
    the partial sums `from_recipe` makes for it (`NAME.sum<i>`) flattened into it, and those.

    Walks the partial sums with a stack, not recursion: a chain can be as long as a cell."""
    terms, inner = [], set()
    pending = sorted(graph.predecessors(node), key=_natural, reverse=True)  # the next operand last
    while pending:
        parent = pending.pop()
        if _single_use(graph, parent, op) and parent.startswith(f"{node}.sum"):
            inner.add(parent)
            pending += sorted(graph.predecessors(parent), key=_natural, reverse=True)  # its operands in its place
        else:
            terms.append(parent)
    return terms, inner


def _blend(graph: nx.DiGraph, node: str) -> tuple[list[str], set[str]] | None:
    """([z, a, b], its inner nodes) when `node` computes b + z*(a - b) through single-use nodes, else None."""
    if graph.nodes[node]["op"] != "add":
        return None
    for gate in graph.predecessors(node):
        others = [p for p in graph.predecessors(node) if p != gate]
        if len(others) != 1 or not _single_use(graph, gate, "mul"):
            continue
        for diff in graph.predecessors(gate):
            if not _single_use(graph, diff, "sub"):
                continue
            operands = {graph.edges[p, diff]["operand"]: p for p in graph.predecessors(diff)}
            (z,) = [p for p in graph.predecessors(gate) if p != diff]
            if operands[1] == others[0]:
                return [z, operands[0], others[0]], {gate, diff}
    return None


def to_recipe(graph: nx.DiGraph) -> dict[str, dict[str, Any]]:
    """The NAS-Bench-NLP recipe of a cell graph (the inverse of `from_recipe`).

    State `h` becomes `h_prev_0`/`h_new_0`, the others `h_prev_1`, ... in name order. A
    `linear` node becomes a linear (NAS-Bench-NLP's always has a bias); an `add` of
    single-use linears one multi-input linear; `b + z*(a - b)` a blend; `identity` nodes
    disappear.

    Raises:
        RecipeError: naming the node and why, for ops NAS-Bench-NLP does not have (`relu`,
            `const`, `sub` outside a blend) or an output that is not an op of its own.
    """
    validate(graph)
    reads = state_nodes(graph)
    states = sorted(reads, key=lambda s: (s != OUTPUT_STATE, s))
    names = {reads[state]: f"h_prev_{index}" for index, state in enumerate(states)}
    names[next(n for n, op in graph.nodes(data="op") if op == "x")] = "x"

    def source(node: str) -> str:
        while graph.nodes[node]["op"] == "identity":
            (node,) = graph.predecessors(node)
        return node

    for index, state in enumerate(states):
        out = output_nodes(graph)[state]
        value = source(next(iter(graph.predecessors(out))))
        if value in names:
            raise RecipeError(
                f"output node {out!r} (state {state!r}) passes {value!r} on unchanged, and a NAS-Bench-NLP "
                f"h_new_{index} must be an op of its own"
            )
        names[value] = f"h_new_{index}"

    def recipe_name(node: str) -> str:
        if node in names:
            return names[node]
        reserved = node == "x" or _PREV.fullmatch(node) or _NEW.fullmatch(node)
        return f"node_{node}" if reserved else node

    recipe: dict[str, dict[str, Any]] = {}
    absorbed: set[str] = set()  # nodes folded into the node that uses them (linears, inner sums, blend parts)
    for node in reversed(topological_order(graph)):  # users before what they use
        op = graph.nodes[node]["op"]
        if op in ("x", "state", "output", "identity") or node in absorbed:
            continue
        blend = _blend(graph, node)
        if blend is not None:
            recipe_op, (inputs, inner) = "blend", blend
            absorbed |= inner
        elif op in ("add", "mul"):
            inputs, inner = _terms(graph, node, op)
            absorbed |= inner
            if op == "add" and all(_single_use(graph, t, "linear") for t in inputs):
                absorbed |= set(inputs)
                inputs = sorted(inputs, key=lambda t: graph.nodes[t]["bias_init"] is None)  # the biased one first
                recipe_op, inputs = "linear", [next(iter(graph.predecessors(t))) for t in inputs]
            else:
                recipe_op = "elementwise_sum" if op == "add" else "elementwise_prod"
        elif op == "linear":
            recipe_op, inputs = "linear", list(graph.predecessors(node))
        elif op in ACTIVATIONS.values():
            recipe_op, inputs = {v: k for k, v in ACTIVATIONS.items()}[op], list(graph.predecessors(node))
        else:
            raise RecipeError(f"node {node!r} ({op}): NAS-Bench-NLP has no such op (it has {', '.join(OPS)})")
        recipe[recipe_name(node)] = {"op": recipe_op, "input": [recipe_name(source(i)) for i in inputs]}
    return dict(reversed(recipe.items()))
