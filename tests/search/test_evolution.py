"""The paper's search algorithm (`evo_rnn.search.evolution`): seeding, the filter, the gate, the
population, re-evaluation, successive halving, the strategies."""

from __future__ import annotations

import collections
import dataclasses
import json
import random
import statistics

import networkx as nx
import pytest

from evo_rnn.cells import file_format, zoo
from evo_rnn.cells.hashing import same_architecture, structural_hash
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.run import RunFiles
from evo_rnn.runs.seeds import confirm_seeds, replicate_seed
from evo_rnn.runs.store import Store
from evo_rnn.scoring.paper_scores import BaselineError, Scores
from evo_rnn.search.evolution import Evolution
from evo_rnn.training import presets
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.presets import preset_key
from evo_rnn.training.results import CacheKey, EvalResult, Status

from conftest import FakeEvaluator, NoisyEvaluator, NoisySaver, best_by_task, make_search, run_search, search_preset


def test_seeds_are_evaluated_on_every_task_and_scored_against_the_gru(store):
    preset = search_preset()
    evaluate = FakeEvaluator()
    run_search(store, preset, evaluate, max_candidates=0)
    gru = store.find_architecture(zoo.get("gru"))
    lstm = store.find_architecture(zoo.get("lstm"))
    per_arch_task = collections.Counter((arch, task) for arch, task, _, _ in evaluate.calls)
    # N configs per task, and on the filter task (for their children's inherited filter config)
    assert per_arch_task == {(a, t): 3 for a in (gru, lstm) for t in ("memorize", "arith", "xml")}
    # LSTM: 0.4/0.5 on arith, 0.66/0.6 on xml -> the minimum, 0.8 (the best config has lr >= 1 here)
    population = store.population()
    assert population[gru] == pytest.approx(1.0)
    lstm_best = best_by_task(store, lstm, preset)
    gru_best = best_by_task(store, gru, preset)
    assert population[lstm] == pytest.approx(min(lstm_best[t] / gru_best[t] for t in ("arith", "xml")))
    assert [s["outcome"] for s in store.steps()] == ["seeded", "seeded"]


def test_children_pass_the_filter_then_the_first_task_then_the_rest(store):
    preset = search_preset(reevaluate_probability=0.0)
    run_search(store, preset, max_candidates=40)
    scores = Evolution(store, preset).scores
    outcomes = collections.Counter()
    for step in store.steps():
        if step["kind"] != "mutate" or step["outcome"] == "duplicate":
            continue
        outcomes[step["outcome"]] += 1
        tasks_run = {row["task"] for row in store.evaluations(arch=step["arch"])}
        best = best_by_task(store, step["arch"], preset)
        if step["outcome"] == "filtered":
            assert tasks_run == {"memorize"} and best.get("memorize", 0) < 0.3
        elif step["outcome"] == "rejected":
            assert tasks_run == {"memorize", "arith"}
            assert best["arith"] / scores.baseline("arith") < 0.9 and best["memorize"] >= 0.3
        else:
            assert step["outcome"] in ("accepted", "evaluated")
            assert tasks_run == {"memorize", "arith", "xml"}
            assert best["arith"] / scores.baseline("arith") >= 0.9
            assert step["score"] == pytest.approx(min(best[t] / scores.baseline(t) for t in ("arith", "xml")))
    assert outcomes["filtered"] and outcomes["rejected"] and outcomes["accepted"], outcomes  # every path taken


def test_children_inherit_their_parents_best_configuration(store):
    preset = search_preset(reevaluate_probability=0.0)
    run_search(store, preset, max_candidates=15)
    scores = Evolution(store, preset).scores
    checked = 0
    for step in store.steps():
        if step["kind"] != "mutate" or step["outcome"] in ("duplicate", "unmutable"):
            continue
        child, parent = step["arch"], step["parent"]
        child_configs = {(r["task"], json.dumps(r["hparams"], sort_keys=True)) for r in store.evaluations(arch=child)}
        parent_arith = scores.best_result(parent, "arith").hparams
        parent_memorize = scores.best_result(parent, "memorize")
        inherited = parent_memorize.hparams if parent_memorize else {**parent_arith, "param_budget": 8000}
        assert ("memorize", json.dumps(inherited, sort_keys=True)) in child_configs
        if step["outcome"] != "filtered":
            assert ("arith", json.dumps(parent_arith, sort_keys=True)) in child_configs
            assert sum(task == "arith" for task, _ in child_configs) == 3  # plus random ones up to N
        checked += 1
    assert checked >= 10


