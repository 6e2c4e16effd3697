"""NAS-Bench-NLP cells (Klyuchnikov et al. 2020) in and out: their "recipes" as cell graphs.

A recipe is a dict of nodes `{name: {"op": ..., "input": [...]}}` over the inputs `x` and
`h_prev_0`, `h_prev_1`, ... (the previous values of the cell's states); node `h_new_i` is
the next value of state i, and `h_new_0` is the cell's output. Their ops, and what they
become here:

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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import networkx as nx

from evo_rnn.cell_graph import NODE_NAME, OUTPUT_STATE, output_nodes, prune, state_nodes, topological_order, validate
from evo_rnn.errors import EvoRnnError

__all__ = ["RecipeError", "from_recipe", "to_recipe"]

ACTIVATIONS = {"activation_tanh": "tanh", "activation_sigm": "sigmoid", "activation_leaky_relu": "leaky_relu"}
ELEMENTWISE = {"elementwise_sum": "add", "elementwise_prod": "mul"}
OPS = ("linear", *ACTIVATIONS, *ELEMENTWISE, "blend")
_PREV = re.compile(r"h_prev_(\d+)")
_NEW = re.compile(r"h_new_(\d+)")


class RecipeError(EvoRnnError):
    """A recipe that is malformed or cannot be represented as a cell graph (or a graph as a recipe)."""


def _state(index: int) -> str:
    return OUTPUT_STATE if index == 0 else f"s{index}"


def _check(recipe: Any) -> dict[str, tuple[str, list[str]]]:
    """The recipe's nodes as {name: (op, inputs)}, or a RecipeError naming the first problem."""
    if not isinstance(recipe, Mapping) or not recipe:
        raise RecipeError(f"a NAS-Bench-NLP recipe is a non-empty dict of nodes, got {type(recipe).__name__}")
    nodes: dict[str, tuple[str, list[str]]] = {}
    for name, spec in recipe.items():
        if not isinstance(name, str) or not NODE_NAME.fullmatch(name) or _PREV.fullmatch(name) or name == "x":
            raise RecipeError(f"recipe node {name!r}: not a usable node name (letters, digits, _ . -; not x or h_prev_i)")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("op"), str) or not isinstance(spec.get("input"), list):
            raise RecipeError(f"recipe node {name!r}: expected {{\"op\": str, \"input\": [names]}}, got {spec!r}")
        op, inputs = spec["op"], spec["input"]
        if op not in OPS:
            raise RecipeError(f"recipe node {name!r}: unknown op {op!r}; NAS-Bench-NLP's ops are {', '.join(OPS)}")
        if not inputs or not all(isinstance(i, str) for i in inputs):
            raise RecipeError(f"recipe node {name!r} ({op}): its input must be a non-empty list of node names")
        needed = {"blend": (3, 3), **{a: (1, 1) for a in ACTIVATIONS}, **{e: (2, None) for e in ELEMENTWISE}}.get(op)
        if needed and not (needed[0] <= len(inputs) <= (needed[1] or len(inputs))):
            raise RecipeError(f"recipe node {name!r} ({op}) takes {needed[0]}{'' if needed[1] else ' or more'} "
                              f"input(s), has {len(inputs)}")
        if op != "linear" and len(set(inputs)) < len(inputs):
            raise RecipeError(f"recipe node {name!r} ({op}) uses the same input twice ({inputs}): a cell graph has "
                              "one edge per pair of nodes, so this cannot be represented")
        nodes[name] = (op, inputs)
    outputs = sorted(int(m.group(1)) for m in map(_NEW.fullmatch, nodes) if m)
    if 0 not in outputs:
        raise RecipeError("the recipe has no node h_new_0 (the cell's output)")
    n_states = outputs[-1] + 1
    missing = sorted(set(range(n_states)) - set(outputs))
    if missing:
        raise RecipeError(f"the recipe has h_new_{n_states - 1} but no h_new_{missing[0]}: states are numbered from 0")
    for name, (op, inputs) in nodes.items():
        for source in inputs:
            prev = _PREV.fullmatch(source)
            if prev and int(prev.group(1)) >= n_states:
                raise RecipeError(f"recipe node {name!r} reads {source} but the recipe has no h_new_{prev.group(1)} "
                                  "giving its next value")
            if not prev and source != "x" and source not in nodes:
                raise RecipeError(f"recipe node {name!r} reads {source!r}, which is not a node of the recipe")
    return nodes


