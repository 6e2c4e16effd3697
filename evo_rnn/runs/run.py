"""A search run on disk: where its files are (`RunFiles`) and the settings it was started with
(`RunSettings`, stored in its database), shared by the search and the export.

Layout, under `RUNS/NAME/` (`RUNS` defaults to `runs`):

    search.sqlite                   the run database (`evo_rnn.runs.store`)
    run.lock                        held by the process writing the run (`evo_rnn.runs.lock`)
    models/<arch>/<task>-<h>.keras  trained models of an architecture on a task that were the best
                                    when they finished (h: a hash of the configuration; `kept_model`)
    models/pending/<uuid>.keras     models of evaluations in flight (kept or deleted when they end)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, ClassVar

from evo_rnn import tasks
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs import lock as run_lock
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.store import Store
from evo_rnn.training import presets

__all__ = ["Run", "RunFiles", "RunSettings", "check_run_name"]

_RUN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def check_run_name(name: str) -> str:
    """Returns `name` when it is usable as a run's folder name, else raises EvoRnnError saying the rule."""
    if not isinstance(name, str) or not _RUN_NAME.fullmatch(name) or name in (".", ".."):
        raise EvoRnnError(f"invalid run name {name!r}: use 1 to 100 letters, digits, '-', '_' or '.' (not '.' or '..')")
    return name


class RunFiles:
    """Where run `name` keeps its files.

    Raises:
        EvoRnnError: `name` is not usable as a folder name.
    """

    def __init__(self, name: str, runs_dir: str | os.PathLike = "runs"):
        self.name = check_run_name(name)
        found = next((p for p in (Path(runs_dir), *Path(runs_dir).parents) if p.exists()), None)
        if found is not None and not found.is_dir():
            raise EvoRnnError(
                f"the runs folder {runs_dir} cannot be made: {found} is a file; give --runs-dir a "
                "folder (made when missing)"
            )
        self.root = Path(runs_dir) / name
        self.database = self.root / "search.sqlite"
        self.lock_file = self.root / "run.lock"
        self.models = self.root / "models"
        self.pending = self.models / "pending"

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Holds the run's lock while the block writes it (`evo_rnn.runs.lock.hold`; re-entrant).

        Raises:
            RunLockedError: another process is writing the run.
        """
        with run_lock.hold(self.lock_file, f"run {self.name!r}"):
            yield

    def writable(self) -> bool:
        """Whether this process may write the run's folder and database (False for a read-only copy)."""
        return os.access(self.root, os.W_OK) and (not self.database.exists() or os.access(self.database, os.W_OK))

    def kept_model(self, arch: str, task: str, hparams: str) -> Path:
        """Where the run keeps the trained model of `arch` on `task` with configuration `hparams`
        (`HParams.to_json`) and the run's seed (kept while it could be the architecture's best)."""
        return self.models / arch / f"{_model_prefix(task)}-{hashlib.sha256(hparams.encode()).hexdigest()[:12]}.keras"

    def drop_kept_models(self, arch: str, task: str, keeping: Collection[str]) -> None:
        """Deletes the kept models of `arch` on `task` (models the run wrote) except those of the
        configurations in `keeping`."""
        wanted = {self.kept_model(arch, task, config) for config in keeping}
        name = re.compile(re.escape(_model_prefix(task)) + r"-[0-9a-f]{12}\.keras")
        for path in (self.models / arch).glob("*.keras"):  # none when the folder does not exist
            if name.fullmatch(path.name) and path not in wanted:
                path.unlink(missing_ok=True)

    def new_pending_model(self) -> Path:
        """A fresh path for the model of an evaluation about to start."""
        self.pending.mkdir(parents=True, exist_ok=True)
        return self.pending / f"{uuid.uuid4().hex}.keras"

    def clear_pending(self) -> None:
        """Deletes the models of evaluations that a stopped process left in flight."""
        for stale in self.pending.glob("*.keras"):
            stale.unlink()