def test_the_population_keeps_the_best_k(store):
    preset = search_preset(population_size=3)
    search = run_search(store, preset, max_candidates=30)
    population = store.population()
    assert len(population) == 3
    scored = {s["arch"] for s in store.steps() if s["outcome"] in ("accepted", "evaluated", "seeded", "reevaluated")}
    every = sorted((search.evolution.overall_score(a) for a in scored), reverse=True)
    assert sorted(population.values(), reverse=True) == pytest.approx(every[:3])
    assert all(population[a] == pytest.approx(search.evolution.overall_score(a)) for a in population)


def test_a_child_seen_before_is_skipped_without_training(store):
    preset = search_preset(reevaluate_probability=0.0)
    gru = zoo.get("gru")
    renamed = nx.relabel_nodes(gru, {n: f"n_{n}" for n in gru})  # the GRU under other names
    evaluate = FakeEvaluator()
    search = make_search(store, preset, evaluate, mutate=lambda graph, rng: (renamed.copy(), []), max_candidates=1)

    def stop_after_six_steps(kind, data):  # every child is a duplicate: max_candidates is never reached
        if kind == "step" and data["id"] >= 6:
            search.evolution.max_candidates = 0

    search.on_event = stop_after_six_steps
    search.run(tick=0)
    steps = store.steps()
    assert [s["outcome"] for s in steps[2:]] == ["duplicate"] * (len(steps) - 2) and len(steps) >= 6
    assert len(evaluate.calls) == 18  # the seeds' evaluations only
    assert search.counts()["duplicate"] == len(steps) - 2 and search.counts()["candidates"] == 0


def test_same_seed_same_search_and_another_seed_another(tmp_path):
    preset = search_preset()

    def outline(seed: int, name: str) -> list[tuple]:
        with Store(tmp_path / f"{name}.sqlite") as s:
            run_search(s, preset, seed=seed, max_candidates=10)
            return [(x["kind"], x["arch"], x["outcome"], x["score"]) for x in s.steps()]

    assert outline(0, "a") == outline(0, "b")
    assert outline(0, "a") != outline(1, "c")


def test_a_gru_that_never_trains_on_a_task_stops_the_search_with_the_fix(store):
    preset = search_preset()
    gru = file_format.dumps(zoo.get("gru"))
    evaluate = FakeEvaluator(lambda job: "diverged" if job.task == "xml" and job.graph == gru else None)
    with pytest.raises(BaselineError, match="GRU baseline has no successful evaluation on 'xml'.*configs_per_task"):
        run_search(store, preset, evaluate)
    assert sum(1 for c in evaluate.calls if c[1] == "xml") >= 3 * 3  # it tried more rounds first


def test_seed_cells_take_more_filter_configurations_until_one_passes_and_children_inherit_it(store):
    preset = search_preset()
    bank = presets.sample_configs(preset, "memorize", 9, 0)  # the run's filter bank (seed 0)
    passing = bank[4]  # in the second round of 3

    class HardFilter(FakeEvaluator):
        def one(self, job):
            result = super().one(job)
            if job.task != "memorize" or not result.ok:
                return result
            score = 0.5 if HParams.from_dict(json.loads(job.hparams)) == passing else 0.1
            return dataclasses.replace(result, valid_score=score, test_score=score)

    evaluate = HardFilter()
    run_search(store, preset, evaluate, max_candidates=3)
    for cell in ("gru", "lstm"):
        arch = store.find_architecture(zoo.get(cell))
        tried = [HParams.from_dict(json.loads(c[2])) for c in evaluate.calls if c[0] == arch and c[1] == "memorize"]
        assert tried == bank[:6]  # two rounds: the second one passed, so no third
    children = {c[0] for c in evaluate.calls if c[1] == "memorize"} - {
        store.find_architecture(zoo.get(cell)) for cell in ("gru", "lstm")
    }
    assert children
    for child in children:  # every child takes the filter first with the configuration its parent passed with
        first = next(c for c in evaluate.calls if c[0] == child and c[1] == "memorize")
        assert HParams.from_dict(json.loads(first[2])) == passing


