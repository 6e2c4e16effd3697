"""`ptb`: word-level language modelling on Mikolov's Penn Treebank, truncated BPTT with carried state."""

from __future__ import annotations

import collections
import dataclasses
import functools
import os

import numpy as np

from evo_rnn.core.errors import DataIntegrityError
from evo_rnn.tasks.base import Split, Task, TaskData, weighted_accuracy
from evo_rnn.tasks.data_files import read_verified

__all__ = ["PtbConfig", "PtbTask", "bptt_layout", "build_vocabulary", "read_text", "read_words"]

EOS = "<eos>"
VOCAB_SIZE = 10_000


@dataclasses.dataclass(frozen=True)
class PtbConfig:
    """Settings of `ptb`."""

    batch_size: int = 20  # parallel streams; consecutive batches continue each row
    seq_len: int = 35  # truncated BPTT length
    max_train_tokens: int | None = None  # use only the first N training tokens (quick runs)
    max_eval_tokens: int | None = None  # likewise for valid and test


def read_text(split: str, data_dir: str | os.PathLike | None = None) -> str:
    """The text of `ptb.<split>.txt` ("train", "valid" or "test"), checksum verified."""
    raw, _ = read_verified(f"ptb/ptb.{split}.txt", data_dir)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:  # unreachable for a verified file; kept for clarity
        raise DataIntegrityError(f"ptb.{split}.txt is not UTF-8 text: {error}") from None


def read_words(split: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """The words of `ptb.<split>.txt` with one `<eos>` per line, checksum verified."""
    return [word for line in read_text(split, data_dir).splitlines() for word in (*line.split(), EOS)]


def build_vocabulary(words: list[str]) -> list[str]:
    """The training vocabulary, most frequent first (ties by spelling): PTB has exactly 10,000."""
    counts = collections.Counter(words)
    return sorted(counts, key=lambda w: (-counts[w], w))


def bptt_layout(stream: np.ndarray, batch_size: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Cuts a token stream for stateful truncated BPTT.

    The stream is split into `batch_size` contiguous rows; batch k holds columns
    [k*seq_len, (k+1)*seq_len) of every row, so row r of batch k+1 continues row r of
    batch k. Returns inputs and targets [n_batches * batch_size, seq_len] (batch k is rows
    [k*batch_size, (k+1)*batch_size)); targets are the inputs shifted by one token, across
    batch boundaries too. A last partial batch is dropped.
    """
    per_row = len(stream) // batch_size
    n_batches = (per_row - 1) // seq_len
    if n_batches < 1:
        raise ValueError(
            f"{len(stream)} tokens are too few for one batch of {batch_size} x {seq_len} (+1); "
            "use more tokens or a smaller batch/sequence length"
        )
    rows = stream[: batch_size * per_row].reshape(batch_size, per_row)
    width = n_batches * seq_len

    def lay(block: np.ndarray) -> np.ndarray:
        return block.reshape(batch_size, n_batches, seq_len).transpose(1, 0, 2).reshape(-1, seq_len)

    return lay(rows[:, :width]).astype("int32"), lay(rows[:, 1 : width + 1]).astype("int32")


class PtbTask(Task):
    """Stateful next-word prediction; score exp(-mean NLL per word) (1/perplexity)."""

    name = "ptb"
    description = "Penn Treebank word-level language modelling (10k words), truncated BPTT"
    stateful = True

    def __init__(self, config: PtbConfig | None = None, data_dir: str | os.PathLike | None = None):
        self.config = config or PtbConfig()
        self.data_dir = data_dir
        self.batch_size = self.config.batch_size
        self.input_size = self.output_size = VOCAB_SIZE
        self._train_words: list[str] | None = None

    def _words(self, split: str) -> list[str]:
        if split != "train":
            return read_words(split, self.data_dir)
        if self._train_words is None:  # read once: it gives both the vocabulary and the training split
            self._train_words = read_words("train", self.data_dir)
        return self._train_words

    @functools.cached_property
    def vocabulary(self) -> list[str]:
        """The 10,000 words, by id."""
        return build_vocabulary(self._words("train"))

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.vocabulary)}

    def _split(self, split: str, limit: int | None) -> Split:
        words = self._words(split)[:limit]
        unknown = self._index.get("<unk>")
        if unknown is None and any(w not in self._index for w in words):
            raise DataIntegrityError(f"ptb.{split}.txt has words outside the training vocabulary")
        ids = np.array([self._index.get(w, unknown) for w in words], dtype="int64")
        inputs, targets = bptt_layout(ids, self.config.batch_size, self.config.seq_len)
        return Split(inputs, targets, np.ones(inputs.shape, dtype="float32"))

    def data(self, seed: int) -> TaskData:
        c = self.config
        if len(self.vocabulary) != VOCAB_SIZE:
            raise DataIntegrityError(f"ptb.train.txt gives {len(self.vocabulary)} words, not {VOCAB_SIZE}")
        return TaskData(
            self._split("train", c.max_train_tokens),
            self._split("valid", c.max_eval_tokens),
            self._split("test", c.max_eval_tokens),
        )

    def metrics(self, split: Split, nll: np.ndarray, correct: np.ndarray | None) -> dict[str, float]:
        w = split.weights
        mean_nll = float((nll * w).sum() / w.sum())
        return {
            "score": float(np.exp(-mean_nll)),
            "perplexity": float(np.exp(mean_nll)),
            "nll": mean_nll,
            "accuracy": weighted_accuracy(correct, w),
        }

    def encoding(self) -> dict:
        return {
            "mode": "generate",
            "unit": "words",
            "input_tokens": self.vocabulary,
            "output_tokens": self.vocabulary,
            "start": None,
            "stop": EOS,
            "unknown": "<unk>",
            "example": "the company said",
        }

    def decode(self, split: Split, index: int) -> str:
        words = [self.vocabulary[i] for i in split.inputs[index]]
        return " ".join(words) + f"\n(next words: {' '.join(self.vocabulary[i] for i in split.targets[index][-3:])})"
