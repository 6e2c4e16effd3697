"""`python -m evo_rnn.report`: the command in `evo_rnn.commands.report`."""

from evo_rnn.commands.report import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
