#!/usr/bin/env bash
# Installs what the tests need (see setup_env.sh), then runs the test suite; extra
# arguments go to pytest (e.g. scripts/test.sh -k graph_cell).
set -euo pipefail
export EVO_RNN_NEED_DOT=1  # the diagram tests render PNGs
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$ROOT"
# Two or more test processes where there are cores for them (at most 4: each loads TensorFlow);
# EVO_RNN_TEST_PROCESSES=0 runs the tests in this one process.
processes="${EVO_RNN_TEST_PROCESSES:-$(python -c 'import os; print(min(4, os.cpu_count() or 1))')}"
if [ "$processes" -gt 1 ]; then
  exec python -m pytest -n "$processes" --dist worksteal --durations=25 "$@"
fi
exec python -m pytest --durations=25 "$@"