def test_the_cache_key_ignores_search_knobs_but_not_training_settings():
    quick = presets.get("quick")
    assert preset_key(search_preset(configs_per_task=7)) == preset_key(quick)
    assert preset_key(presets.with_overrides(quick, ["max_epochs=3"])) != preset_key(quick)


def test_keys_stored_before_the_file_tasks_existed_stay_valid_and_their_settings_still_count():
    # The built-in presets' keys as stored since TASK_VERSION 2 (commit b498b8a), before the
    # text and npz settings and budgets were added: a run made then is not retrained.
    assert {name: preset_key(p) for name, p in presets.PRESETS.items()} == {
        "quick": "quick-9fa82d077ba0",
        "paper": "paper-4b7040c7e9f8",
    }
    quick = presets.get("quick")
    for override in ("text.seq_len=20", "npz.max_sequences=9", "budgets.text=30", "budgets.custom=30"):
        assert preset_key(presets.with_overrides(quick, [override])) != preset_key(quick), override


def test_a_gru_whose_best_score_is_zero_stops_the_search_at_seeding_and_says_so(store):
    preset = search_preset()
    gru = file_format.dumps(zoo.get("gru"))
    evaluate = FakeEvaluator()
    real = evaluate.quality

    def zero_for_the_gru_on_xml(graph, task):
        return 0.0 if task == "xml" and file_format.dumps(graph) == gru else real(graph, task)

    evaluate.quality = zero_for_the_gru_on_xml
    with pytest.raises(BaselineError, match="best score on 'xml' is 0.*no ratio"):
        run_search(store, preset, evaluate)
    assert sum(1 for c in evaluate.calls if c[1] == "xml" and c[0] == store.find_architecture(zoo.get("gru"))) == 9
    assert not [s for s in store.steps() if s["kind"] == "mutate"]  # it stopped before any child


def test_mutate_is_injected_and_an_unmutable_parent_is_recorded(store):
    from evo_rnn.cells.mutation import MutationError

    preset = search_preset(reevaluate_probability=0.0)
    calls = []

    def never(graph, rng):
        calls.append(graph)
        raise MutationError("no valid child in 3 attempts")

    search = make_search(store, preset, mutate=never, max_candidates=1)

    def stop_after_four_steps(kind, data):
        if kind == "step" and data["id"] >= 4:
            search.evolution.max_candidates = 0

    search.on_event = stop_after_four_steps
    search.run(tick=0)
    assert calls and [s["outcome"] for s in store.steps()[2:]] == ["unmutable"] * len(calls)


def test_every_cell_and_the_gru_train_on_the_same_bank_configurations_and_ratios_pair_them(store):
    preset = search_preset(reevaluate_probability=0.0)
    evaluate = FakeEvaluator()
    run_search(store, preset, evaluate, max_candidates=4)
    gru = store.find_architecture(zoo.get("gru"))
    bank = {t: [c.to_json() for c in presets.sample_configs(preset, t, 8, 0)] for t in ("arith", "xml")}
    for task in ("arith", "xml"):
        by_arch = collections.defaultdict(set)
        for arch, t, config, _ in evaluate.calls:
            if t == task:
                by_arch[arch].add(config)
        for configs in by_arch.values():
            assert configs <= by_arch[gru]  # the GRU trained on every configuration a cell trained on
        assert set(bank[task][:3]) <= by_arch[gru]  # the seeds: the bank's first N
    # A ratio divides by the GRU's best on the arch's own configurations, not on every configuration.
    store.add_architecture(zoo.get("gru"), "zoo:gru")  # as the search does: Scores only reads
    scores = Scores(store, preset, 0)
    cell = next(a for a in store.population() if a != gru)
    mine = {c: s[0] for c, s in store.scores_by_config(cell, "arith", scores.preset_key, 0).items()}
    theirs = {c: s[0] for c, s in store.scores_by_config(gru, "arith", scores.preset_key, 0).items()}
    assert scores.ratios(cell)["arith"] == pytest.approx(max(mine.values()) / max(theirs[c] for c in mine))
    assert scores.paired_baseline(gru, "arith") == max(theirs.values())


