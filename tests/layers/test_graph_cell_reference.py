"""GraphCell computes exactly what the paper's equations and Keras' own layers compute."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from evo_rnn.layers import GraphCell, GraphRNN

UNITS, BATCH, STEPS = 6, 3, 9
ATOL = 1e-5


def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def lin(w, name, a):
    return a @ w[name]["kernel"] + w[name].get("bias", 0.0)


def gate(w, name, x, h, act=sig):
    return act(lin(w, f"W_x{name}", x) + lin(w, f"W_h{name}", h))


def lstm_step(w, x, states, forget=True, input_gate=True, output_gate=True):
    h, c = states
    g = gate(w, "g", x, h, np.tanh)
    i = gate(w, "i", x, h) if input_gate else 1.0
    f = gate(w, "f", x, h) if forget else 1.0
    o = gate(w, "o", x, h) if output_gate else 1.0
    c_new = f * c + i * g
    return [o * np.tanh(c_new), c_new]


def tanh_step(w, x, states):
    (h,) = states
    return [np.tanh(lin(w, "W_xh", x) + lin(w, "W_hh", h))]


def gru_step(w, x, states):
    (h,) = states
    z, r = gate(w, "z", x, h), gate(w, "r", x, h)
    candidate = np.tanh(lin(w, "W_xh", x) + lin(w, "W_hh", r * h))
    return [z * h + (1 - z) * candidate]


def mut1_step(w, x, states):
    (h,) = states
    z = sig(lin(w, "W_xz", x))
    r = sig(lin(w, "W_xr", x) + lin(w, "W_hr", h))
    return [np.tanh(lin(w, "W_hh", r * h) + np.tanh(x)) * z + h * (1 - z)]


def mut2_step(w, x, states):
    (h,) = states
    z = sig(lin(w, "W_xz", x) + lin(w, "W_hz", h))
    r = sig(x + lin(w, "W_hr", h))
    return [np.tanh(lin(w, "W_hh", r * h) + lin(w, "W_xh", x)) * z + h * (1 - z)]


def mut3_step(w, x, states):
    (h,) = states
    z = sig(lin(w, "W_xz", x) + lin(w, "W_hz", np.tanh(h)))
    r = sig(lin(w, "W_xr", x) + lin(w, "W_hr", h))
    return [np.tanh(lin(w, "W_hh", r * h) + lin(w, "W_xh", x)) * z + h * (1 - z)]


REFERENCES = {
    "tanh": tanh_step,
    "lstm": lstm_step,
    "lstm_f": lambda w, x, s: lstm_step(w, x, s, forget=False),
    "lstm_i": lambda w, x, s: lstm_step(w, x, s, input_gate=False),
    "lstm_o": lambda w, x, s: lstm_step(w, x, s, output_gate=False),
    "lstm_b": lstm_step,
    "gru": gru_step,
    "mut1": mut1_step,
    "mut2": mut2_step,
    "mut3": mut3_step,
}


def _randomise(cell: GraphCell, rng) -> dict:
    weights = {
        node: {key: rng.normal(0, 0.6, size=value.shape).astype("float32") for key, value in entry.items()}
        for node, entry in cell.node_weights().items()
    }
    cell.set_node_weights(weights)
    return weights


@pytest.mark.parametrize("name", list(REFERENCES))
@pytest.mark.parametrize("layer", ["GraphRNN", "keras.layers.RNN"])
def test_cell_matches_its_equations(name, layer, rng):
    x = rng.normal(size=(BATCH, STEPS, UNITS)).astype("float32")  # input width = units (MUT1/2 read x)
    cell = GraphCell(name, UNITS, seed=0)
    wrap = GraphRNN if layer == "GraphRNN" else keras.layers.RNN
    rnn = wrap(cell, return_sequences=True, return_state=True)
    n_states = len(cell.state_size)
    initial = [rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(n_states)]
    rnn(x, initial_state=initial)  # build
    weights = _randomise(cell, rng)
    outputs, *final = rnn(x, initial_state=initial)

    states = [s.astype("float64") for s in initial]
    expected = []
    for t in range(STEPS):
        states = REFERENCES[name](weights, x[:, t].astype("float64"), states)
        expected.append(states[0])
    np.testing.assert_allclose(np.asarray(outputs), np.stack(expected, axis=1), atol=ATOL)
    for got, want in zip(final, states):
        np.testing.assert_allclose(np.asarray(got), want, atol=ATOL)


def _random_keras_weights(layer, rng):
    layer.set_weights([rng.normal(0, 0.5, size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer.cell.kernel.numpy(), layer.cell.recurrent_kernel.numpy(), layer.cell.bias.numpy()


def _compare_with_keras(reference, name, gate_order, rng, input_dim=5):
    x = rng.normal(size=(BATCH, STEPS, input_dim)).astype("float32")
    reference(x)
    kernel, recurrent, bias = _random_keras_weights(reference, rng)
    ours = GraphRNN(GraphCell(name, UNITS), return_sequences=True, return_state=True)
    ours(x)
    u = UNITS
    weights = {}
    for k, g in enumerate(gate_order):
        cols = slice(k * u, (k + 1) * u)
        weights[f"W_x{g}"] = {"kernel": kernel[:, cols], "bias": bias[cols]}
        weights[f"W_h{g}"] = {"kernel": recurrent[:, cols]}
    ours.cell.set_node_weights(weights)
    want, got = reference(x), ours(x)
    assert len(want) == len(got)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL)
    # keras.layers.RNN(GraphCell) agrees too.
    generic = keras.layers.RNN(ours.cell, return_sequences=True, return_state=True)
    for a, b in zip(generic(x), want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL)


def test_lstm_equals_keras_lstm(rng):
    # Keras' kernel columns: i, f, c (our candidate g), o; outputs [sequence, h, c].
    _compare_with_keras(keras.layers.LSTM(UNITS, return_sequences=True, return_state=True), "lstm", "ifgo", rng)


def test_gru_equals_keras_gru_reset_before(rng):
    # Keras' kernel columns: z, r, h (candidate).
    layer = keras.layers.GRU(UNITS, reset_after=False, return_sequences=True, return_state=True)
    _compare_with_keras(layer, "gru", "zrh", rng)


def test_tanh_equals_keras_simple_rnn(rng):
    layer = keras.layers.SimpleRNN(UNITS, return_sequences=True, return_state=True)
    _compare_with_keras(layer, "tanh", "h", rng)


def test_lstm_b_forget_bias_starts_at_one_and_others_at_zero():
    cell = GraphCell("lstm_b", UNITS)
    cell.build((None, 4))
    weights = cell.node_weights()
    np.testing.assert_array_equal(weights["W_xf"]["bias"], np.ones(UNITS))
    for g in "igo":
        np.testing.assert_array_equal(weights[f"W_x{g}"]["bias"], np.zeros(UNITS))
    plain = GraphCell("lstm", UNITS)
    plain.build((None, 4))
    np.testing.assert_array_equal(plain.node_weights()["W_xf"]["bias"], np.zeros(UNITS))
