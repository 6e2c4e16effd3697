"""Hyperparameters: the paper's prior (declared once), seeded sampling, canonical JSON, and
the number of units that puts every cell at the same parameter count."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import networkx as nx

from evo_rnn.core.errors import EvoRnnError, InvalidCellError

T = TypeVar("T")

__all__ = [
    "PRIOR",
    "REFERENCE",
    "HParams",
    "pack_by_shape",
    "reference",
    "sample",
    "solve_units",
    "stratified_bank",
    "van_der_corput",
]

# The prior of Jozefowicz et al. (2015), section 3.
PRIOR: dict[str, tuple] = {
    "init_scale": (0.3, 0.7, 1.0, 1.4, 2.0, 2.8),  # weights uniform in ±scale/sqrt(units)
    "learning_rate": (0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),  # plain SGD
    "max_grad_norm": (1.0, 2.5, 5.0, 10.0, 20.0),  # global gradient-norm clipping
    "num_layers": (1, 2, 3, 4),
}


@dataclasses.dataclass(frozen=True)
class HParams:
    """One hyperparameter configuration.

    Attributes:
        init_scale: weights start uniform in ±init_scale/sqrt(units).
        learning_rate: SGD's initial learning rate.
        max_grad_norm: the global gradient norm is clipped to this.
        num_layers: stacked recurrent layers.
        param_budget: weights of the recurrent layers; `units` is solved from it.
        dropout: dropout rate on non-recurrent connections (Zaremba et al. 2014); 0 = off.
    """

    init_scale: float
    learning_rate: float
    max_grad_norm: float
    num_layers: int
    param_budget: int
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("init_scale", "learning_rate", "max_grad_norm", "dropout"):  # 2 and 2.0: one cache key
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise EvoRnnError(f"invalid hyperparameter {name}={value!r}: expected a finite number")
            object.__setattr__(self, name, float(value))
        checks = {
            "init_scale": self.init_scale > 0,
            "learning_rate": self.learning_rate > 0,
            "max_grad_norm": self.max_grad_norm > 0,
            "num_layers": isinstance(self.num_layers, int) and self.num_layers >= 1,
            "param_budget": isinstance(self.param_budget, int) and self.param_budget >= 1,
            "dropout": 0.0 <= self.dropout < 1.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise EvoRnnError(f"invalid hyperparameter {name}={getattr(self, name)!r}")

    @property
    def shape(self) -> tuple[int, int]:
        """What configurations trained as one batched program must share: (layers, parameter
        budget), hence the units (`evo_rnn.training.batched_engine`)."""
        return self.num_layers, self.param_budget

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): equal configs give equal strings (a cache key)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HParams:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise EvoRnnError(f"unknown hyperparameter(s) {unknown}; known: {sorted(names)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> HParams:
        """The configuration `to_json` wrote (a cache key's text)."""
        return cls.from_dict(json.loads(text))


def pack_by_shape(
    items: Sequence[T], size: int, shape: Callable[[T], Hashable] = lambda config: config.shape
) -> list[list[int]]:
    """The indices of `items` packed into batched jobs: grouped by `shape` (default: a
    configuration's `HParams.shape`), in order, at most `size` a job. The one packing rule of
    the evaluation service, the `evaluate` command and the benchmarks."""
    by_shape: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        by_shape.setdefault(shape(item), []).append(index)
    return [members[start : start + size] for members in by_shape.values() for start in range(0, len(members), size)]


def sample(rng: random.Random, param_budget: int, dropout: float = 0.0, max_layers: int | None = None) -> HParams:
    """A configuration drawn uniformly from `PRIOR`, with the given budget and dropout.

    Args:
        rng: the source of randomness (seeded by the caller).
        param_budget: see `HParams`.
        dropout: see `HParams`.
        max_layers: draw the number of layers only up to this (small presets).
    """
    layers = [n for n in PRIOR["num_layers"] if max_layers is None or n <= max_layers]
    return HParams(
        init_scale=rng.choice(PRIOR["init_scale"]),
        learning_rate=rng.choice(PRIOR["learning_rate"]),
        max_grad_norm=rng.choice(PRIOR["max_grad_norm"]),
        num_layers=rng.choice(layers),
        param_budget=param_budget,
        dropout=dropout,
    )


# The bank's first configuration (`presets.sample_configs`): a point in the middle of the prior
# (one layer, SGD at 1.0 clipped at 5, as Zaremba et al.'s small PTB model), so that a single
# trial is not a random corner of it (the bank's old first draw for a text, SGD at 0.15 over
# two layers, left a GRU at the commonest character after an epoch; this one reached 0.27
# against 0.14: docs/training.md).
REFERENCE = {"init_scale": 1.0, "learning_rate": 1.0, "max_grad_norm": 5.0, "num_layers": 1}


def reference(param_budget: int, dropout: float = 0.0) -> HParams:
    """The reference configuration (`REFERENCE`) at `param_budget`."""
    return HParams(**REFERENCE, param_budget=param_budget, dropout=dropout)


def van_der_corput(index: int) -> float:
    """The `index`-th point (from 0) of the base-2 van der Corput sequence in [0, 1): 0, 1/2,
    1/4, 3/4, 1/8, ... Every prefix of 2^k points puts one point in each of 2^k equal strata."""
    value, denominator = 0.0, 1.0
    while index:
        denominator *= 2
        index, bit = divmod(index, 2)
        value += bit / denominator
    return value


def stratified_bank(
    rng: random.Random,
    param_budget: int,
    size: int,
    max_layers: int | None = None,
    learning_rates: tuple[float, float] | None = None,
) -> list[HParams]:
    """`size` configurations for paired comparisons: learning rates stratified, log-uniformly,
    over `learning_rates` (default: the prior's range, 0.1-5), the other fields drawn from `PRIOR`.

    Configuration k's learning rate sits at `van_der_corput(k)` shifted by one random offset
    (modulo 1) along the log range: the first 2, 4, 8, ... configurations each put one learning
    rate in each of 2, 4, 8, ... equal strata, so a candidate that gets only the bank's first
    few configurations still sees small and large rates, and the first k of a bank of n are
    the bank of k.
    """
    low, high = learning_rates or (min(PRIOR["learning_rate"]), max(PRIOR["learning_rate"]))
    if not 0 < low <= high:
        raise EvoRnnError(f"invalid learning-rate range ({low}, {high}): expected 0 < low <= high")
    shift = rng.random()
    bank = []
    for k in range(size):
        fraction = (van_der_corput(k) + shift) % 1.0
        learning_rate = float(f"{low * (high / low) ** fraction:.4g}")  # 4 digits: readable cache keys
        bank.append(dataclasses.replace(sample(rng, param_budget, max_layers=max_layers), learning_rate=learning_rate))
    return bank


def solve_units(graph: nx.DiGraph, param_budget: int, num_layers: int) -> int:
    """The width at which `num_layers` layers of this cell hold about `param_budget` weights.

    The rule: every layer reads vectors of the cell's width (the embedding, or the layer
    below, has width `units`), so one layer has a·u² + b·u weights, with a the number of
    linear nodes and b the number of biased ones (as `cell_graph.parameter_count`). The budget counts the
    recurrent layers only; u is the positive root of n·(a·u² + b·u) = budget, rounded to
    the nearest integer (at least 1). A cell with fewer linear maps gets more units.

    Raises:
        InvalidCellError: the cell has no linear node (nothing to size).
    """
    linears = [d for _, d in graph.nodes(data=True) if d["op"] == "linear"]
    a, b = len(linears), sum(d["bias_init"] is not None for d in linears)
    if a == 0:
        raise InvalidCellError("the cell has no linear node, so no weights to size from a parameter budget")
    per_layer = param_budget / num_layers
    root = (-b + math.sqrt(b * b + 4 * a * per_layer)) / (2 * a)
    return max(1, round(root))
