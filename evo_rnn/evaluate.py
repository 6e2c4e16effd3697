"""`python -m evo_rnn.evaluate`: the command in `evo_rnn.commands.evaluate`."""

from evo_rnn.commands.evaluate import main, run

__all__ = ["main", "run"]

if __name__ == "__main__":
    raise SystemExit(main())
