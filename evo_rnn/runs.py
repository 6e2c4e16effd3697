"""A search run on disk: where its files are (`RunFiles`) and the settings it was started with
(`RunSettings`, stored in its database), shared by the search and the export.

Layout, under `RUNS/NAME/` (`RUNS` defaults to `runs`):

    search.sqlite                   the run database (`evo_rnn.store`)
    models/<arch>/<task>-<h>.keras  trained models of an architecture on a task that were the best
                                    when they finished (h: a hash of the configuration; `kept_model`)
    models/pending/<uuid>.keras     models of evaluations in flight (kept or deleted when they end)
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

from evo_rnn import presets
from evo_rnn.errors import EvoRnnError
from evo_rnn.store import Store

__all__ = ["RunFiles", "RunSettings", "SETTINGS_KEY"]

SETTINGS_KEY = "config"  # the database's meta key holding the run's settings


class RunFiles:
    """Where run `name` keeps its files.

    Raises:
        EvoRnnError: `name` is not usable as a folder name.
    """

    def __init__(self, name: str, runs_dir: str | os.PathLike = "runs"):
        if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
            raise EvoRnnError(f"invalid run name {name!r}: use letters, digits, '-', '_' or '.'")
        self.name = name
        self.root = Path(runs_dir) / name
        self.database = self.root / "search.sqlite"
        self.models = self.root / "models"
        self.pending = self.models / "pending"

    def kept_model(self, arch: str, task: str, hparams: str) -> Path:
        """Where the run keeps the trained model of `arch` on `task` with configuration `hparams`
        (`HParams.to_json`) and the run's seed: kept when it was the best so far."""
        return self.models / arch / f"{task}-{hashlib.sha256(hparams.encode()).hexdigest()[:12]}.keras"

    def new_pending_model(self) -> Path:
        """A fresh path for the model of an evaluation about to start."""
        self.pending.mkdir(parents=True, exist_ok=True)
        return self.pending / f"{uuid.uuid4().hex}.keras"

    def clear_pending(self) -> None:
        """Deletes the models of evaluations that a stopped process left in flight."""
        for stale in self.pending.glob("*.keras"):
            stale.unlink()


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a run was started with; a resumed run must be started with the same.

    Attributes:
        preset: the preset's name.
        overrides: its `--set` overrides (with those that --tasks and --seed-zoo stand for).
        seed: seeds the search and every training run.
        command: the command line that started it (for the leaderboard).
    """

    preset: str
    overrides: tuple[str, ...] = ()
    seed: int = 0
    command: str | None = None

    def resolved_preset(self) -> presets.Preset:
        """The preset with its overrides applied."""
        return presets.with_overrides(presets.get(self.preset), list(self.overrides))

    def to_dict(self) -> dict[str, Any]:
        return {"preset": self.preset, "overrides": list(self.overrides), "seed": self.seed, "command": self.command}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSettings:
        return cls(data["preset"], tuple(data.get("overrides", ())), int(data["seed"]), data.get("command"))

    def save(self, store: Store) -> None:
        """Stores the settings in the run's database."""
        store.set_meta(SETTINGS_KEY, self.to_dict())

    @classmethod
    def load(cls, store: Store) -> RunSettings | None:
        """The settings stored in the run's database (None for a database no search started)."""
        data = store.get_meta(SETTINGS_KEY)
        return None if data is None else cls.from_dict(data)
