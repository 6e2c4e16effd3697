"""GraphCell and GraphRNN as Keras layers: masking, state, stacking, gradients, weights, config."""

from __future__ import annotations

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from evo_rnn.cells import zoo
from evo_rnn.cells.graph import parameter_count
from evo_rnn.core.errors import InvalidCellError
from evo_rnn.layers import GraphCell, GraphRNN

from conftest import ROOT, run_python

UNITS = 8


def _same(a, b, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol)


@pytest.mark.parametrize("name", zoo.names())
def test_graph_rnn_equals_generic_rnn_and_gradients_reach_every_weight(name, rng):
    x = rng.normal(size=(4, 6, UNITS)).astype("float32")
    cell = GraphCell(name, UNITS, seed=1)
    fast = GraphRNN(cell, return_sequences=True)
    generic = keras.layers.RNN(cell, return_sequences=True)
    _same(fast(x), generic(x))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(fast(x) ** 2)
    grads = tape.gradient(loss, cell.trainable_variables)
    assert len(grads) == len(cell.trainable_variables) > 0
    for variable, grad in zip(cell.trainable_variables, grads):
        assert grad is not None and float(tf.norm(grad)) > 0, variable.path
    # Every linear node's own slice of the fused kernels gets a gradient too.
    by_name = {v.path.split("/")[-1]: g.numpy() for v, g in zip(cell.trainable_variables, grads)}
    for node, (group, k) in cell._member_of.items():
        block = by_name[f"kernel_{group.source}"][:, k * UNITS : (k + 1) * UNITS]
        assert np.abs(block).sum() > 0, node


def test_masking_skips_padded_steps(rng):
    tokens = rng.integers(1, 20, size=(3, 7))
    tokens[0, 4:] = 0
    tokens[1, 2:] = 0
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(20, UNITS, mask_zero=True),
            GraphRNN(GraphCell("lstm", UNITS, seed=0)),
        ]
    )
    padded = model(tokens)
    for row, length in ((0, 4), (1, 2), (2, 7)):
        _same(padded[row], model(tokens[row : row + 1, :length])[0], atol=1e-5)


def test_stateful_carries_state_across_calls_and_resets(rng):
    x = rng.normal(size=(2, 10, UNITS)).astype("float32")
    layer = GraphRNN(GraphCell("gru", UNITS, seed=0), stateful=True, return_sequences=True)
    whole = GraphRNN(GraphCell("gru", UNITS, seed=0), return_sequences=True)
    full = whole(x)
    first, second = layer(x[:, :6]), layer(x[:, 6:])
    _same(np.concatenate([first, second], axis=1), full, atol=1e-5)
    layer.reset_state()
    _same(layer(x[:, :6]), first, atol=1e-6)


def test_return_state_and_go_backwards(rng):
    x = rng.normal(size=(2, 5, UNITS)).astype("float32")
    cell = GraphCell("lstm", UNITS, seed=0)
    out, h, c = GraphRNN(cell, return_state=True)(x)
    _same(out, h)
    assert c.shape == (2, UNITS)
    backwards = GraphRNN(cell, go_backwards=True)(x)
    _same(backwards, GraphRNN(cell)(x[:, ::-1]))
    unrolled = GraphRNN(cell, unroll=True)(x)
    _same(unrolled, out, atol=1e-6)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_a_compiled_model_runs_sequences_of_any_length_and_longer_than_the_batch(go_backwards, rng):
    # A model's predict function, once it has seen two lengths, is traced with an unknown time
    # dimension; Keras' loop then took the batch size (2) for the number of steps.
    inputs = keras.Input((None, 8))
    model = keras.Model(
        inputs, GraphRNN(GraphCell("gru", 16, seed=0), return_sequences=True, go_backwards=go_backwards)(inputs)
    )
    x = rng.normal(size=(2, 15, 8)).astype("float32")
    for length in (15, 9, 12, 15):
        compiled = model.predict_on_batch(x[:, :length])
        np.testing.assert_allclose(compiled, np.asarray(model(x[:, :length])), atol=1e-5)


