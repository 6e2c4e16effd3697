"""The built-in demo (the README's first command) runs end to end."""

from __future__ import annotations

from conftest import run_module, stderr_lines


def test_demo_trains_saves_reloads_and_draws(tmp_path):
    result = run_module("evo_rnn.demo", "--cell", "lstm", "--epochs", "1", "--units", "16", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "predictions identical = True" in result.stdout
    for name in ("lstm.png", "lstm.json", "lstm.keras"):
        assert (tmp_path / name).stat().st_size > 0


def test_demo_rejects_unknown_cells():
    result = run_module("evo_rnn.demo", "--cell", "lstn")
    assert result.returncode == 2
    (line,) = stderr_lines(result)
    assert "unknown architecture 'lstn'" in line
