"""`python -m evo_rnn.export`: the command in `evo_rnn.commands.export`."""

from evo_rnn.commands.export import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