def test_a_cell_that_fails_a_task_never_enters_the_population_however_empty(store):
    # A child that scores 0 on the second task (every run there fails) is evaluated but not
    # accepted, though the population has free places.
    failing = FakeEvaluator(
        fail=lambda job: (
            Status.FAILED
            if job.task == "xml"
            and not any(same_architecture(file_format.loads(job.graph), zoo.get(n)) for n in ("gru", "lstm"))
            else None
        )
    )
    preset = search_preset(first_task_ratio=0.0, filter_threshold=0.0, reevaluate_probability=0.0)
    run_search(store, preset, failing, max_candidates=3)
    outcomes = [s["outcome"] for s in store.steps() if s["kind"] == "mutate"]
    assert outcomes and "accepted" not in outcomes and "evaluated" in outcomes
    assert len(store.population()) == 2  # the seeds only


def test_the_random_strategy_draws_children_of_the_seed_cells_never_selected_by_score(store):
    # Children that would enter the population (a fake quality up to 0.8 against the GRU's
    # scores) never become parents: every child's parent is the LSTM or the GRU.
    preset = search_preset(strategy="random", reevaluate_probability=0.0, filter_threshold=0.0, first_task_ratio=0.0)
    run_search(store, preset, FakeEvaluator(), max_candidates=8)
    seeds = {store.find_architecture(zoo.get(name)) for name in ("lstm", "gru")}
    children = [s for s in store.steps() if s["kind"] == "mutate"]
    assert len(children) >= 8 and {step["parent"] for step in children} == seeds
    assert len(store.population()) > 2  # children did score and enter; none was a parent
    with pytest.raises(
        Exception, match="setting search.strategy='hill' is not allowed: it must be one of evolution, random"
    ):
        search_preset(strategy="hill")


def test_the_two_strategies_draw_independent_children_from_the_first_mutation_on(tmp_path):
    # On one seed both strategies start from the same population (the seed cells), so with one
    # random stream their first children were the same cell: a comparison of two identical samples.
    firsts = {}
    for strategy in ("evolution", "random"):
        preset = search_preset(strategy=strategy, reevaluate_probability=0.0)
        with Store(tmp_path / f"{strategy}.sqlite") as store:
            run_search(store, preset, FakeEvaluator(), seed=3, max_candidates=3)
            children = sorted((s for s in store.steps() if s["kind"] == "mutate" and s["arch"]), key=lambda s: s["id"])
            firsts[strategy] = [structural_hash(store.architecture(s["arch"])) for s in children]
    assert len(firsts["evolution"]) >= 3 and len(firsts["random"]) >= 3
    assert firsts["evolution"][0] != firsts["random"][0]
    assert not set(firsts["evolution"]) & set(firsts["random"])


def test_the_mutation_rate_is_a_preset_field_and_fewer_mutations_follow_a_lower_rate(store):
    from evo_rnn.cells import mutation

    lstm = zoo.get("lstm")
    counts = {
        rate: [len(mutation.mutate(lstm, random.Random(i), max_rate=rate)[1]) for i in range(40)] for rate in (1.0, 0.1)
    }
    mean = {rate: sum(c) / len(c) for rate, c in counts.items()}
    assert mean[0.1] < 2.5 and mean[1.0] > 3 * mean[0.1], mean
    with pytest.raises(Exception, match="search.max_mutation_rate=0"):
        search_preset(max_mutation_rate=0)
    evolution = Evolution(store, search_preset(max_mutation_rate=0.25))
    assert evolution.mutate.keywords == {"max_rate": 0.25}


