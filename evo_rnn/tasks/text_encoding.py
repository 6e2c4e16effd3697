"""A `text:` source encoded once: its train, validation and test parts as arrays of token ids
and its vocabulary, kept on disk in a cache folder and memory-mapped by every process that
trains on it, so that the search and each of its workers share one copy of the pages (the OS's
page cache) instead of each holding the text, its tokens and their ids (a 100 MB text cost
2.1 GB in every process: benchmarks/text_memory.py).

The cache is keyed by the files' content hash, the unit and the vocabulary cap; its folder is
`$EVO_RNN_CACHE/text/`, else `$XDG_CACHE_HOME/evo_rnn/text/`, else `~/.cache/evo_rnn/text/`
(`EVO_RNN_CACHE=off`: none; each process encodes the text itself). An entry is written to a
temporary folder and renamed into place whole; one that cannot be read (a disk error, a file
cut short) is encoded again. Arrays are `.npy` files read with `allow_pickle=False`.

Encoding is the one `TextTask` describes: one file is split by position, 80/10/10, a folder
gives its three files; the vocabulary is the training part's tokens, commonest first (ties by
spelling), capped at `vocab` with `<unk>` last. Characters are encoded as arrays of code points
(no Python object per character), words line by line.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["EOS", "SHARES", "UNKNOWN", "Encoded", "cache_folder", "encode"]

UNKNOWN, EOS = "<unk>", "<eos>"
SHARES = (0.8, 0.1, 0.1)
FORMAT = 1  # of a cache entry; a change makes new entries beside the old
PARTS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class Encoded:
    """A text as token ids: `parts` (train, validation, test: int32 arrays, memory-mapped when
    they come from the cache) and `vocabulary` (the tokens by id)."""

    vocabulary: list[str]
    parts: tuple[np.ndarray, np.ndarray, np.ndarray]


def cache_folder() -> Path | None:
    """Where encoded texts are kept (None: `EVO_RNN_CACHE=off`)."""
    chosen = os.environ.get("EVO_RNN_CACHE")
    if chosen is not None:
        return None if chosen.strip().lower() in ("off", "0", "") else Path(chosen) / "text"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "evo_rnn" / "text"


def encode(
    digest: str | None,
    unit: str,
    vocab_cap: int | None,
    texts: Callable[[], Sequence[str]],
    check: Callable[[list], None],
) -> Encoded:
    """The encoded text whose files hash to `digest`: from the cache when it holds it, else
    encoded from `texts()` (the decoded files: one, or a folder's three) and kept there
    (`digest` None: never kept, e.g. a small built-in corpus read from its data folder).

    Args:
        check: called with the vocabulary before anything is kept (raises on one too small).
    """
    folder = cache_folder()
    entry = (
        None if folder is None or digest is None else folder / f"{digest[:32]}-{unit}-{vocab_cap or 'all'}-v{FORMAT}"
    )
    if entry is not None:
        found = _load(entry)
        if found is not None:
            return found
    encoded = _encode(texts(), unit, vocab_cap)
    check(encoded.vocabulary)
    if entry is not None:
        _keep(entry, encoded)
        found = _load(entry)  # memory-mapped: the pages are shared with every other process
        if found is not None:
            return found
    return encoded


def _load(entry: Path) -> Encoded | None:
    try:
        vocabulary = json.loads((entry / "vocabulary.json").read_text(encoding="utf-8"))
        parts = tuple(np.load(entry / f"{part}.npy", mmap_mode="r", allow_pickle=False) for part in PARTS)
    except (OSError, ValueError):
        return None
    if not isinstance(vocabulary, list) or any(p.dtype != np.int32 or p.ndim != 1 for p in parts):
        return None
    return Encoded(vocabulary, parts)  # type: ignore[arg-type]


def _keep(entry: Path, encoded: Encoded) -> None:
    """Writes `entry` whole (a temporary folder renamed into place); a cache that cannot be
    written is no cache (the text stays encoded in this process)."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    except OSError:
        return
    try:
        (staging / "vocabulary.json").write_text(json.dumps(encoded.vocabulary, ensure_ascii=False), encoding="utf-8")
        for part, ids in zip(PARTS, encoded.parts):
            np.save(staging / f"{part}.npy", ids, allow_pickle=False)
        staging.chmod(0o755)
        if entry.exists():  # damaged (it did not load): set aside; a process mapping it keeps its pages
            damaged = Path(tempfile.mkdtemp(prefix=f".{entry.name}.damaged-", dir=entry.parent))
            os.replace(entry, damaged / entry.name)
            shutil.rmtree(damaged, ignore_errors=True)
        os.replace(staging, entry)
    except OSError:  # another process kept it first (the folder is there), or the disk is full
        pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _encode(texts: Sequence[str], unit: str, vocab_cap: int | None) -> Encoded:
    if unit == "char":
        codes = [_code_points(text) for text in texts]
        if len(codes) == 1:
            codes = _thirds(codes[0])
        counts = np.bincount(codes[0])  # one pass; code points are at most 0x10FFFF
        values = np.flatnonzero(counts)
        order = np.lexsort((values, -counts[values]))  # commonest first, ties by code point (= by spelling)
        ranked = [chr(int(v)) for v in values[order]]
        vocabulary = _capped(ranked, vocab_cap)
        lookup = np.full(max(int(c.max(initial=0)) for c in codes) + 1, len(vocabulary) - 1, dtype=np.int32)
        for index, token in enumerate(vocabulary[:-1]):
            lookup[ord(token)] = index
        return Encoded(vocabulary, tuple(lookup[c] for c in codes))  # type: ignore[arg-type]
    lines = [text.splitlines() for text in texts]
    train_words = _words(lines[0])
    if len(lines) == 1:  # one file: the training part is its first 80% of words
        train_words = itertools.islice(train_words, _cuts(sum(len(line.split()) + 1 for line in lines[0]))[0])
    counts = collections.Counter(train_words)
    ranked = sorted(counts, key=lambda token: (-counts[token], token))
    vocabulary = _capped(ranked, vocab_cap)
    index = {token: i for i, token in enumerate(vocabulary)}
    unknown = len(vocabulary) - 1
    ids = [np.fromiter((index.get(w, unknown) for w in _words(part)), dtype=np.int32) for part in lines]
    return Encoded(vocabulary, tuple(_thirds(ids[0]) if len(ids) == 1 else ids))  # type: ignore[arg-type]


def _cuts(length: int) -> tuple[int, int]:
    """Where one file's training part ends and its validation part ends (`SHARES`)."""
    return int(length * SHARES[0]), int(length * (SHARES[0] + SHARES[1]))


def _thirds(tokens: np.ndarray) -> list[np.ndarray]:
    """One file's tokens cut into its training, validation and test parts."""
    first, second = _cuts(len(tokens))
    return [tokens[:first], tokens[first:second], tokens[second:]]


def _code_points(text: str) -> np.ndarray:
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


def _words(lines: list[str]):
    """The words of `lines`, with an `<eos>` at each line's end."""
    for line in lines:
        yield from line.split()
        yield EOS


def _capped(ranked: list[str], vocab_cap: int | None) -> list[str]:
    if vocab_cap is not None and len(ranked) > vocab_cap - 1:
        ranked = ranked[: vocab_cap - 1]
    return [*ranked, UNKNOWN]
