"""`text:PATH`: next-token prediction on a user's UTF-8 text, characters or words.

One file is split by position, 80/10/10 (train, validation, test: contiguous, so no sentence
straddles two splits but the last one cut); a folder gives its `train.txt`, `valid.txt` and
`test.txt`. The vocabulary comes from the training part: every character (`unit=char`), or
the words split on whitespace with `<eos>` at each line end, the commonest `vocab` of them
when capped (`unit=word&vocab=N`); a token outside it reads as `<unk>`. Like PTB the text is
one stream cut for truncated BPTT with state carried across batches (the preset's `text`
config: batch size, sequence length, token caps). Score: per-character accuracy for
characters; exp(-NLL per word) for words, as for PTB. Neither ceiling is known (it is the
text's own predictability); the score's floor is the frequency of the commonest token
(`metrics` reports it as `majority`). The text is encoded once and kept in a cache that every
process maps (`evo_rnn.tasks.text_encoding`).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from evo_rnn.tasks import text_encoding
from evo_rnn.tasks.base import Split, Task, TaskData, weighted_accuracy
from evo_rnn.tasks.ptb import bptt_layout
from evo_rnn.tasks.sources import Source, SourceError
from evo_rnn.tasks.text_encoding import SHARES, UNKNOWN

__all__ = ["TextConfig", "TextTask"]


@dataclasses.dataclass(frozen=True)
class TextConfig:
    """Settings of `text:` tasks (the preset's `text` field)."""

    batch_size: int = 20  # parallel streams; consecutive batches continue each row
    seq_len: int = 35  # truncated BPTT length
    max_train_tokens: int | None = None  # use only the first N training tokens
    max_eval_tokens: int | None = None  # likewise for validation and test


_UTF16_AND_32 = (  # byte-order marks, longest first (UTF-32 LE starts like UTF-16 LE)
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def _wide_encoding(raw: bytes) -> str | None:
    """ "UTF-16" or "UTF-32" when `raw` starts with their byte-order mark, or "UTF-16BE" /
    "UTF-16LE" when it is UTF-16 without one (a NUL in every other byte of its start, as ASCII
    text is in UTF-16; which byte says the order); else None: the name iconv -f needs."""
    for mark, name in _UTF16_AND_32:
        if raw.startswith(mark):
            return name
    head = raw[:4096]
    # Without a mark, the byte order shows where ASCII's zero bytes are: first (big-endian) or second.
    for zeros, name in ((head[0::2], "UTF-16BE"), (head[1::2], "UTF-16LE")):
        if len(head) >= 16 and zeros.count(0) > 0.9 * len(zeros) and raw.count(0) < 0.75 * len(raw):
            return name
    return None


def _decode(raw: bytes, name: str, spec: str) -> str:
    if not raw.strip():
        raise SourceError(f"task {spec!r}: {name} is empty; give a text with at least a few thousand characters")
    wide = _wide_encoding(raw)
    if wide is not None:
        raise SourceError(
            f"task {spec!r}: {name} is {wide} text, not UTF-8; convert it, e.g. iconv -f {wide} -t UTF-8 "
            f"{name} > {name.rsplit('.', 1)[0]}-utf8.txt"
        )
    nul = raw.find(bytes(1))
    if nul >= 0:
        raise SourceError(
            f"task {spec!r}: {name} is binary (a NUL byte at offset {nul}), not text; give a UTF-8 text file"
        )
    try:
        return raw.decode("utf-8-sig")  # a UTF-8 byte-order mark is not a character of the text
    except UnicodeDecodeError as error:
        raise SourceError(
            f"task {spec!r}: {name} is not UTF-8 (byte offset {error.start}: "
            f"{raw[error.start : error.start + 1]!r}); convert it, e.g. iconv -t UTF-8"
        ) from None


class TextTask(Task):
    """Stateful next-token prediction on a user's text."""

    description = "your text: next-character (or next-word) prediction, truncated BPTT"
    stateful = True

    def __init__(self, spec: str, source: Source, config: TextConfig | None = None):
        self.name, self.source = spec, source
        self.config = config or TextConfig()
        self.batch_size = self.config.batch_size
        self.unit = source.option("unit")
        self.vocab_cap = source.option("vocab")
        self.input_size = self.output_size = len(self.vocabulary)

    @functools.cached_property
    def _encoded(self) -> text_encoding.Encoded:
        """The text as token ids, encoded once and kept in the cache (`evo_rnn.tasks.text_encoding`):
        every process that trains on it maps the same pages."""
        return text_encoding.encode(self._content_key(), self.unit, self.vocab_cap, self._texts, self._check)

    def _content_key(self) -> str | None:
        """What the cache knows the text by: the files' SHA-256 (None: not kept)."""
        return self.source.digest

    def _texts(self) -> list[str]:
        """The decoded files: one, or a folder's train, validation and test files."""
        return [_decode(raw, file.name, self.name) for file, raw in zip(self.source.files, self.source.read())]

    def _check(self, vocabulary: list[str]) -> None:
        if len(vocabulary) < 3:  # two tokens and <unk>
            ranked = len(vocabulary) - 1
            raise SourceError(
                f"task {self.name!r}: its training part has a vocabulary of {ranked} "
                f"{'character' if self.unit == 'char' else 'word'}"
                f"{'' if ranked == 1 else 's'}; nothing to predict: give a real text"
            )

    @property
    def vocabulary(self) -> list[str]:
        """The tokens by id: the training part's, commonest first (ties by spelling), capped at
        `vocab` with `<unk>` last."""
        return self._encoded.vocabulary

    def _split(self, index: int, limit: int | None) -> Split:
        names = ("training", "validation", "test")
        ids = np.asarray(self._encoded.parts[index][:limit], dtype="int64")  # only this much is read
        needed = self.config.batch_size * (self.config.seq_len + 1)
        if len(ids) < needed:
            raise SourceError(
                f"task {self.name!r}: its {names[index]} part has {len(ids)} {self.unit}s, too few for one batch "
                f"of {self.config.batch_size} x {self.config.seq_len} (needs {needed}); {self._too_short_fix(index)}"
            )
        inputs, targets = bptt_layout(ids, self.config.batch_size, self.config.seq_len)
        return Split(inputs, targets, np.ones(inputs.shape, dtype="float32"))

    def _too_short_fix(self, index: int) -> str:
        """What to do when part `index` (0 train, 1 validation, 2 test) is too short for one batch."""
        part = "its file" if len(self.source.files) == 3 else f"{SHARES[index]:.0%} of it"
        name = ("training", "validation", "test")[index]
        return f"give a longer text (the {name} part is {part}), or lower --set text.batch_size / text.seq_len"

    def data(self, seed: int) -> TaskData:
        c = self.config
        return TaskData(
            self._split(0, c.max_train_tokens), self._split(1, c.max_eval_tokens), self._split(2, c.max_eval_tokens)
        )

    def metrics(self, split: Split, nll: np.ndarray, correct: np.ndarray | None) -> dict[str, float]:
        w = split.weights
        mean_nll = float((nll * w).sum() / w.sum())
        accuracy = weighted_accuracy(correct, w)
        counts = np.bincount(split.targets.ravel(), minlength=self.output_size)
        majority = float(counts.max() / counts.sum())
        score = accuracy if self.unit == "char" else float(np.exp(-mean_nll))
        return {
            "score": score,
            "accuracy": accuracy,
            "nll": mean_nll,
            "perplexity": float(np.exp(mean_nll)),
            "majority": majority,
        }

    def encoding(self) -> dict:
        unit = "characters" if self.unit == "char" else "words"
        return {
            "mode": "generate",
            "unit": unit,
            "input_tokens": self.vocabulary,
            "output_tokens": self.vocabulary,
            "start": None,
            "stop": None,
            "unknown": UNKNOWN,
            "example": "".join(self.vocabulary[:3]) if self.unit == "char" else " ".join(self.vocabulary[:3]),
        }

    def decode(self, split: Split, index: int) -> str:
        join = "" if self.unit == "char" else " "
        return (
            join.join(self.vocabulary[i] for i in split.inputs[index])
            + f"\n(next: {join.join(self.vocabulary[i] for i in split.targets[index][-3:])})"
        )
