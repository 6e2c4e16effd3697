"""`python -m evo_rnn.predict MODEL TEXT`: run an exported model on a person's text, e.g. a quick
arith model on "12+34=" prints its answer. The text encoding comes from the `task-<task>.json`
the export writes beside each `model-<task>.keras`."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from evo_rnn.cli import ArgumentParser, run
from evo_rnn.errors import EvoRnnError

__all__ = ["Encoding", "build_parser", "main", "predict"]

MODES = ("generate", "recall")


class Encoding:
    """A task's text encoding, as exported (`Task.encoding()` plus the task's name and config).

    Raises:
        EvoRnnError: the data is not a task file this version reads.
    """

    def __init__(self, data: dict[str, Any], source: str = "the task file"):
        try:
            self.task, self.mode, self.unit = data["task"], data["mode"], data["unit"]
            self.input_tokens: list[str] = list(data["input_tokens"])
            self.output_tokens: list[str] = list(data["output_tokens"])
        except (KeyError, TypeError) as error:
            raise EvoRnnError(f"{source} is not an evo_rnn task file (missing {error}); export the run again "
                              "with `python -m evo_rnn.export`") from None
        if data.get("format_version") != 1 or self.mode not in MODES or self.unit not in ("characters", "words"):
            raise EvoRnnError(f"{source} has format_version {data.get('format_version')!r}, mode {self.mode!r}, "
                              f"unit {self.unit!r}; this evo_rnn reads format_version 1, modes {', '.join(MODES)}")
        self.start, self.stop = data.get("start"), data.get("stop")
        self.marker, self.length, self.unknown = data.get("marker"), data.get("length"), data.get("unknown")
        self.max_tokens: int | None = data.get("max_tokens")
        self.example = data.get("example", "")
        self._index = {token: i for i, token in enumerate(self.input_tokens)}

    @classmethod
    def load(cls, path: str | os.PathLike) -> Encoding:
        path = Path(path)
        try:
            return cls(json.loads(path.read_text(encoding="utf-8")), str(path))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise EvoRnnError(f"{path} is not valid JSON ({error}); export the run again") from None

    def split(self, text: str) -> list[str]:
        return list(text) if self.unit == "characters" else text.split()

    def encode(self, text: str) -> list[int]:
        """The ids of `text`'s tokens.

        Raises:
            EvoRnnError: a token is not in the vocabulary (and there is no unknown token).
        """
        ids = []
        for token in self.split(text):
            if token not in self._index and self.unknown in self._index:
                token = self.unknown
            if token not in self._index or token in (self.start, self.marker, "<pad>"):
                known = "".join(t for t in self.input_tokens if len(t) == 1 and t != self.marker)
                raise EvoRnnError(f"{token!r} is not in the {self.task} model's vocabulary"
                                  + (f" ({known!r})" if self.unit == "characters" else "")
                                  + f"; e.g. {self.example!r}")
            ids.append(self._index[token])
        return ids

    def decode(self, ids: list[int]) -> str:
        tokens = [self.output_tokens[i] for i in ids if self.output_tokens[i] not in ("<pad>", "<bos>")]
        return ("" if self.unit == "characters" else " ").join(tokens)


def _logits(model, ids: list[int]) -> np.ndarray:
    """The model's logits for one sequence, from fresh states (stateful models run it in every
    row of their fixed batch)."""
    batch = model.inputs[0].shape[0] or 1
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()
    rows = np.tile(np.asarray(ids, dtype="int32")[None, :], (batch, 1))
    return np.asarray(model.predict_on_batch(rows))[0]


def predict(model, encoding: Encoding, text: str, max_tokens: int = 40) -> str:
    """What the model says to `text`: its continuation, token by token, until the stop token,
    `max_tokens` or the task's own limit (an arith answer's length) ("generate"), or the
    symbols it recalls ("recall").

    Raises:
        EvoRnnError: the text does not fit the task (unknown tokens, wrong length, empty).
    """
    ids = encoding.encode(text)
    if encoding.mode == "recall":
        if len(ids) != encoding.length:
            raise EvoRnnError(f"this {encoding.task} model recalls {encoding.length} symbols; give {encoding.length} "
                              f"(got {len(ids)}), e.g. {encoding.example!r}")
        marker = encoding.input_tokens.index(encoding.marker)
        logits = _logits(model, ids + [marker] * len(ids))
        return encoding.decode([int(i) for i in logits[len(ids):].argmax(axis=-1)])
    if not ids and encoding.start is None:
        raise EvoRnnError(f"give some text to continue, e.g. {encoding.example!r}")
    sequence = ([encoding.input_tokens.index(encoding.start)] if encoding.start is not None else []) + ids
    produced: list[int] = []
    for _ in range(min(max_tokens, encoding.max_tokens or max_tokens)):
        token = int(_logits(model, sequence)[-1].argmax())
        produced.append(token)
        if encoding.output_tokens[token] == encoding.stop:
            break
        sequence.append(token)
    return encoding.decode(produced)


def _job(args: argparse.Namespace) -> None:
    from evo_rnn.export import task_file_for

    model_path = Path(args.model)
    if not model_path.is_file():
        raise EvoRnnError(f"no model file {model_path}; exported models are saved_architectures/RUN/RANK-HASH/model-TASK.keras")
    task_path = Path(args.task_file) if args.task_file else task_file_for(model_path)
    if not task_path.is_file():
        raise EvoRnnError(f"no task file {task_path} beside the model: it says how text becomes the model's input; "
                          "export the run again with `python -m evo_rnn.export --run NAME`, or pass --task-file")
    encoding = Encoding.load(task_path)
    if args.max_tokens < 1:
        raise EvoRnnError("--max-tokens must be at least 1")
    import keras

    import evo_rnn  # noqa: F401  (registers the layers the model holds)

    try:
        model = keras.models.load_model(model_path)
    except (ValueError, OSError) as error:
        raise EvoRnnError(f"{model_path} is not a loadable .keras model ({str(error).splitlines()[0]})") from None
    print(predict(model, encoding, args.text, args.max_tokens))


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(prog="python -m evo_rnn.predict",
                            description="Run an exported model on text: continue it (arith, xml, ptb) or recall it "
                                        "(memorize), e.g. python -m evo_rnn.predict .../model-arith.keras '12+34='.")
    parser.add_argument("model", help="an exported model-<task>.keras (required)")
    parser.add_argument("text", help="the input, e.g. '12+34=' for arith or 'hello' for memorize (required)")
    parser.add_argument("--task-file", default=None,
                        help="the task's encoding (default: the task-<task>.json beside the model)")
    parser.add_argument("--max-tokens", type=int, default=40,
                        help="generate at most this many tokens when no stop token comes; an arith answer stops at "
                             "its longest possible length anyway (default: 40)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run(build_parser(), _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
