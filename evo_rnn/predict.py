"""`python -m evo_rnn.predict`: the command in `evo_rnn.commands.predict`."""

from evo_rnn.commands.predict import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
