"""`ptb_chars`, the search's default fitness: PTB's published splits as characters."""

from __future__ import annotations

import numpy as np
import pytest

from evo_rnn import tasks
from evo_rnn.training import presets

from conftest import SHARED, needs_shared_data

pytestmark = needs_shared_data


def _quick_task():
    return tasks.get("ptb_chars", presets.get("quick").ptb_chars, data_dir=SHARED)


def test_its_validation_and_test_parts_share_no_line_with_its_training_part_at_the_quick_sizes():
    task = _quick_task()
    train, valid, test = task._texts()
    config = presets.get("quick").ptb_chars
    seen = set(train[: config.max_train_tokens].splitlines())
    for text in (valid, test):
        lines = [line for line in text[: config.max_eval_tokens].splitlines() if line.strip()]
        assert len(lines) > 50 and not seen.intersection(lines)
    # The three parts are the three published files, not cuts of one.
    assert train.startswith(" aer banknote") and valid.startswith(" consumers may") and test.startswith(" no it was")


def test_it_is_characters_with_a_training_vocabulary_and_the_commonest_character_as_its_floor():
    task = _quick_task()
    data = task.data(seed=0)
    assert task.unit == "char" and 40 <= task.input_size == task.output_size <= 60
    config = presets.get("quick").ptb_chars
    assert data.train.inputs.shape[1] == config.seq_len and data.train.inputs.shape[0] % config.batch_size == 0
    # A predictor that always names the commonest character (the space) scores the floor; the
    # ceiling, 1.0, only a perfect predictor reaches.
    targets = data.test.targets
    always_space = (targets == task.vocabulary.index(" ")).astype("float32")
    nll = np.ones(targets.shape, "float32")
    metrics = task.metrics(data.test, nll, always_space)
    assert metrics["score"] == pytest.approx(metrics["majority"]) and 0.15 < metrics["majority"] < 0.22
    assert task.metrics(data.test, nll, np.ones(targets.shape, "float32"))["score"] == 1.0


def test_it_trains_at_most_its_own_epoch_cap_below_the_presets():
    assert _quick_task().max_epochs == 8 and presets.get("quick").max_epochs == 15


def test_naming_it_reads_nothing_so_listing_tasks_needs_no_data(tmp_path):
    task = tasks.get("ptb_chars", data_dir=tmp_path)  # an empty folder: no PTB there
    assert task.name == "ptb_chars" and task.max_epochs is None
    with pytest.raises(FileNotFoundError, match="ptb/ptb.train.txt not found"):
        task.input_size  # noqa: B018 - the first use reads the files