def test_successive_halving_trains_many_configs_briefly_and_the_best_fully(store):
    preset = search_preset(
        halving_configs=4,
        halving_epochs=2,
        configs_per_task=2,
        reevaluate_probability=0.0,
        filter_threshold=0.0,
        first_task_ratio=0.0,
    )
    trained = []

    class Recording(FakeEvaluator):
        def one(self, job):
            trained.append((job.arch, job.task, job.hparams, job.preset.max_epochs))
            return super().one(job)

    evaluate = Recording()
    run_search(store, preset, evaluate, max_candidates=2)
    gru = store.find_architecture(zoo.get("gru"))
    for task in ("arith", "xml"):
        bank = [c.to_json() for c in presets.sample_configs(preset, task, 4, 0)]
        brief = {c for a, t, c, e in trained if a == gru and t == task and e == 2}
        full = {c for a, t, c, e in trained if a == gru and t == task and e == preset.max_epochs}
        assert set(bank) <= brief  # rung 0 of its seed step: the bank's first 4, for 2 epochs
        fake = {
            c: evaluate.quality(zoo.get("gru"), task) * (1.0 if json.loads(c)["learning_rate"] >= 1 else 0.9)
            for c in bank
        }
        assert set(sorted(bank, key=lambda c: (-fake[c], bank.index(c)))[:2]) <= full  # rung 1: the best 2, fully
    # Scores read full training only: a brief rung is cached under its own key.
    store.add_architecture(zoo.get("gru"), "zoo:gru")  # as the search does: Scores only reads
    scores = Scores(store, preset, 0)
    fully = {c for a, t, c, e in trained if a == gru and t == "arith" and e == preset.max_epochs}
    assert set(store.scores_by_config(gru, "arith", scores.preset_key, 0)) == fully


def test_the_rung_promotes_by_validation_loss_when_accuracies_tie(store):
    # After a brief rung every configuration sits on one accuracy plateau (always predicting one
    # digit): a sort by accuracy would promote the bank's first ones. The lowest losses go on.
    preset = search_preset(
        halving_configs=4,
        halving_epochs=2,
        configs_per_task=2,
        reevaluate_probability=0.0,
        filter_threshold=0.0,
        first_task_ratio=0.0,
    )
    loss = {}
    trained = []

    class Plateau(FakeEvaluator):
        def one(self, job):
            result = super().one(job)
            if job.preset.max_epochs != 2:
                trained.append((job.arch, job.task, job.hparams))
                return result
            loss[job.hparams] = random.Random(job.hparams).uniform(1.0, 2.0)
            return dataclasses.replace(result, valid_score=0.25554, valid_metrics={"nll": loss[job.hparams]})

    run_search(store, preset, Plateau(), max_candidates=0)
    gru = store.find_architecture(zoo.get("gru"))
    for task in ("arith", "xml"):
        bank = [c.to_json() for c in presets.sample_configs(preset, task, 4, 0)]
        lowest = sorted(bank, key=lambda c: loss[c])[:2]
        assert lowest != bank[:2]  # the test means something: ties in bank order would fail it
        assert {c for a, t, c in trained if a == gru and t == task} == set(lowest)


