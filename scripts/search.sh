#!/usr/bin/env bash
# Installs evo_rnn (see setup_env.sh), then runs the architecture search on its built-in
# default (preset quick, task ptb_chars, a budget of 90 evaluations); extra arguments
# go to `python -m evo_rnn.search` (see --help). Re-running resumes the run in runs/default/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$ROOT"
# The default fitness reads Penn Treebank (ptb_chars): from --data-dir, $EVO_RNN_DATA or datasets/;
# else from the shared data folder beside this clone where there is one, else it is downloaded.
if [ -z "${EVO_RNN_DATA:-}" ] && [ ! -f datasets/ptb/ptb.train.txt ]; then
  if [ -f ../shared/data/ptb/ptb.train.txt ]; then
    export EVO_RNN_DATA="$(cd ../shared/data && pwd)"
    echo "setup: reading Penn Treebank from $EVO_RNN_DATA" >&2
  else
    python -m evo_rnn.tasks download ptb
  fi
fi
exec python -m evo_rnn.search "$@"
