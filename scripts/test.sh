#!/usr/bin/env bash
# Installs what the tests need (see setup_env.sh), then runs the test suite; extra
# arguments go to pytest (e.g. scripts/test.sh -k graph_cell).
set -euo pipefail
export EVO_RNN_NEED_DOT=1  # the diagram tests render PNGs
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$ROOT"
exec python -m pytest "$@"