def test_the_paired_baseline_covers_a_cells_whole_first_rung_pool(store):
    # A cell tried briefly on configs a, b, c promoted only a, on which the GRU fails too: its
    # ratio is to the GRU's best over the whole pool (0.8 on b), not 1.0 for failing alongside it.
    preset = search_preset(halving_configs=3, halving_epochs=2, configs_per_task=1)
    store.add_architecture(zoo.get("gru"), "zoo:gru")  # as the search does: Scores only reads
    scores = Scores(store, preset, 0)
    cell = store.add_architecture(zoo.get("tanh"), "zoo:tanh")
    a, b, c = [
        HParams(init_scale=1.0, learning_rate=lr, max_grad_norm=5.0, num_layers=1, param_budget=20000)
        for lr in (0.1, 1.0, 2.0)
    ]

    def put(arch, config, key, score):
        result = EvalResult(
            status=Status.OK, task="arith", preset="quick", seed=0, hparams=config.to_dict(), valid_score=score
        )
        store.record(CacheKey(arch, "arith", config.to_json(), 0, key), result)

    for config in (a, b, c):
        put(cell, config, scores.rung_key, 0.2)
        put(scores.baseline_arch, config, scores.rung_key, 0.5)
    put(cell, a, scores.preset_key, 0.25)
    put(scores.baseline_arch, a, scores.preset_key, 0.25)  # the cell's promoted config: the GRU fails there too
    put(scores.baseline_arch, b, scores.preset_key, 0.8)  # the GRU's own promoted config from the same pool
    assert scores.paired_baseline(cell, "arith") == 0.8
    assert scores.ratios(cell, ["arith"])["arith"] == pytest.approx(0.25 / 0.8)


def test_a_configuration_scores_its_mean_over_seeds_so_a_lucky_draw_loses_its_place(store):
    # The LSTM's config a scored 0.9 with the run's seed (lucky) and 0.5 on its first replicate
    # seed, and the GRU's paired config is averaged the same way. The interval over seeds pairs
    # a's replicate seeds with the GRU's, without the run's seed a was chosen on. Config b scored
    # 0.85 once: b is now its best (0.85 > a's mean 0.7 over three seeds).
    preset = search_preset()
    store.add_architecture(zoo.get("gru"), "zoo:gru")  # as the search does: Scores only reads
    scores = Scores(store, preset, 7)
    lstm = store.add_architecture(zoo.get("lstm"), "zoo:lstm")
    a, b = [
        HParams(init_scale=1.0, learning_rate=lr, max_grad_norm=5.0, num_layers=1, param_budget=20000)
        for lr in (0.5, 1.5)
    ]
    replicate = replicate_seed(7, 0)
    assert replicate not in (7, *confirm_seeds(7, 100))

    def put(arch, config, seed, score):
        result = EvalResult(
            status=Status.OK,
            task="arith",
            preset="quick",
            seed=seed,
            hparams=config.to_dict(),
            valid_score=score,
            test_score=score,
        )
        store.record(CacheKey(arch, "arith", config.to_json(), seed, scores.preset_key), result)

    put(lstm, a, 7, 0.9)
    put(scores.baseline_arch, a, 7, 1.0)
    put(scores.baseline_arch, b, 7, 0.8)
    assert not scores.chose_on_run_seed(lstm, "arith")  # one configuration: nothing was chosen on seed 7
    put(lstm, dataclasses.replace(a, learning_rate=0.1), 7, 0.2)  # a second one, which lost: a was chosen on seed 7
    assert scores.chose_on_run_seed(lstm, "arith")
    assert scores.best_config(lstm, "arith") == a.to_json() and scores.task_score(lstm, "arith") == 0.9
    put(lstm, a, replicate, 0.5)
    put(scores.baseline_arch, a, replicate, 0.6)
    assert scores.task_score(lstm, "arith") == pytest.approx(0.7)  # a's mean; b untried
    assert scores.seeds_on_best(lstm, "arith") == 2
    assert scores.paired_baseline(lstm, "arith") == pytest.approx(0.8)  # the GRU's a: (1.0 + 0.6) / 2
    assert scores.search_interval(lstm, "arith") is None  # one seed besides the run's, which chose the config
    second = replicate_seed(7, 1)
    put(lstm, a, second, 0.7)
    put(scores.baseline_arch, a, second, 0.8)
    interval = scores.search_interval(lstm, "arith")  # over the replicates only
    assert interval.mean == pytest.approx((0.5 + 0.7) / (0.6 + 0.8)) and interval.n == 2  # a ratio of means
    put(lstm, b, 7, 0.85)
    assert scores.best_config(lstm, "arith") == b.to_json() and scores.task_score(lstm, "arith") == 0.85
    assert scores.best_result(lstm, "arith").hparams == b.to_dict()
    assert scores.search_interval(lstm, "arith") is None  # b has one seed


