"""`arith`: the paper's arithmetic task, sums and differences read through distractor letters.

A problem is its question without distractors (`7+3`). Every problem belongs to exactly one
split, chosen by a keyed hash of the problem and the data seed (`problem_split`), so no test
or validation problem is ever in training: the test measures generalisation to sums never
seen, not recall of a table. Each data seed partitions the problems afresh.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import string

import numpy as np

from evo_rnn.tasks.base import GeneratedTask, Split, split_random, weighted_accuracy
from evo_rnn.tasks.chars import BOS, CharVocab, encode_next_char

__all__ = ["SPLIT_SHARES", "ArithConfig", "ArithTask", "make_example", "problem_split"]

# The share of all problems each split draws from (by `problem_split`); the rest is training's.
SPLIT_SHARES = {"valid": 0.1, "test": 0.1}

DISTRACTORS = string.ascii_lowercase
VOCAB = CharVocab("0123456789+-=." + DISTRACTORS)


@dataclasses.dataclass(frozen=True)
class ArithConfig:
    """Settings of `arith`; the defaults are the paper's scale."""

    max_digits: int = 8  # each operand has 1..max_digits digits, uniformly
    max_distractors: int = 3  # letters inserted after each question character: 0..this, uniformly
    n_train: int = 20_000
    n_valid: int = 1_000
    n_test: int = 1_000


def _operand(rng: random.Random, max_digits: int) -> int:
    digits = rng.randint(1, max_digits)
    return rng.randrange(0 if digits == 1 else 10 ** (digits - 1), 10**digits)


def problem_split(seed: int, problem: str) -> str:
    """The split ("train", "valid" or "test") problem `problem` (e.g. "7+3") belongs to under
    data seed `seed`: a keyed hash, uniform over [0, 1), cut at `SPLIT_SHARES`."""
    digest = hashlib.blake2b(problem.encode(), key=str(int(seed)).encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    if u < SPLIT_SHARES["valid"]:
        return "valid"
    return "test" if u < SPLIT_SHARES["valid"] + SPLIT_SHARES["test"] else "train"


def make_example(
    rng: random.Random, config: ArithConfig, seed: int | None = None, split: str | None = None
) -> tuple[str, str]:
    """Returns (question with distractors and '=', answer + '.'), e.g. ('3e36d9-h1h3...c=', '-13991064.').
    With `seed` and `split`, problems are drawn until one belongs to `split` (`problem_split`)."""
    while True:
        a, b = _operand(rng, config.max_digits), _operand(rng, config.max_digits)
        op = "+" if rng.random() < 0.5 else "-"
        if split is None or problem_split(seed, f"{a}{op}{b}") == split:
            break
    answer = a + b if op == "+" else a - b
    question = []
    for char in f"{a}{op}{b}":
        question.append(char)
        question.extend(rng.choices(DISTRACTORS, k=rng.randint(0, config.max_distractors)))
    return "".join(question) + "=", f"{answer}."


class ArithTask(GeneratedTask):
    """Next-character prediction over `question=answer.`; only the answer's characters are scored."""

    name = "arith"
    description = (
        "a+b or a-b of up-to-8-digit integers read through distractor letters; predict the answer "
        "(test problems never in training)"
    )

    def __init__(self, config: ArithConfig | None = None):
        self.config = config or ArithConfig()
        self.input_size = self.output_size = len(VOCAB)

    def make_split(self, seed: int, split: str, n: int) -> Split:
        rng = split_random(seed, split)
        texts, scored = [], []
        for _ in range(n):
            question, answer = make_example(rng, self.config, seed, split)
            texts.append(question + answer)
            # Score the answer's characters, not its closing '.'.
            scored.append(np.array([0] * len(question) + [1] * (len(answer) - 1) + [0]))
        return encode_next_char(VOCAB, texts, scored)

    def metrics(self, split: Split, nll: np.ndarray, correct: np.ndarray | None) -> dict[str, float]:
        w = split.weights
        accuracy = weighted_accuracy(correct, w)
        fully_correct = float(np.mean([(correct[i] | (w[i] == 0)).all() for i in range(len(w))]))
        return {
            "score": accuracy,
            "accuracy": accuracy,
            "answers_correct": fully_correct,
            "nll": float((nll * w).sum() / w.sum()),
        }

    def encoding(self) -> dict:
        # Training scores the answer's characters, not its closing '.', so a model need not
        # learn to stop: an answer has at most max_digits + 1 characters (a sign or a carry).
        return {
            "mode": "generate",
            "unit": "characters",
            "input_tokens": VOCAB.tokens,
            "output_tokens": VOCAB.tokens,
            "start": BOS,
            "stop": ".",
            "max_tokens": self.config.max_digits + 1,
            "example": "12+34=",
        }

    def decode(self, split: Split, index: int) -> str:
        text = VOCAB.decode(split.targets[index])
        marks = "".join("^" if s else " " for s in split.weights[index][: len(text)])
        return f"{text}\n{marks}  (^ = scored)"
