"""`python -m evo_rnn.write_zoo`: the command in `evo_rnn.commands.write_zoo`."""

from evo_rnn.commands.write_zoo import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
