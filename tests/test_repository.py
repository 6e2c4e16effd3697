"""What the repository ships stays as shipped: a user's run exports beside the reference run,
and git ignores it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
)


def ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0


def test_a_users_exports_are_ignored_and_the_shipped_cells_are_not():
    assert ignored("saved_architectures/default/1-abcdef12/cell.json")  # the default run's export
    assert ignored("saved_architectures/my-run/README.md")
    assert not ignored("saved_architectures/reference-quick-seed0/README.md")
    assert not ignored("saved_architectures/zoo/gru.json")
    assert not ignored("saved_architectures/README.md")
    shipped = subprocess.run(["git", "ls-files", "saved_architectures"], cwd=ROOT, capture_output=True, text=True)
    assert "saved_architectures/reference-quick-seed0/1-94c6576d/model-arith.keras" in shipped.stdout.splitlines()
    assert not any(line.startswith("saved_architectures/default/") for line in shipped.stdout.splitlines())


def test_a_users_runs_are_ignored_and_the_runs_package_is_not():
    assert ignored("runs/default/search.sqlite")  # `python -m evo_rnn.search` writes runs/ in the working folder
    assert not ignored("evo_rnn/runs/a_new_module.py")
    assert not ignored("tests/runs/test_a_new_module.py")
