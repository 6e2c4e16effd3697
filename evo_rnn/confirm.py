"""`python -m evo_rnn.confirm`: the command in `evo_rnn.commands.confirm`."""

from evo_rnn.commands.confirm import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
