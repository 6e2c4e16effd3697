"""Running the search's steps (`evo_rnn.search.scheduler`): budgets, resumption, lost workers,
batched jobs, the run database's failures."""

from __future__ import annotations

import collections
import json

import pytest

from evo_rnn.cells import zoo
from evo_rnn.runs.executors import WorkerLostError
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.store import Store
from evo_rnn.search.evolution import SearchError, seed_evaluations
from evo_rnn.training import presets

from conftest import FakeEvaluator, Interrupt, SeededFake, make_search, run_search, search_preset


def test_nothing_is_trained_twice_across_runs_sharing_the_store(store):
    preset = search_preset()
    first = FakeEvaluator()
    run_search(store, preset, first, max_candidates=8)
    again = FakeEvaluator()
    search = run_search(store, preset, again, max_candidates=8)  # resumes: the run is complete
    assert again.calls == [] and search.trained == 0
    more = FakeEvaluator()
    search = run_search(store, preset, more, max_candidates=12)  # goes on from where it stopped
    keys = first.calls + more.calls
    assert len(keys) == len(set(keys)) == store.evaluation_count()
    assert search.counts()["candidates"] == 12


def test_an_interrupted_search_resumes_without_losing_or_repeating_evaluations(store):
    preset = search_preset(reevaluate_probability=0.3)
    first = FakeEvaluator()

    def dies_at_call_40(job):
        if len(first.calls) == 40:
            raise Interrupt()
        return None

    first.fail = dies_at_call_40
    with pytest.raises(Interrupt):
        run_search(store, preset, first, max_candidates=10)
    unfinished = store.steps(unfinished=True)
    assert unfinished  # it stopped in the middle of a step
    recorded = {
        (r["arch"], r["task"], json.dumps(r["hparams"], sort_keys=True), r["seed"]) for r in store.evaluations()
    }
    assert len(recorded) == 39  # every evaluation that finished is stored
    resumed = FakeEvaluator()
    search = run_search(store, preset, resumed, max_candidates=10)
    trained = first.calls[:39] + resumed.calls
    assert len(trained) == len(set(trained)) == store.evaluation_count()  # nothing trained twice
    assert search.cache_hits > 0  # the unfinished steps found their finished evaluations in the store
    assert not store.steps(unfinished=True)
    assert all(s["outcome"] for s in store.steps() if s["id"] in {u["id"] for u in unfinished})


def _outcome(store: Store) -> tuple:
    """What a search leaves: its evaluations (key and score) and its steps."""
    evaluations = sorted(
        (r["arch"], r["task"], json.dumps(r["hparams"], sort_keys=True), r["seed"], r["valid_score"])
        for r in store.evaluations()
    )
    return evaluations, [(s["id"], s["kind"], s["arch"], s["outcome"], s["score"]) for s in store.steps()]


def test_a_search_interrupted_at_any_evaluation_resumes_into_the_same_search(tmp_path):
    # Re-evaluations included (a resumed one once asked for one seed more than it had planned).
    preset = search_preset(reevaluate_probability=0.5)
    with Store(tmp_path / "whole.sqlite") as whole:
        run_search(whole, preset, SeededFake(), max_candidates=6)
        expected, total = _outcome(whole), whole.evaluation_count()
    assert any(kind == "reevaluate" for _, kind, *_ in expected[1])
    for cut in range(1, total, 3):
        with Store(tmp_path / f"cut{cut}.sqlite") as store:
            first = SeededFake()

            def dies(job, first=first, cut=cut):
                if len(first.calls) == cut:
                    raise Interrupt()

            first.fail = dies
            with pytest.raises(Interrupt):
                run_search(store, preset, first, max_candidates=6)
            run_search(store, preset, SeededFake(), max_candidates=6)
            assert _outcome(store) == expected, f"interrupted after {cut} of {total} evaluations"


def test_a_lost_worker_is_retried_then_recorded_as_failed(store):
    preset = search_preset()
    attempts = collections.Counter()

    def fail(job):  # on xml, the LSTM's worker always dies, the GRU's once per evaluation
        if job.task == "xml":
            attempts[job.arch, job.hparams] += 1
            if store.lineage(job.arch)["origin"] == "zoo:lstm" or attempts[job.arch, job.hparams] == 1:
                raise WorkerLostError("a worker process died")
        return None

    events = []
    search = make_search(
        store, preset, FakeEvaluator(fail), max_candidates=0, on_event=lambda kind, data: events.append(kind)
    )
    search.run(tick=0)
    lstm = store.find_architecture(zoo.get("lstm"))
    failed = [r for r in store.evaluations(arch=lstm, task="xml") if r["status"] == "failed"]
    assert failed and all("died 3 times" in r["message"] for r in failed)
    gru = store.find_architecture(zoo.get("gru"))
    assert all(r["status"] == "ok" for r in store.evaluations(arch=gru))  # retried once, then fine
    assert events.count("retry") >= 2


def test_the_time_budget_spans_resumptions(store):
    preset = search_preset()
    now = [0.0]

    def ticking(job):
        now[0] += 1.0  # every evaluation takes one fake second
        return None

    search = run_search(store, preset, FakeEvaluator(ticking), budget_seconds=30, clock=lambda: now[0])
    assert 30 <= store.get_meta(MetaKey.ELAPSED_SECONDS) <= 31 and search.trained == 30
    later = FakeEvaluator(ticking)
    run_search(store, preset, later, budget_seconds=30, clock=lambda: now[0])
    assert later.calls == []  # the run's budget is spent
    run_search(store, preset, later, budget_seconds=40, clock=lambda: now[0])
    assert len(later.calls) == 10


