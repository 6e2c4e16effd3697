"""The run database: cache keys, deduplication, durability across a killed process, errors."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import pytest

from evo_rnn.cells import zoo
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.store import SCHEMA_VERSION, Store, StoreError
from evo_rnn.training import presets
from evo_rnn.training.presets import preset_key
from evo_rnn.training.results import CacheKey, EvalResult, Status

from conftest import ROOT, digest, run_module, stderr_lines

HP = '{"dropout":0.0,"init_scale":1.0,"learning_rate":1.0,"max_grad_norm":5.0,"num_layers":1,"param_budget":100}'


def result(score: float, seed: int = 0, task: str = "arith", status: str = "ok") -> EvalResult:
    return EvalResult(
        status=status,
        task=task,
        preset="quick",
        seed=seed,
        hparams={},
        valid_score=score,
        test_score=score / 2,
        seconds=1.5,
    )


def test_schema_wal_and_meta(tmp_path):
    with Store(tmp_path / "run" / "search.sqlite") as store:
        store.set_meta(MetaKey.SETTINGS, {"seed": 3, "tasks": ["arith"]})
        assert store.get_meta(MetaKey.SETTINGS) == {"seed": 3, "tasks": ["arith"]}
        assert store.get_meta(MetaKey.WORKERS, 7) == 7
        assert store.get_meta(MetaKey.SCHEMA_VERSION) == SCHEMA_VERSION
        with pytest.raises(ValueError, match="absent"):  # only the declared keys
            store.get_meta("absent", 7)
    db = sqlite3.connect(tmp_path / "run" / "search.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_architectures_are_deduplicated_by_structure(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        gru = zoo.get("gru")
        key = store.add_architecture(gru, "zoo:gru")
        renamed = nx.relabel_nodes(gru, {n: f"node_{n}" for n in gru})
        assert store.add_architecture(renamed, "mutation", parent=key) == key  # same cell, other names
        assert store.lineage(key) == {"origin": "zoo:gru", "parent": None, "mutations": []}
        lstm = store.add_architecture(zoo.get("lstm"), "zoo:lstm")
        assert lstm != key
        assert nx.utils.graphs_equal(store.architecture(key), gru)
        with pytest.raises(StoreError, match="no architecture 'nope'"):
            store.architecture("nope")


def test_evaluation_cache_key(tmp_path):
    quick = presets.get("quick")
    other = presets.with_overrides(quick, ["max_epochs=3"])
    assert preset_key(quick) != preset_key(other) and preset_key(quick) == preset_key(presets.get("quick"))
    with Store(tmp_path / "s.sqlite") as store:
        arch = store.add_architecture(zoo.get("gru"), "zoo:gru")
        key = CacheKey(arch, "arith", HP, 0, preset_key(quick))
        assert store.cached(key) is None
        assert store.record(key, result(0.5))
        assert not store.record(key, result(0.9))  # never stored twice
        hit = store.cached(key)
        assert isinstance(hit, EvalResult) and hit.valid_score == 0.5 and hit.status is Status.OK
        assert hit == result(0.5)  # the whole result comes back, typed
        assert store.cached(CacheKey(arch, "arith", HP, 1, preset_key(quick))) is None  # another seed
        assert store.cached(CacheKey(arch, "arith", HP, 0, preset_key(other))) is None  # another preset
        store.record(CacheKey(arch, "arith", HP, 1, preset_key(quick)), result(0.7, seed=1))
        store.record(CacheKey(arch, "arith", HP, 2, preset_key(quick)), result(0.99, seed=2, status="diverged"))
        assert [r["seed"] for r in store.evaluations(arch=arch)] == [0, 1, 2]


def test_a_resumed_step_keeps_its_first_record(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        arch = store.add_architecture(zoo.get("gru"), "zoo:gru")
        store.start_step(1, "seed", arch)
        first = store.step(1)["started"]
        time.sleep(0.05)
        store.start_step(1, "seed", arch)  # a resumed run starts the step's generator again
        assert store.step(1)["started"] == first and len(store.steps()) == 1
        store.finish_step(1, "seeded", None, {})
        assert store.step(1)["finished"] >= first and store.step(1)["outcome"] == "seeded"


def test_population_round_trip(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        keys = [store.add_architecture(zoo.get(n), f"zoo:{n}") for n in ("gru", "lstm", "mut1")]
        store.set_population({keys[0]: 1.0, keys[1]: 0.8})
        store.set_population({keys[1]: 0.9, keys[2]: 1.1})
        assert store.population() == {keys[2]: 1.1, keys[1]: 0.9}
    with Store(tmp_path / "s.sqlite") as store:  # persisted
        assert store.population() == {keys[2]: 1.1, keys[1]: 0.9}


_WRITER = """
import sys, time
from evo_rnn.runs.store import Store
from evo_rnn.training.results import CacheKey, EvalResult
from evo_rnn.cells import zoo
store = Store(sys.argv[1])
arch = store.add_architecture(zoo.get("gru"), "zoo:gru")
for seed in range(100000):
    store.record(CacheKey(arch, "arith", "{}", seed, "p"),
                 EvalResult(status="ok", task="arith", preset="p", seed=seed, hparams={}))
    print(seed, flush=True)
    time.sleep(0.01)
"""


def test_a_killed_writer_loses_nothing_it_recorded(tmp_path):
    path = tmp_path / "s.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    printed = []
    deadline = time.time() + 120
    while len(printed) < 20 and time.time() < deadline:
        printed.append(int(writer.stdout.readline()))
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    with Store(path) as store:
        seeds = [r["seed"] for r in store.evaluations()]
    assert seeds[: len(printed)] == printed  # every evaluation reported as recorded is there
    assert seeds == list(range(len(seeds)))


def test_unusable_files_are_refused_with_the_fix(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="is not a usable evo_rnn database.*move it away"):
        Store(bad)
    newer = tmp_path / "newer.sqlite"
    with Store(newer) as store:
        store._db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(StoreError, match="schema version 99; this evo_rnn reads version 2"):
        Store(newer)


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
    for module, args in {
        "evo_rnn.report": common,
        "evo_rnn.export": [*common, "--out", str(tmp_path / "out")],
        "evo_rnn.search": [*common, "--workers", "0"],
    }.items():
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
