"""The search from Python (`evo_rnn.search.run`): the same run as the command, a result with the
leaderboard and the best cells as Keras layers that a model of one's own trains with."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import evo_rnn.search
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.run import RunSettings
from evo_rnn.runs.store import Store

from conftest import TINY


def test_the_api_runs_a_search_on_a_text_file_resumes_it_and_hands_back_a_trainable_layer(tmp_path):
    from pydoc_data.topics import topics

    import keras

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(topics[key] for key in sorted(topics))[:20_000], encoding="utf-8")
    options = {
        "tasks": [f"text:{corpus}"],
        "run": "mine",
        "runs_dir": tmp_path / "runs",
        "out": tmp_path / "out",
        "max_candidates": 1,
        "budget_minutes": 5,
        "workers": 0,
        "confirm_seeds": 2,
        "export": False,
        "progress": False,
        "set": [*TINY, "budgets.text=3000", "text.max_train_tokens=4000", "text.max_eval_tokens=1000"],
    }
    result = evo_rnn.search.run(**options)
    assert result.name == "mine" and result.export is None and not result.interrupted
    assert len(result.leaderboard) >= 2 and result.leaderboard[0].rank == 1
    confirmed = [row for row in result.leaderboard if row.confirmed is not None]
    assert confirmed and all(next(iter(row.tasks.values())).confirm["seeds"] == 2 for row in confirmed)
    graph = result.cell(1)
    assert graph.number_of_nodes() > 3
    with pytest.raises(EvoRnnError, match="rank 99 is not on the leaderboard"):
        result.cell(99)
    again = evo_rnn.search.run(**options)  # resumed: nothing new
    assert [row.arch for row in again.leaderboard] == [row.arch for row in result.leaderboard]
    # The corpus moves: the run resumes from its new path, trains nothing and reads it from there on.
    database = tmp_path / "runs" / "mine" / "search.sqlite"
    count = lambda: sqlite3.connect(database).execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    trained, moved = count(), tmp_path / "moved" / "corpus.txt"
    moved.parent.mkdir()
    corpus.rename(moved)
    resumed = evo_rnn.search.run(**{**options, "tasks": [f"text:{moved}"]})
    assert [row.arch for row in resumed.leaderboard] == [row.arch for row in result.leaderboard]
    assert count() == trained
    with Store(database, readonly=True) as store:
        assert RunSettings.load(store).resolved_preset().search.tasks == (f"text:{moved}",)
    moved.write_text(moved.read_text() + " edited", encoding="utf-8")  # changed content: another task
    with pytest.raises(EvoRnnError, match="a task file may move, not change"):
        evo_rnn.search.run(**{**options, "tasks": [f"text:{moved}"]})
    assert count() == trained
    # The best cell in a model of one's own: it trains.
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(30, 16),
            result.layer(rank=1, units=16, return_sequences=True, seed=3),
            keras.layers.Dense(30),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.5), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x = np.random.default_rng(0).integers(0, 30, size=(64, 12))
    y = np.roll(x, 1, axis=1)  # the previous token: learnable by a recurrent cell
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert np.isfinite(history).all() and history[-1] < history[0]


def test_bad_input_raises_the_commands_one_line_error(tmp_path):
    with pytest.raises(EvoRnnError, match="does not exist"):
        evo_rnn.search.run(tasks=[f"text:{tmp_path / 'nope.txt'}"], run="x", runs_dir=tmp_path / "runs", progress=False)
    with pytest.raises(
        EvoRnnError,
        match="invalid options for python -m evo_rnn.search: argument --top: expected a whole number >= 1, got 0",
    ):
        evo_rnn.search.run(run="x", runs_dir=tmp_path / "runs", top=0, progress=False)
    with pytest.raises(EvoRnnError, match="tasks is empty; give at least one"):
        evo_rnn.search.run(tasks=[], run="x", runs_dir=tmp_path / "runs", progress=False)
    with pytest.raises(EvoRnnError, match="set must be a list of FIELD=VALUE strings"):
        evo_rnn.search.run(run="x", runs_dir=tmp_path / "runs", set=None, progress=False)
    assert not (tmp_path / "runs").exists()
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(EvoRnnError, match="afile is a file; give --runs-dir a folder"):
        evo_rnn.search.run(run="x", runs_dir=tmp_path / "afile" / "runs", progress=False)
    assert (tmp_path / "afile").read_text() == "mine"
