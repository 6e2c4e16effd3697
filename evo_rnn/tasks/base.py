"""The task interface: data splits as arrays, a loss, and metrics with a score (higher is better)."""

from __future__ import annotations

import abc
import dataclasses
import random
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "GeneratedTask",
    "Split",
    "Task",
    "TaskData",
    "pad_sequences",
    "split_random",
    "split_rng",
    "weighted_accuracy",
]

SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a task, ready for `model.fit`.

    Attributes:
        inputs: int32 [n, T] token ids, or float32 [n, T, features] (music piano rolls).
        targets: int32 [n, T] token ids to predict, or float32 [n, T, features].
        weights: float32 [n, T]: 1 where a prediction is scored, 0 for padding and
            unscored positions (pass as `sample_weight`).
        masks: extra 0/1 masks [n, T] for reported metrics (e.g. xml's closing tags).
    """

    inputs: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    masks: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def scored(self) -> int:
        """How many positions are scored."""
        return int(self.weights.sum())


@dataclasses.dataclass(frozen=True)
class TaskData:
    """The three splits of a task."""

    train: Split
    valid: Split
    test: Split


class Task(abc.ABC):
    """A task of the paper: data, loss and metrics behind one interface.

    Training code needs nothing task-specific: it builds a model from `input_kind`,
    `input_size` and `output_size`, trains with `loss` on `data(seed)` (statefully, in
    `batch_size` batches without shuffling, when `stateful`), computes per position the
    negative log-likelihood of the target (and, for token outputs, whether the argmax is
    right) and hands them to `metrics`, whose "score" the search maximises.

    Attributes:
        name: the registry name.
        description: one line for people.
        input_kind: "tokens" (int ids, embed them) or "dense" (float vectors).
        input_size: vocabulary size, or the input vector width.
        output_size: number of classes, or of independent binary outputs.
        loss: "sparse_categorical_crossentropy" or "binary_crossentropy".
        stateful: True when consecutive batches continue each other (truncated BPTT).
        batch_size: the batch size a stateful task's rows are laid out for, else None.
        config: the task's settings (a frozen dataclass).
        max_epochs: an epoch cap of the task's own, below the preset's (None: the preset's).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    input_kind: ClassVar[str] = "tokens"
    loss: ClassVar[str] = "sparse_categorical_crossentropy"
    stateful: ClassVar[bool] = False
    batch_size: int | None = None
    max_epochs: int | None = None
    input_size: int
    output_size: int
    config: Any

    @abc.abstractmethod
    def data(self, seed: int) -> TaskData:
        """The train/valid/test splits; generated tasks depend on `seed`, real data does not."""

    @abc.abstractmethod
    def metrics(self, split: Split, nll: np.ndarray, correct: np.ndarray | None) -> dict[str, float]:
        """Metrics of predictions on `split`.

        Args:
            split: the split predicted.
            nll: float [n, T]: negative log-likelihood of each target (music: summed over
                the notes of the time step).
            correct: bool [n, T]: whether the most likely class is the target (None for
                binary outputs).

        Returns:
            Named metrics; "score" (higher is better, 1 is perfect) is the one the search uses.
        """

    @abc.abstractmethod
    def decode(self, split: Split, index: int) -> str:
        """Row `index` of `split` as a person would read it: input, and what is scored."""

    def encoding(self) -> dict[str, Any] | None:
        """How a person's text becomes this task's input ids, and output ids become text, as
        JSON data (exported beside every trained model; `python -m evo_rnn.predict` reads it).
        None when the inputs are not text (music).

        Keys: `mode` ("generate": continue the text one token at a time, feeding each
        prediction back; "recall": reproduce the symbols read), `unit` ("characters" or
        "words"), `input_tokens` and `output_tokens` (the token of each id), and per mode
        `start` (the token fed before the text, or None), `stop` (generation ends after it),
        `max_tokens` (the longest continuation that makes sense, when there is one), `marker`
        and `length` (recall), `unknown` (the token for words outside the vocabulary), and an
        `example` input.
        """
        return None


class GeneratedTask(Task):
    """A task whose data is generated: `config` has `n_train`, `n_valid`, `n_test`, and
    `make_split(seed, split, n)` builds one split deterministically."""

    @abc.abstractmethod
    def make_split(self, seed: int, split: str, n: int) -> Split:
        """`n` rows of `split`, the same for the same seed."""

    def data(self, seed: int) -> TaskData:
        c = self.config
        return TaskData(*(self.make_split(seed, s, n) for s, n in zip(SPLITS, (c.n_train, c.n_valid, c.n_test))))


def split_rng(seed: int, split: str) -> np.random.Generator:
    """An independent generator per (seed, split), so splits never share examples by accident."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS.index(split)]))


def split_random(seed: int, split: str) -> random.Random:
    """Like `split_rng`, as a `random.Random` (much faster for many scalar draws)."""
    state = np.random.SeedSequence([int(seed), SPLITS.index(split)]).generate_state(2)
    return random.Random(int(state[0]) << 32 | int(state[1]))


def pad_sequences(rows: list[np.ndarray], dtype: str, fill: float = 0) -> np.ndarray:
    """Stacks variable-length rows (each [T_i, ...]) into [n, max T_i, ...], padded with `fill`."""
    longest = max(len(r) for r in rows)
    out = np.full((len(rows), longest, *rows[0].shape[1:]), fill, dtype=dtype)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def weighted_accuracy(correct: np.ndarray, mask: np.ndarray) -> float:
    """Mean of `correct` over positions where `mask` is set (nan when none is)."""
    total = float(mask.sum())
    return float((correct * mask).sum() / total) if total else float("nan")
