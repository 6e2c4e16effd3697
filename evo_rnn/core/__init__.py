"""What every other package stands on: error types, the numeric backend's process set-up, atomic
file writes and the command-line plumbing."""
