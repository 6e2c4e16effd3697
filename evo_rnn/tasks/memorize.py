"""`memorize`: the paper's cheap filter, read a few symbols and reproduce them in order."""

from __future__ import annotations

import dataclasses
import string

import numpy as np

from evo_rnn.tasks.base import GeneratedTask, Split, split_rng, weighted_accuracy

__all__ = ["MemorizeConfig", "MemorizeTask"]


@dataclasses.dataclass(frozen=True)
class MemorizeConfig:
    """Settings of `memorize`; the defaults are the paper's."""

    length: int = 5  # symbols to remember
    alphabet: int = 26  # symbols to choose from (at most 26)
    n_train: int = 4_000
    n_valid: int = 500
    n_test: int = 500


class MemorizeTask(GeneratedTask):
    """Input: `length` symbols, then as many recall markers; target at each marker: the symbol
    read that many steps earlier. Only the recall positions are scored (chance 1/alphabet)."""

    name = "memorize"
    description = "read 5 symbols of 26, then reproduce them in order"

    def __init__(self, config: MemorizeConfig | None = None):
        self.config = config or MemorizeConfig()
        if not (2 <= self.config.alphabet <= 26) or self.config.length < 1:
            raise ValueError(f"MemorizeConfig needs 2 <= alphabet <= 26 and length >= 1, got {self.config}")
        self.marker = self.config.alphabet  # token id of the recall marker
        self.input_size = self.config.alphabet + 1
        self.output_size = self.config.alphabet

    def make_split(self, seed: int, split: str, n: int) -> Split:
        k = self.config.length
        symbols = split_rng(seed, split).integers(0, self.config.alphabet, size=(n, k))
        inputs = np.concatenate([symbols, np.full((n, k), self.marker)], axis=1)
        targets = np.concatenate([np.zeros_like(symbols), symbols], axis=1)
        weights = np.concatenate([np.zeros((n, k)), np.ones((n, k))], axis=1)
        return Split(inputs.astype("int32"), targets.astype("int32"), weights.astype("float32"))

    def metrics(self, split: Split, nll: np.ndarray, correct: np.ndarray | None) -> dict[str, float]:
        w = split.weights
        accuracy = weighted_accuracy(correct, w)
        return {"score": accuracy, "accuracy": accuracy, "nll": float((nll * w).sum() / w.sum())}

    def encoding(self) -> dict:
        letters = list(string.ascii_lowercase[: self.config.alphabet])
        return {
            "mode": "recall",
            "unit": "characters",
            "input_tokens": [*letters, "?"],
            "output_tokens": letters,
            "marker": "?",
            "length": self.config.length,
            "example": "".join(letters[: self.config.length]),
        }

    def decode(self, split: Split, index: int) -> str:
        letters = string.ascii_lowercase
        shown = "".join("?" if t == self.marker else letters[t] for t in split.inputs[index])
        wanted = "".join(letters[t] if w else "." for t, w in zip(split.targets[index], split.weights[index]))
        return f"input  {shown}\ntarget {wanted}  (. = not scored)"
