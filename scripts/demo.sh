#!/usr/bin/env bash
# Installs evo_rnn (see setup_env.sh), then runs the built-in demo; extra arguments go
# to `python -m evo_rnn.demo` (see --help).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$ROOT"
exec python -m evo_rnn.demo "$@"
