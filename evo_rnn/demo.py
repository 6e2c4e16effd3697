"""`python -m evo_rnn.demo`: the command in `evo_rnn.commands.demo`."""

from evo_rnn.commands.demo import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
