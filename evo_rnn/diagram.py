"""Cell diagrams: a `pydot.Dot` for a cell graph, and writing it as PNG, SVG or DOT."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import networkx as nx
import pydot

from evo_rnn.cell_graph import topological_order, validate
from evo_rnn.errors import GraphvizNotFoundError, UnknownNameError
from evo_rnn.ops import OPS, ORDERED_OPS, OpKind

__all__ = ["to_dot", "write_diagram", "FORMATS", "GRAPHVIZ_HINT"]

FORMATS = ("png", "svg", "dot")
GRAPHVIZ_HINT = (
    "rendering PNG/SVG needs Graphviz's `dot` program, which is not installed: install it with "
    "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
    "`conda install graphviz`, or write a .dot file instead"
)

_STYLE: dict[OpKind, dict[str, str]] = {
    OpKind.INPUT: {"shape": "invhouse", "style": "filled", "fillcolor": "#ffe08a"},
    OpKind.STATE: {"shape": "invhouse", "style": "filled", "fillcolor": "#9ecbff"},
    OpKind.CONST: {"shape": "plaintext"},
    OpKind.LINEAR: {"shape": "box", "style": "rounded,filled", "fillcolor": "#e8e8e8"},
    OpKind.ACTIVATION: {"shape": "ellipse"},
    OpKind.ELEMENTWISE: {"shape": "circle", "width": "0.4", "fixedsize": "true"},
    OpKind.OUTPUT: {"shape": "house", "style": "filled,bold", "fillcolor": "#9ecbff"},
}


def _label(node: str, data: dict) -> str:
    op = data["op"]
    spec = OPS[op]
    if spec.kind is OpKind.STATE:
        return f"{data['state']}[t-1]"
    if spec.kind is OpKind.OUTPUT:
        return f"{data['state']}[t]"
    if op == "const":
        return f"{data['value']:g}"
    if op == "linear":
        bias = data["bias_init"]
        return node if bias is None else f"{node}\\n+b (init {bias:g})"
    return spec.symbol


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def to_dot(graph: nx.DiGraph, title: str | None = None) -> pydot.Dot:
    """Returns the diagram of a cell as a `pydot.Dot` (nothing is written).

    Linear nodes show their names (and bias init), activations and element-wise ops
    their symbols, state reads (`h[t-1]`) and outputs (`h[t]`) are filled blue, `x[t]`
    yellow, and the two in-edges of a `sub` node are labelled `+` and `−`.

    Args:
        graph: a valid cell.
        title: the diagram's caption; defaults to the cell's name.
    """
    validate(graph)
    title = title if title is not None else graph.graph.get("name", "")
    dot = pydot.Dot(graph_type="digraph", rankdir="TB", fontname="Helvetica", label=_quote(title), labelloc="t")
    dot.set_node_defaults(fontname="Helvetica", fontsize="11")
    dot.set_edge_defaults(arrowsize="0.7")
    sources = pydot.Subgraph(rank="source")
    sinks = pydot.Subgraph(rank="sink")
    for node in topological_order(graph):
        data = graph.nodes[node]
        kind = OPS[data["op"]].kind
        item = pydot.Node(_quote(node), label=_quote(_label(node, data)), tooltip=_quote(node), **_STYLE[kind])
        target = {OpKind.INPUT: sources, OpKind.STATE: sources, OpKind.OUTPUT: sinks}.get(kind, dot)
        target.add_node(item)
    dot.add_subgraph(sources)
    dot.add_subgraph(sinks)
    for source, target in sorted(graph.edges):
        attrs = {}
        if graph.nodes[target]["op"] in ORDERED_OPS:
            attrs["label"] = _quote("+" if graph.edges[source, target]["operand"] == 0 else "−")
        dot.add_edge(pydot.Edge(_quote(source), _quote(target), **attrs))
    return dot


def write_diagram(graph: nx.DiGraph, path: str | os.PathLike, title: str | None = None) -> Path:
    """Writes a cell's diagram; the format follows the suffix (.png, .svg or .dot).

    The file appears atomically. Returns the path.

    Raises:
        UnknownNameError: the suffix is not one of .png, .svg, .dot.
        GraphvizNotFoundError: PNG/SVG asked for and Graphviz's `dot` is missing (the
            message says what to install).
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UnknownNameError(
            f"cannot write a diagram as {path.name!r}: use a .png, .svg or .dot file name"
        )
    if fmt != "dot" and shutil.which("dot") is None:
        raise GraphvizNotFoundError(GRAPHVIZ_HINT)
    dot = to_dot(graph, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=f".{fmt}.tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        if fmt == "dot":
            tmp_path.write_text(dot.to_string(), encoding="utf-8")
        else:
            dot.write(str(tmp_path), format=fmt)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
    return path
