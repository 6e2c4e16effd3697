"""The evaluation service with the fake evaluator: results in order, the cache (a second run
trains nothing), identical requests joined, packing by group and shape, retries of a lost
worker, a read-only store never written, the keep rule, and retraining a cached request."""

from __future__ import annotations

import dataclasses
import random

import pytest

from evo_rnn.cells import zoo
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.executors import InlineExecutor, WorkerLostError
from evo_rnn.runs.run import RunFiles
from evo_rnn.runs.service import Evaluations, Request
from evo_rnn.runs.store import Store
from evo_rnn.training import hyperparameters, presets
from evo_rnn.training.results import Status

from conftest import FakeEvaluator, SavesModels

QUICK = presets.get("quick")
BATCHED = presets.with_overrides(QUICK, ["engine=batched"])


def configs(count: int, seed: int = 0) -> list[hyperparameters.HParams]:
    """`count` configurations of one shape (one layer, the quick budget)."""
    rng = random.Random(seed)
    drawn = [hyperparameters.sample(rng, QUICK.budget("arith")) for _ in range(count)]
    return [dataclasses.replace(config, num_layers=1) for config in drawn]


def requests(store, cell="gru", task="arith", count=3, preset=QUICK, **fields) -> list[Request]:
    arch = store.add_architecture(zoo.get(cell), origin="seed")
    return [Request(arch, task, config, seed=7, preset=preset, **fields) for config in configs(count)]


def test_results_come_in_order_and_a_second_run_answers_from_the_cache(store):
    fake = FakeEvaluator()
    asked = requests(store, count=3)
    service = Evaluations(store, InlineExecutor(fake))
    first = service.run(asked)
    assert [r.hparams for r in first] == [q.hparams.to_dict() for q in asked]
    assert service.trained == 3 and len(fake.calls) == 3 and store.evaluation_count() == 3
    again = Evaluations(store, InlineExecutor(fake))
    assert again.run(asked) == first and again.trained == 0 and again.cache_hits == 3 and len(fake.calls) == 3


def test_identical_requests_are_joined_and_trained_once(store):
    fake = FakeEvaluator()
    one = requests(store, count=1)[0]
    results = Evaluations(store, InlineExecutor(fake)).run([one, one, one])
    assert len(fake.calls) == 1 and results[0] == results[1] == results[2]


def test_requests_are_packed_by_group_and_shape_up_to_the_job_size(store):
    fake = FakeEvaluator()
    gru = requests(store, "gru", count=5, preset=BATCHED)
    lstm = requests(store, "lstm", count=2, preset=BATCHED)
    later = [dataclasses.replace(r, group=1, seed=8) for r in gru[:2]]
    service = Evaluations(store, InlineExecutor(fake), members_per_job=4)
    results = service.run(gru + lstm + later)
    assert all(r.status == Status.OK for r in results)
    sizes = [(job.arch, len(job.hparams), job.seeds[0]) for job in fake.jobs]
    gru_key, lstm_key = gru[0].arch, lstm[0].arch
    # group 0 first: the GRU's five in jobs of at most four, the LSTM's two alone; then group 1.
    assert sizes == [(gru_key, 4, 7), (lstm_key, 2, 7), (gru_key, 2, 8)]
    assert len(fake.calls) == 9  # the GRU's fifth ran alone, as a plain job


def test_batched_jobs_need_the_batched_engine(store):
    service = Evaluations(store, InlineExecutor(FakeEvaluator()), members_per_job=2)
    with pytest.raises(EvoRnnError, match="engine=batched"):
        service.run(requests(store, count=2))


def test_a_lost_worker_is_retried_and_after_the_last_retry_recorded_as_failed(store):
    deaths = {"count": 0}

    def dies_once(job):
        if deaths["count"] < 1:
            deaths["count"] += 1
            raise WorkerLostError("killed by the OOM killer")
        return FakeEvaluator()(job)

    events: list[str] = []
    recovered = Evaluations(store, InlineExecutor(dies_once), on_event=lambda kind, _: events.append(kind))
    result = recovered.run(requests(store, count=1))[0]
    assert result.ok and result.attempts == 2 and "attempt 2" in result.message and events.count("retry") == 1

    def always_dies(job):
        raise WorkerLostError("segfault")

    lost = Evaluations(store, InlineExecutor(always_dies), max_retries=2)
    failed = lost.run(requests(store, "lstm", count=1))[0]
    assert failed.status == Status.FAILED and "died 3 times: segfault" in failed.message
    assert store.cached(requests(store, "lstm", count=1)[0].key).status == Status.FAILED


def test_a_read_only_store_is_never_written(tmp_path):
    path = tmp_path / "search.sqlite"
    with Store(path) as writable:
        asked = requests(writable, count=2)
    with Store(path, readonly=True) as readonly:
        results = Evaluations(readonly, InlineExecutor(FakeEvaluator())).run(asked)
        assert all(r.ok for r in results) and readonly.evaluation_count() == 0


def test_models_are_kept_by_the_drivers_rule_and_the_others_deleted(store, tmp_path):
    files = RunFiles("tiny", tmp_path / "runs")
    asked = requests(store, count=3, keep_model=True)
    first, second, third = (request.key for request in asked)
    worth = {first.hparams}  # the driver's rule: what is worth keeping, asked after each result

    def rule(arch, task):
        assert (arch, task) == (first.arch, first.task)
        return worth

    service = Evaluations(store, InlineExecutor(SavesModels()), run_files=files, keep=rule)
    service.run(asked)
    kept = sorted(files.models.rglob("*.keras"))
    assert kept == [files.kept_model(first.arch, first.task, first.hparams)]
    assert not list(files.pending.glob("*.keras"))  # the two the rule refused are gone
    # The rule changes its mind: the first is no longer worth keeping and is deleted, the one just
    # trained is kept; a model of another task, and a file the run did not write, are left alone.
    other_task = files.kept_model(first.arch, "xml", first.hparams)
    other_task.write_text("a model of another task")
    users = files.models / first.arch / "notes.txt"
    users.write_text("the user's")
    worth = {third.hparams}
    Evaluations(store, InlineExecutor(SavesModels()), run_files=files, keep=rule).run(
        [dataclasses.replace(asked[2], retrain=True)]
    )
    assert sorted(files.models.rglob("*.keras")) == sorted(
        [files.kept_model(third.arch, third.task, third.hparams), other_task]
    )
    assert users.read_text() == "the user's" and second.hparams not in worth


def test_retrain_trains_a_cached_request_again_and_keeps_the_first_record(store, tmp_path):
    fake = FakeEvaluator()
    one = requests(store, count=1)[0]
    first = Evaluations(store, InlineExecutor(fake)).run([one])[0]
    files = RunFiles("tiny", tmp_path / "runs")
    again = Evaluations(store, InlineExecutor(SavesModels()), run_files=files)
    again.run([dataclasses.replace(one, retrain=True, keep_model=True)])
    assert again.trained == 1 and store.evaluation_count() == 1 and store.cached(one.key) == first
    assert files.kept_model(one.key.arch, one.key.task, one.key.hparams).is_file()