def test_a_cell_given_one_configuration_counts_every_seed_and_pairs_its_ratio_by_seed(store):
    # Nothing was chosen on the run's seed, so the interval keeps it; the ratio is of the means over
    # the seeds both cells share, not over the GRU's other seeds.
    preset = search_preset()
    store.add_architecture(zoo.get("gru"), "zoo:gru")
    scores = Scores(store, preset, 7)
    lstm = store.add_architecture(zoo.get("lstm"), "zoo:lstm")
    a = HParams(init_scale=1.0, learning_rate=1.0, max_grad_norm=5.0, num_layers=1, param_budget=20000)
    for arch, seed, score in [
        (lstm, 7, 0.9),
        (lstm, replicate_seed(7, 0), 0.5),
        (scores.baseline_arch, 7, 1.0),
        (scores.baseline_arch, replicate_seed(7, 0), 0.6),
        (scores.baseline_arch, replicate_seed(7, 1), 0.1),  # a seed the LSTM lacks: outside its ratio
    ]:
        result = EvalResult(
            status=Status.OK, task="arith", preset="quick", seed=seed, hparams=a.to_dict(), valid_score=score
        )
        store.record(CacheKey(arch, "arith", a.to_json(), seed, scores.preset_key), result)
    assert scores.ratios(lstm, ["arith"])["arith"] == pytest.approx((0.9 + 0.5) / (1.0 + 0.6))
    interval = scores.search_interval(lstm, "arith")
    assert interval.n == 2 and interval.mean == pytest.approx((0.9 + 0.5) / (1.0 + 0.6))


def test_the_gru_is_never_re_evaluated_its_ratio_is_one_by_definition(store):
    preset = search_preset(reevaluate_probability=0.9, filter_threshold=0.0, first_task_ratio=0.0)
    run_search(store, preset, NoisyEvaluator(), max_candidates=3)
    gru = store.find_architecture(zoo.get("gru"))
    again = [s["arch"] for s in store.steps() if s["kind"] == "reevaluate"]
    assert len(again) >= 10 and gru not in again


def test_a_reevaluation_trains_a_members_best_configs_and_the_grus_paired_ones_on_a_fresh_seed(store):
    preset = search_preset(reevaluate_probability=0.5)
    evaluate = NoisyEvaluator()
    run_search(store, preset, evaluate, seed=3, max_candidates=4)
    steps = [s for s in store.steps() if s["kind"] == "reevaluate"]
    assert steps and all(s["outcome"] == "reevaluated" for s in steps)
    store.add_architecture(zoo.get("gru"), "zoo:gru")  # as the search does: Scores only reads
    scores = Scores(store, preset, 3)
    runs = collections.defaultdict(dict)  # (arch, task, config) -> {seed: score}
    for arch, task, config, seed in evaluate.calls:
        cached = store.cached(CacheKey(arch, task, config, seed, scores.preset_key))
        runs[arch, task, config][seed] = cached.valid_score
    replicated = {(k, seed) for k, seeds in runs.items() for seed in seeds if seed != 3}
    assert replicated  # the re-evaluations trained fresh seeds ...
    for (arch, task, config), seed in replicated:
        assert seed == replicate_seed(3, len([s for s in runs[arch, task, config] if s < seed]) - 1)
        assert 3 in runs[arch, task, config]  # ... of configurations trained before, not new ones
        assert any(a == scores.baseline_arch and t == task and seed in s for (a, t, _), s in runs.items())
    for arch in store.population():
        for task in ("arith", "xml"):
            means = [sum(s.values()) / len(s) for (a, t, _), s in runs.items() if a == arch and t == task]
            assert scores.task_score(arch, task) == pytest.approx(max(means))


