"""Shared test helpers: the Keras backend, subprocess runners, the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # evo_rnn itself sets TensorFlow's C++ log level

ROOT = Path(__file__).resolve().parents[1]
# The shared datasets (Penn Treebank, music); CI sets EVO_RNN_REQUIRE_DATA=1 so that their
# absence fails instead of skipping.
SHARED = Path(os.environ.get("EVO_RNN_TEST_DATA", ROOT.parent / "shared" / "data"))
HAVE_SHARED = (SHARED / "ptb" / "ptb.train.txt").is_file()
if not HAVE_SHARED and os.environ.get("EVO_RNN_REQUIRE_DATA") == "1":
    raise RuntimeError(f"the shared datasets are not in {SHARED}; set EVO_RNN_TEST_DATA to their folder")
needs_shared_data = pytest.mark.skipif(not HAVE_SHARED, reason=f"the shared datasets are not in {SHARED}")


def run_python(code: str, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs `python -c code args...` in a fresh interpreter from the repository root."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def run_module(module: str, *args: str, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs `python -m module args...` from the repository root (in `env` if given, else ours)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


def user_environment(**changes: str) -> dict[str, str]:
    """The environment a user's shell would give a command: none of the variables this test
    process set for itself (TensorFlow's log level), plus `changes`."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST")}
    return {**env, **changes}


def without_graphviz() -> dict[str, str]:
    """A user environment whose PATH has Python's folder but no Graphviz `dot`."""
    return user_environment(PATH=os.path.dirname(sys.executable))


RAW_TENSORFLOW_LOG = ("E0000", "W0000", "I0000", "cuInit", "NodeDef", "oneDNN", "WARNING: All log messages")


def stderr_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The lines of stderr that evo_rnn wrote (TensorFlow's own C++ log lines dropped)."""
    return [
        line for line in result.stderr.splitlines()
        if line.strip() and not line.startswith(("E0000", "W0000", "I0000", "WARNING: All log messages"))
    ]


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)
