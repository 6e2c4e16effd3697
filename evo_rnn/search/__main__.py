"""`python -m evo_rnn.search`: the command in `evo_rnn.commands.search`."""

from evo_rnn.commands.search import main

if __name__ == "__main__":
    raise SystemExit(main())
