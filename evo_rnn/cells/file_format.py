"""The cell file format (canonical JSON, `format_version` 1): the one place cells are written and read.

A cell file looks like this (keys sorted, nodes sorted by id, edges by source then target):

    {
      "edges": [{"source": "W_hh", "target": "pre"}, {"operand": 1, "source": "z", "target": "one_minus_z"}, ...],
      "format_version": 1,
      "name": "gru",
      "nodes": [{"bias_init": null, "id": "W_hh", "op": "linear"}, {"id": "h", "op": "state", "state": "h"}, ...]
    }

Only `operand` (0 or 1, on the two in-edges of a `sub` node) may appear on an edge, and a
node carries exactly the attributes its op takes (see `evo_rnn.cells.ops.OPS`). The format is
this project's own, not networkx's node-link form, whose defaults change between releases.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import networkx as nx

from evo_rnn.cells.graph import validate
from evo_rnn.cells.ops import OPS
from evo_rnn.core.atomic_files import write_atomically
from evo_rnn.core.errors import CellFormatError, InvalidCellError

__all__ = ["FORMAT_VERSION", "dumps", "from_dict", "load", "loads", "save", "to_dict"]

FORMAT_VERSION = 1
MAX_NODES = 512
MAX_EDGES = 2048
MAX_FILE_BYTES = 1_000_000
_TOP_KEYS = {"format_version", "name", "nodes", "edges"}


def to_dict(graph: nx.DiGraph) -> dict[str, Any]:
    """Returns the canonical JSON-ready dict of a cell (validated first)."""
    validate(graph)
    nodes = []
    for node in sorted(graph):
        data = graph.nodes[node]
        entry: dict[str, Any] = {"id": node, "op": data["op"]}
        for key in OPS[data["op"]].attributes:
            value = data[key]
            entry[key] = float(value) if isinstance(value, (int, float)) else value
        nodes.append(entry)
    edges = []
    for source, target in sorted(graph.edges):
        entry = {"source": source, "target": target}
        if "operand" in graph.edges[source, target]:
            entry["operand"] = int(graph.edges[source, target]["operand"])
        edges.append(entry)
    result: dict[str, Any] = {"format_version": FORMAT_VERSION, "nodes": nodes, "edges": edges}
    name = graph.graph.get("name")
    if name is not None:
        result["name"] = str(name)
    return result


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CellFormatError(message)


def from_dict(data: Any) -> nx.DiGraph:
    """Builds and validates a cell from its canonical dict.

    Raises:
        CellFormatError: the document is not a cell in format version 1.
        InvalidCellError: the document is well formed but the cell breaks a rule.
    """
    _require(isinstance(data, dict), f"a cell document is a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _TOP_KEYS)
    _require(not unknown, f"unknown top-level key(s) {unknown}; a cell has {sorted(_TOP_KEYS)}")
    version = data.get("format_version")
    _require("format_version" in data, "missing 'format_version' (this evo_rnn reads version 1)")
    _require(
        version == FORMAT_VERSION and type(version) is int,
        f"cell format version {version!r} is not supported; this evo_rnn reads version {FORMAT_VERSION} "
        "(upgrade evo_rnn to read newer files)",
    )
    name = data.get("name")
    _require(name is None or (isinstance(name, str) and len(name) <= 200), "'name' must be a short string")
    nodes, edges = data.get("nodes"), data.get("edges")
    _require(isinstance(nodes, list), "'nodes' must be a list of node objects")
    _require(isinstance(edges, list), "'edges' must be a list of edge objects")
    _require(len(nodes) <= MAX_NODES, f"{len(nodes)} nodes is over the limit of {MAX_NODES}")
    _require(len(edges) <= MAX_EDGES, f"{len(edges)} edges is over the limit of {MAX_EDGES}")

    graph = nx.DiGraph()
    if name is not None:
        graph.graph["name"] = name
    for index, entry in enumerate(nodes):
        _require(isinstance(entry, dict), f"nodes[{index}] must be an object, got {type(entry).__name__}")
        node, op = entry.get("id"), entry.get("op")
        _require(isinstance(node, str), f"nodes[{index}]: 'id' must be a string, got {node!r}")
        _require(node not in graph, f"nodes[{index}]: duplicate node id {node!r}")
        _require(isinstance(op, str) and op in OPS, f"node {node!r}: unknown op {op!r}; known ops: {', '.join(OPS)}")
        expected = {"id", "op", *OPS[op].attributes}
        _require(
            set(entry) == expected,
            f"node {node!r} (op {op!r}) must have exactly the keys {sorted(expected)}, got {sorted(entry)}",
        )
        graph.add_node(node, **{k: v for k, v in entry.items() if k != "id"})
    for index, entry in enumerate(edges):
        _require(isinstance(entry, dict), f"edges[{index}] must be an object, got {type(entry).__name__}")
        keys = set(entry)
        _require(
            keys in ({"source", "target"}, {"source", "target", "operand"}),
            f"edges[{index}] must have keys source, target and optionally operand, got {sorted(keys)}",
        )
        source, target = entry["source"], entry["target"]
        for end in (source, target):
            _require(isinstance(end, str) and end in graph, f"edges[{index}] names unknown node {end!r}")
        _require(not graph.has_edge(source, target), f"edges[{index}]: duplicate edge {source!r} -> {target!r}")
        if "operand" in entry:
            operand = entry["operand"]
            _require(
                type(operand) is int and operand in (0, 1),
                f"edges[{index}]: 'operand' must be 0 or 1, got {operand!r}",
            )
        graph.add_edge(source, target, **({"operand": entry["operand"]} if "operand" in entry else {}))
    validate(graph)
    return graph


def dumps(graph: nx.DiGraph) -> str:
    """The canonical JSON text of a cell (sorted keys, two-space indent, final newline)."""
    return json.dumps(to_dict(graph), sort_keys=True, indent=2, ensure_ascii=True) + "\n"


def _refuse_constant(name: str) -> float:
    raise CellFormatError(f"{name} is not a valid number in a cell file")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CellFormatError(f"duplicate key {key!r} in a JSON object")
        result[key] = value
    return result


def loads(text: str | bytes) -> nx.DiGraph:
    """Parses and validates a cell from JSON text.

    Raises:
        CellFormatError: not JSON, too large, or not a cell document.
        InvalidCellError: a well-formed document whose cell breaks a rule.
    """
    if len(text) > MAX_FILE_BYTES:
        raise CellFormatError(f"the document is {len(text)} bytes, over the limit of {MAX_FILE_BYTES}")
    try:
        data = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except CellFormatError:
        raise
    except json.JSONDecodeError as error:
        raise CellFormatError(f"not valid JSON: {error}") from None
    except (RecursionError, UnicodeDecodeError, ValueError) as error:  # ValueError: a number of over 4300 digits
        detail = str(error).splitlines()[0][:120] if str(error) else "nested too deeply"
        raise CellFormatError(f"not a readable JSON document ({type(error).__name__}: {detail})") from None
    return from_dict(data)


def save(graph: nx.DiGraph, path: str | os.PathLike) -> Path:
    """Writes a cell to `path` atomically (a reader never sees half a file); returns the path."""
    return write_atomically(path, dumps(graph).encode("ascii"))


def load(path: str | os.PathLike) -> nx.DiGraph:
    """Reads a cell file; errors name the file.

    Raises:
        FileNotFoundError: no such file.
        CellFormatError: the file is not a cell document (message starts with the path).
        InvalidCellError: the cell breaks a rule (message starts with the path).
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CellFormatError(f"{path}: {size} bytes is over the limit of {MAX_FILE_BYTES} for a cell file")
    try:
        return loads(path.read_bytes())
    except CellFormatError as error:
        raise CellFormatError(f"{path}: {error}") from None
    except InvalidCellError as error:
        raise InvalidCellError(f"{path}: {error}", error.node) from None
