"""`python -m evo_rnn.predict MODEL TEXT`: run an exported model on a person's text, e.g. a quick
arith model on "12+34=" prints its answer. The text encoding comes from the `task-<task>.json`
the export writes beside each `model-<task>.keras`; a continuation is generated one model step
per token, from the recurrent states the text left."""

from __future__ import annotations

import argparse
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from evo_rnn.core.cli import ArgumentParser, number, run, whole_number
from evo_rnn.core.errors import EvoRnnError

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "MAX_TOKENS_LIMIT",
    "Encoding",
    "StepModel",
    "build_parser",
    "main",
    "predict",
    "predict_classes",
    "token_limit",
]

MODES = ("generate", "recall")
DEFAULT_MAX_TOKENS = 200  # generated when a task has no limit of its own and none is asked for
MAX_TOKENS_LIMIT = 2000  # the most one generation may ask for


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
            raise EvoRnnError(
                f"{source} is not an evo_rnn task file (missing {error}); export the run again "
                "with `python -m evo_rnn.export`"
            ) from None
        if data.get("format_version") != 1 or self.mode not in MODES or self.unit not in ("characters", "words"):
            raise EvoRnnError(
                f"{source} has format_version {data.get('format_version')!r}, mode {self.mode!r}, "
                f"unit {self.unit!r}; this evo_rnn reads format_version 1, modes {', '.join(MODES)}"
            )
        self.start, self.stop = data.get("start"), data.get("stop")
        self.marker, self.length, self.unknown = data.get("marker"), data.get("length"), data.get("unknown")
        self.max_tokens: int | None = data.get("max_tokens")
        self.example = data.get("example", "")
        problem = _encoding_problem(self)
        if problem is not None:
            raise EvoRnnError(
                f"{source} is not a task file evo_rnn wrote ({problem}); export the run again with "
                "`python -m evo_rnn.export --run NAME`, or pass the model's own --task-file"
            )
        self._index = {token: i for i, token in enumerate(self.input_tokens)}

    @classmethod
    def load(cls, path: str | os.PathLike) -> Encoding:
        return cls(_read_json(Path(path)), str(path))

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
                raise EvoRnnError(
                    f"{token!r} is not in the {self.task} model's vocabulary"
                    + (f" ({known!r})" if self.unit == "characters" else "")
                    + f"; e.g. {self.example!r}"
                )
            ids.append(self._index[token])
        return ids

    def decode(self, ids: list[int]) -> str:
        tokens = [self.output_tokens[i] for i in ids if self.output_tokens[i] not in ("<pad>", "<bos>")]
        return ("" if self.unit == "characters" else " ").join(tokens)


