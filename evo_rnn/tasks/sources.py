"""Task names that point at a user's files: `text:PATH[?options]` and `npz:PATH[?options]`.

A spec is parsed once (`parse`), checked (the path exists, options are known and valid) and
identified by its content (`Source.identity`: the SHA-256 of the file's bytes, or of the three
files of a folder, with the options), not by its path: moving a file keeps its identity,
editing it does not. A process reads a file once (`Source.read`, cached until the file's size
or modification time changes); worker processes get the path, never the content, and read it
themselves, once each.

A source is a regular file (or a folder of them) of at most `MAX_SOURCE_BYTES` (1 GiB): a FIFO,
a device such as /dev/zero, a symlink loop or a larger file is refused in one line, and a file
is read with that cap, so nothing hangs or fills the memory. In the path and the option values,
`%XX` stands for the byte XX (percent-encoding, as in a URL): write `?` as `%3F`, `,` as `%2C`,
`&` as `%26` and `%` itself as `%25` (`text:q%3Fx.txt` names the file `q?x.txt`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import stat
import urllib.parse
from pathlib import Path
from typing import Any

from evo_rnn.core.errors import EvoRnnError

__all__ = [
    "FOLDER_FILES",
    "KINDS",
    "MAX_SOURCE_BYTES",
    "MIN_VOCAB",
    "Source",
    "SourceError",
    "is_source",
    "parse",
    "read_capped",
]

FOLDER_FILES = {"text": ("train.txt", "valid.txt", "test.txt"), "npz": ()}
MAX_SOURCE_BYTES = 2**30  # the largest file a source may be (1 GiB); read with this cap
MIN_VOCAB = 3  # `vocab=N` keeps the N - 1 commonest tokens and `<unk>`: two tokens to predict at least
# The options each kind takes after `?`: name -> (parse, default, what a good value is).
_OPTIONS: dict[str, dict[str, tuple[Any, Any, str]]] = {
    "text": {"unit": (str, "char", "char or word"), "vocab": (int, None, f"a whole number >= {MIN_VOCAB}")},
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
        """The files' bytes (read each time: a large text is read once, to be encoded and kept
        in the cache, `evo_rnn.tasks.text_encoding`)."""
        return tuple(read_capped(file) for file in self.files)

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


def read_capped(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of the regular file `path`, refused when it is anything else (a FIFO is opened
    without waiting for a writer) or larger than `limit` (default `MAX_SOURCE_BYTES`).

    Raises:
        SourceError: not a regular file, or larger than `limit` (the message says the fix).
        OSError: the file cannot be read.
    """
    limit = MAX_SOURCE_BYTES if limit is None else limit
    with _open_regular(path, limit) as file:
        data = file.read(limit + 1)
    if len(data) > limit:  # it grew while read, or its size was not what stat said
        raise SourceError(_too_large(path, len(data), limit))
    return data


