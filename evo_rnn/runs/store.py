"""The run database (SQLite, WAL): architectures, evaluations (the cache), search steps,
population, metadata.

Every recorded evaluation is committed at once, so a killed process loses at most the
evaluations in flight. The evaluation cache is keyed by (architecture, task, canonical
hyperparameters, seed, preset): a key already evaluated is never trained again, by this
run or any run sharing the database. Architectures are keyed by their structural hash,
confirmed by an isomorphism check (a hash collision gets a `-2`, `-3`... suffix).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import networkx as nx

from evo_rnn.cells import file_format
from evo_rnn.cells.hashing import same_architecture, structural_hash
from evo_rnn.core import faults
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.training.results import CacheKey, EvalResult, Status

__all__ = ["SCHEMA_VERSION", "Store", "StoreError"]

SCHEMA_VERSION = 2  # 2 added `steps`; a version-1 file is upgraded in place (tables are only added)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS architectures (
    key TEXT PRIMARY KEY,          -- structural hash (plus -N on a hash collision)
    hash TEXT NOT NULL,
    graph TEXT NOT NULL,           -- canonical cell JSON (evo_rnn.cells.file_format)
    parent TEXT REFERENCES architectures(key),
    mutations TEXT NOT NULL,       -- JSON list of the transformations that made it
    origin TEXT NOT NULL,          -- "zoo:<name>", "mutation", "file", ...
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS architectures_hash ON architectures(hash);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY,
    arch TEXT NOT NULL REFERENCES architectures(key),
    task TEXT NOT NULL,
    hparams TEXT NOT NULL,         -- canonical JSON (HParams.to_json)
    seed INTEGER NOT NULL,
    preset TEXT NOT NULL,          -- preset_key(preset)
    status TEXT NOT NULL,
    valid_score REAL NOT NULL,
    test_score REAL NOT NULL,
    seconds REAL NOT NULL,
    result TEXT NOT NULL,          -- the whole EvalResult as JSON
    created REAL NOT NULL,
    UNIQUE (arch, task, hparams, seed, preset)
);
CREATE TABLE IF NOT EXISTS population (arch TEXT PRIMARY KEY REFERENCES architectures(key), score REAL NOT NULL);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY,        -- the search's step number (it seeds the step's randomness)
    kind TEXT NOT NULL,            -- "seed", "mutate" or "reevaluate"
    arch TEXT NOT NULL REFERENCES architectures(key),
    parent TEXT,
    outcome TEXT,                  -- NULL while the step runs; then e.g. "accepted", "filtered"
    score REAL,                    -- the architecture's overall score when the step ended
    detail TEXT NOT NULL,          -- JSON: why it ended so
    started REAL NOT NULL,
    finished REAL
);
"""


class StoreError(EvoRnnError):
    """The database cannot be used (corrupted, or written by another schema version)."""


