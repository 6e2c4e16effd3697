"""Every preset field has a rule (`evo_rnn.training.preset_rules.RULES`), and a bad value of any field is
refused by `--set` in one line naming the field: a table over every field."""

from __future__ import annotations

import pytest

from evo_rnn.core.errors import EvoRnnError
from evo_rnn.training import preset_rules, presets

# For every rule: values it refuses. A field added without a rule, or a rule without a row
# here, fails test_every_field_has_a_rule_and_a_row_here.
BAD = {
    "budgets.*": ["0", "-3"],
    "max_layers": ["0", "-1"],
    "max_epochs": ["0", "-1"],
    "batch_size": ["0"],
    "patience": ["-5"],
    "lr_decay": ["nan", "0", "1.5", "inf", "-0.5"],
    "max_decays": ["-1"],
    "jit_compile": [],  # a bool: anything else is refused by --set's parsing (test below)
    "engine": ["jet"],
    "arith.max_digits": ["0"],
    "arith.max_distractors": ["-1"],
    "arith.n_train": ["0"],
    "arith.n_valid": ["0"],
    "arith.n_test": ["0"],
    "xml.max_tag_length": ["0"],
    "xml.max_depth": ["0"],
    "xml.max_length": ["6", "0"],
    "xml.p_open": ["-0.1", "1.01", "nan"],
    "xml.n_train": ["0"],
    "xml.n_valid": ["0"],
    "xml.n_test": ["0"],
    "memorize.length": ["0"],
    "memorize.alphabet": ["1", "27"],
    "memorize.n_train": ["0"],
    "memorize.n_valid": ["0"],
    "memorize.n_test": ["0"],
    "ptb.batch_size": ["0"],
    "ptb.seq_len": ["0"],
    "ptb.max_train_tokens": ["0"],
    "ptb.max_eval_tokens": ["-1"],
    "text.batch_size": ["0", "1.5"],
    "text.seq_len": ["0"],
    "text.max_train_tokens": ["0", "-5"],
    "text.max_eval_tokens": ["0"],
    "ptb_chars.batch_size": ["0"],
    "ptb_chars.seq_len": ["0"],
    "ptb_chars.max_train_tokens": ["0"],
    "ptb_chars.max_eval_tokens": ["0"],
    "ptb_chars.max_epochs": ["0", "-1"],
    "npz.max_sequences": ["0", "x"],
    "music.chunk_length": ["0"],
    "music.max_pieces": ["0"],
    "search.tasks": [","],
    "search.configs_per_task": ["0"],
    "search.filter_task": [""],
    "search.filter_configs": ["0"],
    "search.filter_threshold": ["1.5", "-0.1", "nan"],
    "search.first_task_ratio": ["-1", "nan", "inf"],
    "search.population_size": ["0", "1"],
    "search.reevaluate_probability": ["2", "nan"],
    "search.seed_cells": [","],
    "search.strategy": ["hill"],
    "search.halving_configs": ["-1"],
    "search.halving_epochs": ["0"],
    "search.race_seeds": ["0"],
    "search.race_max_seeds": ["0"],
    "search.ratio_sd": ["-0.1", "nan"],
    "search.max_mutation_rate": ["0", "1.5", "nan"],
    "search.max_evaluations": ["0", "-5", "1.5"],
}
FIELDS = [(field, value) for field, values in BAD.items() for value in values]


def test_every_field_has_a_rule_and_a_row_here():
    for preset in presets.PRESETS.values():
        assert {rule for _, rule, _ in preset_rules.leaf_fields(preset)} == set(preset_rules.RULES) == set(BAD)


@pytest.mark.parametrize("preset", list(presets.PRESETS))
def test_the_presets_obey_every_rule(preset):
    preset_rules.check(presets.get(preset))


@pytest.mark.parametrize("field, value", FIELDS)
def test_a_bad_value_of_any_field_is_refused_naming_it(field, value):
    path = "budgets.ptb" if field == "budgets.*" else field
    with pytest.raises(EvoRnnError) as refused:
        presets.with_overrides(presets.get("quick"), [f"{path}={value}"])
    message = str(refused.value)
    assert "\n" not in message and path in message and "--set" in message, message


@pytest.mark.parametrize("item", ["jit_compile=maybe", "max_epochs=1.5", "lr_decay=fast", "max_epochs=1e3"])
def test_a_value_of_the_wrong_type_is_refused(item):
    with pytest.raises(EvoRnnError, match=item.split("=")[0]):
        presets.with_overrides(presets.get("quick"), [item])


@pytest.mark.parametrize(
    "item",
    [
        "max_epochs=1",
        "patience=0",
        "lr_decay=1",
        "xml.p_open=0",
        "xml.p_open=1",
        "ptb.max_train_tokens=none",
        "search.halving_configs=0",
        "search.population_size=2",
        "search.first_task_ratio=1.2",
    ],
)
def test_values_at_the_edge_of_their_rule_are_accepted(item):
    presets.with_overrides(presets.get("quick"), [item, "search.halving_configs=0"])
