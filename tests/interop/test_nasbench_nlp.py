"""NAS-Bench-NLP recipes in and out: every published example imports (whatever the order of
its keys), round-trips, renders and computes in GraphRNN what NAS-Bench-NLP's own cell
computes (a numpy reading of their format), as does a cell reading a new state within its
step; recipes and graphs that cannot be represented are refused naming the node, hostile
ones (a huge state index, deep nesting) at once and in one line."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from evo_rnn.cells import diagram, file_format, mutation, zoo
from evo_rnn.cells.graph import state_names, validate
from evo_rnn.cells.hashing import same_architecture
from evo_rnn.commands.interop import main as interop_main
from evo_rnn.interop.nasbench_nlp import RecipeError, from_recipe, to_recipe
from evo_rnn.layers import GraphCell, GraphRNN

from conftest import ROOT, run_module

EXAMPLES = ROOT.parent / "shared" / "nasbench_nlp" / "recepies_example.json"
UNITS, INPUT, BATCH, STEPS = 5, 4, 3, 6


def examples() -> list[dict]:
    if not EXAMPLES.is_file():
        pytest.skip(f"{EXAMPLES} is missing (the shared data beside the repository)")
    return json.loads(EXAMPLES.read_text())


def canonical(recipe: dict) -> dict:
    """A recipe up to the order of the inputs of its commutative ops (a cell graph keeps none)."""
    return {
        name: {"op": n["op"], "input": n["input"] if n["op"] == "blend" else sorted(n["input"])}
        for name, n in recipe.items()
    }


def reference_step(recipe: dict, weights: dict, x: np.ndarray, prev: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """One step of a recipe as NAS-Bench-NLP's `CustomRNNCell` computes it, with this package's
    weights per node: every node once, in a topological order of their inputs, so that a node
    reading `h_new_i` gets the value state i takes in this same step."""
    sig = lambda v: 1 / (1 + np.exp(-v))
    acts = {
        "activation_tanh": np.tanh,
        "activation_sigm": sig,
        "activation_leaky_relu": lambda v: np.where(v > 0, v, 0.01 * v),
    }
    values = {"x": x, **{f"h_prev_{i}": v for i, v in prev.items()}}
    reads = nx.DiGraph((source, name) for name, node in recipe.items() for source in node["input"])
    for name in nx.topological_sort(reads):
        if name in values:
            continue
        op, inputs = recipe[name]["op"], [values[i] for i in recipe[name]["input"]]
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
    return {i: values[f"h_new_{i}"] for i in prev}


def assert_computes_what_nasbench_nlp_computes(recipe: dict, rng: np.random.Generator) -> None:
    """GraphRNN over the imported cell, with random weights and initial states, against `reference_step`."""
    graph = from_recipe(recipe)
    cell = GraphCell(graph, UNITS, seed=0)
    rnn = GraphRNN(cell, return_sequences=True, return_state=True)
    names = state_names(graph)
    x = rng.normal(size=(BATCH, STEPS, INPUT)).astype("float32")
    initial = [rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in names]
    rnn(x, initial_state=initial)
    weights = {
        node: {k: rng.normal(0, 0.2, size=v.shape).astype("float32") for k, v in entry.items()}
        for node, entry in cell.node_weights().items()
    }
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


@contextlib.contextmanager
def address_space_cap(extra_bytes: int):
    """Caps this process's address space at its present size plus `extra_bytes` while inside
    (Linux), so that a regression that builds something huge fails with a MemoryError instead
    of exhausting the machine."""
    try:
        import resource

        status = Path("/proc/self/status").read_text()
    except (ImportError, OSError):
        yield
        return
    size = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra_bytes if hard == resource.RLIM_INFINITY else min(size + extra_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def nested(depth: int) -> list:
    """[[[...]]], `depth` lists deep (built without recursion)."""
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def chain(length: int) -> dict:
    """A recipe whose output is `length` activations deep."""
    recipe = {"a0": {"op": "linear", "input": ["x", "h_prev_0"]}}
    recipe |= {f"a{i}": {"op": "activation_tanh", "input": [f"a{i - 1}"]} for i in range(1, length)}
    return recipe | {"h_new_0": {"op": "activation_tanh", "input": [f"a{length - 1}"]}}


# Two states, and h_new_1 is computed from node_12, which reads the new value of state 0
# (h_new_0), listed before it as NAS-Bench-NLP's generated WikiText-2 recipes list them.
READS_H_NEW_0 = {
    "node_0": {"op": "linear", "input": ["x", "h_prev_0", "h_prev_1"]},
    "node_1": {"op": "activation_sigm", "input": ["node_0"]},
    "node_12": {"op": "elementwise_prod", "input": ["h_new_0", "h_prev_1"]},
    "h_new_1": {"op": "linear", "input": ["node_12", "x"]},
    "node_2": {"op": "activation_tanh", "input": ["node_0"]},
    "h_new_0": {"op": "blend", "input": ["node_1", "node_2", "h_prev_0"]},
}


def test_every_published_example_imports_round_trips_and_renders(tmp_path):
    recipes = examples()
    assert len(recipes) == 10
    for index, recipe in enumerate(recipes):
        graph = from_recipe(recipe, name=f"example-{index}")
        validate(graph)
        back = to_recipe(graph)
        assert canonical(back) == canonical(recipe), index  # every example has no dead nodes
        assert same_architecture(from_recipe(back), graph)
        assert canonical(to_recipe(file_format.loads(file_format.dumps(graph)))) == canonical(recipe)  # via a file
        dot = diagram.write_diagram(graph, tmp_path / f"{index}.dot")
        assert "lrelu" in dot.read_text() or "leaky" not in json.dumps(recipe)
    assert sum("activation_leaky_relu" in json.dumps(r) for r in recipes) >= 1


@pytest.mark.parametrize("index", range(10))
def test_an_imported_recipe_computes_in_graph_rnn_what_nasbench_nlp_computes(index, rng):
    assert_computes_what_nasbench_nlp_computes(examples()[index], rng)


def test_an_example_is_the_same_cell_whatever_the_order_of_its_keys():
    for index, recipe in enumerate(examples()):
        graph = from_recipe(recipe, name="example")
        orders = [sorted(recipe), sorted(recipe, reverse=True)]
        for seed in range(5):
            keys = list(recipe)
            random.Random(seed).shuffle(keys)
            orders.append(keys)
        for keys in orders:
            reordered = from_recipe({key: recipe[key] for key in keys}, name="example")
            assert same_architecture(reordered, graph), (index, keys)
            assert file_format.dumps(reordered) == file_format.dumps(graph), (index, keys)  # the same names too


def test_a_node_reading_h_new_0_reads_the_value_of_the_same_step(rng):
    graph = from_recipe(READS_H_NEW_0)
    assert state_names(graph) == ["h", "s1"]
    assert {"h_new_0.out", "node_12"} <= set(graph.successors("h_new_0"))  # the new h, not h_prev_0
    assert canonical(to_recipe(graph)) == canonical(READS_H_NEW_0)
    assert same_architecture(from_recipe(to_recipe(graph)), graph)
    assert_computes_what_nasbench_nlp_computes(READS_H_NEW_0, rng)


def test_a_state_index_beyond_the_recipe_is_refused_at_once():
    huge = {
        "h_new_999999999999": {"op": "linear", "input": ["x", "h_prev_0"]},
        "h_new_0": {"op": "linear", "input": ["x", "h_prev_0"]},
    }
    with address_space_cap(1 << 30), pytest.raises(RecipeError) as caught:
        from_recipe(huge)
    assert str(caught.value) == (
        "recipe node 'h_new_999999999999': the state index is out of range, as a recipe of 2 "
        "node(s) has at most 2 state(s); number the states from 0 (h_new_0, h_new_1, ...)"
    )
    long_read = {"h_new_0": {"op": "linear", "input": ["x", "h_prev_" + "9" * 100_000]}}  # past int()'s digit limit
    message = "reads 'h_prev_9+[.]{3}9+' but the recipe has no 'h_new_9+[.]{3}9+'"
    with address_space_cap(1 << 30), pytest.raises(RecipeError, match=message) as caught:
        from_recipe(long_read)
    assert len(str(caught.value)) < 300
    with pytest.raises(RecipeError, match=r"written without leading zeros \('h_new_1', not 'h_new_01'\)"):
        from_recipe(
            {"h_new_0": {"op": "linear", "input": ["x", "h_prev_0"]}, "h_new_01": {"op": "linear", "input": ["x"]}}
        )


@pytest.mark.parametrize(
    "recipe",
    [chain(100_000), {"h_new_0": nested(100_000)}, {"h_new_0": {"op": nested(100_000), "input": ["x"]}}],
    ids=["a chain of 100000 nodes", "a node nested 100000 deep", "an op nested 100000 deep"],
)
def test_a_deeply_nested_recipe_is_refused_in_one_line_not_a_recursion_error(recipe):
    with pytest.raises(RecipeError) as caught:
        from_recipe(recipe)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


def test_a_chain_as_long_as_a_cell_file_holds_imports_and_round_trips():
    deep = chain(500)  # 506 cell nodes, under file_format.MAX_NODES
    assert to_recipe(from_recipe(deep)) == deep
    wide = {
        "a": {"op": "linear", "input": ["x", "h_prev_0"]},
        **{f"t{i}": {"op": "activation_tanh", "input": ["a"]} for i in range(250)},
        "h_new_0": {"op": "elementwise_sum", "input": [f"t{i}" for i in range(250)]},
    }  # a chain of 249 adds
    assert canonical(to_recipe(from_recipe(wide))) == canonical(wide)


def test_a_state_that_never_reaches_the_output_is_pruned():
    recipe = {
        "a": {"op": "linear", "input": ["x", "h_prev_0"]},
        "h_new_0": {"op": "activation_tanh", "input": ["a"]},
        "h_new_1": {"op": "activation_sigm", "input": ["a"]},
    }  # state 1 is written, never read
    graph = from_recipe(recipe)
    assert state_names(graph) == ["h"] and "h_new_1" not in graph
    assert to_recipe(graph) == {k: v for k, v in recipe.items() if k != "h_new_1"}


@pytest.mark.parametrize(
    "recipe, message",
    [
        ({"h_new_0": {"op": "conv", "input": ["x"]}}, "recipe node 'h_new_0': unknown op 'conv'"),
        ({"h_new_0": {"op": "linear", "input": ["y"]}}, "recipe node 'h_new_0' reads 'y', which is not a node"),
        ({"a": {"op": "linear", "input": ["x", "h_prev_0"]}}, "no node h_new_0"),
        (
            {"a": {"op": "linear", "input": ["x", "h_prev_2"]}, "h_new_0": {"op": "activation_tanh", "input": ["a"]}},
            "recipe node 'a' reads 'h_prev_2' but the recipe has no 'h_new_2' giving its next value",
        ),
        (
            {
                "a": {"op": "linear", "input": ["x", "h_prev_0"]},
                "h_new_0": {"op": "elementwise_prod", "input": ["a", "a"]},
            },
            "recipe node 'h_new_0' \\(elementwise_prod\\) uses the same input twice",
        ),
        (
            {"a": {"op": "linear", "input": ["x", "h_prev_0"]}, "h_new_0": {"op": "blend", "input": ["a", "x"]}},
            "recipe node 'h_new_0' \\(blend\\) takes 3 input",
        ),
        ({"h_new_0": {"op": "linear", "input": ["x"]}}, "never reads its previous state"),
        ({"h_new_0": "linear"}, "recipe node 'h_new_0': expected"),
        ([], "a NAS-Bench-NLP recipe is a non-empty dict"),
        (
            {
                "a": {"op": "activation_tanh", "input": ["b"]},
                "b": {"op": "linear", "input": ["a", "x"]},
                "h_new_0": {"op": "linear", "input": ["b", "h_prev_0"]},
            },
            "recipe nodes a -> b -> a form a cycle",
        ),
    ],
)
def test_a_recipe_that_cannot_be_a_cell_is_refused_naming_the_node_and_why(recipe, message):
    with pytest.raises(RecipeError, match=message):
        from_recipe(recipe)


def test_a_graph_with_ops_nasbench_nlp_lacks_is_refused_naming_the_node():
    with pytest.raises(RecipeError, match="node 'one_minus_z' \\(sub\\): NAS-Bench-NLP has no such op"):
        to_recipe(zoo.get("gru"))
    assert same_architecture(from_recipe(to_recipe(zoo.get("lstm"))), zoo.get("lstm"))


def test_leaky_relu_is_an_op_cells_may_use_but_mutations_do_not_choose():
    assert "leaky_relu" not in [op for op, _ in mutation.ACTIVATION_CHOICES]


def test_the_command_line_writes_a_cell_and_a_diagram_per_recipe_and_refuses_bad_ones(tmp_path):
    examples()
    result = run_module("evo_rnn.interop", "nasbench-nlp", str(EXAMPLES), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    folders = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in folders] == [f"recipe-{i:03d}" for i in range(10)]
    picture = "cell.png" if diagram.graphviz_available() else "cell.dot"
    for folder in folders:
        assert file_format.load(folder / "cell.json") is not None and (folder / picture).stat().st_size > 0
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps([examples()[0], {"h_new_0": {"op": "conv", "input": ["x"]}}]))
    result = run_module("evo_rnn.interop", "nasbench-nlp", str(mixed), "-o", str(tmp_path / "mixed"))
    assert result.returncode == 2 and (tmp_path / "mixed" / "recipe-000" / "cell.json").is_file()
    assert re.search(r"recipe 1 of .*mixed.json: recipe node 'h_new_0': unknown op 'conv'", result.stderr)
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    result = run_module("evo_rnn.interop", "nasbench-nlp", str(broken), "-o", str(tmp_path / "b"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "is not JSON" in result.stderr


def test_the_command_line_refuses_a_huge_state_index_or_a_deeply_nested_file_in_one_line(tmp_path, capsys):
    huge = tmp_path / "huge.json"
    huge.write_text(
        json.dumps(
            [
                {
                    "h_new_999999999999": {"op": "linear", "input": ["x", "h_prev_0"]},
                    "h_new_0": {"op": "linear", "input": ["x", "h_prev_0"]},
                }
            ]
        )
    )
    with address_space_cap(1 << 30):
        assert interop_main(["nasbench-nlp", str(huge), "-o", str(tmp_path / "out")]) == 2
    errors = capsys.readouterr().err
    assert "Traceback" not in errors and not (tmp_path / "out").exists()
    assert [line for line in errors.splitlines() if "h_new_999999999999" in line] == [
        f"interop: recipe 0 of {huge}: recipe node 'h_new_999999999999': the state index is out of range, as a "
        "recipe of 2 node(s) has at most 2 state(s); number the states from 0 (h_new_0, h_new_1, ...)"
    ]
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert interop_main(["nasbench-nlp", str(deep), "-o", str(tmp_path / "out")]) == 2
    errors = capsys.readouterr().err
    assert errors.strip().splitlines() == [
        f"python -m evo_rnn.interop: error: {deep} nests too deeply to read; "
        "a NAS-Bench-NLP recipe is a flat dict of nodes"
    ]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: os.mkfifo(tmp / "fifo.json") or tmp / "fifo.json", "fifo.json is a FIFO (named pipe), not a"),
        (lambda tmp: Path("/dev/zero"), "/dev/zero is a character device, not a regular file"),
        (
            lambda tmp: (tmp / "a").symlink_to(tmp / "b") or (tmp / "b").symlink_to(tmp / "a") or tmp / "a",
            "Too many levels of symbolic links",
        ),
    ],
    ids=["a FIFO", "/dev/zero", "a symlink loop"],
)
def test_a_recipes_file_that_is_no_regular_file_is_one_line_without_a_wait(tmp_path, capsys, make, message):
    path = make(tmp_path)
    assert interop_main(["nasbench-nlp", str(path), "-o", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "out").exists()