def from_recipe(recipe: Mapping[str, Any], name: str | None = None) -> nx.DiGraph:
    """The cell graph of a NAS-Bench-NLP recipe (see the module's docstring), validated.

    Raises:
        RecipeError: naming the node and why, for a malformed recipe or one that cannot be
            represented (the same input twice in an element-wise op, a cycle, ...).
    """
    nodes = _check(recipe)
    n_states = 1 + max(int(m.group(1)) for m in map(_NEW.fullmatch, nodes) if m)
    graph = nx.DiGraph()
    if name is not None:
        graph.graph["name"] = name
    graph.add_node("x", op="x")
    for index in range(n_states):
        graph.add_node(f"h_prev_{index}", op="state", state=_state(index))

    def node(node_name: str, op: str, parents: list[str], **attributes) -> str:
        if node_name in graph:
            raise RecipeError(f"recipe node {node_name!r}: the name is taken by a node its translation makes")
        graph.add_node(node_name, op=op, **attributes)
        for index, parent in enumerate(parents):
            graph.add_edge(parent, node_name, **({"operand": index} if op == "sub" else {}))
        return node_name

    def chain(base: str, op: str, terms: list[str]) -> None:
        total = terms[0]
        for index, term in enumerate(terms[1:], start=1):
            total = node(base if index == len(terms) - 1 else f"{base}.sum{index}", op, [total, term])

    for recipe_name, (op, inputs) in nodes.items():
        if op == "linear":
            if len(inputs) == 1:
                node(recipe_name, "linear", inputs, bias_init=0.0)
            else:
                chain(recipe_name, "add", [node(f"{recipe_name}.w{i}", "linear", [source], bias_init=0.0 if i == 0 else None)
                                           for i, source in enumerate(inputs)])
        elif op in ACTIVATIONS:
            node(recipe_name, ACTIVATIONS[op], inputs)
        elif op in ELEMENTWISE:
            chain(recipe_name, ELEMENTWISE[op], inputs)
        else:  # blend: z*a + (1-z)*b = b + z*(a - b)
            z, a, b = inputs
            if a == b:  # z*a + (1-z)*a is a
                raise RecipeError(f"recipe node {recipe_name!r} (blend) blends {a!r} with itself: that is just {a!r}; "
                                  "use it directly")
            gate = node(f"{recipe_name}.gate", "mul", [z, node(f"{recipe_name}.diff", "sub", [a, b])])
            node(recipe_name, "add", [b, gate])
    for index in range(n_states):
        node(f"h_new_{index}.out", "output", [f"h_new_{index}"], state=_state(index))
    graph = prune(graph)
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


def _terms(graph: nx.DiGraph, node: str, op: str, base: str | None = None) -> tuple[list[str], set[str]]:
    """The operands of a sum or product in name order (a graph keeps no order for them), with
    the partial sums `from_recipe` makes for it (`NAME.sum<i>`) flattened into it, and those."""
    base = base or node
    terms, inner = [], set()
    for parent in sorted(graph.predecessors(node), key=_natural):
        if _single_use(graph, parent, op) and parent.startswith(f"{base}.sum"):
            more, deeper = _terms(graph, parent, op, base)
            terms, inner = terms + more, inner | deeper | {parent}
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
            raise RecipeError(f"output node {out!r} (state {state!r}) passes {value!r} on unchanged, and a NAS-Bench-NLP "
                              f"h_new_{index} must be an op of its own")
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
