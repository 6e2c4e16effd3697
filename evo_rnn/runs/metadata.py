"""The keys of a run database's metadata, declared once: what each holds and who writes it."""

from __future__ import annotations

import enum

__all__ = ["MetaKey"]


class MetaKey(enum.StrEnum):
    """A key of the run database's `meta` table (stored as its text; the value as JSON)."""

    SCHEMA_VERSION = "schema_version"  # the database's layout (`store.SCHEMA_VERSION`), written by the store
    SETTINGS = "config"  # the run's settings (`RunSettings.to_dict`), written when it starts
    TASK_IDENTITIES = "task_identities"  # each task name the run was given -> `tasks.identity` then
    RUN_ID = "run_id"  # a random identity written when the run starts (its exports carry it)
    VERSIONS = "versions"  # the versions of the packages a search started with
    WORKERS = "workers"  # the executor's workers of the last session (the report's evaluations per worker)
    ELAPSED_SECONDS = "elapsed_seconds"  # a search's time spent over all its sessions
    CONFIRMATION = "confirmation"  # the last confirmation: its seeds, cells and top
    ABLATION = "ablation"  # an ablation's cells, tasks and sizes (`scoring.tables.AblationSettings`)
