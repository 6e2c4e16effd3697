"""`ptb_chars`: next-character prediction on Mikolov's Penn Treebank, truncated BPTT with
carried state: the search's default fitness at the `quick` preset.

The three published files, read as characters (words, spaces and line ends as they are in
`ptb.{train,valid,test}.txt`, checksum verified): training from `ptb.train.txt`, validation
from `ptb.valid.txt`, test from `ptb.test.txt`, each the first `max_*_tokens` characters of its
file. The splits are the published ones, disjoint sentences (no line of the validation or test
part appears in the training part; a test checks it at the shipped sizes). The vocabulary is the
training part's characters (about 50) and `<unk>`. Score: per-character accuracy. Its ceiling
is 1.0 only in principle: English text is not fully predictable, and the entropy of PTB's
characters (about 1.3 bits at the state of the art) bounds the accuracy well below it; the floor
is the frequency of the commonest character, the space (`majority` in the metrics, about 0.18).

Why it is the default fitness, and how noisy it is from seed to seed: `benchmarks/README.md`
(the noise table) and `docs/search.md`.
"""

from __future__ import annotations

import dataclasses
import os

from evo_rnn.tasks.ptb import read_text
from evo_rnn.tasks.text import TextTask

__all__ = ["PtbCharsConfig", "PtbCharsTask"]


@dataclasses.dataclass(frozen=True)
class PtbCharsConfig:
    """Settings of `ptb_chars`."""

    batch_size: int = 20  # parallel streams; consecutive batches continue each row
    seq_len: int = 35  # truncated BPTT length
    max_train_tokens: int | None = None  # use only the first N training characters
    max_eval_tokens: int | None = None  # likewise for validation and test
    max_epochs: int | None = None  # an epoch cap below the preset's (None: the preset's)


class PtbCharsTask(TextTask):
    """Stateful next-character prediction on Penn Treebank's published splits."""

    name = "ptb_chars"
    description = "Penn Treebank characters (the published splits), next-character accuracy, truncated BPTT"

    def __init__(self, config: PtbCharsConfig | None = None, data_dir: str | os.PathLike | None = None):
        # Nothing is read here: listing or naming the task needs no data (`tasks list`). No
        # `source` either: the methods of `TextTask` that read one are overridden below.
        self.data_dir = data_dir
        self.config = config or PtbCharsConfig()
        self.batch_size = self.config.batch_size
        self.unit, self.vocab_cap = "char", None
        self.max_epochs = self.config.max_epochs

    @property
    def input_size(self) -> int:  # the training part's characters and <unk>, read on first use
        return len(self.vocabulary)

    @property
    def output_size(self) -> int:
        return len(self.vocabulary)

    def _texts(self) -> list[str]:
        return [read_text(split, self.data_dir) for split in ("train", "valid", "test")]

    def _content_key(self) -> None:
        """Not kept in the cache: 5 MB, read from the data folder each time (so that a missing
        folder is always said)."""
        return None

    def _too_short_fix(self, index: int) -> str:
        return "raise --set ptb_chars.max_train_tokens / max_eval_tokens, or lower ptb_chars.batch_size / seq_len"
