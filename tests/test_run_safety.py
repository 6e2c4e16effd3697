"""Nothing lost, nothing run twice: the export never deletes what it did not write, one process
writes a run at a time (two real processes), bad settings and broken databases end in one line
and exit 2 before anything is written, a read-only run is still reported and exported."""

from __future__ import annotations

import errno
import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evo_rnn import cli, run_lock
from evo_rnn.cli import UsageError
from evo_rnn.errors import EvoRnnError
from evo_rnn.export import _export_of, export_run
from evo_rnn.report import write_report
from evo_rnn.runs import RUN_ID_KEY, RunFiles
from evo_rnn.search.__main__ import main as search_main
from evo_rnn.store import Store, StoreError

from conftest import ROOT, run_module, stderr_lines
from test_confirm import searched  # noqa: F401 (a finished fake run named tiny)
from test_search_cli import has_population, search_args, start


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> list[str]:
    """The files in `folder`, less the run's lock and SQLite's own companions of a database."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name != "run.lock" and not p.name.endswith(("-wal", "-shm")))


def quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------------------- the export's destination

def test_an_export_into_the_runs_folder_is_refused_and_the_run_is_intact(searched):
    files, _ = searched
    before, listing = digest(files.database), tree(files.root)
    result = run_module("evo_rnn.export", "--run", "tiny", "--runs-dir", str(files.root.parent),
                        "--out", str(files.root.parent))
    assert result.returncode == 2, result.stderr[-2000:]
    lines = stderr_lines(result)
    assert len(lines) == 1 and "is not an evo_rnn export" in lines[0] and "nothing was written" in lines[0], lines
    assert digest(files.database) == before and tree(files.root) == listing


def test_an_export_over_a_foreign_folder_is_refused_and_its_files_kept(searched, tmp_path):
    files, _ = searched
    out = tmp_path / "exports"
    (out / "tiny").mkdir(parents=True)
    (out / "tiny" / "thesis.tex").write_text("my thesis")
    with pytest.raises(UsageError, match="is not an evo_rnn export"):
        export_run(files, out, top=1, log=quiet)
    assert (out / "tiny" / "thesis.tex").read_text() == "my thesis"
    assert [p.name for p in out.iterdir()] == ["tiny"]  # no staging folder left behind


def test_an_export_replaces_only_a_previous_export_of_the_same_run(searched, tmp_path):
    files, _ = searched
    with Store(files.database) as store:
        store.set_meta(RUN_ID_KEY, "run-one")
    out = tmp_path / "exports"
    said: list[str] = []
    first = export_run(files, out, top=1, log=said.append)
    assert any("retraining" in line for line in said)  # the fake run kept no models
    marker = json.loads((first / "export.json").read_text())
    assert marker["run"] == "tiny" and marker["run_id"] == "run-one" and marker["format_version"] == 1
    (first / "left-from-before.txt").write_text("an earlier export's file")
    said.clear()
    second = export_run(files, out, top=1, log=said.append)
    assert not any("retraining" in line for line in said)  # the first export kept them in the run
    assert second == first and not (second / "left-from-before.txt").exists()
    assert (second / "README.md").is_file() and sorted(p.name for p in out.iterdir()) == ["tiny"]
    # Another run of the same name (another identity) does not replace it.
    marker["run_id"] = "run-two"
    (second / "export.json").write_text(json.dumps(marker))
    with pytest.raises(UsageError, match="export of another run"):
        export_run(files, out, top=1, log=quiet)
    assert json.loads((second / "export.json").read_text())["run_id"] == "run-two"


def test_an_export_made_before_export_json_is_recognised_by_its_summaries(tmp_path):
    reference = ROOT / "saved_architectures" / "reference-quick-seed0"
    assert _export_of(reference) == ("default", None)  # exported as run default, then renamed
    (tmp_path / "1-abc").mkdir()
    (tmp_path / "1-abc" / "summary.json").write_text(json.dumps({"run": "x"}))
    (tmp_path / "notes.txt").write_text("mine")
    assert _export_of(tmp_path) is None  # a file no export writes: not an export


# ---------------------------------------------------------------------------- one writer per run

def test_a_second_search_confirm_or_export_is_refused_while_a_search_runs(tmp_path):
    holder = start(search_args(tmp_path, "--workers", "0", "--budget-minutes", "30"))
    files = RunFiles("tiny", tmp_path / "runs")
    try:
        deadline = time.time() + 240
        while not has_population(files.database):
            assert holder.poll() is None, holder.communicate()[1][-3000:]
            assert time.time() < deadline, "the search did not get to a population in 240 s"
            time.sleep(0.5)
        common = ["--run", "tiny", "--runs-dir", str(tmp_path / "runs")]
        writers = {
            "evo_rnn.search": search_args(tmp_path, "--workers", "0"),
            "evo_rnn.confirm": [*common, "--workers", "0"],
            "evo_rnn.export": [*common, "--out", str(tmp_path / "out")],
        }
        before = len(sqlite3.connect(files.database).execute("SELECT id FROM steps").fetchall())
        for module, args in writers.items():
            result = run_module(module, *args)
            lines = stderr_lines(result)
            assert result.returncode == 2 and len(lines) == 1, (module, result.stderr[-2000:])
            assert f"run 'tiny' is being written by pid {holder.pid}" in lines[0], lines
        assert not (tmp_path / "out").exists()
        # A reader reads while the search writes.
        report = run_module("evo_rnn.report", *common, "-o", str(tmp_path / "report.html"))
        assert report.returncode == 0, report.stderr[-2000:]
        assert "<!DOCTYPE html>" in (tmp_path / "report.html").read_text()
        steps = sqlite3.connect(files.database).execute("SELECT id, COUNT(*) FROM steps GROUP BY id").fetchall()
        assert len(steps) >= before and all(count == 1 for _, count in steps)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    # kill -9 leaves no stale lock: the kernel released it with the process.
    with run_lock.hold(files.lock_file, "run 'tiny'"):
        pass


def test_the_lock_is_reentrant_in_one_process_and_names_its_holder(tmp_path):
    lock = tmp_path / "run.lock"
    code = ("import sys, time\nfrom evo_rnn import run_lock\nwith run_lock.hold(sys.argv[1], 'run x'):\n"
            "    print('held', flush=True)\n    time.sleep(60)\n")
    other = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        with pytest.raises(run_lock.RunLockedError, match=f"run x is being written by pid {other.pid}"):
            with run_lock.hold(lock, "run x"):
                pass
    finally:
        other.kill()
        other.wait()
    with run_lock.hold(lock, "run x"), run_lock.hold(lock, "run x"):  # the search holds it, then its export
        assert f"pid {__import__('os').getpid()}" in run_lock.holder(lock)
    assert run_lock.holder(lock) is None  # emptied when released


# ---------------------------------------------------------------------------- bad settings

def run_search_cli(tmp_path, capsys, *args: str) -> tuple[int, list[str]]:
    try:
        code = search_main(["--runs-dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), *args])
    except SystemExit as stop:  # argparse's refusals
        code = stop.code
    return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize("args, message", [
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
])
def test_bad_settings_are_one_line_exit_2_and_nothing_is_written(tmp_path, capsys, args, message):
    code, lines = run_search_cli(tmp_path, capsys, *args)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- broken databases, read-only runs

def test_an_empty_database_is_refused_not_replaced(tmp_path, capsys):
    database = tmp_path / "runs" / "tiny" / "search.sqlite"
    database.parent.mkdir(parents=True)
    database.touch()
    code, lines = run_search_cli(tmp_path, capsys, "--run", "tiny", "--workers", "0")
    assert code == 2 and len(lines) == 1 and "is an empty file (0 bytes)" in lines[0], lines
    assert database.stat().st_size == 0 and tree(database.parent) == ["search.sqlite"]


def corrupt(database: Path) -> None:
    """Overwrites the pages after the first with garbage, as a failing disk would."""
    data = bytearray(database.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for offset in range(page, len(data), 7):
        data[offset] = (data[offset] * 31 + 17) % 256
    database.write_bytes(bytes(data))


def test_a_corrupted_database_is_one_line_for_every_command(searched, tmp_path):
    files, _ = searched
    corrupt(files.database)
    with pytest.raises(StoreError, match="search.sqlite"):
        Store(files.database)
    common = ["--run", "tiny", "--runs-dir", str(files.root.parent)]
    for module, args in {"evo_rnn.report": common, "evo_rnn.export": [*common, "--out", str(tmp_path / "out")],
                         "evo_rnn.search": [*common, "--workers", "0"]}.items():
        result = run_module(module, *args)
        lines = stderr_lines(result)
        assert result.returncode == 2 and len(lines) == 1 and "search.sqlite" in lines[0], (module, result.stderr)
    assert not (tmp_path / "out").exists()


def test_another_programs_sqlite_file_is_not_taken_over(tmp_path):
    database = tmp_path / "search.sqlite"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE thesis (chapter TEXT)")
    before = digest(database)
    with pytest.raises(StoreError, match="not an evo_rnn run"):
        Store(database)
    assert digest(database) == before


def test_a_read_only_run_is_reported_and_exported_elsewhere_without_a_write(searched, tmp_path, monkeypatch):
    files, _ = searched
    monkeypatch.setattr(RunFiles, "writable", lambda self: False)  # as on a read-only disk
    before, listing = digest(files.database), tree(files.root)
    report = write_report(files, tmp_path / "report.html")
    assert "<!DOCTYPE html>" in report.read_text()
    exported = export_run(files, tmp_path / "out", top=1, log=quiet)
    assert any(exported.glob("1-*/model-arith.keras"))  # retrained into the export, not the run
    assert digest(files.database) == before and tree(files.root) == listing
    with pytest.raises(StoreError, match="readonly"), Store(files.database, readonly=True) as store:
        store.set_meta("x", 1)


# ---------------------------------------------------------------------------- the command line's one line

@pytest.mark.parametrize("error, words", [
    (OSError(errno.EROFS, "Read-only file system", "runs/x/search.sqlite"),
     ["Read-only file system: runs/x/search.sqlite", "--runs-dir"]),
    (OSError(errno.ENOSPC, "No space left on device", "runs/x/models/a.keras"),
     ["No space left on device: runs/x/models/a.keras", "free some space"]),
    (OSError(errno.ENAMETOOLONG, "File name too long", "runs/" + "x" * 300), ["File name too long: runs/xxx"]),
    (sqlite3.DatabaseError("database disk image is malformed"), ["SQLite: database disk image is malformed"]),
    (OverflowError("int too large to convert to float"), ["a number is too large"]),
    (EvoRnnError("bad\ninput"), ["bad input"]),
])
def test_expected_failures_are_one_line_and_exit_2(capsys, error, words):
    def job(_):
        raise error

    assert cli.run(cli.ArgumentParser(prog="p"), job, []) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("p: error: ") and all(w in lines[0] for w in words), lines


def test_a_bug_shows_its_traceback_and_says_it_is_a_bug(capsys):
    def job(_):
        return {}["missing"]

    assert cli.run(cli.ArgumentParser(prog="p"), job, []) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError" in err and "this is a bug in evo_rnn" in err
