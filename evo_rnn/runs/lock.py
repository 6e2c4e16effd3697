"""The lock a process holds while it writes a run: an OS file lock (`fcntl.flock`) on a file
beside the run's database, so a second writer is refused in one line naming the holder, and
a process that dies (even by kill -9) releases it with its open files: a lock is never stale.

Readers (the report) take no lock: the database is SQLite in WAL mode, so they read while a
writer writes. The lock is re-entrant within a process (the search holds it and calls the
confirmation and the export, which take it too).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from evo_rnn.core.errors import EvoRnnError

__all__ = ["RunLockedError", "hold", "holder"]

_held: set[Path] = set()  # the lock files this process holds
_guard = threading.Lock()


class RunLockedError(EvoRnnError):
    """Another process is writing the run."""


def holder(lock_file: str | os.PathLike) -> str | None:
    """What the lock file says of the process that holds it ("pid 123: command"), or None when empty or missing."""
    try:
        text = Path(lock_file).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text or None


@contextlib.contextmanager
def hold(lock_file: str | os.PathLike, what: str) -> Iterator[None]:
    """Holds the lock `lock_file` (created with its folder when missing) while the block runs.

    Args:
        lock_file: the lock's file.
        what: what the lock protects, for the refusal's message (e.g. "run 'default'").

    Raises:
        RunLockedError: another process holds it; the message names its pid and command.
    """
    path = Path(lock_file).absolute()
    with _guard:
        reentered = path in _held
    if reentered:  # this process holds it already (the search's confirmation and export)
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            who = holder(path) or "another process"
            raise RunLockedError(
                f"{what} is being written by {who}; wait for it to end (or stop it), or use "
                f"another run name (lock: {path})"
            ) from None
        os.ftruncate(descriptor, 0)
        command = " ".join(sys.argv) or "python"
        os.write(descriptor, f"pid {os.getpid()} ({command})\n".encode())
        with _guard:
            _held.add(path)
        try:
            yield
        finally:
            with _guard:
                _held.discard(path)
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)  # releases the lock