def _model_prefix(task: str) -> str:
    """A kept model's file name before its configuration's hash: the task, a user's file by its
    content (':', '?', '&' and '=' kept out of the name)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", tasks.identity(task))


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a run was started with; a resumed run must be started with the same.

    Attributes:
        preset: the preset's name.
        overrides: its `--set` overrides (with those that --tasks and --seed-zoo stand for).
        seed: seeds the search and every training run.
        command: the command line that started it (for the leaderboard).
        kind: what wrote the run: "search" (`python -m evo_rnn.search`) or "ablation"
            (`python -m evo_rnn.ablation`); one never resumes the other's.
    """

    preset: str
    overrides: tuple[str, ...] = ()
    seed: int = 0
    command: str | None = None
    kind: str = "search"

    def resolved_preset(self) -> presets.Preset:
        """The preset with its overrides applied."""
        return presets.with_overrides(presets.get(self.preset), list(self.overrides))

    # 2: the built-in `quick` search scores on `ptb_chars`; a stored run without a format was
    # started with the old one (`presets.LEGACY_SEARCH`), and reads as started with it.
    FORMAT: ClassVar[int] = 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.FORMAT,
            "preset": self.preset,
            "overrides": list(self.overrides),
            "seed": self.seed,
            "command": self.command,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSettings:
        legacy = presets.LEGACY_SEARCH.get(data["preset"], ()) if data.get("format", 1) < 2 else ()
        return cls(
            data["preset"],
            (*legacy, *data.get("overrides", ())),
            int(data["seed"]),
            data.get("command"),
            data.get("kind", "search"),
        )

    def start(self, store: Store) -> None:
        """Starts a new run in `store`: its settings and a fresh identity (`run_id`)."""
        self.save(store)
        store.set_meta(MetaKey.RUN_ID, uuid.uuid4().hex)

    def save(self, store: Store) -> None:
        """Stores the settings in the run's database, with what each of its task names stands
        for (`tasks.identity`: a user's file by its content), so that a resumption can be
        checked against them after the file has moved."""
        store.set_meta(MetaKey.SETTINGS, self.to_dict())
        store.set_meta(MetaKey.TASK_IDENTITIES, {name: tasks.identity(name) for name in self.task_names()})

    def task_names(self) -> list[str]:
        """The tasks the run trains on: its scored tasks and its filter task."""
        search = self.resolved_preset().search
        return list(dict.fromkeys((*search.tasks, search.filter_task)))

    def resumes(self, stored: RunSettings, store: Store) -> bool:
        """Whether these settings continue the `stored` run: the same kind, preset and seed,
        where a user's task file may have moved (the same content and options under another
        path) but not changed."""
        if stored.kind != self.kind or stored.seed != self.seed:
            return False
        known = store.get_meta(MetaKey.TASK_IDENTITIES) or {}

        def by_identity(settings: RunSettings, identities: dict[str, str]) -> presets.Preset:
            preset = settings.resolved_preset()
            name = lambda task: identities[task] if task in identities else tasks.identity(task)
            search = dataclasses.replace(
                preset.search,
                tasks=tuple(name(t) for t in preset.search.tasks),
                filter_task=name(preset.search.filter_task),
            )
            return dataclasses.replace(preset, search=search)

        try:
            return by_identity(stored, known) == by_identity(self, {})
        except EvoRnnError:  # a stored task file that is gone, from a run older than its identities
            return False

    @classmethod
    def load(cls, store: Store) -> RunSettings | None:
        """The settings stored in the run's database (None for a database no search started)."""
        data = store.get_meta(MetaKey.SETTINGS)
        return None if data is None else cls.from_dict(data)


