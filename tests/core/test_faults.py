"""Faults injected as a test suite: each command (search, ablation, confirm, export) killed with
SIGKILL during training, a store write, the confirmation and the export, rerun after every kill,
and checked against the same command uninterrupted (benchmarks/fault_injection.py, whose full
count of 20 kills per command is in benchmarks/README.md); the kill points themselves; a full
disk (a file size limit) and a read-only run folder as one-line errors with the run intact and
resumable."""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from evo_rnn.core import faults

from conftest import ROOT, stderr_lines, tree

_spec = importlib.util.spec_from_file_location("fault_injection", ROOT / "benchmarks" / "fault_injection.py")
fault_injection = importlib.util.module_from_spec(_spec)
sys.modules["fault_injection"] = fault_injection  # its dataclasses look their module up
_spec.loader.exec_module(fault_injection)

# Each command killed at least 3 times, at each kind of moment it has (the CI's share; the
# benchmark draws 20 per command at random). Counts are per process: a rerun counts from 1.
PLANS = {
    "search": ["train:3:0.2", "population:2", "export:swap:1"],  # the confirmation: `confirm` below
    "ablation": ["train:tune:2:0.2", "recorded:tune:3", "record:confirm:1"],
    "confirm": ["recorded:confirm:2", "train:confirm:1:0.2", "export:cell:2"],
    "export": ["train:export:1:0.3", "export:cell:2", "export:swapped:1"],
}


@pytest.fixture(scope="session")
def setups(tmp_path_factory, worker_id) -> Path:
    """One folder of starting states for this session's test processes (xdist's workers share
    their base folder's parent): `confirm` and `export` start from one search between them."""
    base = tmp_path_factory.getbasetemp()
    return (base if worker_id == "master" else base.parent) / "fault-setups"


@pytest.mark.parametrize("command", sorted(PLANS))
def test_a_command_killed_at_every_kind_of_moment_loses_nothing_and_ends_as_if_never_killed(tmp_path, setups, command):
    lines = []
    counts = fault_injection.measure(
        fault_injection.COMMANDS[command],
        tmp_path,
        0,
        0,
        0,
        lines.append,
        plan=PLANS[command],
        small=True,
        setups=setups,
    )
    log = "\n".join(lines)
    assert counts.kills == len(PLANS[command]), log  # every planned kill happened
    assert counts.problems == [], log
    assert (counts.lost, counts.trained_twice, counts.integrity, counts.mixed_exports) == (0, 0, 0, 0)
    assert (counts.differ, counts.staging_left) == (0, 0)


def passes(spec: str, names: list[str]) -> subprocess.CompletedProcess:
    """A fresh interpreter that passes the points `names` in order, printing each, with
    EVO_RNN_KILL_AT=spec."""
    # The module alone (importing evo_rnn would load Keras: seconds per process).
    code = "import importlib.util, sys, time\n"
    code += f"spec = importlib.util.spec_from_file_location('faults', {str(Path(faults.__file__))!r})\n"
    code += "faults = importlib.util.module_from_spec(spec); spec.loader.exec_module(faults)\n"
    code += "for n in sys.argv[1:]:\n    faults.point(n); print(n, flush=True)\ntime.sleep(1)\n"
    env = {**os.environ, faults.KILL_AT: spec}
    return subprocess.run(
        [sys.executable, "-c", code, *names], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "spec, passed, killed",
    [
        ("record:2", ["record:full", "train:full", "record:confirm", "record:full"], 2),  # any phase counts
        ("record:confirm:1", ["record:full", "record:confirm", "record:full"], 1),
        ("export:swap:1", ["export:swapped", "export:cell", "export:swap"], 2),  # a name, not a prefix of one
        ("population:3", ["population", "population"], None),  # never reached: ends normally
        ("train:1:0.5", ["train:full", "record:full"], "later"),  # half a second later, from a timer
    ],
)
def test_the_n_th_pass_of_a_point_kills_the_process(spec, passed, killed):
    result = passes(spec, passed)
    printed = result.stdout.split()
    if killed is None:
        assert result.returncode == 0 and printed == passed
    elif killed == "later":
        assert result.returncode == -signal.SIGKILL and printed == passed  # it went on until the timer
    else:
        assert result.returncode == -signal.SIGKILL and printed == passed[:killed]


def test_without_the_variables_points_do_nothing_and_nothing_is_traced(monkeypatch, tmp_path):
    monkeypatch.delenv(faults.KILL_AT, raising=False)
    monkeypatch.delenv(faults.TRACE, raising=False)
    faults.point("record:full")
    faults.trace({"event": "train"})
    monkeypatch.setenv(faults.TRACE, str(tmp_path / "trace.jsonl"))
    faults.trace({"event": "train", "seed": 3})
    faults.trace({"event": "train", "seed": 4})
    events = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert [e["seed"] for e in events] == [3, 4] and all(e["pid"] == os.getpid() for e in events)


# --- A full disk and a read-only run folder ---


def tiny_search(place: fault_injection.Place, *extra: str, preexec=None, prefix: tuple[str, ...] = ()):
    argv = [*prefix, sys.executable, "-m", *fault_injection.SEARCH, "--runs-dir", str(place.runs)]
    argv += ["--out", str(place.out), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, preexec_fn=preexec)


def limit_file_size(size: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return apply


def _read_only_prefix(folder) -> tuple[str, ...] | None:
    """A command prefix that runs a command with `folder` mounted read-only (a mount namespace
    of its own), or None where this system allows none."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    for flags in (["-m"], ["-rm"]):
        prefix = (unshare, *flags, "sh", "-c", script, str(folder))
        probe = subprocess.run([*prefix, "sh", "-c", f'! touch "{folder}/.probe"'], capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


def test_a_full_disk_and_a_read_only_run_folder_are_one_line_and_the_run_resumes_intact(tmp_path):
    place = fault_injection.Place(tmp_path)
    database = place.runs / "r" / "search.sqlite"
    # A file size limit (ulimit -f) of 400 kB: the database's journal outgrows it during the search.
    full = tiny_search(place, preexec=limit_file_size(400_000))
    assert full.returncode == 2, full.stderr[-3000:]
    assert "Traceback" not in full.stderr
    error = stderr_lines(full)[-1]
    assert error.startswith("python -m evo_rnn.search: error: ") and ("File too large" in error or "full" in error)
    before = tree(place.runs / "r"), fault_injection.evaluations(database)  # SQLite's companions aside
    assert before[1] and fault_injection.integrity(database) == "ok"

    # The same run, resumed on a read-only folder: it has to write, and cannot.
    prefix = _read_only_prefix(place.runs)
    if prefix is not None:
        refused = tiny_search(place, prefix=prefix)
        assert refused.returncode == 2, refused.stderr[-3000:]
        assert "Traceback" not in refused.stderr
        error = stderr_lines(refused)[-1]
        assert error.startswith("python -m evo_rnn.search: error: ") and "read-only" in error.lower(), error
        assert (tree(place.runs / "r"), fault_injection.evaluations(database)) == before
        assert fault_injection.integrity(database) == "ok"

    resumed = tiny_search(place)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = fault_injection.evaluations(database)
    assert all(after[key] == value for key, value in before[1].items()) and len(after) > len(before[1])
    assert fault_injection.complete_export(place.export(fault_injection.COMMANDS["search"]))
    if prefix is None:
        pytest.skip("the read-only part: this system can mount no folder read-only for one process (unshare)")
