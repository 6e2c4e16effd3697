"""Running an exported model on text: each task's encoding, generation until the stop token,
recall, and one-line errors for text that does not fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evo_rnn import predict, presets, tasks
from evo_rnn.errors import EvoRnnError

from conftest import run_module, stderr_lines


class ScriptedModel:
    """Stands for a Keras model: on its k-th call every position's logits pick token
    `script[k]` (the last one once the script runs out). Records what it was fed."""

    def __init__(self, script: list[int], classes: int, batch: int | None = None):
        self.script, self.classes, self.fed = script, classes, []
        self.inputs = [type("Input", (), {"shape": (batch, None)})()]
        self.layers = []

    def predict_on_batch(self, rows: np.ndarray) -> np.ndarray:
        self.fed.append(rows.copy())
        logits = np.zeros((*rows.shape, self.classes), dtype="float32")
        logits[..., self.script[min(len(self.fed) - 1, len(self.script) - 1)]] = 1.0
        return logits


def encoding_of(name: str, preset: str = "quick") -> predict.Encoding:
    task = tasks.get(name, presets.get(preset).task_config(name))
    return predict.Encoding({"format_version": 1, "task": name, **task.encoding()})


def test_arith_generates_until_the_stop_token_from_the_start_token():
    encoding = encoding_of("arith", "paper")  # up to 8 digits: answers of up to 9 characters
    ids = [encoding.output_tokens.index(c) for c in "46.9"]  # stops after '.'
    model = ScriptedModel(ids, len(encoding.output_tokens))
    assert predict.predict(model, encoding, "12+34=") == "46."
    first = model.fed[0][0].tolist()
    assert first[0] == encoding.input_tokens.index("<bos>")
    assert "".join(encoding.input_tokens[i] for i in first[1:]) == "12+34="
    assert len(model.fed) == 3 and model.fed[2].shape[1] == len(first) + 2  # each prediction fed back


def test_generation_stops_at_max_tokens_without_a_stop_token():
    encoding = encoding_of("xml")
    model = ScriptedModel([encoding.output_tokens.index("a")], len(encoding.output_tokens))
    assert predict.predict(model, encoding, "<ab>", max_tokens=5) == "aaaaa"
    arith = encoding_of("arith")  # quick: 1-digit operands, so an answer has at most 2 characters
    model = ScriptedModel([arith.output_tokens.index("1")], len(arith.output_tokens))
    assert predict.predict(model, arith, "9+9=") == "11"


def test_memorize_recalls_at_the_markers():
    encoding = encoding_of("memorize")

    class Echo(ScriptedModel):
        def predict_on_batch(self, rows):
            self.fed.append(rows.copy())
            logits = np.zeros((*rows.shape, self.classes), dtype="float32")
            k = rows.shape[1] // 2
            for t in range(k, 2 * k):
                logits[:, t, rows[0, t - k]] = 1.0  # a perfect memoriser
            return logits

    model = Echo([], len(encoding.output_tokens))
    assert predict.predict(model, encoding, "hello") == "hello"
    assert model.fed[0][0].tolist()[5:] == [encoding.input_tokens.index("?")] * 5


def test_a_stateful_model_gets_its_whole_batch():
    encoding = encoding_of("arith")
    model = ScriptedModel([encoding.output_tokens.index(".")], len(encoding.output_tokens), batch=20)
    assert predict.predict(model, encoding, "1+1=") == "."
    assert model.fed[0].shape[0] == 20 and (model.fed[0] == model.fed[0][0]).all()


@pytest.mark.parametrize("name, text, message", [
    ("arith", "12*34=", "'*' is not in the arith model's vocabulary"),
    ("memorize", "abc", "recalls 5 symbols; give 5 (got 3)"),
    ("memorize", "ab?de", "'?' is not in the memorize model's vocabulary"),
])
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
    (tmp_path / "task-arith.json").write_text(json.dumps({"format_version": 1, "task": "arith",
                                                           **tasks.get("arith").encoding()}))
    result = run_module("evo_rnn.predict", str(tmp_path / "model-arith.keras"), "1+1=")
    lines = stderr_lines(result)
    assert result.returncode == 2 and len(lines) == 1 and "is not a loadable .keras model" in lines[0]
