"""Cell diagrams: a `pydot.Dot` for a cell graph, and writing it as PNG, SVG or DOT."""

from __future__ import annotations

import html
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import networkx as nx
import pydot

from evo_rnn.cells.graph import topological_order, validate
from evo_rnn.cells.ops import OPS, ORDERED_OPS, OpKind
from evo_rnn.core.atomic_files import atomic_path, check_output
from evo_rnn.core.errors import GraphvizNotFoundError, UnknownNameError

__all__ = [
    "FORMATS",
    "GRAPHVIZ_HINT",
    "GRAPHVIZ_MISSING",
    "HIGHLIGHT",
    "graphviz_available",
    "render_png",
    "to_dot",
    "write_diagram",
]

FORMATS = ("png", "svg", "dot")
GRAPHVIZ_MISSING = (
    "Graphviz's `dot` program, which renders PNG/SVG diagrams, is not installed (`apt-get install graphviz` "
    "on Debian/Ubuntu, `brew install graphviz` on macOS, `conda install graphviz`)"
)
GRAPHVIZ_HINT = f"rendering PNG/SVG needs {GRAPHVIZ_MISSING}; or write a .dot file instead"


def graphviz_available() -> bool:
    """Whether Graphviz's `dot` program is on the PATH (PNG and SVG diagrams need it)."""
    return shutil.which("dot") is not None


HIGHLIGHT = {"color": "#d62728", "penwidth": "2.5", "fontcolor": "#d62728"}  # what changed, drawn in red

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
        if bias is None:
            return node
        # An HTML-like label: the bias line in a smaller font under a spacer, so that an
        # underscore in the name (W_xz) does not run into it.
        return (
            f'<{html.escape(node)}<BR/><FONT POINT-SIZE="4"> </FONT><BR/>'
            f'<FONT POINT-SIZE="9">+b (init {bias:g})</FONT>>'
        )
    return spec.symbol


def _quote(text: str) -> str:
    """A DOT string literal; an HTML-like label (`<...>`) stays as it is."""
    if text.startswith("<") and text.endswith(">"):
        return text
    return '"' + text.replace('"', '\\"') + '"'


def to_dot(
    graph: nx.DiGraph,
    title: str | None = None,
    highlight: Iterable[str] = (),
    highlight_edges: Iterable[tuple[str, str]] = (),
) -> pydot.Dot:
    """Returns the diagram of a cell as a `pydot.Dot` (nothing is written).

    Linear nodes show their names (and bias init), activations and element-wise ops
    their symbols, state reads (`h[t-1]`) and outputs (`h[t]`) are filled blue, `x[t]`
    yellow, and the two in-edges of a `sub` node are labelled `+` and `−`.

    Args:
        graph: a valid cell.
        title: the diagram's caption; defaults to the cell's name.
        highlight: nodes drawn in red, thick (e.g. what a mutation changed against the
            parent: `evo_rnn.report`).
        highlight_edges: edges drawn the same way.
    """
    highlight, highlight_edges = set(highlight), set(highlight_edges)
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
        style = {**_STYLE[kind], **(HIGHLIGHT if node in highlight else {})}
        item = pydot.Node(_quote(node), label=_quote(_label(node, data)), tooltip=_quote(node), **style)
        target = {OpKind.INPUT: sources, OpKind.STATE: sources, OpKind.OUTPUT: sinks}.get(kind, dot)
        target.add_node(item)
    dot.add_subgraph(sources)
    dot.add_subgraph(sinks)
    for source, target in sorted(graph.edges):
        attrs = dict(HIGHLIGHT) if (source, target) in highlight_edges else {}
        if graph.nodes[target]["op"] in ORDERED_OPS:
            attrs["label"] = _quote("+" if graph.edges[source, target]["operand"] == 0 else "−")
        dot.add_edge(pydot.Edge(_quote(source), _quote(target), **attrs))
    return dot


def render_png(
    graph: nx.DiGraph,
    title: str | None = None,
    highlight: Iterable[str] = (),
    highlight_edges: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A cell's diagram as PNG bytes (`to_dot`'s arguments), for pages that embed it.

    Raises:
        GraphvizNotFoundError: Graphviz's `dot` is missing (the message says what to install).
    """
    if not graphviz_available():
        raise GraphvizNotFoundError(GRAPHVIZ_HINT)
    return to_dot(graph, title, highlight, highlight_edges).create(format="png")


def write_diagram(graph: nx.DiGraph, path: str | os.PathLike, title: str | None = None) -> Path:
    """Writes a cell's diagram; the format follows the suffix (.png, .svg or .dot).

    The file appears atomically. Returns the path.

    Raises:
        UnknownNameError: the suffix is not one of .png, .svg, .dot.
        GraphvizNotFoundError: PNG/SVG asked for and Graphviz's `dot` is missing (the
            message says what to install).
        OutputPathError: a file of another kind is at `path` (nothing is written).
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UnknownNameError(f"cannot write a diagram as {path.name!r}: use a .png, .svg or .dot file name")
    check_output(path, fmt.upper())  # never over a file of another kind
    if fmt != "dot" and not graphviz_available():
        raise GraphvizNotFoundError(GRAPHVIZ_HINT)
    dot = to_dot(graph, title)
    with atomic_path(path) as temporary:
        if fmt == "dot":
            temporary.write_text(dot.to_string(), encoding="utf-8")
        else:
            dot.write(str(temporary), format=fmt)
    return path
