#!/usr/bin/env bash
# Makes ./.venv with evo_rnn and its dependencies (once; later runs are quick), and
# Graphviz's `dot` for PNG diagrams. Sourced by scripts/search.sh, demo.sh and test.sh.
# EVO_RNN_EXTRAS chooses the pip extras (default: dev). Without `dot` (and no root to install
# it) the search and the demo still run and write .dot diagrams; EVO_RNN_NEED_DOT=1 (the
# tests, which render PNGs) makes it an error.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EVO_RNN_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

if ! command -v dot >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Graphviz (apt-get install graphviz) for PNG diagrams" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
      || { echo "setup: apt-get could not install graphviz; install Graphviz's 'dot' yourself (apt-get install graphviz / brew install graphviz / conda install graphviz)" >&2; exit 1; }
  elif [ "${EVO_RNN_NEED_DOT:-0}" = "1" ]; then
    echo "setup: Graphviz's 'dot' program is missing and cannot be installed from here: run 'sudo apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS) or 'conda install graphviz', then rerun" >&2
    exit 1
  else
    echo "setup: Graphviz's 'dot' is missing (not root, so not installed): diagrams are written as .dot files; for PNGs install it ('sudo apt-get install graphviz', 'brew install graphviz' or 'conda install graphviz')" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.evo_rnn-installed"
extras="${EVO_RNN_EXTRAS:-dev}"
if [ ! -f "$stamp" ] || [ "$ROOT/setup.cfg" -nt "$stamp" ] || [ "$(cat "$stamp")" != "$extras" ]; then
  echo "setup: installing evo_rnn[$extras] and its dependencies into $VENV (first time: a few minutes)" >&2
  log="$VENV/pip-install.log"
  if ! { "$VENV/bin/python" -m pip install --upgrade pip && "$VENV/bin/python" -m pip install -e "$ROOT[$extras]"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: pip could not install evo_rnn[$extras]; the whole log is in $log" >&2
    exit 1
  fi
  echo "$extras" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
