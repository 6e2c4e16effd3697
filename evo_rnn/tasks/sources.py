"""Task names that point at a user's files: `text:PATH[?options]` and `npz:PATH[?options]`.

A spec is parsed once (`parse`), checked (the path exists, options are known and valid) and
identified by its content (`Source.identity`: the SHA-256 of the file's bytes, or of the three
files of a folder, with the options), not by its path: moving a file keeps its identity,
editing it does not. A process reads a file once (`Source.read`, cached until the file's size
or modification time changes); worker processes get the path, never the content, and read it
themselves, once each.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from pathlib import Path
from typing import Any

from evo_rnn.core.errors import EvoRnnError

__all__ = ["FOLDER_FILES", "KINDS", "Source", "SourceError", "is_source", "parse"]

FOLDER_FILES = {"text": ("train.txt", "valid.txt", "test.txt"), "npz": ()}
# The options each kind takes after `?`: name -> (parse, default, what a good value is).
_OPTIONS: dict[str, dict[str, tuple[Any, Any, str]]] = {
    "text": {"unit": (str, "char", "char or word"), "vocab": (int, None, "a whole number >= 2")},
    "npz": {},
}
KINDS = tuple(_OPTIONS)


class SourceError(EvoRnnError):
    """A task spec or the file it names cannot be used (the message names the problem and the fix)."""


def is_source(name: str) -> bool:
    """Whether task name `name` points at a file (`text:...`, `npz:...`)."""
    return isinstance(name, str) and name.partition(":")[0] in KINDS and ":" in name


@dataclasses.dataclass(frozen=True)
class Source:
    """A parsed spec: its kind, the path it names (absolute) and its options (defaults filled)."""

    kind: str
    path: Path
    options: tuple[tuple[str, Any], ...]

    def option(self, name: str) -> Any:
        return dict(self.options)[name]

    @property
    def files(self) -> tuple[Path, ...]:
        """The files it reads: the file, or a folder's train/valid/test files."""
        if self.path.is_dir():
            return tuple(self.path / name for name in FOLDER_FILES[self.kind])
        return (self.path,)

    def read(self) -> tuple[bytes, ...]:
        """The files' bytes, read once per process (the digest and the task both use them)."""
        return _read(self.files, tuple(_stamp(file) for file in self.files))

    @property
    def digest(self) -> str:
        """SHA-256 over the files' bytes, in order."""
        return _digest(self.files, tuple(_stamp(file) for file in self.files))

    @property
    def identity(self) -> str:
        """What the cache knows this task by: kind, content hash and the options that differ
        from their defaults (not the path)."""
        defaults = {name: default for name, (_, default, _) in _OPTIONS[self.kind].items()}
        changed = "&".join(f"{k}={v}" for k, v in self.options if v != defaults[k])
        return f"{self.kind}:sha256-{self.digest[:16]}" + (f"?{changed}" if changed else "")


def _stamp(file: Path) -> tuple[int, int]:
    """What tells an edited file from the one read before: its size and modification time."""
    status = file.stat()
    return status.st_size, status.st_mtime_ns


@functools.lru_cache(maxsize=4)
def _read(files: tuple[Path, ...], stamps: tuple) -> tuple[bytes, ...]:
    return tuple(file.read_bytes() for file in files)


@functools.lru_cache(maxsize=64)
def _digest(files: tuple[Path, ...], stamps: tuple) -> str:
    digest = hashlib.sha256()
    for raw in _read(files, stamps):
        digest.update(hashlib.sha256(raw).digest())
    return digest.hexdigest()


def parse(spec: str) -> Source:
    """Parses and checks `spec` (`text:PATH`, `text:PATH?unit=word&vocab=5000`, `npz:PATH`).

    Raises:
        SourceError: an unknown kind or option, a bad option value, a missing path, or a
            folder without the files its kind needs.
    """
    kind, _, rest = spec.partition(":")
    if kind not in _OPTIONS or not rest:
        raise SourceError(f"task {spec!r}: write text:PATH or npz:PATH (kinds: {', '.join(KINDS)})")
    location, _, query = rest.partition("?")
    known = _OPTIONS[kind]
    values = {name: default for name, (_, default, _) in known.items()}
    for item in filter(None, query.split("&")):
        name, sep, text = item.partition("=")
        if name not in known:
            listed = ", ".join(known) if known else "none"
            raise SourceError(f"task {spec!r}: unknown option {name!r} after '?'; {kind}: takes {listed}")
        convert, _, good = known[name]
        try:
            value = convert(text) if sep else None
        except ValueError:
            value = None
        if value is None or (name == "unit" and value not in ("char", "word")) or (name == "vocab" and value < 2):
            raise SourceError(f"task {spec!r}: option {name}={text!r} is not allowed; use {good}")
        values[name] = value
    path = Path(os.path.expanduser(location)).resolve()
    if not path.exists():
        raise SourceError(
            f"task {spec!r}: {location} does not exist; give the path of a "
            + (
                "UTF-8 text file or a folder with train.txt, valid.txt and test.txt"
                if kind == "text"
                else ".npz file with arrays x and y"
            )
        )
    if path.is_dir():
        missing = [name for name in FOLDER_FILES[kind] if not (path / name).is_file()]
        if kind == "npz":
            raise SourceError(f"task {spec!r}: {location} is a folder; give the .npz file itself")
        if missing:
            raise SourceError(
                f"task {spec!r}: the folder {location} lacks {', '.join(missing)}; a text folder "
                f"holds {', '.join(FOLDER_FILES[kind])}, or give one file (split 80/10/10)"
            )
    return Source(kind, path, tuple(sorted(values.items())))
