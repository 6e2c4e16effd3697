"""Shared test helpers: quiet TensorFlow, a subprocess runner, the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

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


def run_module(module: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs `python -m module args...` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


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
