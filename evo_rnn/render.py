"""`python -m evo_rnn.render`: the command in `evo_rnn.commands.render`."""

from evo_rnn.commands.render import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
