"""Validation, pruning, the builder and parameter counting of cell graphs."""

from __future__ import annotations

import networkx as nx
import pytest

from evo_rnn.cells import zoo
from evo_rnn.cells.graph import (
    CellBuilder,
    parameter_count,
    prune,
    reads_x_directly,
    state_names,
    validate,
)
from evo_rnn.core.errors import InvalidCellError


def tanh_cell() -> nx.DiGraph:
    return zoo.get("tanh")


def test_builder_makes_the_paper_tanh_cell():
    g = tanh_cell()
    assert set(g) == {"x", "h", "W_xh", "W_hh", "h_pre", "h_new", "h_next"}
    assert g.nodes["W_xh"] == {"op": "linear", "bias_init": 0.0}
    assert g.nodes["W_hh"] == {"op": "linear", "bias_init": None}
    assert g.nodes["h_next"] == {"op": "output", "state": "h"}
    assert sorted(g.predecessors("h_pre")) == ["W_hh", "W_xh"]


def test_state_order_puts_h_first():
    assert state_names(zoo.get("lstm")) == ["h", "c"]
    b = CellBuilder("two", states=("m", "a"))
    pre = b.add("pre", b.linear("W_x", "x", 0.0), b.add("hm", b.add("ha", "h", "a"), "m"))
    new = b.activation("tanh", "new", pre)
    b.output("h", new)
    b.output("a", b.activation("sigmoid", "a_new", new))
    b.output("m", b.activation("relu", "m_new", new))
    assert state_names(b.build()) == ["h", "a", "m"]


def test_every_zoo_cell_validates():
    for name in zoo.names():
        validate(zoo.get(name))


def _broken(mutate) -> nx.DiGraph:
    g = tanh_cell()
    mutate(g)
    return g


@pytest.mark.parametrize(
    "mutate, message, node",
    [
        (lambda g: g.nodes["h_new"].update(op="softsign"), "unknown op 'softsign'", "h_new"),
        (lambda g: g.nodes["W_xh"].pop("bias_init"), "missing attribute 'bias_init'", "W_xh"),
        (lambda g: g.nodes["W_xh"].update(bias_init=float("nan")), "finite float or None", "W_xh"),
        (lambda g: g.nodes["W_xh"].update(bias_init="1"), "finite float or None", "W_xh"),
        (lambda g: g.nodes["h_new"].update(colour="red"), "unexpected attribute", "h_new"),
        (lambda g: g.add_edge("x", "h_new"), "takes exactly 1 input(s), has 2", "h_new"),
        (lambda g: g.remove_edge("W_hh", "h_pre"), "takes exactly 2 input(s), has 1", "h_pre"),
        (lambda g: g.add_edge("h", "x"), "takes no inputs", "x"),
        (lambda g: g.add_edge("h_new", "W_hh"), "cycle", None),
        (lambda g: g.remove_node("h_next"), "no output node for state 'h'", None),
        (lambda g: g.add_node("x2", op="x"), "exactly one 'x' node", None),
        (lambda g: (g.add_node("c", op="state", state="c"), g.add_edge("c", "h_new")), None, None),
        (lambda g: g.add_node("spare", op="tanh"), "takes exactly 1 input", "spare"),
        (lambda g: (g.add_node("spare", op="tanh"), g.add_edge("x", "spare")), "dead", "spare"),
        (
            lambda g: (g.add_node("o2", op="output", state="h"), g.add_edge("h_new", "o2")),
            "both the output node of state 'h'",
            "o2",
        ),
        (lambda g: g.nodes["h"].update(state="not a name"), "state names are identifiers", "h"),
        (lambda g: nx.relabel_nodes(g, {"h_pre": "bad name!"}, copy=False), "node names must be", "bad name!"),
        (lambda g: g.edges["x", "W_xh"].update(operand=0), "only edges into", "W_xh"),
        (lambda g: g.edges["x", "W_xh"].update(weight=2), "unexpected attribute", "W_xh"),
    ],
)
def test_validate_rejects_with_node_and_message(mutate, message, node):
    g = _broken(mutate)
    with pytest.raises(InvalidCellError) as caught:
        validate(g)
    if message is None:  # extra state read with no output node
        assert "no output node gives its next value" in str(caught.value)
        return
    assert message in str(caught.value)
    if node is not None:
        assert caught.value.node == node