def hash_capped(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """SHA-256 of the regular file `path`, read in chunks (never whole in memory), with
    `read_capped`'s checks."""
    limit = MAX_SOURCE_BYTES if limit is None else limit
    digest, size = hashlib.sha256(), 0
    with _open_regular(path, limit) as file:
        while chunk := file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise SourceError(_too_large(path, size, limit))
            digest.update(chunk)
    return digest.digest()


@contextlib.contextmanager
def _open_regular(path: str | os.PathLike, limit: int):
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO: no wait for a writer
    with os.fdopen(handle, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise SourceError(f"{path} is {_kind_of(status.st_mode)}, not a regular file; copy the data into a file")
        if status.st_size > limit:
            raise SourceError(_too_large(path, status.st_size, limit))
        os.set_blocking(file.fileno(), True)
        yield file


def _too_large(path, size: int, limit: int) -> str:
    return (
        f"{path} holds more than {limit:,} bytes ({size:,}), the most a source may hold; give a sample "
        "of it (e.g. head -c 100M) or split it into a folder's train/valid/test files"
    )


def _kind_of(mode: int) -> str:
    """What a file that is not regular is, in words."""
    for test, words in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return words
    return "not a regular file"


@functools.lru_cache(maxsize=64)
def _digest(files: tuple[Path, ...], stamps: tuple) -> str:
    """Of the files as they are (`stamps`): a file read in chunks, not kept in memory."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(hash_capped(file))
    return digest.hexdigest()


def parse(spec: str) -> Source:
    """Parses and checks `spec` (`text:PATH`, `text:PATH?unit=word&vocab=5000`, `npz:PATH`).

    In the path and the option values `%XX` is the byte XX: `text:q%3Fx.txt` names `q?x.txt`.

    Raises:
        SourceError: an unknown, repeated or bad option, a missing path, a symlink loop, a
            folder without the files its kind needs, a file that is not a regular file (a FIFO,
            a device) or is larger than `MAX_SOURCE_BYTES`.
    """
    kind, _, rest = spec.partition(":")
    if kind not in _OPTIONS or not rest:
        raise SourceError(f"task {spec!r}: write text:PATH or npz:PATH (kinds: {', '.join(KINDS)})")
    location, _, query = rest.partition("?")
    location = urllib.parse.unquote(location)  # `%3F` is '?', `%2C` is ',', `%25` is '%'...
    known = _OPTIONS[kind]
    values = {name: default for name, (_, default, _) in known.items()}
    given: set[str] = set()
    for item in filter(None, query.split("&")):
        name, sep, text = item.partition("=")
        text = urllib.parse.unquote(text)
        if name not in known:
            listed = ", ".join(known) if known else "none"
            hint = "" if sep else " (a '?' in the file's name is written %3F)"
            raise SourceError(f"task {spec!r}: unknown option {name!r} after '?'; {kind}: takes {listed}{hint}")
        if name in given:
            raise SourceError(f"task {spec!r}: option {name} is given twice; give it once")
        given.add(name)
        convert, _, good = known[name]
        try:
            value = convert(text) if sep else None
        except ValueError:
            value = None
        if (
            value is None
            or (name == "unit" and value not in ("char", "word"))
            or (name == "vocab" and value < MIN_VOCAB)
        ):
            why = " (it keeps N - 1 tokens and <unk>)" if name == "vocab" else ""
            raise SourceError(f"task {spec!r}: option {name}={text!r} is not allowed; use {good}{why}")
        values[name] = value
    what = (
        "UTF-8 text file or a folder with train.txt, valid.txt and test.txt"
        if kind == "text"
        else ".npz file with arrays x and y"
    )
    if "\x00" in location:
        raise SourceError(f"task {spec!r}: its path holds a NUL byte (%00), which no file name can; name the file")
    try:
        path = Path(os.path.expanduser(location)).resolve()
        exists = path.exists()
    except (RuntimeError, OSError):  # a symlink loop, a name too long
        raise SourceError(
            f"task {spec!r}: {location} is a symlink loop or cannot be followed; give the path of a {what}"
        ) from None
    if not exists:
        hint = (
            " (in a task name, write '?' as %3F, ',' as %2C and '%' as %25)"
            if "?" in spec or "%" in spec or _a_comma_name(path)
            else ""
        )
        raise SourceError(f"task {spec!r}: {location} does not exist; give the path of a {what}{hint}")
    if path.is_dir():
        missing = [name for name in FOLDER_FILES[kind] if not (path / name).exists()]
        if kind == "npz":
            raise SourceError(f"task {spec!r}: {location} is a folder; give the .npz file itself")
        if missing:
            raise SourceError(
                f"task {spec!r}: the folder {location} lacks {', '.join(missing)}; a text folder "
                f"holds {', '.join(FOLDER_FILES[kind])}, or give one file (split 80/10/10)"
            )
    for file in (path / name for name in FOLDER_FILES[kind]) if path.is_dir() else (path,):
        status = file.stat()
        if not stat.S_ISREG(status.st_mode):
            raise SourceError(
                f"task {spec!r}: {file} is {_kind_of(status.st_mode)}, not a regular file; give the path of a {what}"
            )
        if status.st_size > MAX_SOURCE_BYTES:
            raise SourceError(f"task {spec!r}: {_too_large(file, status.st_size, MAX_SOURCE_BYTES)}")
    return Source(kind, path, tuple(sorted(values.items())))


def _a_comma_name(path: Path) -> bool:
    """Whether a file beside `path` starts with its name and a comma: `--tasks text:my,data.txt`
    cut at the comma (list separator) named `my`."""
    try:
        return any(entry.name.startswith(path.name + ",") for entry in path.parent.iterdir())
    except OSError:
        return False
