"""`xml`: the paper's synthetic XML, nested random tags; next-character prediction.

Training predicts every character, but only the characters of closing tags after `</` are
scored: they are the ones the document so far determines (a new tag's name is random letters,
and whether a tag opens or closes is a coin flip), so the score's ceiling is exactly 1.
Next-character accuracy over all characters is still reported (`accuracy`); its ceiling is
below 1 and depends on the config.
"""

from __future__ import annotations

import dataclasses
import random
import string

import numpy as np

from evo_rnn.tasks.base import GeneratedTask, Split, split_random, weighted_accuracy
from evo_rnn.tasks.chars import BOS, CharVocab, encode_next_char

__all__ = ["XmlConfig", "XmlTask", "make_document"]

VOCAB = CharVocab("<>/" + string.ascii_lowercase)


@dataclasses.dataclass(frozen=True)
class XmlConfig:
    """Settings of `xml`."""

    max_tag_length: int = 10  # tag names have 1..this random lowercase letters
    max_depth: int = 4  # never more than this many tags open
    max_length: int = 120  # characters per document, all tags closed
    p_open: float = 0.5  # chance of opening a new tag rather than closing the innermost one
    n_train: int = 20_000
    n_valid: int = 1_000
    n_test: int = 1_000


def make_document(rng: random.Random, config: XmlConfig) -> tuple[str, np.ndarray]:
    """A well-formed document and its 0/1 mask of closing-tag characters (after `</`)."""
    parts: list[tuple[str, bool]] = []  # (text, is the predictable part of a closing tag)
    stack: list[str] = []
    length = 0

    def closing_cost(names: list[str]) -> int:
        return sum(len(n) + 3 for n in names)

    while True:
        name = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(1, config.max_tag_length)))
        can_open = len(stack) < config.max_depth and (
            length + len(name) + 2 + closing_cost([*stack, name]) <= config.max_length
        )
        if stack and (not can_open or rng.random() >= config.p_open):
            closed = stack.pop()
            parts += [("</", False), (closed + ">", True)]
            length += len(closed) + 3
        elif can_open:
            stack.append(name)
            parts.append((f"<{name}>", False))
            length += len(name) + 2
        else:
            break
    text = "".join(p for p, _ in parts)
    mask = np.concatenate([np.full(len(p), int(m)) for p, m in parts]) if parts else np.zeros(0)
    return text, mask


class XmlTask(GeneratedTask):
    """Next-character prediction over synthetic XML; every character is trained on, the
    closing tags' characters are scored (ceiling 1)."""

    name = "xml"
    description = "nested random tags; predict the next character (score: the closing tags', the predictable ones)"

    def __init__(self, config: XmlConfig | None = None):
        self.config = config or XmlConfig()
        if self.config.max_length < 7:  # "<a></a>"
            raise ValueError(f"XmlConfig.max_length must allow one tag (>= 7 characters), got {self.config.max_length}")
        self.input_size = self.output_size = len(VOCAB)

    def make_split(self, seed: int, split: str, n: int) -> Split:
        rng = split_random(seed, split)
        texts, closing = [], []
        for _ in range(n):
            text, mask = make_document(rng, self.config)
            texts.append(text)
            closing.append(mask)
        return encode_next_char(VOCAB, texts, [np.ones(len(t)) for t in texts], {"closing": closing})

    def metrics(self, split: Split, nll: np.ndarray, correct: np.ndarray | None) -> dict[str, float]:
        w, closing = split.weights, split.masks["closing"]
        closing_accuracy = weighted_accuracy(correct, closing)
        return {
            "score": closing_accuracy,
            "closing_accuracy": closing_accuracy,
            "accuracy": weighted_accuracy(correct, w),
            "nll": float((nll * closing).sum() / closing.sum()),
            "nll_all": float((nll * w).sum() / w.sum()),
        }

    def encoding(self) -> dict:
        return {
            "mode": "generate",
            "unit": "characters",
            "input_tokens": VOCAB.tokens,
            "output_tokens": VOCAB.tokens,
            "start": BOS,
            "stop": None,
            "example": "<ab><c></c>",
        }

    def decode(self, split: Split, index: int) -> str:
        text = VOCAB.decode(split.targets[index])
        marks = "".join("^" if m else " " for m in split.masks["closing"][index][: len(text)])
        return f"{text}\n{marks}  (^ = closing-tag characters, the predictable part)"
