"""The one training interface (`evo_rnn.training.evaluation.evaluate`): the preset's engine decides, the
results come one per configuration in order, the fit engine reports each configuration's
epochs, and mismatched seeds are refused."""

from __future__ import annotations

import dataclasses

import pytest

from evo_rnn.training import evaluation, presets
from evo_rnn.training.hyperparameters import HParams

TINY = presets.with_overrides(
    presets.get("quick"), ["max_epochs=2", "memorize.n_train=128", "memorize.n_valid=64", "memorize.n_test=64"]
)


def configs() -> list[HParams]:
    base = HParams(init_scale=1.0, learning_rate=1.0, max_grad_norm=5.0, num_layers=1, param_budget=3000)
    return [base, dataclasses.replace(base, learning_rate=2.0, init_scale=0.7)]


def test_the_presets_engine_trains_and_both_engines_agree_per_configuration():
    heard: list[tuple[int, int]] = []
    fit = evaluation.evaluate(
        "gru", "memorize", configs(), [3, 4], TINY, progress=lambda index, epoch, _: heard.append((index, epoch))
    )
    batched = evaluation.evaluate("gru", "memorize", configs(), [3, 4], dataclasses.replace(TINY, engine="batched"))
    assert [r.hparams for r in fit] == [r.hparams for r in batched] == [c.to_dict() for c in configs()]
    assert [r.seed for r in fit] == [3, 4]
    assert sorted(set(heard)) == [(0, 1), (0, 2), (1, 1), (1, 2)]  # every epoch (from 1) of each configuration
    for alone, member in zip(fit, batched):  # the same training, to float rounding
        assert [p["loss"] for p in member.curve] == pytest.approx([p["loss"] for p in alone.curve], rel=1e-4)
        assert member.valid_score == pytest.approx(alone.valid_score, abs=1e-4)
    assert fit[0].curve[0]["loss"] != pytest.approx(fit[1].curve[0]["loss"], rel=1e-3)  # two configurations, not one


def test_a_seed_per_configuration_is_required():
    with pytest.raises(ValueError, match="2 configurations need as many seeds, got 1"):
        evaluation.evaluate("gru", "memorize", configs(), [3], TINY)


def test_generated_data_is_drawn_from_the_training_seed_unless_a_data_seed_is_given():
    from evo_rnn import tasks
    from evo_rnn.training import kit

    memorize = tasks.get("memorize", TINY.memorize)
    assert kit.data_seed_of(memorize, 7) == 7 and kit.data_seed_of(memorize, 7, data_seed=3) == 3
    assert kit.data_seed_of(tasks.get("ptb", TINY.ptb), 7) == 0  # real data does not depend on it
    config = configs()[:1]
    default = evaluation.evaluate("gru", "memorize", config, [3], TINY)[0]
    same = evaluation.evaluate("gru", "memorize", config, [3], TINY, data_seed=3)[0]
    other = evaluation.evaluate("gru", "memorize", config, [3], TINY, data_seed=0)[0]
    assert default.curve == same.curve
    assert default.curve[0]["loss"] != pytest.approx(other.curve[0]["loss"], rel=1e-6)
    # The batched engine gives each member its own seed's data, as it would have alone.
    batched = dataclasses.replace(TINY, engine="batched")
    together = evaluation.evaluate("gru", "memorize", configs()[:1] * 2, [3, 8], batched)
    for member, seed in zip(together, [3, 8]):
        alone = evaluation.evaluate("gru", "memorize", config, [seed], batched)[0]
        assert [p["loss"] for p in member.curve] == pytest.approx([p["loss"] for p in alone.curve], rel=1e-5)
