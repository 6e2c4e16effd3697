"""Architecture identity: a structural hash that ignores node names, confirmed by isomorphism."""

from __future__ import annotations

import hashlib

import networkx as nx

from evo_rnn.cells.graph import OUTPUT_STATE, output_nodes, state_nodes, validate

__all__ = ["same_architecture", "structural_hash"]

_RECURRENT = "recurrent"


def _node_label(data: dict) -> str:
    op = data["op"]
    if op == "linear":
        bias = data["bias_init"]
        return "linear:nobias" if bias is None else f"linear:{float(bias)!r}"
    if op == "const":
        return f"const:{float(data['value'])!r}"
    if op in ("state", "output"):
        # Only `h` is special; other states are identified by how they recur, not by name.
        return f"{op}:{OUTPUT_STATE}" if data["state"] == OUTPUT_STATE else op
    return op


def _labelled(graph: nx.DiGraph) -> nx.DiGraph:
    """A copy with a `label` on every node and edge, and an edge from each output to its state."""
    validate(graph)
    labelled = nx.DiGraph()
    for node, data in graph.nodes(data=True):
        labelled.add_node(node, label=_node_label(data))
    for source, target, data in graph.edges(data=True):
        labelled.add_edge(source, target, label=str(data.get("operand", "")))
    reads = state_nodes(graph)
    for state, out in output_nodes(graph).items():
        labelled.add_edge(out, reads[state], label=_RECURRENT)
    return labelled


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def structural_hash(graph: nx.DiGraph) -> str:
    """A 32-hex-digit hash equal for isomorphic cells, whatever their node names.

    Weisfeiler-Lehman refinement over op labels (linear biases, constants, `sub`
    operand order and the state recurrences included), aggregating parents and
    children separately. It is defined here rather than taken from networkx because it
    is a cache key that must not change between releases (networkx changed its directed
    WL hash in 3.5). Different cells can collide in principle; confirm equal hashes
    with `same_architecture` before treating two cells as one.
    """
    labelled = _labelled(graph)
    labels = {n: _digest(d["label"]) for n, d in labelled.nodes(data=True)}
    rounds = [sorted(labels.values())]
    for _ in range(len(labelled)):
        labels = {
            n: _digest(
                labels[n]
                + "|"
                + ",".join(sorted(f"{labelled.edges[p, n]['label']}<{labels[p]}" for p in labelled.predecessors(n)))
                + "|"
                + ",".join(sorted(f"{labelled.edges[n, s]['label']}>{labels[s]}" for s in labelled.successors(n)))
            )
            for n in labelled
        }
        rounds.append(sorted(labels.values()))
    return _digest(";".join(",".join(r) for r in rounds))


def same_architecture(a: nx.DiGraph, b: nx.DiGraph) -> bool:
    """True when two cells are the same architecture (isomorphic, labels included)."""
    la, lb = _labelled(a), _labelled(b)
    return nx.is_isomorphic(
        la,
        lb,
        node_match=lambda x, y: x["label"] == y["label"],
        edge_match=lambda x, y: x["label"] == y["label"],
    )
