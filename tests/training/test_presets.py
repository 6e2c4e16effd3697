"""Presets and their --set overrides; a preset's task settings come from the task registry."""

from __future__ import annotations

import sqlite3

import pytest

from evo_rnn import tasks
from evo_rnn.core.errors import EvoRnnError, UnknownNameError
from evo_rnn.training import presets

from conftest import ROOT


def test_presets_and_overrides():
    quick = presets.get("quick")
    changed = presets.with_overrides(
        quick,
        ["max_epochs=3", "arith.max_digits=5", "budgets.ptb=123", "ptb.max_train_tokens=none", "jit_compile=true"],
    )
    assert (changed.max_epochs, changed.arith.max_digits, changed.budgets["ptb"]) == (3, 5, 123)
    assert changed.ptb.max_train_tokens is None and changed.jit_compile is True
    assert quick.max_epochs != 3  # presets are not modified
    assert presets.get("paper").arith.max_digits == 8
    for bad, message in (
        ("epochs=3", "unknown preset field 'epochs'"),
        ("max_epochs=three", "not a valid int"),
        ("arith.digits=3", "unknown field 'arith.digits'"),
        ("max_epochs", "expects field=value"),
    ):
        with pytest.raises(EvoRnnError, match=message):
            presets.with_overrides(quick, [bad])
    with pytest.raises(UnknownNameError, match="known: quick, paper"):
        presets.get("fast")


def test_a_presets_task_settings_come_from_the_task_registry():
    quick = presets.get("quick")
    for name in tasks.names():  # every task has a config and a budget, the music sets share theirs
        family = "music" if name in tasks.MUSIC else name
        assert quick.task_config(name) is getattr(quick, family) and quick.budget(name) == quick.budgets[family]
    for call in (quick.budget, quick.task_config):
        with pytest.raises(UnknownNameError, match="unknown task 'sums'; known: arith"):
            call("sums")  # no silent fallback to the music settings


def test_a_run_stored_before_the_batched_engine_was_renamed_resumes_with_its_cache_keys():
    from evo_rnn.training.presets import preset_key

    old = presets.with_overrides(presets.get("quick"), ["engine=population"])  # as such runs stored it
    new = presets.with_overrides(presets.get("quick"), ["engine=batched"])
    assert old == new and new.engine == "batched" and preset_key(old) == preset_key(new)
    # The key hashes the engine under its old name: the shipped seed-800 ablation (engine=batched,
    # TASK_VERSION 2, before the file tasks' settings existed) is read with its stored keys.
    shipped = ROOT / "benchmarks" / "results" / "ablation-quick-arith-v2-seed800" / "search.sqlite"
    stored = sqlite3.connect(f"file:{shipped}?mode=ro", uri=True).execute("SELECT DISTINCT preset FROM evaluations")
    assert [row[0] for row in stored] == [preset_key(new)]
