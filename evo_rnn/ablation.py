"""`python -m evo_rnn.ablation`: the command in `evo_rnn.commands.ablation`."""

from evo_rnn.commands.ablation import main, run

__all__ = ["main", "run"]

if __name__ == "__main__":
    raise SystemExit(main())