def test_sub_needs_both_operands_marked():
    g = zoo.get("gru")
    g.edges["one", "one_minus_z"]["operand"] = 1  # both operands now 1
    with pytest.raises(InvalidCellError, match="operand=0 .* and operand=1"):
        validate(g)


def test_outputs_on_constants_only_are_rejected():
    b = CellBuilder("c_const", states=("c",))
    b.output("h", b.activation("tanh", "t", b.add("s", b.linear("W", "x", 0.0), b.linear("U", "c"))))
    b.output("c", b.activation("tanh", "k", b.const("one", 1.0)))
    with pytest.raises(InvalidCellError, match="'c_next' .*constants only") as caught:
        b.build()
    assert caught.value.node == "c_next"


def test_non_recurrent_and_input_free_cells_are_rejected():
    b = CellBuilder("feedforward")
    b.output("h", b.activation("tanh", "t", b.linear("W", "x", 0.0)))
    with pytest.raises(InvalidCellError, match="never reads its previous state"):
        b.build()
    b = CellBuilder("no_input")
    b.output("h", b.activation("tanh", "t", b.linear("U", "h")))
    with pytest.raises(InvalidCellError, match="never reads its input"):
        b.build()


def test_linear_of_a_constant_is_rejected():
    b = CellBuilder("bias_as_linear")
    pre = b.add("pre", b.add("xh", b.linear("W", "x"), b.linear("U", "h")), b.linear("B", b.const("one", 1.0)))
    b.output("h", b.activation("tanh", "t", pre))
    with pytest.raises(InvalidCellError, match="fed by const 'one'.*bias_init"):
        b.build()


def test_not_a_digraph_is_rejected():
    with pytest.raises(InvalidCellError, match="networkx.DiGraph"):
        validate(nx.MultiDiGraph(tanh_cell()))
    with pytest.raises(InvalidCellError, match="networkx.DiGraph"):
        validate(nx.Graph())
    with pytest.raises(InvalidCellError, match="no nodes"):
        validate(nx.DiGraph())


def test_prune_drops_dead_nodes_and_dead_states_but_keeps_the_original():
    g = zoo.get("lstm")
    g.add_node("spare", op="sigmoid")
    g.add_edge("W_xi", "spare")
    # A state `m` computed from x and m, which the output never reads.
    g.add_node("m", op="state", state="m")
    g.add_node("m_mix", op="add")
    g.add_edges_from([("m", "m_mix"), ("x", "m_mix")])
    g.add_node("m_next", op="output", state="m")
    g.add_edge("m_mix", "m_next")
    with pytest.raises(InvalidCellError, match="dead"):
        validate(g)
    pruned = prune(g)
    validate(pruned)
    assert set(g) - set(pruned) == {"spare", "m", "m_mix", "m_next"}
    assert "spare" in g  # the input graph is untouched
    assert nx.utils.graphs_equal(pruned, zoo.get("lstm"))


def test_builder_refuses_duplicates_and_unknown_inputs():
    b = CellBuilder("dup")
    b.linear("W", "x")
    with pytest.raises(InvalidCellError, match="already exists"):
        b.linear("W", "x")
    with pytest.raises(InvalidCellError, match="'nowhere' does not exist"):
        b.linear("V", "nowhere")


@pytest.mark.parametrize("name", zoo.names())
def test_parameter_count_formula(name):
    g = zoo.get(name)
    units, input_dim = 7, 7
    linears = [n for n, op in g.nodes(data="op") if op == "linear"]
    biases = sum(g.nodes[n]["bias_init"] is not None for n in linears)
    assert parameter_count(g, units, input_dim) == len(linears) * units * units + biases * units
    expected = {"tanh": 2, "lstm": 8, "gru": 6, "lstm_f": 6, "mut1": 4, "mut2": 5, "mut3": 6}
    if name in expected:
        assert len(linears) == expected[name]


def test_parameter_count_uses_input_dim_for_x_side_linears():
    g = zoo.get("lstm")
    assert parameter_count(g, 10, 3) == 4 * (3 * 10 + 10) + 4 * 10 * 10


def test_reads_x_directly():
    assert reads_x_directly(zoo.get("mut1"))
    assert reads_x_directly(zoo.get("mut2"))
    assert not reads_x_directly(zoo.get("lstm"))
