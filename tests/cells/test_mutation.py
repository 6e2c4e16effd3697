"""The six mutations: pure, seeded, recorded, and every child a working cell."""

from __future__ import annotations

import collections
import random

import networkx as nx
import numpy as np
import pytest

from evo_rnn.cells import file_format, zoo
from evo_rnn.cells.graph import validate
from evo_rnn.cells.hashing import same_architecture
from evo_rnn.cells.mutation import MUTATIONS, MutationError, mutate
from evo_rnn.layers import GraphCell

CHILDREN_PER_CELL = 300


@pytest.mark.parametrize("name", zoo.names())
def test_every_child_validates_compiles_and_steps(name):
    rng = random.Random(name)
    parent = zoo.get(name)
    x = np.random.default_rng(0).normal(size=(2, 6)).astype("float32")
    kinds = collections.Counter()
    for _ in range(CHILDREN_PER_CELL):
        child, applied = mutate(parent, rng)
        validate(child)
        assert applied and not same_architecture(child, parent)
        kinds.update(m.kind for m in applied)
        cell = GraphCell(child, 6, seed=0)
        states = [np.zeros((2, 6), "float32") for _ in cell.state_size]
        output, new_states = cell(x, states)
        assert output.shape == (2, 6) and len(new_states) == len(states)
        assert np.isfinite(np.asarray(output)).all()
        file_format.loads(file_format.dumps(child))  # children are saveable cells too
        if rng.random() < 0.5:  # walk on: grandchildren reach deeper into the space
            parent = child
    assert set(kinds) == set(MUTATIONS), kinds


def test_mutation_never_changes_its_parent():
    parent = zoo.get("lstm")
    snapshot = parent.copy()
    rng = random.Random(1)
    for _ in range(50):
        mutate(parent, rng)
    assert nx.utils.graphs_equal(parent, snapshot)
    assert all(parent.nodes[n] == snapshot.nodes[n] for n in parent)
    assert all(parent.edges[e] == snapshot.edges[e] for e in parent.edges)


def test_same_seed_same_child_and_record():
    a, applied_a = mutate(zoo.get("gru"), random.Random(42))
    b, applied_b = mutate(zoo.get("gru"), random.Random(42))
    assert file_format.dumps(a) == file_format.dumps(b) and applied_a == applied_b
    for m in applied_a:
        assert m.kind in MUTATIONS and m.detail and set(m.to_dict()) == {"kind", "node", "detail"}


def test_swap_elementwise_to_sub_orders_the_operands():
    rng = random.Random(0)
    seen = 0
    for _ in range(300):
        child, _applied = mutate(zoo.get("tanh"), rng)
        for node, data in child.nodes(data=True):
            if data["op"] == "sub":
                assert sorted(child.edges[p, node]["operand"] for p in child.predecessors(node)) == [0, 1]
                seen += 1
    assert seen > 0


def test_gives_up_with_a_clear_error(monkeypatch):
    from evo_rnn.cells import mutation as module

    monkeypatch.setattr(module, "_applicable", lambda graph, node: [])
    with pytest.raises(MutationError, match="no valid child of this cell in 7 attempts"):
        mutate(zoo.get("gru"), random.Random(0), max_attempts=7)
