"""Shared command-line plumbing: one-line errors and exit code 2 for bad input and for the
failures of the disk and the run database; a traceback only for a bug; Ctrl-C and SIGTERM stop
a command with a line saying how to go on (exit 130 and 143)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import math
import os
import signal
import sqlite3
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from evo_rnn.core.errors import EvoRnnError

__all__ = [
    "ArgumentParser",
    "UsageError",
    "add_workers_argument",
    "number",
    "options_argv",
    "parse_options",
    "run",
    "whole_number",
]

EXIT_BAD_INPUT = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
# What a command reports in one line: bad input, the disk, a run database, a number too large.
EXPECTED_FAILURES = (EvoRnnError, OSError, sqlite3.Error, OverflowError)


class UsageError(EvoRnnError):
    """A command-line argument is wrong; the message says what is accepted."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a shutdown, a cluster's preemption, `kill PID`): a command stops as on Ctrl-C,
    cancelling its workers and keeping everything finished."""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While the block runs, SIGTERM raises `Terminated` in the main thread (as Ctrl-C raises
    KeyboardInterrupt), so that the same clean stop follows. Yields a list that holds True once
    a SIGTERM came (a command may catch the interrupt itself and return its own code)."""
    received: list[bool] = []

    def terminate(signum: int, frame: Any) -> None:
        received.append(True)
        raise Terminated()

    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse `type`: a whole number from `low` to `high` (no upper bound when None)."""
    expected = f"a whole number from {low} to {high}" if high is not None else f"a whole number >= {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


def number(low: float = 0.0, above: bool = True) -> Callable[[str], float]:
    """An argparse `type`: a finite number above `low` (or from `low` when not `above`)."""
    expected = f"a finite number {'above' if above else 'of at least'} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not (math.isfinite(value) and (value > low if above else value >= low)):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def add_workers_argument(parser: argparse.ArgumentParser) -> None:
    """The `--workers N` option, the same for every command that trains: N evaluations at once,
    each in a worker process (a Ray task with `--executor ray`); 0 trains in this process, one at a
    time (not with Ray); by default as many as the machine's CPU cores (or the Ray cluster) hold."""
    parser.add_argument(
        "--workers",
        type=whole_number(0),
        default=None,
        help="evaluations training at once, each in a worker process (a Ray task with --executor "
        "ray); 0 trains in this process, one at a time (default: one per CPU core; with "
        "--executor ray, as many as the cluster holds)",
    )


def _one_line(error: BaseException) -> str:
    """An expected failure as one line that names the path involved where there is one."""
    if isinstance(error, EvoRnnError):
        text = str(error)
    elif isinstance(error, OSError):
        paths = " -> ".join(str(p) for p in (error.filename, error.filename2) if p is not None)
        text = f"{error.strerror or error}" + (f": {paths}" if paths else "")
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):  # EFBIG: a file size limit (ulimit -f)
            text += " (free some space and rerun: everything finished is kept)"
        elif error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            text += " (write somewhere you may write: --runs-dir, --out or -o)"
    elif isinstance(error, sqlite3.Error):
        text = f"SQLite: {error} (a run database is corrupted, locked or on a full or read-only disk)"
    else:  # OverflowError: a number in a file or a flag too large for its type
        text = f"a number is too large: {error}"
    return " ".join(text.split())  # one line, whatever the message held


def run(parser: ArgumentParser, job: Callable[[argparse.Namespace], object], argv: list[str] | None = None) -> int:
    """Parses `argv`, runs `job(args)`. An expected failure (bad input: an `EvoRnnError`; the
    disk: an `OSError`; a run database: an `sqlite3.Error`; a number too large) ends in one line
    and exit 2; anything else is a bug in evo_rnn and shows its traceback, saying so (exit 1);
    Ctrl-C and SIGTERM end in a line saying how to go on, and exit 130 and 143.

    Returns the job's own exit code when it returns an int, else 0.
    """
    args = parser.parse_args(argv)
    terminated: list[bool] = []
    try:
        with _sigterm_as_interrupt() as terminated:
            code = job(args)
    except EXPECTED_FAILURES as error:
        print(f"{parser.prog}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # the command had nothing of its own to say
        print(
            f"{parser.prog}: {'terminated' if terminated else 'interrupted'}: everything finished is stored; rerun "
            "the same command to go on",
            file=sys.stderr,
        )
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        print(
            f"{parser.prog}: internal error: this is a bug in evo_rnn, not in your input; please report it with "
            "the traceback above",
            file=sys.stderr,
        )
        return EXIT_BUG
    if code == EXIT_INTERRUPTED and terminated:
        return EXIT_TERMINATED
    return code if isinstance(code, int) else 0


def options_argv(options: dict[str, Any]) -> list[str]:
    """The command line that a Python call's keyword `options` stand for: `name=value` as
    `--name value`, True as a bare flag, None and False left out, a list of `set` items as
    repeated `--set`, other lists joined by commas."""
    argv: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if key == "set" and (
            isinstance(value, str)
            or not isinstance(value, (list, tuple))
            or not all(isinstance(item, str) for item in value)
        ):
            raise EvoRnnError(f"set must be a list of FIELD=VALUE strings, e.g. set=['max_epochs=3'], got {value!r}")
        if isinstance(value, (list, tuple)) and not value and key != "set":
            raise EvoRnnError(f"{key} is empty; give at least one, or None for the default")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif key == "set":
            for item in value:
                argv += ["--set", str(item)]
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(str(item) for item in value)]
        else:
            argv += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return argv


def parse_options(parser: argparse.ArgumentParser, options: dict[str, Any]) -> argparse.Namespace:
    """A Python call's keyword `options` parsed by its command's parser, so that the call and the
    command accept the same values; `args.argv` is the command line they stand for.

    Raises:
        EvoRnnError: a value the command refuses, with the parser's message.
    """
    argv = options_argv(options)
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            args = parser.parse_args(argv)
    except SystemExit:
        lines = said.getvalue().strip().splitlines()
        message = lines[-1].removeprefix(f"{parser.prog}: error: ") if lines else " ".join(argv)
        raise EvoRnnError(f"invalid options for {parser.prog}: {message}") from None
    args.argv = argv
    return args