class Run:
    """An open run: its files, its database and the settings it was started with, the one way
    every command, the Python API, the report and the export read or write a run.

    `Run.open` opens a stored run (read-only for readers: reading a run never writes it);
    `Run.start_or_resume` opens a run to write, starting it when it is new. The read methods
    below are the run database's, so that nothing above the runs and scoring packages holds the
    database itself.
    """

    def __init__(self, files: RunFiles, store: Store, settings: RunSettings):
        self.files = files
        self.store = store
        self.settings = settings

    @classmethod
    @contextlib.contextmanager
    def open(cls, files: RunFiles, readonly: bool = False, lock: bool | None = None) -> Iterator[Run]:
        """Opens a stored run.

        Args:
            files: the run.
            readonly: open the database read-only (a reader never writes, and reads while a
                search writes).
            lock: hold the run's lock while it is open (`RunFiles.writing`); default: unless `readonly`.

        Raises:
            RunLockedError: `lock`, and another process is writing the run.
            EvoRnnError: there is no run database, or it holds no settings.
            StoreError: the database cannot be used.
        """
        if not files.database.is_file():
            raise EvoRnnError(
                f"no search run at {files.database}; start one with `python -m evo_rnn.search --run "
                f"{files.name}`, or give --runs-dir"
            )
        held = files.writing() if (not readonly if lock is None else lock) else contextlib.nullcontext()
        with held, Store(files.database, readonly=readonly) as store:
            settings = RunSettings.load(store)
            if settings is None:
                raise EvoRnnError(
                    f"run {files.name!r} ({store.path}) holds no search configuration; it was not "
                    "written by evo_rnn.search or evo_rnn.ablation"
                )
            yield cls(files, store, settings)

    @classmethod
    def stored_settings(cls, files: RunFiles) -> RunSettings | None:
        """The settings a run was started with, read without its lock; None for no run yet."""
        if not files.database.exists():
            return None
        with Store(files.database, readonly=True) as store:
            return RunSettings.load(store)

    @classmethod
    @contextlib.contextmanager
    def start_or_resume(
        cls, files: RunFiles, settings: RunSettings, refuse: Callable[[RunSettings, Store], None]
    ) -> Iterator[tuple[Run, bool]]:
        """Opens run `files` to write it, holding its lock: a new run starts with `settings`
        (and a fresh identity); a stored one is first checked by `refuse(stored, store)`, which
        raises when `settings` may not resume it.

        Yields:
            The run (with the stored settings when it resumes) and whether it is new.
        """
        with files.writing(), Store(files.database) as store:
            stored = RunSettings.load(store)
            if stored is None:
                settings.start(store)
                yield cls(files, store, settings), True
            else:
                refuse(stored, store)
                yield cls(files, store, stored), False

    @property
    def name(self) -> str:
        return self.files.name

    @property
    def seed(self) -> int:
        return self.settings.seed

    @functools.cached_property
    def preset(self) -> presets.Preset:
        """The run's preset with its overrides applied (resolved once)."""
        return self.settings.resolved_preset()

    @property
    def run_id(self) -> str | None:
        """The run's identity: a random id stored when the run started (`RunSettings.start`), so
        that exports of two runs of the same name are told apart; None for a run older than it."""
        return self.store.get_meta(MetaKey.RUN_ID)

    def meta(self, key: MetaKey, default: Any = None) -> Any:
        """A value of the run's metadata (`MetaKey`)."""
        return self.store.get_meta(key, default)

    def set_meta(self, key: MetaKey, value: Any) -> None:
        """Stores a value of the run's metadata (`MetaKey`)."""
        self.store.set_meta(key, value)

    def population(self) -> dict[str, float]:
        """The search's population ({architecture: score}).

        Raises:
            EvoRnnError: it has none yet, or the run is not a search.
        """
        if self.settings.kind != "search":
            raise EvoRnnError(
                f"run {self.name!r} is an {self.settings.kind} run, not a search: it has no population "
                f"to confirm or export; read it with `python -m evo_rnn.report --run {self.name}`"
            )
        members = self.store.population()
        if not members:
            raise EvoRnnError(
                f"run {self.name!r} has no population yet (its seed cells are still being evaluated); "
                "let the search run longer"
            )
        return members

    # The run database's reads, for the packages above (their meaning: `evo_rnn.runs.store.Store`).
    def members(self) -> dict[str, float]:
        """The population as stored, empty before the seed cells are scored (`population` refuses that)."""
        return self.store.population()

    def architecture(self, arch: str):
        return self.store.architecture(arch)

    def find_architecture(self, graph) -> str | None:
        return self.store.find_architecture(graph)

    def find_origin(self, origin: str) -> str | None:
        return self.store.find_origin(origin)

    def trained_with(self) -> tuple[set[int], dict[str, set[str]]]:
        return self.store.trained_with()

    def add_architecture(self, graph, origin: str) -> str:
        """Records a cell (a zoo cell in an ablation) and returns its key; an architecture seen
        before keeps its key (`Store.add_architecture`)."""
        return self.store.add_architecture(graph, origin)

    def label(self, arch: str) -> str:
        return self.store.label(arch)

    def ancestry(self, arch: str):
        return self.store.ancestry(arch)

    def lineage(self, arch: str):
        return self.store.lineage(arch)

    def steps(self, *args: Any, **kwargs: Any):
        return self.store.steps(*args, **kwargs)

    def step_counts(self) -> dict[tuple[str, str], int]:
        return self.store.step_counts()

    def evaluations(self, *args: Any, **kwargs: Any):
        return self.store.evaluations(*args, **kwargs)

    def evaluation_count(self) -> int:
        return self.store.evaluation_count()

    def evaluation_times(self, *args: Any, **kwargs: Any):
        return self.store.evaluation_times(*args, **kwargs)

    def cached(self, key):
        return self.store.cached(key)
