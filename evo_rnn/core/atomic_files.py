"""Writing files atomically (a reader never sees half a file) with the permissions an ordinary
new file gets (0666 less the umask), not the private 0600 of a temporary file, and only over a
file of the kind written (`check_output`); swapping two folders in one step (`exchange`)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from evo_rnn.core.errors import EvoRnnError

__all__ = ["KINDS", "OutputPathError", "atomic_path", "check_output", "exchange", "write_atomically"]


class OutputPathError(EvoRnnError, ValueError):
    """An output path is refused: its name does not say the kind written, or a file of another
    kind (a run's database, a user's document) is there."""


# A kind of file a command writes: the suffixes its name may end in, and how its first bytes
# (leading whitespace dropped, lower case) begin.
KINDS: dict[str, tuple[tuple[str, ...], tuple[bytes, ...]]] = {
    "HTML": ((".html", ".htm"), (b"<!doctype html", b"<html")),
    "PNG": ((".png",), (b"\x89png\r\n\x1a\n",)),
    "SVG": ((".svg",), (b"<?xml", b"<svg", b"<!doctype svg")),
    "DOT": ((".dot", ".gv"), (b"digraph", b"graph", b"strict", b"//", b"/*")),
}


def check_output(target: str | os.PathLike, kind: str) -> Path:
    """Refuses to write a file of `kind` (a key of `KINDS`) at `target` unless its name ends in
    one of the kind's suffixes and whatever is there already is a file of that kind (or empty):
    a run's database, a report over a picture, a folder are never overwritten. Returns the path.

    Raises:
        OutputPathError: the suffix or the file there is of another kind (nothing is written).
    """
    target = Path(target)
    suffixes, heads = KINDS[kind]
    if target.suffix.lower() not in suffixes:
        raise OutputPathError(
            f"{target}: the file written is {kind}, so its name must end in {' or '.join(suffixes)}; "
            f"nothing was written. Give a name like {target.stem or kind.lower()}{suffixes[0]}"
        )
    if target.is_dir():
        raise OutputPathError(f"{target} is a folder; nothing was written. Give the {kind} file's name")
    if target.exists() or target.is_symlink():
        try:
            if not target.is_file():
                raise OSError  # a FIFO, a device, a broken link: never opened, never replaced
            with open(target, "rb") as existing:
                head = existing.read(512).removeprefix(b"\xef\xbb\xbf").lstrip().lower()
        except OSError:
            head = b"?"
        if head and not head.startswith(heads):
            article = "an" if kind[0] in "HS" else "a"
            raise OutputPathError(
                f"{target} exists and is not {article} {kind} file (it may be a run's data or your own); nothing was "
                "written and it was left as it is. Choose another name, or move it away"
            )
    return target


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside `target` to write; when the block ends without an error
    it becomes `target` in one step, else it is removed. The target's folder is created."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        temporary.chmod(_default_mode())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(target: str | os.PathLike, data: bytes | str) -> Path:
    """Writes `data` (text as UTF-8) to `target` atomically; returns the path."""
    with atomic_path(target) as temporary:
        temporary.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(target)


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Swaps two existing paths (folders) in one step, so that a process killed at any moment
    leaves each name holding one of the two, never neither (Linux `renameat2` with
    RENAME_EXCHANGE). Returns False, having changed nothing, where the system or the file
    system cannot (another OS, an old kernel, some network file systems).

    Raises:
        OSError: the system can, but refused (a path missing, no permission).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if done == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), os.fspath(first), None, os.fspath(second))
