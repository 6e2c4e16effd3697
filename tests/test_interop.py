"""NAS-Bench-NLP recipes in and out: every published example imports, round-trips, renders
and computes in GraphRNN what NAS-Bench-NLP's own cell computes (a numpy reading of their
format); recipes and graphs that cannot be represented are refused naming the node."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from evo_rnn import architectures, cell_format, diagram, mutate
from evo_rnn.cell_graph import state_names, validate
from evo_rnn.cell_hash import same_architecture
from evo_rnn.interop.nasbench_nlp import RecipeError, from_recipe, to_recipe
from evo_rnn.layers import GraphCell, GraphRNN

from conftest import run_module

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "nasbench_nlp" / "recepies_example.json"
UNITS, INPUT, BATCH, STEPS = 5, 4, 3, 6


def examples() -> list[dict]:
    if not EXAMPLES.is_file():
        pytest.skip(f"{EXAMPLES} is missing (the shared data beside the repository)")
    return json.loads(EXAMPLES.read_text())


def canonical(recipe: dict) -> dict:
    """A recipe up to the order of the inputs of its commutative ops (a cell graph keeps none)."""
    return {name: {"op": n["op"], "input": n["input"] if n["op"] == "blend" else sorted(n["input"])}
            for name, n in recipe.items()}


def reference_step(recipe: dict, weights: dict, x: np.ndarray, prev: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """One step of a recipe as NAS-Bench-NLP defines it, with this package's weights per node."""
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    acts = {"activation_tanh": np.tanh, "activation_sigm": sig,
            "activation_leaky_relu": lambda v: np.where(v > 0, v, 0.01 * v)}
    values = {"x": x, **{f"h_prev_{i}": v for i, v in prev.items()}}

    def value(name: str) -> np.ndarray:
        if name not in values:
            op, inputs = recipe[name]["op"], [value(i) for i in recipe[name]["input"]]
            if op == "linear":
                parts = [name] if len(inputs) == 1 else [f"{name}.w{i}" for i in range(len(inputs))]
                values[name] = sum(a @ weights[p]["kernel"] for a, p in zip(inputs, parts)) + weights[parts[0]]["bias"]
            elif op in acts:
                values[name] = acts[op](inputs[0])
            elif op == "elementwise_sum":
                values[name] = sum(inputs)
            elif op == "elementwise_prod":
                values[name] = np.prod(inputs, axis=0)
            else:
                z, a, b = inputs
                values[name] = z * a + (1 - z) * b
        return values[name]

    return {i: value(f"h_new_{i}") for i in prev}


def test_every_published_example_imports_round_trips_and_renders(tmp_path):
    recipes = examples()
    assert len(recipes) == 10
    for index, recipe in enumerate(recipes):
        graph = from_recipe(recipe, name=f"example-{index}")
        validate(graph)
        back = to_recipe(graph)
        assert canonical(back) == canonical(recipe), index  # every example has no dead nodes
        assert same_architecture(from_recipe(back), graph)
        assert canonical(to_recipe(cell_format.loads(cell_format.dumps(graph)))) == canonical(recipe)  # via a file
        dot = diagram.write_diagram(graph, tmp_path / f"{index}.dot")
        assert "lrelu" in dot.read_text() or "leaky" not in json.dumps(recipe)
    assert sum("activation_leaky_relu" in json.dumps(r) for r in recipes) >= 1


@pytest.mark.parametrize("index", range(10))
def test_an_imported_recipe_computes_in_graph_rnn_what_nasbench_nlp_computes(index, rng):
    recipe = examples()[index]
    graph = from_recipe(recipe)
    cell = GraphCell(graph, UNITS, seed=0)
    rnn = GraphRNN(cell, return_sequences=True, return_state=True)
    names = state_names(graph)
    x = rng.normal(size=(BATCH, STEPS, INPUT)).astype("float32")
    initial = [rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in names]
    rnn(x, initial_state=initial)
    weights = {node: {k: rng.normal(0, 0.2, size=v.shape).astype("float32") for k, v in entry.items()}
               for node, entry in cell.node_weights().items()}
    cell.set_node_weights(weights)
    outputs, *final = rnn(x, initial_state=initial)
    index_of = {name: 0 if name == "h" else int(name[1:]) for name in names}  # state s<i> is h_prev_i
    states = {index_of[n]: s.astype("float64") for n, s in zip(names, initial)}
    expected = []
    for t in range(STEPS):
        states = reference_step(recipe, weights, x[:, t].astype("float64"), states)
        expected.append(states[0])
    np.testing.assert_allclose(np.asarray(outputs), np.stack(expected, axis=1), rtol=1e-4, atol=1e-5)
    for name, got in zip(names, final):
        np.testing.assert_allclose(np.asarray(got), states[index_of[name]], rtol=1e-4, atol=1e-5)


