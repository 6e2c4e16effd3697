"""The canonical JSON cell format: exact round trips and refusal of malformed or hostile input."""

from __future__ import annotations

import json
import os

import networkx as nx
import pytest

from evo_rnn.cells import file_format, zoo
from evo_rnn.core.errors import CellFormatError, InvalidCellError


@pytest.mark.parametrize("name", zoo.names())
def test_round_trip_is_exact(name, tmp_path):
    graph = zoo.get(name)
    text = file_format.dumps(graph)
    back = file_format.loads(text)
    assert nx.utils.graphs_equal(graph, back)
    assert back.graph == graph.graph
    assert all(graph.nodes[n] == back.nodes[n] for n in graph)
    assert all(graph.edges[e] == back.edges[e] for e in graph.edges)
    assert file_format.dumps(back) == text
    path = file_format.save(graph, tmp_path / "cells" / f"{name}.json")
    assert path.read_text() == text
    assert file_format.dumps(file_format.load(path)) == text
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # readable by others, as a shared cell file must be


def test_document_is_canonical():
    data = json.loads(file_format.dumps(zoo.get("gru")))
    assert data["format_version"] == 1
    assert list(data) == sorted(data)
    ids = [n["id"] for n in data["nodes"]]
    assert ids == sorted(ids)
    edges = [(e["source"], e["target"]) for e in data["edges"]]
    assert edges == sorted(edges)
    sub_edges = [e for e in data["edges"] if e["target"] == "one_minus_z"]
    assert {(e["source"], e["operand"]) for e in sub_edges} == {("one", 0), ("z", 1)}
    assert all("operand" not in e for e in data["edges"] if e["target"] != "one_minus_z")
    assert {"id": "one", "op": "const", "value": 1.0} in data["nodes"]


def _doc(**changes):
    data = file_format.to_dict(zoo.get("tanh"))
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ("[]", "a cell document is a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "not a readable JSON"),
        ('{"format_version": 1, "format_version": 1}', "duplicate key 'format_version'"),
        (json.dumps(_doc(format_version=2)), "version 2 is not supported"),
        (json.dumps(_doc(format_version=True)), "version True is not supported"),
        (json.dumps({k: v for k, v in _doc().items() if k != "format_version"}), "missing 'format_version'"),
        (json.dumps(_doc(extra=1)), "unknown top-level key"),
        (json.dumps(_doc(nodes={})), "'nodes' must be a list"),
        (json.dumps(_doc(nodes=[1])), "nodes[0] must be an object"),
        (json.dumps(_doc(nodes=[{"id": 3, "op": "x"}])), "'id' must be a string"),
        (json.dumps(_doc(nodes=[{"id": "x", "op": "eval"}])), "unknown op 'eval'"),
        (json.dumps(_doc(nodes=[{"id": "x", "op": ["linear"]}])), "unknown op ['linear']"),
        (json.dumps(_doc(nodes=[{"id": "x", "op": "x", "code": "import os"}])), "must have exactly the keys"),
        (json.dumps(_doc(nodes=[{"id": "x", "op": "x"}, {"id": "x", "op": "x"}])), "duplicate node id"),
        (json.dumps(_doc(nodes=[{"id": f"n{i}", "op": "x"} for i in range(600)])), "over the limit"),
        (json.dumps(_doc(edges=[{"source": "x", "target": "nowhere"}])), "unknown node 'nowhere'"),
        (json.dumps(_doc(edges=[{"source": "x", "target": "W_xh", "weight": 1}])), "edges[0] must have keys"),
        (json.dumps(_doc(edges=[{"source": "x", "target": "W_xh", "operand": 2}])), "'operand' must be 0 or 1"),
        (json.dumps(_doc(edges=[{"source": "x", "target": "W_xh"}] * 2)), "duplicate edge"),
        (
            '{"format_version": 1, "nodes": [{"id": "W", "op": "linear", "bias_init": NaN}], "edges": []}',
            "NaN is not a valid number",
        ),
        (
            '{"format_version": 1, "nodes": [{"id": "W", "op": "linear", "bias_init": Infinity}], "edges": []}',
            "Infinity is not a valid number",
        ),
        (
            '{"format_version": 1, "nodes": [{"id": "W", "op": "linear", "bias_init": '
            + "9" * 5000
            + '}], "edges": []}',
            "digits",
        ),
        ("x" * 1_000_001, "over the limit"),
    ],
)
def test_malformed_documents_are_refused(text, message):
    with pytest.raises(CellFormatError) as caught:
        file_format.loads(text)
    assert message in str(caught.value)


def test_huge_number_is_refused_as_not_finite():
    data = file_format.to_dict(zoo.get("tanh"))
    text = json.dumps(data).replace('"bias_init": 0.0', '"bias_init": 1e999')
    with pytest.raises(InvalidCellError, match="finite float"):
        file_format.loads(text)


def test_well_formed_but_invalid_cell_names_the_node(tmp_path):
    data = file_format.to_dict(zoo.get("tanh"))
    data["edges"] = [e for e in data["edges"] if e["target"] != "h_next"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidCellError) as caught:
        file_format.load(path)
    assert str(caught.value).startswith(str(path))
    assert caught.value.node == "h_next"


def test_load_names_the_file_and_missing_files_raise(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(CellFormatError, match=r"broken\.json: not valid JSON"):
        file_format.load(path)
    with pytest.raises(FileNotFoundError):
        file_format.load(tmp_path / "absent.json")


def test_to_dict_refuses_invalid_graphs():
    g = zoo.get("tanh")
    g.remove_edge("h_new", "h_next")
    with pytest.raises(InvalidCellError):
        file_format.to_dict(g)


def test_integers_in_files_read_as_floats():
    data = file_format.to_dict(zoo.get("tanh"))
    for node in data["nodes"]:
        if node["id"] == "W_xh":
            node["bias_init"] = 1
    graph = file_format.from_dict(data)
    assert graph.nodes["W_xh"]["bias_init"] == 1.0
    assert '"bias_init": 1.0' in file_format.dumps(graph)
