"""`python -m evo_rnn.search`: the evolutionary architecture search, resumable, exported at the end.

With no flags it runs the built-in default (`python -m evo_rnn.search --help` lists every flag
with its default). Its state lives in `runs/NAME/search.sqlite`: re-running the same command
resumes the run, Ctrl-C or SIGTERM stops it within seconds (exit 130, 143). The options and the job are
`evo_rnn.search.api`'s, which `evo_rnn.search.run` shares from Python.
"""

from __future__ import annotations

import sys

from evo_rnn.core.cli import run
from evo_rnn.search.api import build_parser, search_job

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input, 130 after Ctrl-C, 143 after SIGTERM)."""
    parser = build_parser()
    parser.set_defaults(argv=sys.argv[1:] if argv is None else argv)
    return run(parser, search_job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
