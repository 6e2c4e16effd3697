"""`python -m evo_rnn.tasks`: the command in `evo_rnn.commands.tasks`."""

from evo_rnn.commands.tasks import main

if __name__ == "__main__":
    raise SystemExit(main())