class Store:
    """One run's database.

    Args:
        path: the SQLite file; created (with its folder) when missing, unless `readonly`.
        readonly: open it for reading only (the report, or an export of a run on a read-only
            disk): nothing is created or written, and it reads while a search writes.

    Raises:
        StoreError: the file is empty, not a database, corrupted, not evo_rnn's, or has another
            schema version (a `sqlite3.DatabaseError` in a `with Store(...)` block becomes one too).
    """

    def __init__(self, path: str | os.PathLike, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if self.path.is_file() and self.path.stat().st_size == 0:
            raise StoreError(
                f"{self.path} is an empty file (0 bytes), not a run database; move it away to start a "
                "new run, or restore the run from a backup"
            )
        if readonly and not self.path.is_file():
            raise StoreError(f"no run database at {self.path}")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._connect()
            self._create()
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"{self.path} is not a usable evo_rnn database ({error}); move it away to start a new run "
                "or restore it from a backup"
            ) from None

    def _connect(self) -> sqlite3.Connection:
        # Autocommit: every statement is durable at once; set_population groups its own.
        if not self.readonly:  # WAL is turned on by `_create`, once the file is known to be a run's
            return sqlite3.connect(self.path, timeout=30, isolation_level=None)
        uri = self.path.absolute().as_uri()
        try:
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, isolation_level=None)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            # A WAL database in a read-only folder without its -shm file: nobody can be writing
            # it, so it is read as immutable.
            return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=30, isolation_level=None)

    def _create(self) -> None:
        version = None
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise StoreError(
                f"{self.path} is an SQLite database but not an evo_rnn run (no meta table); use another "
                "run name or --runs-dir"
            )
        if "meta" in tables:
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else None
        if version is not None and version not in (1, SCHEMA_VERSION):
            raise StoreError(
                f"{self.path} has schema version {version}; this evo_rnn reads version {SCHEMA_VERSION} "
                "(use the evo_rnn that wrote it, or start a new run)"
            )
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise StoreError(
                f"{self.path} is corrupted ({problems[0]}); restore it from a backup, or move it away "
                "to start a new run"
            )
        if self.readonly:
            if version is None:
                raise StoreError(f"{self.path} holds no evo_rnn run")
            return
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.close()
        if isinstance(error, sqlite3.DatabaseError):
            raise StoreError(
                f"{self.path}: {error} (a full or read-only disk, or a corrupted database; free space "
                "or restore the run from a backup, and rerun)"
            ) from error

    # ----------------------------------------------------------------- metadata

    def set_meta(self, key: MetaKey, value: Any) -> None:
        """Stores a JSON-serialisable value under one of the declared keys (`MetaKey`)."""
        self._db.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", (str(MetaKey(key)), json.dumps(value, sort_keys=True))
        )

    def get_meta(self, key: MetaKey, default: Any = None) -> Any:
        """The value stored under `key` (`MetaKey`), or `default`."""
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (str(MetaKey(key)),)).fetchone()
        return default if row is None else json.loads(row[0])

    # ----------------------------------------------------------------- architectures

    def add_architecture(
        self, graph: nx.DiGraph, origin: str, parent: str | None = None, mutations: list[dict] | None = None
    ) -> str:
        """Returns the architecture's key, adding it when no isomorphic cell is stored yet.

        Lineage (`parent`, `mutations`, `origin`) is kept from the first time it was seen.
        """
        key = self.find_architecture(graph)
        if key is not None:
            return key
        digest = structural_hash(graph)
        count = self._db.execute("SELECT COUNT(*) FROM architectures WHERE hash=?", (digest,)).fetchone()[0]
        key = digest if not count else f"{digest}-{count + 1}"
        self._db.execute(
            "INSERT INTO architectures VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, digest, file_format.dumps(graph), parent, json.dumps(mutations or []), origin, time.time()),
        )
        return key

    def find_architecture(self, graph: nx.DiGraph) -> str | None:
        """The key of the stored architecture isomorphic to `graph`, or None if it was never seen."""
        digest = structural_hash(graph)
        for key, text in self._db.execute("SELECT key, graph FROM architectures WHERE hash=? ORDER BY key", (digest,)):
            if same_architecture(file_format.loads(text), graph):
                return key
        return None

    def find_origin(self, origin: str) -> str | None:
        """The key of the first architecture stored with `origin` (e.g. "file:cells/a.json"), or None."""
        query = "SELECT key FROM architectures WHERE origin=? ORDER BY created LIMIT 1"
        row = self._db.execute(query, (origin,)).fetchone()
        return None if row is None else row[0]

    def architecture(self, key: str) -> nx.DiGraph:
        """The cell stored under `key`."""
        row = self._db.execute("SELECT graph FROM architectures WHERE key=?", (key,)).fetchone()
        if row is None:
            raise StoreError(f"no architecture {key!r} in {self.path}")
        return file_format.loads(row[0])

    def lineage(self, key: str) -> dict[str, Any]:
        """Origin, parent and mutations of an architecture."""
        row = self._db.execute("SELECT origin, parent, mutations FROM architectures WHERE key=?", (key,)).fetchone()
        if row is None:
            raise StoreError(f"no architecture {key!r} in {self.path}")
        return {"origin": row[0], "parent": row[1], "mutations": json.loads(row[2])}

    def ancestry(self, key: str) -> list[dict[str, Any]]:
        """The architecture and its ancestors, newest first, each `{"arch", "origin", "parent",
        "mutations"}` (`lineage`) back to a cell with no parent."""
        chain, seen = [], set()
        while key is not None and key not in seen:
            seen.add(key)
            info = self.lineage(key)
            chain.append({"arch": key, **info})
            key = info["parent"]
        return chain

    def label(self, key: str) -> str:
        """How reports name an architecture: a zoo cell or a named file's cell by its name, any
        other by its hash's first 8 digits."""
        origin = self.lineage(key)["origin"]
        return origin.split(":", 1)[1] if origin.startswith(("zoo:", "file:")) else key[:8]

    # ----------------------------------------------------------------- evaluations

    def cached(self, key: CacheKey) -> EvalResult | None:
        """The stored result for this cache key, or None when it was never evaluated."""
        row = self._db.execute(
            "SELECT result FROM evaluations WHERE arch=? AND task=? AND hparams=? AND seed=? AND preset=?",
            (key.arch, key.task, key.hparams, key.seed, key.preset),
        ).fetchone()
        return None if row is None else EvalResult.from_dict(json.loads(row[0]))

    def record(self, key: CacheKey, result: EvalResult) -> bool:
        """Commits one finished evaluation at once.

        Returns:
            False when this cache key was already recorded (nothing is written twice).
        """
        if result.task != key.task or result.seed != key.seed:
            raise ValueError(f"a result of {result.task!r} with seed {result.seed} recorded under {key}")
        data = result.to_dict()
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO evaluations (arch, task, hparams, seed, preset, status, valid_score, test_score, "
            "seconds, result, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.arch,
                key.task,
                key.hparams,
                key.seed,
                key.preset,
                data["status"],
                result.valid_score,
                result.test_score,
                result.seconds,
                json.dumps(data, sort_keys=True),
                time.time(),
            ),
        )
        return cursor.rowcount == 1

    def trained_with(self) -> tuple[set[int], dict[str, set[str]]]:
        """The training seeds of the stored evaluations, and per task the keys of the settings
        it trained with (`presets.preset_key`: the task's data and training budget)."""
        seeds, keys = set(), {}
        for task, preset, seed in self._db.execute("SELECT DISTINCT task, preset, seed FROM evaluations"):
            seeds.add(seed)
            keys.setdefault(task, set()).add(preset)
        return seeds, keys

    def evaluations(self, arch: str | None = None, task: str | None = None) -> list[dict[str, Any]]:
        """Stored results as plain rows (`EvalResult.to_dict()` with its `arch`), oldest first,
        optionally filtered: for reports and inspection."""
        query, args = "SELECT arch, result FROM evaluations WHERE 1=1", []
        if arch is not None:
            query, args = query + " AND arch=?", [*args, arch]
        if task is not None:
            query, args = query + " AND task=?", [*args, task]
        return [{"arch": a, **json.loads(r)} for a, r in self._db.execute(query + " ORDER BY id", args)]

    def scores_by_config(
        self, arch: str, task: str, preset: str, seed: int, replicates: tuple[int, int] | None = None
    ) -> dict[str, dict[int, float | None]]:
        """The architecture's validation scores on `task` per configuration (`HParams.to_json`)
        and training seed, among evaluations with this preset key and `seed` or a seed in the
        closed range `replicates`; None for a run that did not go well. Seeds in ascending order."""
        query = "SELECT hparams, seed, status, valid_score FROM evaluations WHERE arch=? AND task=? AND preset=? AND "
        args: list[Any] = [arch, task, preset, seed]
        if replicates is None:
            query += "seed=?"
        else:
            query, args = query + "(seed=? OR seed BETWEEN ? AND ?)", [*args, *replicates]
        scores: dict[str, dict[int, float | None]] = {}
        for hparams, run_seed, status, score in self._db.execute(query + " ORDER BY hparams, seed", args):
            scores.setdefault(hparams, {})[run_seed] = score if status == str(Status.OK) else None
        return scores

    def evaluation_times(self, below_seed: int | None = None) -> list[float]:
        """When each stored evaluation finished (Unix time), in order; with `below_seed`, only
        those of training seeds below it (e.g. a search's, without its confirmation's)."""
        query, args = _below("SELECT created FROM evaluations", below_seed)
        return [row[0] for row in self._db.execute(query + " ORDER BY created", args)]

    def evaluation_count(self, below_seed: int | None = None) -> int:
        """How many evaluations are stored; with `below_seed`, of training seeds below it."""
        return self._db.execute(*_below("SELECT COUNT(*) FROM evaluations", below_seed)).fetchone()[0]

    # ----------------------------------------------------------------- population

    def set_population(self, members: dict[str, float]) -> None:
        """Replaces the population ({architecture: overall score}) in one transaction."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM population")
            faults.point("population")  # the fault-injection suite: killed inside the transaction
            self._db.executemany("INSERT INTO population VALUES (?, ?)", sorted(members.items()))

    def population(self) -> dict[str, float]:
        return dict(self._db.execute("SELECT arch, score FROM population ORDER BY score DESC, arch"))

    # ----------------------------------------------------------------- search steps

    def start_step(
        self, step: int, kind: str, arch: str, parent: str | None = None, plan: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Records that search step `step` began working on `arch`, with what it plans to do
        (`plan`: a step's detail until it finishes). A step started again (a resumed run) keeps
        its first record, start time and plan included.

        Returns:
            The step's plan as first recorded ({} without one): what a resumed step does again.
        """
        self._db.execute(
            "INSERT INTO steps (id, kind, arch, parent, detail, started) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING",
            (step, kind, arch, parent, json.dumps(plan or {}, sort_keys=True), time.time()),
        )
        return json.loads(self._db.execute("SELECT detail FROM steps WHERE id=?", (step,)).fetchone()[0])

    def finish_step(self, step: int, outcome: str, score: float | None, detail: dict[str, Any]) -> None:
        """Records how step `step` ended."""
        self._db.execute(
            "UPDATE steps SET outcome=?, score=?, detail=?, finished=? WHERE id=?",
            (str(outcome), score, json.dumps(detail, sort_keys=True), time.time(), step),
        )

    def steps(self, unfinished: bool = False, step: int | None = None) -> list[dict[str, Any]]:
        """The recorded steps in order: all, those still running when a process stopped
        (`unfinished`), or the one numbered `step`."""
        query, args = (
            "SELECT id, kind, arch, parent, outcome, score, detail, started, finished FROM steps WHERE 1=1",
            [],
        )
        if unfinished:
            query += " AND outcome IS NULL"
        if step is not None:
            query, args = query + " AND id=?", [step]
        names = ("id", "kind", "arch", "parent", "outcome", "score", "detail", "started", "finished")
        rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [{**dict(zip(names, row)), "detail": json.loads(row[6])} for row in rows]

    def step(self, step: int) -> dict[str, Any]:
        """One recorded step."""
        rows = self.steps(step=step)
        if not rows:
            raise StoreError(f"no step {step} in {self.path}")
        return rows[0]

    def next_step_id(self) -> int:
        return (self._db.execute("SELECT MAX(id) FROM steps").fetchone()[0] or 0) + 1

    def step_counts(self) -> dict[tuple[str, str | None], int]:
        """How many steps of each (kind, outcome) there are."""
        return {
            (k, o): n
            for k, o, n in self._db.execute("SELECT kind, outcome, COUNT(*) FROM steps GROUP BY kind, outcome")
        }


def _below(query: str, below_seed: int | None) -> tuple[str, tuple]:
    """`query` over every evaluation, or over those of training seeds below `below_seed`."""
    return (query, ()) if below_seed is None else (query + " WHERE seed < ?", (below_seed,))
