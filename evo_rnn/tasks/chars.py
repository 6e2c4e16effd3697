"""Character vocabularies and next-character encoding shared by the generated text tasks."""

from __future__ import annotations

import numpy as np

from evo_rnn.tasks.base import Split, pad_sequences

__all__ = ["CharVocab", "encode_next_char"]

PAD, BOS = "<pad>", "<bos>"


class CharVocab:
    """Maps characters to ids; id 0 is padding, id 1 the start-of-sequence token."""

    def __init__(self, symbols: str):
        self.tokens = [PAD, BOS, *symbols]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError(f"duplicate symbols in {symbols!r}")

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index[c] for c in text], dtype="int32")

    def decode(self, ids: np.ndarray) -> str:
        return "".join(self.tokens[i] if i > 1 else "" for i in ids)


def encode_next_char(
    vocab: CharVocab, texts: list[str], scored: list[np.ndarray], masks: dict[str, list[np.ndarray]] | None = None
) -> Split:
    """Next-character prediction rows: input `<bos>` + text[:-1], target text.

    Args:
        vocab: the vocabulary.
        texts: one string per row.
        scored: per row, 0/1 per character of the text: whether predicting it is scored.
        masks: extra per-character 0/1 masks, by name (e.g. "closing").
    """
    bos = vocab.index[BOS]
    targets = [vocab.encode(t) for t in texts]
    inputs = [np.concatenate([[bos], t[:-1]]).astype("int32") for t in targets]
    return Split(
        inputs=pad_sequences(inputs, "int32"),
        targets=pad_sequences(targets, "int32"),
        weights=pad_sequences([np.asarray(s, "float32") for s in scored], "float32"),
        masks={k: pad_sequences([np.asarray(m, "float32") for m in v], "float32") for k, v in (masks or {}).items()},
    )
