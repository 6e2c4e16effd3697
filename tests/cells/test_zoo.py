"""The zoo: names, errors, and the shipped copies in saved_architectures/zoo."""

from __future__ import annotations

import pytest

from evo_rnn.cells import file_format, zoo
from evo_rnn.core.errors import UnknownNameError

from conftest import ROOT

ZOO_DIR = ROOT / "saved_architectures" / "zoo"


def test_names_are_the_papers():
    assert zoo.names() == [
        "tanh",
        "lstm",
        "lstm_f",
        "lstm_i",
        "lstm_o",
        "lstm_b",
        "gru",
        "mut1",
        "mut2",
        "mut3",
    ]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as caught:
        zoo.get("lstn")
    assert "unknown architecture 'lstn'" in str(caught.value)
    assert "gru" in str(caught.value) and "mut3" in str(caught.value)


def test_get_returns_fresh_copies():
    a = zoo.get("gru")
    a.remove_node("h_next")
    assert "h_next" in zoo.get("gru")


def test_resolve_reads_names_and_files(tmp_path):
    path = file_format.save(zoo.get("mut2"), tmp_path / "mine.json")
    assert zoo.resolve(path).graph["name"] == "mut2"
    assert zoo.resolve("lstm").graph["name"] == "lstm"
    with pytest.raises(UnknownNameError, match="neither a zoo cell"):
        zoo.resolve(tmp_path / "absent.json")


def test_lstm_b_starts_its_forget_bias_at_one():
    assert zoo.get("lstm_b").nodes["W_xf"]["bias_init"] == 1.0
    assert zoo.get("lstm").nodes["W_xf"]["bias_init"] == 0.0


def test_gate_biases_sit_on_x_side_linears():
    for name in ("lstm", "gru", "mut3", "tanh"):
        g = zoo.get(name)
        for node, data in g.nodes(data=True):
            if data["op"] == "linear":
                (source,) = g.predecessors(node)
                assert (data["bias_init"] is not None) == (source == "x"), (name, node)


def test_ablations_remove_exactly_their_gate():
    lstm = set(zoo.get("lstm"))
    for name, gate in (("lstm_f", "f"), ("lstm_i", "i"), ("lstm_o", "o")):
        removed = lstm - set(zoo.get(name))
        assert {f"W_x{gate}", f"W_h{gate}", gate, f"{gate}_pre"} <= removed


@pytest.mark.parametrize("name", zoo.names())
def test_shipped_zoo_matches_the_code(name):
    shipped = ZOO_DIR / f"{name}.json"
    assert shipped.is_file(), "regenerate with: python -m evo_rnn.write_zoo saved_architectures/zoo"
    assert shipped.read_text() == file_format.dumps(zoo.get(name))
    assert (ZOO_DIR / f"{name}.png").stat().st_size > 1000
