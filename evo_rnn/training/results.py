"""What one evaluation produces (`EvalResult`, its `Status`) and the key it is cached under
(`CacheKey`): plain data shared by training, the run database, the search and the export."""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

__all__ = ["BATCH_ORDER", "TASK_VERSION", "CacheKey", "EvalResult", "Status"]


class Status(enum.StrEnum):
    """How an evaluation ended. A `StrEnum`: it is stored and compared as its text."""

    OK = "ok"  # trained; scores are those of the best validation epoch
    DIVERGED = "diverged"  # a NaN or infinite training loss; scores 0
    FAILED = "failed"  # the candidate could not be trained (see `EvalResult.message`)


@dataclasses.dataclass
class EvalResult:
    """What one evaluation produced.

    Attributes:
        status: see `Status`.
        task, preset, seed, hparams: what was trained (the preset's name; the hyperparameters
            as `HParams.to_dict()`).
        valid_score, test_score: the task's score (higher is better) on validation and
            test, with the weights of the best validation epoch.
        valid_metrics, test_metrics: every metric the task reports.
        curve: per epoch: loss, validation score, learning rate.
        epochs, seconds: epochs trained and wall-clock time.
        units, params: cell width and recurrent-layer weights; model_params: all weights.
        message: why it failed or diverged, or a note (e.g. a retried worker).
        attempts: more than 1 when the worker running it died and it was started again.
    """

    status: Status
    task: str
    preset: str
    seed: int
    hparams: dict[str, Any]
    valid_score: float = 0.0
    test_score: float = 0.0
    valid_metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    test_metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    curve: list[dict[str, float]] = dataclasses.field(default_factory=list)
    epochs: int = 0
    seconds: float = 0.0
    units: int = 0
    params: int = 0
    model_params: int = 0
    message: str = ""
    attempts: int = 1

    def __post_init__(self) -> None:
        self.status = Status(self.status)  # a stored "ok" becomes Status.OK; an unknown text raises

    @property
    def ok(self) -> bool:
        """Whether training went well (its scores count)."""
        return self.status is Status.OK

    @property
    def valid_loss(self) -> float:
        """The validation NLL per scored position at the best validation epoch (every task
        reports it as the metric "nll"); infinite when training went badly or it is missing."""
        value = self.valid_metrics.get("nll") if self.ok else None
        return float(value) if value is not None and math.isfinite(value) else math.inf

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (the status as its text)."""
        data = dataclasses.asdict(self)
        data["status"] = str(self.status)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResult:
        """The result `to_dict` gave; keys it does not know (e.g. a row's `arch`) are ignored."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


# How an evaluation reads its training data, part of every key: 2 = the batches of
# `kit.batch_order` (both engines); results keyed before it (Keras' own shuffle) are not reused.
BATCH_ORDER = 2
# What the generated tasks are, part of every key: 2 = data drawn from the training seed, arith's
# problems partitioned between the splits, xml scored on its closing tags; results
# keyed before it (data seed 0, arith test problems in training, xml scored on every character)
# are not reused.
TASK_VERSION = 2


@dataclasses.dataclass(frozen=True)
class CacheKey:
    """What makes two evaluations the same: a key already evaluated is never trained again.

    Attributes:
        arch: the architecture's key in the run database.
        task: the task name.
        hparams: the configuration as canonical JSON (`HParams.to_json`).
        seed: the training seed.
        preset: `presets.preset_key(preset)`.
    """

    arch: str
    task: str
    hparams: str
    seed: int
    preset: str
