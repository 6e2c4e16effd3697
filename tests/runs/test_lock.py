"""One writer per run, with real processes: a second search, confirm or export is refused in one
line naming the holder while readers go on; kill -9 leaves no stale lock; the lock is re-entrant
in one process."""

from __future__ import annotations

import concurrent.futures
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from evo_rnn.runs import lock as run_lock
from evo_rnn.runs.run import RunFiles

from conftest import has_population, run_module, search_args, start, stderr_lines


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
        # All at once (each pays for its imports), and a reader among them: it reads while the search writes.
        with concurrent.futures.ThreadPoolExecutor(len(writers) + 1) as pool:
            refused = {module: pool.submit(run_module, module, *args) for module, args in writers.items()}
            reader = pool.submit(run_module, "evo_rnn.report", *common, "-o", str(tmp_path / "report.html"))
        for module, future in refused.items():
            result = future.result()
            lines = stderr_lines(result)
            assert result.returncode == 2 and len(lines) == 1, (module, result.stderr[-2000:])
            assert f"run 'tiny' is being written by pid {holder.pid}" in lines[0], lines
        assert not (tmp_path / "out").exists()
        report = reader.result()
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
    code = (
        "import sys, time\nfrom evo_rnn.runs import lock as run_lock\nwith run_lock.hold(sys.argv[1], 'run x'):\n"
        "    print('held', flush=True)\n    time.sleep(60)\n"
    )
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
