"""The command lines, one module per command (`python -m evo_rnn.<command>` runs it)."""
