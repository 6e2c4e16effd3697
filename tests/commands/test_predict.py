"""Running an exported model on text: each task's encoding, generation a step at a time until
the stop token or the cap, recall, and one-line errors for text that does not fit."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest

from evo_rnn import tasks
from evo_rnn.commands import predict
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.training import presets

from conftest import ROOT, run_module, stderr_lines

EXPORTED = ROOT / "saved_architectures" / "reference-quick-seed0" / "1-94c6576d"


class ScriptedModel(predict.StepModel):
    """Stands for a model run a step at a time: on its k-th `feed` every position's logits pick
    token `script[k]` (the last one once the script runs out). Records what it was fed."""

    def __init__(self, script: list[int], classes: int):
        self.script, self.classes, self.fed = script, classes, []

    def reset(self) -> None:
        self.fed.clear()

    def feed(self, ids: list[int]) -> np.ndarray:
        self.fed.append(list(ids))
        logits = np.zeros((len(ids), self.classes), dtype="float32")
        logits[:, self.script[min(len(self.fed) - 1, len(self.script) - 1)]] = 1.0
        return logits


def encoding_of(name: str, preset: str = "quick") -> predict.Encoding:
    task = tasks.get(name, presets.get(preset).task_config(name))
    return predict.Encoding({"format_version": 1, "task": name, **task.encoding()})


def full_recompute(model, encoding: predict.Encoding, text: str, max_tokens: int) -> str:
    """The reference: each token from a pass of the whole sequence so far, from fresh states."""
    sequence = [encoding.input_tokens.index(encoding.start), *encoding.encode(text)]
    produced = []
    for _ in range(predict.token_limit(encoding, max_tokens)):
        token = int(np.asarray(model.predict_on_batch(np.asarray([sequence], dtype="int32")))[0, -1].argmax())
        produced.append(token)
        if encoding.output_tokens[token] == encoding.stop:
            break
        sequence.append(token)
    return encoding.decode(produced)


def test_arith_generates_until_the_stop_token_from_the_start_token():
    encoding = encoding_of("arith", "paper")  # up to 8 digits: answers of up to 9 characters
    ids = [encoding.output_tokens.index(c) for c in "46.9"]  # stops after '.'
    model = ScriptedModel(ids, len(encoding.output_tokens))
    assert predict.predict(model, encoding, "12+34=") == "46."
    first = model.fed[0]
    assert first[0] == encoding.input_tokens.index("<bos>")
    assert "".join(encoding.input_tokens[i] for i in first[1:]) == "12+34="
    assert model.fed[1:] == [[ids[0]], [ids[1]]]  # each prediction fed back alone, from the states


def test_generation_stops_at_max_tokens_or_the_default_cap_without_a_stop_token():
    encoding = encoding_of("xml")
    model = ScriptedModel([encoding.output_tokens.index("a")], len(encoding.output_tokens))
    assert predict.predict(model, encoding, "<ab>", max_tokens=5) == "aaaaa"
    assert predict.predict(model, encoding, "<ab>") == "a" * predict.DEFAULT_MAX_TOKENS
    arith = encoding_of("arith")  # quick: 1-digit operands, so an answer has at most 2 characters
    model = ScriptedModel([arith.output_tokens.index("1")], len(arith.output_tokens))
    assert predict.predict(model, arith, "9+9=", max_tokens=50) == "11"


def test_sampling_follows_the_temperature_and_the_seed():
    encoding = encoding_of("xml")
    favoured = [encoding.output_tokens.index("a")]
    greedy = predict.predict(ScriptedModel(favoured, len(encoding.output_tokens)), encoding, "<ab>", max_tokens=40)
    assert greedy == "a" * 40  # temperature 0: the likeliest token every time
    sample = lambda t, seed: predict.predict(
        ScriptedModel(favoured, len(encoding.output_tokens)), encoding, "<ab>", max_tokens=40, temperature=t, seed=seed
    )
    assert sample(0.05, 1) == greedy  # logits apart by 1: at 0.05 the others weigh e^-20
    hot = sample(5.0, 1)
    assert hot == sample(5.0, 1) and hot != sample(5.0, 2)  # the seed decides the draw
    assert len(set(hot)) > 3 and hot.count("a") < 20  # near-uniform over the alphabet at 5
    with pytest.raises(EvoRnnError, match="temperature must be a finite number of at least 0"):
        sample(-1.0, 0)


def test_memorize_recalls_at_the_markers():
    encoding = encoding_of("memorize")

    class Echo(ScriptedModel):
        def feed(self, ids):
            self.fed.append(list(ids))
            logits = np.zeros((len(ids), self.classes), dtype="float32")
            k = len(ids) // 2
            for t in range(k, 2 * k):
                logits[t, ids[t - k]] = 1.0  # a perfect memoriser
            return logits

    model = Echo([], len(encoding.output_tokens))
    assert predict.predict(model, encoding, "hello") == "hello"
    assert model.fed[0][5:] == [encoding.input_tokens.index("?")] * 5


@pytest.mark.parametrize("stateful", [False, True])
def test_a_step_model_continues_from_its_states_as_the_whole_sequence_does(stateful):
    import keras

    from evo_rnn.layers import GraphCell, GraphRNN

    batch = 4 if stateful else None  # a stateful model's fixed batch; the step model runs a batch of one
    keras.utils.set_random_seed(0)
    tokens = keras.Input(batch_shape=(batch, None), dtype="int32")
    x = keras.layers.Embedding(10, 8)(tokens)
    for layer in range(2):
        x = GraphRNN(GraphCell("lstm", 8, seed=layer), return_sequences=True, stateful=stateful)(x)
    model = keras.Model(tokens, keras.layers.Dense(10)(keras.layers.Dropout(0.5)(x)))
    sequence = [3, 1, 4, 1, 5, 9, 2]
    expected = np.asarray(model.predict_on_batch(np.tile(np.asarray([sequence], dtype="int32"), (batch or 1, 1))))[0]
    steps = predict.StepModel(model)
    logits = np.concatenate([steps.feed(sequence[:4]), *(steps.feed([token]) for token in sequence[4:])])
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    steps.reset()
    np.testing.assert_allclose(steps.feed(sequence[:2]), expected[:2], rtol=1e-5, atol=1e-5)


def test_a_model_that_is_not_a_chain_of_step_layers_is_refused():
    import keras

    tokens = keras.Input(shape=(None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 8)(tokens)
    model = keras.Model(tokens, keras.layers.Conv1D(4, 3)(embedded))
    with pytest.raises(EvoRnnError, match=r"\(Conv1D\) is not one predict can run a step at a time"):
        predict.StepModel(model)
    branches = keras.Model(tokens, keras.layers.Dense(4)(embedded) + keras.layers.Dense(4)(embedded))
    with pytest.raises(EvoRnnError, match="does not read the output of the layer before it"):
        predict.StepModel(branches)


@pytest.mark.parametrize("task, texts", [("xml", ["<ab><c>", "<a>", "<x><yz></yz>"]), ("arith", ["1+2=", "ab3+4c="])])
def test_generation_step_by_step_gives_the_tokens_of_the_full_recompute(task, texts):
    import keras

    import evo_rnn  # noqa: F401  (registers the layers the model holds)

    model = keras.models.load_model(EXPORTED / f"model-{task}.keras")
    encoding = predict.Encoding.load(EXPORTED / f"task-{task}.json")
    steps = predict.StepModel(model)  # built once for every prompt
    for text in texts:
        assert predict.predict(steps, encoding, text, max_tokens=40) == full_recompute(model, encoding, text, 40)
    assert predict.predict(model, encoding, texts[0], max_tokens=40) == full_recompute(model, encoding, texts[0], 40)


def test_generation_runs_each_token_through_the_model_once(monkeypatch, capsys):
    import keras

    fed: list[int] = []  # the positions fed in each model call
    original = keras.Model.predict_on_batch

    def counting(self, inputs):
        fed.append(np.shape(inputs[0] if isinstance(inputs, list) else inputs)[1])
        return original(self, inputs)

    monkeypatch.setattr(keras.Model, "predict_on_batch", counting)
    assert predict.main([str(EXPORTED / "model-xml.keras"), "<ab>", "--max-tokens", "300"]) == 0
    assert len(capsys.readouterr().out.strip()) == 300  # xml has no stop token: 300 characters
    assert fed == [len("<ab>") + 1] + [1] * 299  # the prompt after <bos> once, then each token alone


@pytest.mark.parametrize("max_tokens", ["0", "2001", "1000000000"])
def test_the_command_refuses_a_token_count_out_of_range(max_tokens, capsys):
    code = predict.main([str(EXPORTED / "model-xml.keras"), "<ab>", "--max-tokens", max_tokens])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert f"--max-tokens must be from 1 to {predict.MAX_TOKENS_LIMIT}, got {max_tokens}" in lines[0]


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("arith", "12*34=", "'*' is not in the arith model's vocabulary"),
        ("memorize", "abc", "recalls 5 symbols; give 5 (got 3)"),
        ("memorize", "ab?de", "'?' is not in the memorize model's vocabulary"),
    ],
)
def test_text_that_does_not_fit_is_refused(name, text, message):
    encoding = encoding_of(name)
    with pytest.raises(EvoRnnError, match=message.replace("?", r"\?").replace("(", r"\(").replace(")", r"\)")):
        predict.predict(ScriptedModel([0], len(encoding.output_tokens)), encoding, text)


def test_the_command_names_a_missing_model_or_task_file(tmp_path):
    result = run_module("evo_rnn.predict", str(tmp_path / "model-arith.keras"), "1+1=")
    assert result.returncode == 2 and "no model file" in stderr_lines(result)[0]
    (tmp_path / "model-arith.keras").write_bytes(b"not a zip")
    result = run_module("evo_rnn.predict", str(tmp_path / "model-arith.keras"), "1+1=")
    assert result.returncode == 2 and "no task file" in stderr_lines(result)[0] and "task-arith.json" in result.stderr
    (tmp_path / "task-arith.json").write_text(
        json.dumps({"format_version": 1, "task": "arith", **tasks.get("arith").encoding()})
    )
    result = run_module("evo_rnn.predict", str(tmp_path / "model-arith.keras"), "1+1=")
    lines = stderr_lines(result)
    assert result.returncode == 2 and len(lines) == 1 and "is not a loadable .keras model" in lines[0]


def test_a_tampered_model_config_is_one_line_and_exit_2(tmp_path):
    """A .keras file whose config names an argument no layer takes (Keras raises TypeError)."""
    source = EXPORTED / "model-xml.keras"
    tampered = tmp_path / "model-xml.keras"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(tampered, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1]["config"]["no_such_argument"] = 1
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    shutil.copyfile(EXPORTED / "task-xml.json", tmp_path / "task-xml.json")
    result = run_module("evo_rnn.predict", str(tampered), "<a>")
    lines = stderr_lines(result)
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert "is not a loadable .keras model (TypeError" in lines[0]


def _npz_model(tmp_path) -> tuple[str, str]:
    """A model file of an npz: task (never loaded: the inputs are refused first) and its task file."""
    (tmp_path / "model-npz-seq-0.keras").write_bytes(b"never loaded")
    described = {
        "format_version": 1,
        "task": "npz:seq.npz",
        "kind": "npz",
        "inputs": "int token ids [n, T]",
        "input_size": 10,
        "classes": 2,
        "labels": "one per sequence, read at the last real step",
        "lengths": "optional [n]: the real steps of each row",
    }
    (tmp_path / "task-npz-seq-0.json").write_text(json.dumps(described))
    return str(tmp_path / "model-npz-seq-0.keras"), str(tmp_path / "task-npz-seq-0.json")


def _saved(tmp_path, name: str, data: bytes) -> str:
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name)


def _npz_bytes(**arrays) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npy_bytes(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


BAD_INPUTS = {
    "a .npy renamed .npz": (lambda tmp: _saved(tmp, "in.npz", _npy_bytes(np.zeros((3, 5), int))), "is a single .npy"),
    "float lengths": (
        lambda tmp: _saved(tmp, "in.npz", _npz_bytes(x=np.zeros((3, 5), int), lengths=np.full(3, 2.5))),
        "lengths (dtype float64, shape (3,)) must be [n] whole numbers from 1 to T = 5",
    ),
    "a 1-D x": (
        lambda tmp: _saved(tmp, "in.npz", _npz_bytes(x=np.zeros(5, int))),
        "x has shape (5,); the model expects int token ids [n, T]",
    ),
    "no x": (lambda tmp: _saved(tmp, "in.npz", _npz_bytes(y=np.zeros(5, int))), "has no array x (it has y)"),
    "a FIFO": (
        lambda tmp: __import__("os").mkfifo(tmp / "in.npz") or str(tmp / "in.npz"),
        "is a FIFO (named pipe), not a regular file",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_inputs_that_do_not_fit_an_npz_model_are_one_line(tmp_path, case, capsys):
    model, _ = _npz_model(tmp_path)
    make, message = BAD_INPUTS[case]
    assert predict.main([model, make(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def _text_task_file(tmp_path) -> str:
    """The task file of a text: task (a vocabulary of other sizes than arith's)."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\n" * 200)
    task = tasks.get(f"text:{corpus}")
    path = tmp_path / "task-text.json"
    path.write_text(json.dumps({"format_version": 1, "task": task.name, **task.encoding()}))
    return str(path)


def _edited(tmp_path, **changes) -> str:
    data = {**json.loads((EXPORTED / "task-arith.json").read_text()), **changes}
    path = tmp_path / "task-edited.json"
    path.write_text(json.dumps(data))
    return str(path)


EDITED = {
    "another task's file (text)": (_text_task_file, "does not fit"),
    "another task's file (xml)": (lambda tmp: str(EXPORTED / "task-xml.json"), "the model reads 42 input tokens"),
    "a start token it lacks": (lambda tmp: _edited(tmp, start="<nope>"), "its start token '<nope>' is not among"),
    "max_tokens as text": (lambda tmp: _edited(tmp, max_tokens="9"), "max_tokens is '9', not a whole number"),
    "tokens that are no strings": (lambda tmp: _edited(tmp, input_tokens=[1, 2]), "must be lists of strings"),
    "an npz file without sizes": (
        lambda tmp: _saved(tmp, "task-npz.json", json.dumps({"format_version": 1, "kind": "npz"}).encode()),
        "(its inputs, labels, input_size, classes are missing or wrong)",
    ),
}


@pytest.mark.parametrize("case", EDITED)
def test_a_task_file_that_is_not_the_models_own_is_one_line_naming_it(tmp_path, case, capsys):
    make, message = EDITED[case]
    task_file = make(tmp_path)
    code = predict.main([str(EXPORTED / "model-arith.keras"), "The ", "--task-file", task_file])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0] and task_file in lines[0], lines
