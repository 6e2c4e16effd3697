"""The rule every preset field obeys, in one table, checked where settings enter (`--set`
overrides, the presets themselves): a bad value is a one-line error before anything runs."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

from evo_rnn.core.errors import EvoRnnError

ENGINES = ("fit", "batched")  # how an evaluation trains: Keras' fit, or evo_rnn.training.batched_engine
# Values older runs stored under another name, read as their new one (runs keep resuming).
LEGACY_VALUES = {"engine": {"population": "batched"}}
STRATEGIES = ("evolution", "random")  # where a child's parent comes from: the population, or the zoo

__all__ = ["ENGINES", "LEGACY_VALUES", "RULES", "STRATEGIES", "check", "leaf_fields"]

# A rule returns None for a good value, else what a good value is ("a whole number >= 1").
Rule = Callable[[Any], str | None]


def _whole(low: int, high: int | None = None, optional: bool = False) -> Rule:
    def rule(value: Any) -> str | None:
        if optional and value is None:
            return None
        good = (
            isinstance(value, int) and not isinstance(value, bool) and low <= value and (high is None or value <= high)
        )
        return (
            None
            if good
            else ("none or " if optional else "")
            + (f"a whole number from {low} to {high}" if high is not None else f"a whole number >= {low}")
        )

    return rule


def _real(low: float, high: float | None = None, low_open: bool = False) -> Rule:
    def rule(value: Any) -> str | None:
        good = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value > low if low_open else value >= low)
            and (high is None or value <= high)
        )
        bound = f"{'>' if low_open else '>='} {low:g}" + ("" if high is None else f" and <= {high:g}")
        return None if good else f"a finite number {bound}"

    return rule


def _one_of(*choices: Any) -> Rule:
    return lambda value: None if value in choices else f"one of {', '.join(map(str, choices))}"


def _names(value: Any) -> str | None:
    good = isinstance(value, tuple) and value and all(isinstance(v, str) and v for v in value)
    return None if good else "a comma-separated list of one or more names"


def _name(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "a name"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


_PROBABILITY = _real(0.0, 1.0)

# Every leaf field of `Preset` (`budgets.*`: every budget). A field without a rule fails the
# tests (tests/test_preset_rules.py), so a new field cannot skip its check.
RULES: dict[str, Rule] = {
    "budgets.*": _whole(1),
    "max_layers": _whole(1),
    "max_epochs": _whole(1),
    "batch_size": _whole(1),
    "patience": _whole(0),
    "lr_decay": _real(0.0, 1.0, low_open=True),
    "max_decays": _whole(0),
    "jit_compile": _flag,
    "engine": _one_of(*ENGINES),
    "arith.max_digits": _whole(1),
    "arith.max_distractors": _whole(0),
    "arith.n_train": _whole(1),
    "arith.n_valid": _whole(1),
    "arith.n_test": _whole(1),
    "xml.max_tag_length": _whole(1),
    "xml.max_depth": _whole(1),
    "xml.max_length": _whole(7),  # one tag, "<a></a>"
    "xml.p_open": _PROBABILITY,
    "xml.n_train": _whole(1),
    "xml.n_valid": _whole(1),
    "xml.n_test": _whole(1),
    "memorize.length": _whole(1),
    "memorize.alphabet": _whole(2, 26),
    "memorize.n_train": _whole(1),
    "memorize.n_valid": _whole(1),
    "memorize.n_test": _whole(1),
    "ptb.batch_size": _whole(1),
    "ptb.seq_len": _whole(1),
    "ptb.max_train_tokens": _whole(1, optional=True),
    "ptb.max_eval_tokens": _whole(1, optional=True),
    "music.chunk_length": _whole(1, optional=True),
    "music.max_pieces": _whole(1, optional=True),
    "text.batch_size": _whole(1),
    "text.seq_len": _whole(1),
    "text.max_train_tokens": _whole(1, optional=True),
    "text.max_eval_tokens": _whole(1, optional=True),
    "ptb_chars.batch_size": _whole(1),
    "ptb_chars.seq_len": _whole(1),
    "ptb_chars.max_train_tokens": _whole(1, optional=True),
    "ptb_chars.max_eval_tokens": _whole(1, optional=True),
    "ptb_chars.max_epochs": _whole(1, optional=True),
    "npz.max_sequences": _whole(1, optional=True),
    "search.tasks": _names,
    "search.configs_per_task": _whole(1),
    "search.filter_task": _name,
    "search.filter_configs": _whole(1),
    "search.filter_threshold": _PROBABILITY,
    "search.first_task_ratio": _real(0.0),
    "search.population_size": _whole(1),
    "search.reevaluate_probability": _PROBABILITY,
    "search.seed_cells": _names,
    "search.strategy": _one_of(*STRATEGIES),
    "search.halving_configs": _whole(0),
    "search.halving_epochs": _whole(1),
    "search.race_seeds": _whole(1),
    "search.race_max_seeds": _whole(1),
    "search.ratio_sd": _real(0.0),
    "search.max_mutation_rate": _real(0.0, 1.0, low_open=True),
    "search.max_evaluations": _whole(1, optional=True),
}


def leaf_fields(preset: Any) -> Iterator[tuple[str, str, Any]]:
    """Every leaf field of `preset` as (path, rule name, value): `max_epochs`, `arith.n_train`,
    `budgets.ptb` (rule `budgets.*`)... The preset's `name` is not a setting."""
    for field in dataclasses.fields(preset):
        value = getattr(preset, field.name)
        if field.name == "name":
            continue
        if field.name == "budgets":
            for task, budget in value.items():
                yield f"budgets.{task}", "budgets.*", budget
        elif dataclasses.is_dataclass(value):
            for inner in dataclasses.fields(value):
                path = f"{field.name}.{inner.name}"
                yield path, path, getattr(value, inner.name)
        else:
            yield field.name, field.name, value


def check(preset: Any) -> None:
    """Checks every field of `preset` against `RULES`, and the rules between fields.

    Raises:
        EvoRnnError: the first field that breaks its rule, in one line with the fix.
    """
    for path, rule_name, value in leaf_fields(preset):
        problem = RULES[rule_name](value)
        if problem is not None:
            raise EvoRnnError(f"setting {path}={value!r} is not allowed: it must be {problem} (--set {path}=VALUE)")
    search = preset.search
    starters = len(dict.fromkeys([*search.seed_cells, "gru"]))  # the GRU is always evaluated as the baseline
    if search.population_size < starters:
        raise EvoRnnError(
            f"setting search.population_size={search.population_size} is not allowed: the population "
            f"starts with {starters} seed cells ({', '.join(dict.fromkeys([*search.seed_cells, 'gru']))}),"
            f" so it must be at least {starters} (--set search.population_size=VALUE)"
        )