def test_the_best_configurations_model_is_kept_whatever_the_replicate_seeds_did(store, tmp_path):
    # Replicate seeds move configurations' means (+-10% per seed here), so a configuration whose
    # model was not the best when it trained can become the best later; the export needs its model.
    preset = search_preset(reevaluate_probability=0.5)
    files = RunFiles("tiny", tmp_path / "runs")
    run_search(store, preset, NoisySaver(), seed=3, max_candidates=6, run_files=files)
    store.add_architecture(zoo.get("gru"), "zoo:gru")  # as the search does: Scores only reads
    scores = Scores(store, preset, 3)
    flipped = 0
    for arch in {row["arch"] for row in store.evaluations()}:
        for task in ("arith", "xml"):
            ranked = scores.ranked_configs(arch, task)
            if not ranked:
                continue
            best = files.kept_model(arch, task, ranked[0])
            assert best.is_file() and best.read_text().endswith(" 3"), (arch, task)  # the run seed's model
            by_seed = scores.config_scores(arch, task)
            flipped += ranked[0] != max(by_seed, key=lambda config: by_seed[config].get(3) or 0.0)
            kept = list((files.models / arch).glob(f"{task}-*.keras"))
            assert len(kept) <= (len(ranked) if arch == scores.baseline_arch else 2)
    assert flipped  # replicate seeds made some configuration the best that was not the best on the run's seed
    assert not list(files.pending.glob("*.keras"))


def test_a_child_is_raced_against_the_gate_on_seeds_paired_with_the_grus(store):
    # 1, 2, then 4 seeds while the one-sided interval holds the gate; at 4 the point estimate decides.
    preset = search_preset(reevaluate_probability=0.0, race_seeds=1, race_max_seeds=4, ratio_sd=0.2)
    run_search(store, preset, NoisyEvaluator(), max_candidates=20)
    store.add_architecture(zoo.get("gru"), "zoo:gru")  # as the search does: Scores only reads
    scores = Scores(store, preset, 0)
    all_seeds = {0, *(replicate_seed(0, r) for r in range(3))}
    for cell in ("gru", "lstm"):  # the seed cells have every seed a race can ask for, on every scored task
        arch = store.find_architecture(zoo.get(cell))
        for task in ("arith", "xml"):
            assert set(scores.config_scores(arch, task)[scores.best_config(arch, task)]) == all_seeds
    children = [
        s for s in store.steps() if s["kind"] == "mutate" and s["outcome"] in ("rejected", "accepted", "evaluated")
    ]
    sizes = collections.Counter()
    for step in children:
        arch = step["arch"]
        mine, gru = scores.paired_seed_scores(arch, "arith")
        n = len(mine)
        sizes[n] += 1
        assert n in (1, 2, 4)
        assert n == scores.seeds_on_best(arch, "arith")  # the GRU's paired configuration has every seed the child has
        ratio = sum(mine) / sum(gru)
        half = 1.6448536 * max(0.2, statistics.stdev([m / g for m, g in zip(mine, gru)]) if n >= 3 else 0) / n**0.5
        passed = step["outcome"] != "rejected"
        if n < 4:  # stopped early: only a child whose interval lay wholly below the gate
            assert not passed and ratio + half < 0.9, (n, ratio, half, step["outcome"])
        else:  # the last size: a clear call, or the point estimate
            assert passed == (ratio - half >= 0.9 or (ratio + half >= 0.9 and ratio >= 0.9))
        if not passed:
            assert step["detail"]["seeds"] == n and step["detail"]["ratio"] == pytest.approx(ratio)
    assert len(sizes) >= 2, sizes  # some races stopped early, others went on


def test_a_race_that_starts_with_more_seeds_than_it_may_end_with_is_refused_in_one_line(store):
    with pytest.raises(EvoRnnError, match=r"search.race_seeds \(4\) is above search.race_max_seeds \(2\)"):
        Evolution(store, search_preset(race_seeds=4, race_max_seeds=2))