def _encoding_problem(encoding: Encoding) -> str | None:
    """What is wrong with an encoding read from a file (an edited one), or None."""
    tokens = (encoding.input_tokens, encoding.output_tokens)
    if not all(tokens) or not all(isinstance(t, str) for t in (*tokens[0], *tokens[1])):
        return "input_tokens and output_tokens must be lists of strings"
    for name, value in (("start", encoding.start), ("marker", encoding.marker)):
        if value is not None and value not in encoding.input_tokens:
            return f"its {name} token {value!r} is not among its input_tokens"
    for name, value in (("max_tokens", encoding.max_tokens), ("length", encoding.length)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            return f"{name} is {value!r}, not a whole number of at least 1"
    if encoding.mode == "recall" and (encoding.marker is None or encoding.length is None):
        return "a recall task names its marker token and its length"
    if not isinstance(encoding.example, str):
        return f"example is {encoding.example!r}, not text"
    return None


class StepModel:
    """A model run one token at a time: it keeps the recurrent layers' states between calls, so
    that each generated token costs one step, not a pass over the whole sequence.

    Built from the loaded model's own layers: the embedding and dense layers are shared, and
    each recurrent layer is run by a new one around the same cell (its weights) that takes
    and returns its states; a stateful layer's fixed batch becomes a batch of one.

    Args:
        model: a model evo_rnn builds: an Embedding, recurrent layers (`keras.layers.RNN`,
            `GraphRNN`) returning sequences, optional Dropout, Dense logits, in a chain.

    Raises:
        EvoRnnError: the model is not a chain, or has a layer that is not of those kinds (or
            runs backwards).
    """

    def __init__(self, model):
        import keras

        from evo_rnn.layers import GraphCell, GraphRNN

        source = model.inputs[0]
        tokens = keras.Input(shape=source.shape[1:], dtype=source.dtype)
        x, state_inputs, state_outputs = tokens, [], []
        self._initial_states: list[np.ndarray] = []
        previous = None
        for layer in model.layers:
            if previous is not None and layer.input is not previous.output:
                raise EvoRnnError(
                    f"layer {layer.name!r} does not read the output of the layer before it; predict "
                    "runs the models evo_rnn exports, a chain of layers"
                )
            previous = layer
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if (
                isinstance(layer, keras.layers.RNN)
                and not layer.go_backwards
                and layer.return_sequences
                and all(isinstance(size, int) for size in layer.state_size)
            ):
                states = [keras.Input(shape=(size,)) for size in layer.state_size]
                run = GraphRNN if isinstance(layer.cell, GraphCell) else keras.layers.RNN
                x, *new_states = run(layer.cell, return_sequences=True, return_state=True)(x, initial_state=states)
                state_inputs += states
                state_outputs += new_states
                self._initial_states += [np.asarray(state) for state in layer.get_initial_state(1)]
            elif isinstance(layer, (keras.layers.Embedding, keras.layers.Dense, keras.layers.Dropout)):
                x = layer(x)
            else:
                raise EvoRnnError(
                    f"layer {layer.name!r} ({type(layer).__name__}) is not one predict can run a step at "
                    "a time; it runs the models evo_rnn exports (Embedding, recurrent layers running "
                    "forwards, Dense)"
                )
        self._model = keras.Model([tokens, *state_inputs], [x, *state_outputs])
        self.reset()

    def reset(self) -> None:
        """Starts again from the recurrent layers' initial states."""
        self._states = list(self._initial_states)

    def feed(self, ids: list[int]) -> np.ndarray:
        """Runs `ids` on from the current states, keeping the states they end in.

        Returns:
            The logits at each of the positions fed, [len(ids), classes].
        """
        outputs = self._model.predict_on_batch([np.asarray([ids], dtype="int32"), *self._states])
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        self._states = [np.asarray(state) for state in outputs[1:]]
        return np.asarray(outputs[0])[0]


def token_limit(encoding: Encoding, max_tokens: int | None = None) -> int:
    """How many tokens one generation may produce: `max_tokens` (at most `MAX_TOKENS_LIMIT`),
    else `DEFAULT_MAX_TOKENS`, and never more than the task's own limit (an arith answer's
    longest length).

    Raises:
        EvoRnnError: `max_tokens` is below 1 or above `MAX_TOKENS_LIMIT`.
    """
    if max_tokens is not None and not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise EvoRnnError(
            f"--max-tokens must be from 1 to {MAX_TOKENS_LIMIT}, got {max_tokens}; each generated "
            "token takes one model step"
        )
    limit = max_tokens or DEFAULT_MAX_TOKENS
    return min(limit, encoding.max_tokens) if encoding.max_tokens else limit


def predict(
    model, encoding: Encoding, text: str, max_tokens: int | None = None, temperature: float = 0.0, seed: int = 0
) -> str:
    """What the model says to `text`: its continuation, one model step per token, until the stop
    token or `token_limit(encoding, max_tokens)` tokens ("generate"), or the symbols it recalls
    ("recall").

    Args:
        model: the loaded Keras model, or a `StepModel` of it (built once for many calls).
        encoding: the task's encoding.
        text: the person's input.
        max_tokens: the most tokens to generate (default: the task's own limit, else
            `DEFAULT_MAX_TOKENS`).
        temperature: 0 generates the likeliest token at every step (greedy; a character model
            soon repeats itself); above 0 samples each from the softmax of the logits divided
            by it (1: the model's own distribution).
        seed: seeds the sampling (the same seed, the same text).

    Raises:
        EvoRnnError: the text does not fit the task (unknown tokens, wrong length, empty), or
            `max_tokens` is out of range.
    """
    limit = token_limit(encoding, max_tokens)
    ids = encoding.encode(text)
    if encoding.mode == "recall":
        if len(ids) != encoding.length:
            raise EvoRnnError(
                f"this {encoding.task} model recalls {encoding.length} symbols; give {encoding.length} "
                f"(got {len(ids)}), e.g. {encoding.example!r}"
            )
        marker = encoding.input_tokens.index(encoding.marker)
        logits = _fresh(model).feed(ids + [marker] * len(ids))
        return encoding.decode([int(i) for i in logits[len(ids) :].argmax(axis=-1)])
    if not ids and encoding.start is None:
        raise EvoRnnError(f"give some text to continue, e.g. {encoding.example!r}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise EvoRnnError(f"the temperature must be a finite number of at least 0, got {temperature!r}")
    rng = np.random.default_rng(seed)
    steps = _fresh(model)
    logits = steps.feed(([encoding.input_tokens.index(encoding.start)] if encoding.start is not None else []) + ids)
    produced: list[int] = []
    while True:
        token = _next_token(np.asarray(logits[-1], dtype="float64"), temperature, rng)
        produced.append(token)
        if encoding.output_tokens[token] == encoding.stop or len(produced) == limit:
            return encoding.decode(produced)
        logits = steps.feed([token])


def _next_token(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """The likeliest token (temperature 0), or one drawn from softmax(logits / temperature)."""
    if temperature == 0:
        return int(logits.argmax())
    scaled = logits / temperature
    weights = np.exp(scaled - scaled.max())
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def _fresh(model) -> StepModel:
    """`model` as a `StepModel` at its initial states."""
    steps = model if isinstance(model, StepModel) else StepModel(model)
    steps.reset()
    return steps


def _job(args: argparse.Namespace) -> None:
    from evo_rnn.views.export import task_file_for

    model_path = Path(args.model)
    if not model_path.is_file():
        raise EvoRnnError(
            f"no model file {model_path}; exported models are saved_architectures/RUN/RANK-HASH/model-TASK.keras"
        )
    task_path = Path(args.task_file) if args.task_file else task_file_for(model_path)
    if not task_path.is_file():
        raise EvoRnnError(
            f"no task file {task_path} beside the model: it says how text becomes the model's input; "
            "export the run again with `python -m evo_rnn.export --run NAME`, or pass --task-file"
        )
    described = _read_json(task_path)
    arrays = described.get("kind") == "npz"  # a user's arrays: the input is an .npz of x (and lengths)
    if arrays:
        _check_description(described, task_path)
        x, lengths = _inputs(Path(args.text), described)
    else:
        encoding = Encoding(described, str(task_path))
        token_limit(encoding, args.max_tokens)  # refuse a bad --max-tokens before loading the model
    import keras

    import evo_rnn.layers  # noqa: F401  (registers the layers the model holds)

    try:
        model = keras.models.load_model(model_path)
    except (ValueError, OSError, TypeError, KeyError, AttributeError, zipfile.BadZipFile) as error:
        # A damaged or tampered file (its config names arguments no layer takes, ...): bad input, not a bug.
        first = (str(error).splitlines() or [type(error).__name__])[0]
        raise EvoRnnError(
            f"{model_path} is not a loadable .keras model ({type(error).__name__}: {first}); export "
            "it again with `python -m evo_rnn.export --run NAME`"
        ) from None
    if arrays:
        sizes = (described["input_size"], described["classes"])
    else:
        sizes = (len(encoding.input_tokens), len(encoding.output_tokens))
    _check_sizes(model, sizes, arrays, model_path, task_path)
    if arrays:
        for classes in predict_classes(model, x, lengths, per_step=described["labels"].startswith("one per step")):
            print(" ".join(str(int(c)) for c in np.atleast_1d(classes)))
        return
    print(predict(model, encoding, args.text, args.max_tokens, args.temperature, args.seed))


def _model_sizes(model) -> tuple[int | None, int | None]:
    """What `model` reads and writes: the ids its Embedding takes (or the features of a step,
    without one) and the logits it outputs (None where a size is not fixed)."""
    import keras

    embedding = next((layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)), None)
    reads = embedding.input_dim if embedding is not None else model.inputs[0].shape[-1]
    return reads, model.outputs[0].shape[-1]


def _check_sizes(model, sizes: tuple[int, int], arrays: bool, model_path: Path, task_path: Path) -> None:
    """Refuses a task file that is not the model's own: its vocabularies (or input size and
    classes) differ from what the model reads and writes."""
    reads, writes = _model_sizes(model)
    expected = (reads, writes)
    if all(have is None or have == want for have, want in zip(expected, sizes)):
        return
    kind = ("inputs", "classes") if arrays else ("input tokens", "output tokens")
    raise EvoRnnError(
        f"{task_path} does not fit {model_path}: the model reads {reads} {kind[0]} and writes {writes} "
        f"{kind[1]}, the task file has {sizes[0]} and {sizes[1]}; pass the task-<task>.json exported beside "
        "this model (--task-file)"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise EvoRnnError(f"{path} is not valid JSON ({error}); export the run again") from None
    if not isinstance(data, dict):
        raise EvoRnnError(f"{path} is not an evo_rnn task file; export the run again with `python -m evo_rnn.export`")
    return data


def _check_description(described: dict[str, Any], task_path: Path) -> None:
    """Refuses the task file of an `npz:` task when a field predict reads is missing or wrong."""
    wanted = {"inputs": str, "labels": str, "input_size": int, "classes": int}
    wrong = [
        key
        for key, kind in wanted.items()
        if not isinstance(described.get(key), kind) or isinstance(described.get(key), bool)
    ]
    if wrong or described["input_size"] < 1 or described["classes"] < 1:
        raise EvoRnnError(
            f"{task_path} is not a task file evo_rnn wrote (its {', '.join(wrong) or 'sizes'} "
            f"{'is' if len(wrong) < 2 else 'are'} missing or wrong); export the run again with "
            "`python -m evo_rnn.export --run NAME`, or pass the model's own --task-file"
        )


def _inputs(path: Path, described: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `path` (an .npz with `x` and optional `lengths`) checked against what the
    model expects (`described`, the task file of an `npz:` task)."""
    from evo_rnn.tasks.arrays import load_npz
    from evo_rnn.tasks.sources import read_capped

    if not path.exists():
        raise EvoRnnError(f"no input file {path}; for a model of an npz: task give an .npz with x (and lengths)")
    arrays = load_npz(read_capped(path), str(path))
    if "x" not in arrays:
        raise EvoRnnError(
            f"{path} has no array x (it has {', '.join(sorted(arrays)) or 'none'}); save it with "
            "numpy.savez(path, x=...)"
        )
    x = arrays["x"]
    tokens = described["inputs"].startswith("int")
    if x.ndim != (2 if tokens else 3) or 0 in x.shape:
        raise EvoRnnError(
            f"{path}: x has shape {x.shape}; the model expects {described['inputs']} with n and T at least 1"
        )
    lengths = arrays.get("lengths", np.full(len(x), x.shape[1]))
    if (
        tokens != np.issubdtype(x.dtype, np.integer)
        or x.ndim != (2 if tokens else 3)
        or (not tokens and x.shape[-1] != described["input_size"])
        or (tokens and (x.min() < 0 or x.max() >= described["input_size"]))
    ):
        raise EvoRnnError(
            f"{path}: x has dtype {x.dtype} and shape {x.shape}; the model expects {described['inputs']}"
            + (f" with ids below {described['input_size']}" if tokens else "")
        )
    if (
        lengths.shape != (len(x),)
        or not np.issubdtype(lengths.dtype, np.integer)
        or lengths.min() < 1
        or lengths.max() > x.shape[1]
    ):
        raise EvoRnnError(
            f"{path}: lengths (dtype {lengths.dtype}, shape {lengths.shape}) must be [n] whole numbers from 1 to "
            f"T = {x.shape[1]}; save them as integers, e.g. lengths.astype(int)"
        )
    return x, lengths


def predict_classes(model, x: np.ndarray, lengths: np.ndarray, per_step: bool) -> list[np.ndarray]:
    """The class of each row (read at its last real step), or of each real step (`per_step`)."""
    logits = np.asarray(model.predict(x, verbose=0))
    classes = logits.argmax(axis=-1)
    return [classes[i, : lengths[i]] if per_step else classes[i, lengths[i] - 1] for i in range(len(x))]


def build_parser() -> ArgumentParser:
    """The command line's parser."""
    parser = ArgumentParser(
        prog="python -m evo_rnn.predict",
        description="Run an exported model on text: continue it (arith, xml, ptb) or recall it "
        "(memorize), e.g. python -m evo_rnn.predict .../model-arith.keras '12+34='.",
    )
    parser.add_argument("model", help="an exported model-<task>.keras (required)")
    parser.add_argument(
        "text",
        help="the input, e.g. '12+34=' for arith or 'hello' for memorize; for a model of "
        "an npz: task, an .npz file with x (and lengths): one line of classes per row "
        "(required)",
    )
    parser.add_argument(
        "--task-file", default=None, help="the task's encoding (default: the task-<task>.json beside the model)"
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help=f"generate at most this many tokens when no stop token comes, up to {MAX_TOKENS_LIMIT}; "
        "an arith answer stops at its longest possible length anyway (default: the task's own "
        f"limit, else {DEFAULT_MAX_TOKENS})",
    )
    parser.add_argument(
        "--temperature",
        type=number(0.0, above=False),
        default=0.0,
        help="0: the likeliest token at every step; above 0: sample each token from the model's "
        "distribution sharpened (<1) or flattened (>1) by it, e.g. 0.7 for text (default: 0)",
    )
    parser.add_argument(
        "--seed", type=whole_number(0, 2**32 - 1), default=0, help="seeds the sampling of --temperature (default: 0)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    return run(build_parser(), _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
