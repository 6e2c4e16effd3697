"""The command line's contract: bad settings and bad databases end in one line and exit 2 before
anything is written; expected failures (disk, SQLite, overflow) are one line; a bug shows its
traceback and says so; Ctrl-C and SIGTERM are one line saying how to go on, exit 130 and 143."""

from __future__ import annotations

import errno
import os
import signal
import sqlite3

import pytest

from evo_rnn.commands.search import main as search_main
from evo_rnn.core import cli
from evo_rnn.core.errors import EvoRnnError

from conftest import run_module, stderr_lines, tree


def run_search_cli(tmp_path, capsys, *args: str) -> tuple[int, list[str]]:
    try:
        code = search_main(["--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), *args])
    except SystemExit as stop:  # argparse's refusals
        code = stop.code
    return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "-1"], "argument --seed: expected a whole number from 0 to 4294866296, got -1"),
        (["--seed", "4294967000"], "argument --seed: expected a whole number from 0 to 4294866296"),
        (["--budget-minutes", "nan"], "argument --budget-minutes: expected a finite number above 0, got 'nan'"),
        (["--budget-minutes", "inf"], "expected a finite number above 0"),
        (["--confirm-seeds", "1"], "--confirm-seeds must be 0"),
        (["--confirm-seeds", "5000"], "argument --confirm-seeds: expected a whole number from 0 to 1000"),
        (["--top", "0"], "argument --top: expected a whole number >= 1"),
        (["--set", "max_epochs=0"], "setting max_epochs=0 is not allowed: it must be a whole number >= 1"),
        (["--set", "batch_size=0"], "setting batch_size=0 is not allowed"),
        (["--set", "max_layers=0"], "setting max_layers=0 is not allowed"),
        (["--set", "memorize.n_train=0"], "setting memorize.n_train=0 is not allowed"),
        (["--set", "search.configs_per_task=0"], "setting search.configs_per_task=0 is not allowed"),
        (["--set", "search.population_size=0"], "setting search.population_size=0 is not allowed"),
        (["--set", "search.population_size=1"], "the population starts with 2 seed cells"),
        (["--set", "lr_decay=nan"], "setting lr_decay=nan is not allowed: it must be a finite number > 0 and <= 1"),
        (["--set", "patience=-5"], "setting patience=-5 is not allowed"),
        (["--set", "search.reevaluate_probability=1.5"], "search.reevaluate_probability=1.5 is not allowed"),
        (["--run", "a b"], "invalid run name 'a b'"),
        (["--run", "a\nb"], "invalid run name 'a\\nb'"),
        (["--run", "résumé"], "invalid run name 'résumé'"),
        (["--run", "x" * 300], "use 1 to 100 letters"),
    ],
)
def test_bad_settings_are_one_line_exit_2_and_nothing_is_written(tmp_path, capsys, args, message):
    code, lines = run_search_cli(tmp_path, capsys, *args)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


def test_an_empty_database_is_refused_not_replaced(tmp_path, capsys):
    database = tmp_path / "runs" / "tiny" / "search.sqlite"
    database.parent.mkdir(parents=True)
    database.touch()
    code, lines = run_search_cli(tmp_path, capsys, "--run", "tiny", "--workers", "0")
    assert code == 2 and len(lines) == 1 and "is an empty file (0 bytes)" in lines[0], lines
    assert database.stat().st_size == 0 and tree(database.parent) == ["search.sqlite"]


@pytest.mark.parametrize(
    "error, words",
    [
        (
            OSError(errno.EROFS, "Read-only file system", "runs/x/search.sqlite"),
            ["Read-only file system: runs/x/search.sqlite", "--runs-dir"],
        ),
        (
            OSError(errno.ENOSPC, "No space left on device", "runs/x/models/a.keras"),
            ["No space left on device: runs/x/models/a.keras", "free some space"],
        ),
        (OSError(errno.ENAMETOOLONG, "File name too long", "runs/" + "x" * 300), ["File name too long: runs/xxx"]),
        (OSError(errno.EFBIG, "File too large", "runs/x/search.sqlite"), ["File too large", "free some space"]),
        (sqlite3.DatabaseError("database disk image is malformed"), ["SQLite: database disk image is malformed"]),
        (OverflowError("int too large to convert to float"), ["a number is too large"]),
        (EvoRnnError("bad\ninput"), ["bad input"]),
    ],
)
def test_expected_failures_are_one_line_and_exit_2(capsys, error, words):
    def job(_):
        raise error

    assert cli.run(cli.ArgumentParser(prog="p"), job, []) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("p: error: ") and all(w in lines[0] for w in words), lines


@pytest.mark.parametrize(
    "stop, code, word",
    [
        (lambda: os.kill(os.getpid(), signal.SIGTERM), 143, "terminated"),
        (lambda: signal.raise_signal(signal.SIGINT), 130, "interrupted"),
    ],
    ids=["sigterm", "ctrl-c"],
)
def test_sigterm_and_ctrl_c_are_one_line_saying_how_to_go_on(capsys, stop, code, word):
    def job(_):
        stop()
        raise AssertionError("the signal did not stop the job")

    # What a terminal's Ctrl-C meets (a test worker process may ignore SIGINT).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = signal.getsignal(signal.SIGTERM)
    try:
        assert cli.run(cli.ArgumentParser(prog="p"), job, []) == code
    finally:
        signal.signal(signal.SIGINT, previous)
    assert signal.getsignal(signal.SIGTERM) == before  # only while a command runs
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"p: {word}: everything finished is stored; rerun the same command to go on"]


def test_a_command_that_handles_sigterm_itself_exits_143(capsys):
    def job(_):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except KeyboardInterrupt:
            return cli.EXIT_INTERRUPTED  # what the search and the ablation return, having said why
        raise AssertionError("the signal did not stop the job")

    assert cli.run(cli.ArgumentParser(prog="p"), job, []) == 143


def test_a_bug_shows_its_traceback_and_says_it_is_a_bug(capsys):
    def job(_):
        return {}["missing"]

    assert cli.run(cli.ArgumentParser(prog="p"), job, []) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError" in err and "this is a bug in evo_rnn" in err


@pytest.mark.parametrize("module", ["evo_rnn.evaluate", "evo_rnn.ablation", "evo_rnn.search"])
@pytest.mark.parametrize(
    "override, message",
    [
        (" max_epochs=3", "the field name ' max_epochs' has spaces; write it without them, e.g. --set max_epochs=3"),
        ("budgets.nosuch=5", "unknown budget 'budgets.nosuch'"),
    ],
)
def test_every_command_refuses_a_bad_set_in_one_line(module, override, message, tmp_path):
    args = ["--arch", "gru", "--task", "arith"] if module == "evo_rnn.evaluate" else ["--runs-dir", str(tmp_path)]
    result = run_module(module, *args, "--set", override)
    assert result.returncode == 2
    lines = stderr_lines(result)
    assert len(lines) == 1 and message in lines[0], lines
