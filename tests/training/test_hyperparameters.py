"""The hyperparameter prior: seeded sampling, canonical JSON, units solved from the parameter budget."""

from __future__ import annotations

import json
import random

import pytest

from evo_rnn.cells import zoo
from evo_rnn.cells.graph import parameter_count
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.training import hyperparameters
from evo_rnn.training.hyperparameters import PRIOR, HParams


def hp(**changes) -> HParams:
    base = {"init_scale": 1.0, "learning_rate": 1.0, "max_grad_norm": 5.0, "num_layers": 1, "param_budget": 3000}
    return HParams(**{**base, **changes})


def test_sampling_is_seeded_and_draws_from_the_prior():
    a = [hyperparameters.sample(random.Random(3), 1000) for _ in range(1)] + [
        hyperparameters.sample(random.Random(4), 1000)
    ]
    b = [hyperparameters.sample(random.Random(3), 1000) for _ in range(1)] + [
        hyperparameters.sample(random.Random(4), 1000)
    ]
    assert a == b
    rng = random.Random(0)
    drawn = [hyperparameters.sample(rng, 1000, max_layers=2) for _ in range(300)]
    for field in ("init_scale", "learning_rate", "max_grad_norm"):
        assert {getattr(h, field) for h in drawn} == set(PRIOR[field])
    assert {h.num_layers for h in drawn} == {1, 2}
    assert all(h.dropout == 0.0 for h in drawn)  # off by default


def test_config_json_is_canonical():
    config = hp(learning_rate=2, dropout=0.25)
    text = config.to_json()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert HParams.from_dict(json.loads(text)) == config
    assert '"learning_rate":2.0' in text and hp(learning_rate=2.0).to_json() == hp(learning_rate=2).to_json()
    with pytest.raises(EvoRnnError, match="unknown hyperparameter"):
        HParams.from_dict({**config.to_dict(), "momentum": 0.9})
    with pytest.raises(EvoRnnError, match="invalid hyperparameter dropout"):
        hp(dropout=1.5)


@pytest.mark.parametrize("name", zoo.names())
def test_units_solved_from_the_budget_hit_it(name):
    graph = zoo.get(name)
    for budget in (20_000, 500_000):
        for layers in (1, 2, 3, 4):
            units = hyperparameters.solve_units(graph, budget, layers)
            assert abs(layers * parameter_count(graph, units, units) / budget - 1) < 0.05, (budget, layers, units)


def test_configurations_pack_by_shape_in_order_at_most_size_a_job():
    one, two = hp(num_layers=1), hp(num_layers=2)
    other_budget = hp(num_layers=1, param_budget=4000)
    configs = [one, two, one, other_budget, one, two, one]
    assert hyperparameters.pack_by_shape(configs, 2) == [[0, 2], [4, 6], [1, 5], [3]]
    assert hyperparameters.pack_by_shape(configs, 10) == [[0, 2, 4, 6], [1, 5], [3]]
    assert hyperparameters.pack_by_shape(["ab", "c", "de"], 5, shape=len) == [[0, 2], [1]]  # any key
