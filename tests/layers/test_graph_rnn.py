"""Saved models reload in a fresh process: `.keras` with evo_rnn, SavedModel without it."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from evo_rnn.layers import GraphCell, GraphRNN

from conftest import run_python


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    keras.utils.set_random_seed(0)
    directory = tmp_path_factory.mktemp("saved")
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(20, 8),
            GraphRNN(GraphCell("mut1", 8, init_scale=1.4), return_sequences=True),
            GraphRNN(GraphCell("lstm", 8)),
            keras.layers.Dense(3),
        ]
    )
    model.compile("sgd", "mse")
    tokens = np.random.default_rng(0).integers(0, 20, size=(6, 7)).astype("int32")
    model.fit(tokens, np.ones((6, 3)), epochs=1, verbose=0)
    np.save(directory / "tokens.npy", tokens)
    np.save(directory / "expected.npy", model.predict(tokens, verbose=0))
    return model, directory


def test_keras_file_reloads_in_a_fresh_process_with_identical_predictions(trained):
    model, directory = trained
    model.save(directory / "model.keras")
    code = """
import sys, numpy as np, keras, evo_rnn
d = sys.argv[1]
model = keras.models.load_model(d + "/model.keras", safe_mode=True)
assert isinstance(model.layers[1], evo_rnn.GraphRNN), type(model.layers[1])
got = model.predict(np.load(d + "/tokens.npy"), verbose=0)
np.testing.assert_array_equal(got, np.load(d + "/expected.npy"))
print("keras ok")
"""
    result = run_python(code, str(directory))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "keras ok" in result.stdout


def test_keras_file_needs_evo_rnn_registered(trained):
    model, directory = trained
    model.save(directory / "model2.keras")
    code = """
import sys, keras
try:
    keras.models.load_model(sys.argv[1] + "/model2.keras")
except Exception as error:
    print("refused:", type(error).__name__, "GraphRNN" in str(error) or "GraphCell" in str(error))
"""
    result = run_python(code, str(directory))
    assert "refused:" in result.stdout and "True" in result.stdout, result.stdout + result.stderr[-2000:]


def test_saved_model_serves_without_evo_rnn(trained):
    model, directory = trained
    model.export(str(directory / "savedmodel"), verbose=False)
    code = """
import sys
sys.modules["evo_rnn"] = None  # any attempt to import evo_rnn now fails
import numpy as np, tensorflow as tf
d = sys.argv[1]
served = tf.saved_model.load(d + "/savedmodel")
got = served.serve(tf.constant(np.load(d + "/tokens.npy"))).numpy()
np.testing.assert_allclose(got, np.load(d + "/expected.npy"), atol=1e-6)
shorter = served.serve(tf.constant(np.load(d + "/tokens.npy")[:, :3])).numpy()
assert shorter.shape == (6, 3)
print("savedmodel ok")
"""
    result = run_python(code, str(directory))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "savedmodel ok" in result.stdout
