"""Shared command-line plumbing: one-line errors and exit code 2 for bad input."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from evo_rnn.errors import EvoRnnError

__all__ = ["ArgumentParser", "UsageError", "run"]

EXIT_BAD_INPUT = 2


class UsageError(EvoRnnError):
    """A command-line argument is wrong; the message says what is accepted."""


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def run(parser: ArgumentParser, job: Callable[[argparse.Namespace], object], argv: list[str] | None = None) -> int:
    """Parses `argv`, runs `job(args)`; bad input (an `EvoRnnError`) ends in one line and exit 2.

    Returns the job's own exit code when it returns an int, else 0.
    """
    args = parser.parse_args(argv)
    try:
        code = job(args)
    except (EvoRnnError, FileNotFoundError, IsADirectoryError, PermissionError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return code if isinstance(code, int) else 0
