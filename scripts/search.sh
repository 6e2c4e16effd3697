#!/usr/bin/env bash
# Installs evo_rnn (see setup_env.sh), then runs the architecture search on its built-in
# default (preset quick, tasks arith and xml, a budget of 100 evaluations); extra arguments
# go to `python -m evo_rnn.search` (see --help). Re-running resumes the run in runs/default/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$ROOT"
exec python -m evo_rnn.search "$@"