def test_a_state_that_never_reaches_the_output_is_pruned():
    recipe = {"a": {"op": "linear", "input": ["x", "h_prev_0"]}, "h_new_0": {"op": "activation_tanh", "input": ["a"]},
              "h_new_1": {"op": "activation_sigm", "input": ["a"]}}  # state 1 is written, never read
    graph = from_recipe(recipe)
    assert state_names(graph) == ["h"] and "h_new_1" not in graph
    assert to_recipe(graph) == {k: v for k, v in recipe.items() if k != "h_new_1"}


@pytest.mark.parametrize("recipe, message", [
    ({"h_new_0": {"op": "conv", "input": ["x"]}}, "recipe node 'h_new_0': unknown op 'conv'"),
    ({"h_new_0": {"op": "linear", "input": ["y"]}}, "recipe node 'h_new_0' reads 'y', which is not a node"),
    ({"a": {"op": "linear", "input": ["x", "h_prev_0"]}}, "no node h_new_0"),
    ({"a": {"op": "linear", "input": ["x", "h_prev_2"]}, "h_new_0": {"op": "activation_tanh", "input": ["a"]}},
     "recipe node 'a' reads h_prev_2 but the recipe has no h_new_2"),
    ({"a": {"op": "linear", "input": ["x", "h_prev_0"]}, "h_new_0": {"op": "elementwise_prod", "input": ["a", "a"]}},
     "recipe node 'h_new_0' \\(elementwise_prod\\) uses the same input twice"),
    ({"a": {"op": "linear", "input": ["x", "h_prev_0"]}, "h_new_0": {"op": "blend", "input": ["a", "x"]}},
     "recipe node 'h_new_0' \\(blend\\) takes 3 input"),
    ({"h_new_0": {"op": "linear", "input": ["x"]}}, "never reads its previous state"),
    ({"h_new_0": "linear"}, "recipe node 'h_new_0': expected"),
    ([], "a NAS-Bench-NLP recipe is a non-empty dict"),
])
def test_a_recipe_that_cannot_be_a_cell_is_refused_naming_the_node_and_why(recipe, message):
    with pytest.raises(RecipeError, match=message):
        from_recipe(recipe)


def test_a_graph_with_ops_nasbench_nlp_lacks_is_refused_naming_the_node():
    with pytest.raises(RecipeError, match="node 'one_minus_z' \\(sub\\): NAS-Bench-NLP has no such op"):
        to_recipe(architectures.get("gru"))
    assert same_architecture(from_recipe(to_recipe(architectures.get("lstm"))), architectures.get("lstm"))


def test_leaky_relu_is_an_op_cells_may_use_but_mutations_do_not_choose():
    assert "leaky_relu" not in [op for op, _ in mutate.ACTIVATION_CHOICES]


def test_the_command_line_writes_a_cell_and_a_diagram_per_recipe_and_refuses_bad_ones(tmp_path):
    examples()
    result = run_module("evo_rnn.interop", "nasbench-nlp", str(EXAMPLES), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    folders = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in folders] == [f"recipe-{i:03d}" for i in range(10)]
    picture = "cell.png" if diagram.graphviz_available() else "cell.dot"
    for folder in folders:
        assert cell_format.load(folder / "cell.json") is not None and (folder / picture).stat().st_size > 0
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps([examples()[0], {"h_new_0": {"op": "conv", "input": ["x"]}}]))
    result = run_module("evo_rnn.interop", "nasbench-nlp", str(mixed), "-o", str(tmp_path / "mixed"))
    assert result.returncode == 2 and (tmp_path / "mixed" / "recipe-000" / "cell.json").is_file()
    assert re.search(r"recipe 1 of .*mixed.json: recipe node 'h_new_0': unknown op 'conv'", result.stderr)
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    result = run_module("evo_rnn.interop", "nasbench-nlp", str(broken), "-o", str(tmp_path / "b"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "is not JSON" in result.stderr