def test_when_the_store_fails_its_own_error_is_the_one_raised(store, monkeypatch):
    import sqlite3

    preset = search_preset()

    def broken_record(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    def broken_meta(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    search = make_search(store, preset)  # reads the store's metadata while it still works
    monkeypatch.setattr(store, "record", broken_record)
    monkeypatch.setattr(store, "set_meta", broken_meta)
    monkeypatch.setattr(store, "set_population", broken_meta)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        search.run(tick=0)


def test_the_childrens_counts_add_up_when_the_budget_leaves_steps_unfinished(store):
    preset = search_preset(reevaluate_probability=0.0)
    now = [0.0]

    def ticking(job):
        now[0] += 1.0
        return None

    search = run_search(store, preset, FakeEvaluator(ticking), budget_seconds=60, clock=lambda: now[0])
    counts = search.counts()
    parts = counts["filtered"] + counts["rejected"] + counts["accepted"] + counts["evaluated"] + counts["unfinished"]
    assert counts["candidates"] == parts and counts["candidates"] > 0
    unfinished = [s for s in store.steps(unfinished=True) if s["kind"] == "mutate"]
    assert counts["unfinished"] == len(unfinished)


def test_batched_jobs_group_one_steps_requests_and_change_no_result(tmp_path):
    preset = presets.with_overrides(search_preset(configs_per_task=4), ["engine=batched"])

    def outline(members_per_job: int, name: str) -> tuple[list, FakeEvaluator]:
        evaluate = FakeEvaluator()
        with Store(tmp_path / f"{name}.sqlite") as s:
            run_search(s, preset, evaluate, max_candidates=8, members_per_job=members_per_job)
            return [(x["kind"], x["arch"], x["outcome"], x["score"]) for x in s.steps()], evaluate

    single, one_by_one = outline(1, "single")
    grouped, batched = outline(3, "grouped")
    assert grouped == single  # the same search, step for step
    assert sorted(batched.calls) == sorted(one_by_one.calls)  # the same evaluations, each once
    assert batched.jobs and max(len(job.seeds) for job in batched.jobs) == 3
    for job in batched.jobs:  # one architecture, task and shape per job
        shapes = {(json.loads(h)["num_layers"], json.loads(h)["param_budget"]) for h in job.hparams}
        assert len(shapes) == 1 and len(set(job.hparams)) == len(job.hparams)


def test_batched_jobs_need_the_batched_engine(store):
    with pytest.raises(SearchError, match="engine=batched"):
        make_search(store, search_preset(), members_per_job=4)


@pytest.mark.parametrize("strategy", ["evolution", "random"])
def test_a_budget_in_evaluations_stops_both_strategies_at_the_same_count_and_spans_resumptions(store, strategy):
    preset = search_preset(strategy=strategy, reevaluate_probability=0.0, filter_threshold=0.0, first_task_ratio=0.0)
    search = run_search(store, preset, FakeEvaluator(), max_evaluations=40)
    assert search.out_of_evaluations() and 40 <= store.evaluation_count() <= 40 + search.executor.workers
    assert run_search(store, preset, FakeEvaluator(), max_evaluations=40).trained == 0  # resumed: spent
    run_search(store, preset, FakeEvaluator(), max_evaluations=60)
    assert 60 <= store.evaluation_count() <= 60 + search.executor.workers


def test_a_spent_budget_still_lets_the_seed_cells_finish_so_the_search_has_an_answer(store):
    preset = search_preset(reevaluate_probability=0.0)
    now = [0.0]

    def ticking(job):
        now[0] += 1.0
        return None

    search = run_search(store, preset, FakeEvaluator(ticking), budget_seconds=1, clock=lambda: now[0])
    assert search.out_of_time() and not search.evolution.seeding
    kinds = [step["kind"] for step in store.steps()]
    assert kinds.count("seed") == 2 and "mutate" not in kinds  # the seeds finished; no child started after
    assert set(store.population()) == {store.find_architecture(zoo.get(c)) for c in ("gru", "lstm")}
    counted = run_search(store, preset, FakeEvaluator(), max_evaluations=1)  # the same for an evaluation budget
    assert counted.out_of_evaluations() and "mutate" not in [step["kind"] for step in store.steps()]


def test_the_default_budget_is_in_evaluations_and_can_score_the_seed_cells():
    quick = presets.get("quick")
    assert quick.search.max_evaluations is not None and seed_evaluations(quick) < quick.search.max_evaluations
    # 2 seed cells x (1 filter configuration + 1 task x (1 configuration + 7 more seeds for the races))
    assert seed_evaluations(quick) == 2 * (1 + 1 * (1 + 7))
    # with successive halving (8 brief + 2 promoted) on two tasks and one seed
    halving = presets.with_overrides(
        quick,
        ["search.tasks=arith,xml", "search.configs_per_task=2", "search.halving_configs=8", "search.race_max_seeds=1"],
    )
    assert seed_evaluations(halving) == 2 * (2 + 2 * (8 + 2))
    no_halving = presets.with_overrides(halving, ["search.halving_configs=0"])
    assert seed_evaluations(no_halving) == 2 * (2 + 2 * 2)