def test_stacking(rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    stacked = keras.layers.RNN([GraphCell("gru", UNITS), GraphCell("mut3", UNITS)], return_state=True)
    out, gru_states, mut_states = stacked(x)  # StackedRNNCells nests each cell's states
    assert out.shape == gru_states[0].shape == mut_states[0].shape == (2, UNITS)
    _same(out, mut_states[0])
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            GraphRNN(GraphCell("lstm", UNITS), return_sequences=True),
            GraphRNN(GraphCell("mut1", UNITS)),
        ]
    )
    assert model(x).shape == (2, UNITS)


def test_init_follows_the_papers_prior_and_the_seed():
    def weights(seed, scale=2.0):
        cell = GraphCell("lstm", 16, init_scale=scale, seed=seed)
        cell.build((None, 16))
        return cell.node_weights()

    a, b, c = weights(3), weights(3), weights(4)
    limit = 2.0 / np.sqrt(16)
    for node, entry in a.items():
        np.testing.assert_array_equal(entry["kernel"], b[node]["kernel"])
        assert np.abs(entry["kernel"]).max() <= limit + 1e-7
        assert np.abs(entry["kernel"]).max() > 0.8 * limit
    assert any(not np.array_equal(a[n]["kernel"], c[n]["kernel"]) for n in a)
    # Distinct fused kernels (x side, h side) are drawn independently.
    assert not np.array_equal(a["W_xi"]["kernel"], a["W_hi"]["kernel"])


@pytest.mark.parametrize("name", zoo.names())
def test_weight_count_matches_the_graph(name):
    cell = GraphCell(name, UNITS)
    keras.layers.RNN(cell)(np.zeros((1, 2, UNITS), "float32"))
    assert cell.count_params() == parameter_count(zoo.get(name), UNITS, UNITS)
    assert set(cell.node_weights()) == {n for n, op in zoo.get(name).nodes(data="op") if op == "linear"}


def test_node_weights_round_trip_and_errors(rng):
    cell = GraphCell("mut2", UNITS)
    with pytest.raises(ValueError, match="not built yet"):
        cell.node_weights()
    cell.build((None, UNITS))
    new = {
        n: {k: rng.normal(size=v.shape).astype("float32") for k, v in e.items()} for n, e in cell.node_weights().items()
    }
    cell.set_node_weights(new)
    for node, entry in cell.node_weights().items():
        for key, value in entry.items():
            np.testing.assert_array_equal(value, new[node][key])
    assert "bias" in cell.node_weights()["W_hr"] and "bias" not in cell.node_weights()["W_hz"]
    with pytest.raises(ValueError, match="'W_nope' is not a linear node"):
        cell.set_node_weights({"W_nope": {}})
    with pytest.raises(ValueError, match=r"kernel must have shape \(8, 8\)"):
        cell.set_node_weights({"W_xz": {"kernel": np.zeros((3, 8))}})
    with pytest.raises(ValueError, match="'W_hz' has no bias"):
        cell.set_node_weights({"W_hz": {"bias": np.zeros(8)}})
    with pytest.raises(ValueError, match="unknown key"):
        cell.set_node_weights({"W_hz": {"weights": np.zeros(8)}})


def test_partial_biases_in_one_fused_group(rng):
    # Two linears on h, only one with a bias: the fused matmul must add it to that one only.
    from evo_rnn.cells.graph import CellBuilder

    b = CellBuilder("mixed")
    a = b.activation("tanh", "a", b.add("s", b.linear("W_x", "x", 0.5), b.linear("U1", "h", 2.0)))
    b.output("h", b.mul("m", a, b.activation("sigmoid", "g", b.linear("U2", "h"))))
    cell = GraphCell(b.build(), UNITS, seed=0)
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    out = GraphRNN(cell)(x)
    w = cell.node_weights()
    np.testing.assert_array_equal(w["U1"]["bias"], np.full(UNITS, 2.0))
    h = np.zeros((2, UNITS))
    for t in range(3):
        u1 = h @ w["U1"]["kernel"] + w["U1"]["bias"]
        u2 = h @ w["U2"]["kernel"]
        h = np.tanh(x[:, t] @ w["W_x"]["kernel"] + 0.5 + u1) * (1 / (1 + np.exp(-u2)))
    _same(out, h, atol=1e-5)


