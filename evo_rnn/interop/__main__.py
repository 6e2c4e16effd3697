"""`python -m evo_rnn.interop`: the command in `evo_rnn.commands.interop`."""

from evo_rnn.commands.interop import main

if __name__ == "__main__":
    raise SystemExit(main())