def test_input_width_must_equal_units_when_x_is_used_directly():
    with pytest.raises(
        ValueError, match=r"uses its input `x` directly \(in node\(s\) \['tanh_x'\]\).*equal `units` \(8\), got 5"
    ):
        GraphRNN(GraphCell("mut1", UNITS))(np.zeros((1, 3, 5), "float32"))
    GraphRNN(GraphCell("lstm", UNITS))(np.zeros((1, 3, 5), "float32"))  # linear-only x is fine


def test_constructor_errors():
    with pytest.raises(ValueError, match="`units`, expected a positive integer, got -3"):
        GraphCell("gru", -3)
    with pytest.raises(ValueError, match="`init_scale`"):
        GraphCell("gru", 4, init_scale=0)
    with pytest.raises(TypeError, match="argument `graph`"):
        GraphCell(42, 4)
    broken = zoo.get("gru")
    broken.remove_node("h_next")
    with pytest.raises(InvalidCellError, match="no output node"):
        GraphCell(broken, 4)
    with pytest.raises(TypeError, match="GraphRNN runs a GraphCell"):
        GraphRNN(keras.layers.GRUCell(4))


@pytest.mark.parametrize("name", ["lstm", "mut1"])
def test_config_round_trip(name):
    cell = GraphCell(name, UNITS, init_scale=1.4, seed=7, name=f"my_{name}")
    config = cell.get_config()
    text = json.dumps(config, sort_keys=True)
    assert config["graph"]["format_version"] == 1
    clone = GraphCell.from_config(json.loads(text))
    assert json.dumps(clone.get_config(), sort_keys=True) == text
    layer = GraphRNN(cell, return_sequences=True, stateful=False)
    layer_config = keras.saving.serialize_keras_object(layer)
    rebuilt = keras.saving.deserialize_keras_object(json.loads(json.dumps(layer_config)))
    assert isinstance(rebuilt, GraphRNN) and isinstance(rebuilt.cell, GraphCell)
    assert json.dumps(keras.saving.serialize_keras_object(rebuilt), sort_keys=True) == json.dumps(
        layer_config, sort_keys=True
    )


def test_layer_code_uses_keras_ops_only():
    for path in (ROOT / "evo_rnn" / "layers").glob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+tensorflow", source, re.M), path
        assert "tf." not in source, path


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("jax") is None, reason="jax is not installed (pip install evo_rnn[jax])"
)
def test_runs_on_the_jax_backend():
    code = """
import numpy as np, keras, evo_rnn
assert keras.backend.backend() == "jax"
x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
for name in evo_rnn.cells.zoo.names():
    cell = evo_rnn.GraphCell(name, 8, seed=0)
    a = evo_rnn.GraphRNN(cell, return_sequences=True)(x)
    b = keras.layers.RNN(cell, return_sequences=True)(x)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
model = keras.Sequential([keras.Input((5, 8)), evo_rnn.GraphRNN(evo_rnn.GraphCell("lstm", 8)), keras.layers.Dense(1)])
model.compile("sgd", "mse", jit_compile=True)
history = model.fit(x, np.ones((2, 1)), epochs=3, verbose=0)
assert history.history["loss"][-1] < history.history["loss"][0]
print("jax ok")
"""
    result = run_python(code, env={"KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "jax ok" in result.stdout


@pytest.mark.parametrize("name", ["lstm", "mut1"])
def test_fallback_loop_without_keras_internals_gives_the_same_results(name, rng, monkeypatch):
    from evo_rnn.layers import graph_rnn

    tokens = rng.integers(1, 20, size=(3, 6))
    tokens[0, 3:] = 0
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(20, UNITS, mask_zero=True),
            GraphRNN(GraphCell(name, UNITS, seed=0), return_sequences=True, go_backwards=True),
        ]
    )
    fast = np.asarray(model(tokens))
    monkeypatch.setattr(graph_rnn, "_backend_rnn", None)
    calls = []
    original = GraphRNN._batch_major_loop
    monkeypatch.setattr(GraphRNN, "_batch_major_loop", lambda self, *a: calls.append(1) or original(self, *a))
    model_fallback = keras.models.clone_model(model)
    model_fallback.set_weights(model.get_weights())
    _same(model_fallback(tokens), fast, atol=1e-6)
    assert calls
