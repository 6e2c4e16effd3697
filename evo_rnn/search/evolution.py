"""The evolutionary search of Jozefowicz et al. (2015), section 3: a population of the best
cells, grown by mutation, filtered cheaply, and scored against the best GRU.

- Configurations come from the run's bank per task (`presets.sample_configs`: learning
  rates stratified over the prior's range), the same for every architecture, and the GRU is
  trained on every configuration any cell is trained on (once: the cache), with the run's
  training seed: every ratio compares a cell and the GRU on the same configurations and seed.
- Start: the seed cells (LSTM and GRU) are evaluated on every task with the bank's first N
  configurations.
- An architecture's score on a task is its best validation score over the configurations
  tried; its ratio is that over the GRU's best on the same configurations, and its overall
  score the minimum over tasks of its ratios (`evo_rnn.scoring.paper_scores`).
- With `strategy="random"` (the random-search baseline) a child's parent is a seed cell (LSTM
  or GRU, uniformly) instead of a population member: children are drawn by the same mutation
  operator and never selected by score; everything else (filter, gate, pairing, halving,
  inherited configurations, re-evaluation, confirmation) is the same.
- The population holds the best `population_size` architectures that scored on every task.
  Each step either *re-evaluates* a random member (its best configuration per task, and the
  GRU's paired one, on a fresh seed: scores are means over seeds), or
  *mutates* a random member: a child already seen is skipped; the child must pass the
  memorization filter, then reach `first_task_ratio` of the GRU on the first task (the
  parent's best config plus the bank's first ones), decided by racing: its best configuration
  and the GRU's paired one train on `race_seeds` seeds, then on twice as many unless the
  ratio's interval lies below the gate, up to `race_max_seeds` (`statistics.race`); then it
  is evaluated on the other tasks and enters the population if its overall score is among the best.
- The seed cells train their best configuration on `race_max_seeds` seeds on every scored
  task, so that the GRU's side of every race is trained once, at the start.

Every step is a generator that reads like the list above: it yields a batch of evaluation
requests and receives their results. Where and when the evaluations run, the cache, and
retries are the scheduler's business (`evo_rnn.search.scheduler`); this module only decides.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable, Generator
from typing import Any

import networkx as nx

from evo_rnn.cells import mutation as _mutate
from evo_rnn.cells import zoo
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.outcomes import CHILD_OUTCOMES, Outcome
from evo_rnn.runs.seeds import check_seed, replicate_seed
from evo_rnn.runs.store import Store
from evo_rnn.scoring.paper_scores import BASELINE, Scores
from evo_rnn.training import presets
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.presets import Preset
from evo_rnn.training.results import EvalResult

__all__ = ["EvalRequest", "Evolution", "Mutator", "SearchError", "Step", "StepOutcome", "StepRun", "seed_evaluations"]

_SEED_ROUNDS = 3  # rounds of N configs a seed cell gets per task before a task with no good run is an error

Mutator = Callable[[nx.DiGraph, random.Random], tuple[nx.DiGraph, list[_mutate.Mutation]]]


class SearchError(EvoRnnError):
    """The search cannot go on (e.g. the GRU baseline never trained successfully on a task)."""


@dataclasses.dataclass(frozen=True)
class EvalRequest:
    """One evaluation a step asks for."""

    arch: str
    task: str
    hparams: HParams
    brief: bool = False  # trained in a successive-halving rung (`Preset.halving_rung`), not fully
    seed: int | None = None  # the training seed: None for the run's, else a replicate seed (`scores.replicate_seed`)


@dataclasses.dataclass(frozen=True)
class StepOutcome:
    """How a step ended, the architecture's overall score, and why."""

    outcome: Outcome
    score: float | None
    detail: dict[str, Any]


Step = Generator[list[EvalRequest], list[EvalResult], StepOutcome]


@dataclasses.dataclass(frozen=True)
class StepRun:
    """A step to drive: its number (it seeds the step's randomness), its kind and its generator."""

    id: int
    kind: str
    generator: Step


def seed_evaluations(preset: Preset) -> int:
    """The evaluations the seed step of every seed cell takes at the least (its first round):
    the filter task's configurations and each scored task's (with successive halving, the
    first rung's and the promoted ones). A budget below it cannot score the seed cells, so the
    search has no population, nothing to confirm and nothing to export."""
    config = preset.search
    per_task = (config.halving_configs + config.configs_per_task) if config.halving_configs else config.configs_per_task
    cells = len(dict.fromkeys([*config.seed_cells, BASELINE]))
    return cells * (config.configs_per_task + len(config.tasks) * (per_task + config.race_max_seeds - 1))


def check_racing(preset: Preset) -> None:
    """Refuses racing settings that make no sense.

    Raises:
        SearchError: the race starts with more seeds than it may end with.
    """
    config = preset.search
    if config.race_seeds > config.race_max_seeds:
        raise SearchError(
            f"search.race_seeds ({config.race_seeds}) is above search.race_max_seeds ({config.race_max_seeds}): "
            "a race cannot start with more seeds than it ends with; lower one or raise the other with --set"
        )


def check_halving(preset: Preset) -> None:
    """Refuses successive-halving settings that make no sense.

    Raises:
        SearchError: fewer first-rung configurations than promoted ones, or a brief rung that
            is not shorter than full training.
    """
    config = preset.search
    if config.halving_configs and not (
        config.configs_per_task <= config.halving_configs and 1 <= config.halving_epochs < preset.max_epochs
    ):
        raise SearchError(
            f"successive halving needs search.configs_per_task ({config.configs_per_task}) <= search.halving_configs "
            f"({config.halving_configs}) and 1 <= search.halving_epochs ({config.halving_epochs}) < max_epochs "
            f"({preset.max_epochs}); fix them with --set, or turn it off with --set search.halving_configs=0"
        )


class Evolution:
    """The paper's algorithm over one run database: which step comes next, what each step
    asks to evaluate, and what its results mean.

    Args:
        store: the run database (its steps and population are resumed).
        preset: task sizes and training settings; `preset.search` holds the search's knobs.
        seed: seeds every random choice of the search and every training run.
        mutate: draws a child from a parent (`evo_rnn.cells.mutation.mutate`; tests pass another).
        max_candidates: start no new child after this many (over all resumptions); None: no limit.
    """

    def __init__(
        self,
        store: Store,
        preset: Preset,
        seed: int = 0,
        mutate: Mutator = _mutate.mutate,
        max_candidates: int | None = None,
    ):
        self.store, self.preset, self.seed = store, preset, check_seed(seed)
        self.config = preset.search
        self.tasks = tuple(self.config.tasks)
        if not self.tasks:
            raise SearchError("the search needs at least one task (--tasks)")
        check_halving(preset)
        check_racing(preset)
        if mutate is _mutate.mutate:  # the paper's operator, at the preset's mutation rate
            mutate = functools.partial(_mutate.mutate, max_rate=self.config.max_mutation_rate)
        self.mutate, self.max_candidates = mutate, max_candidates
        self._seeds = {
            name: store.add_architecture(zoo.get(name), f"zoo:{name}")
            for name in dict.fromkeys([*self.config.seed_cells, BASELINE])
        }
        self.scores = Scores(store, preset, seed)
        self._population: set[str] = set(store.population())
        steps = store.steps()
        self.candidates = sum(
            s["kind"] == "mutate" and s["outcome"] not in (Outcome.DUPLICATE, Outcome.UNMUTABLE) for s in steps
        )
        self._seeded = {s["arch"] for s in steps if s["kind"] == "seed"}
        self._seeding: set[int] = set()  # seed steps still running
        self._admitted = set(self._population)  # seeds join the population once all are scored

    # ----------------------------------------------------------------- scores and population

    def ratios(self, arch: str) -> dict[str, float]:
        return self.scores.ratios(arch)

    def overall_score(self, arch: str) -> float:
        return self.scores.overall(arch)

    def population(self) -> dict[str, float]:
        """The population with its stored scores, best first."""
        return self.store.population()

    def _offer(self, arch: str) -> tuple[float, bool]:
        """Re-scores the population with `arch` among it (the GRU's scores may have changed),
        keeps the best `population_size` of those that scored on every task (a cell that fails
        a task is not among the best, however empty the population), and says whether `arch` is in."""
        scores = {a: self.overall_score(a) for a in self._population | {arch}}
        ranked = sorted((a for a in scores if scores[a] > 0), key=lambda a: (-scores[a], a))[
            : self.config.population_size
        ]
        self._population = set(ranked)
        self.store.set_population({a: scores[a] for a in ranked})
        return scores[arch], arch in self._population

    def rescore(self) -> None:
        """Re-scores the population from the store: evaluations of steps left unfinished (the
        budget ran out, or Ctrl-C) may have raised a member's best, or the GRU's."""
        if self._population and all(self.scores.has_baseline(task) for task in self.tasks):
            self.store.set_population({a: self.overall_score(a) for a in self._population})

    # ----------------------------------------------------------------- configurations

    def _bank_configs(self, task: str, n: int, start: list[HParams] | None = None, offset: int = 0) -> list[HParams]:
        """`start` completed to `n` distinct configurations from the run's bank for `task`
        (`presets.sample_configs`: the same for every architecture, so that scores pair up),
        taken from position `offset` on."""
        configs = list(dict.fromkeys(start or []))[:n]
        bank = presets.sample_configs(self.preset, task, offset + 2 * n, self.seed)[offset:]
        configs += [c for c in bank if c not in configs][: n - len(configs)]
        return configs

    def _with_baseline(self, requests: list[EvalRequest]) -> list[EvalRequest]:
        """`requests` and, for each one on a scored task, the GRU on the same configuration
        (from the cache when it has it): the GRU trains once on every configuration a cell
        trains on, so that ratios compare like with like (`Scores.paired_baseline`)."""
        baseline = self.scores.baseline_arch
        paired = [
            EvalRequest(baseline, r.task, r.hparams, r.brief)
            for r in requests
            if r.task in self.tasks and r.arch != baseline
        ]
        return list(dict.fromkeys([*requests, *paired]))

    def _candidate_count(self) -> int:
        """Configurations a scored task starts with: N, or with successive halving the first rung's size."""
        return self.config.halving_configs or self.config.configs_per_task

    def _rungs(
        self, arch: str, candidates: dict[str, list[HParams]], extra: list[EvalRequest] | None = None
    ) -> Generator[list[EvalRequest], list[EvalResult], None]:
        """Trains `arch` on each scored task's candidate configurations (the GRU on the same,
        `_with_baseline`), with `extra` requests in the first batch. Without successive halving
        every candidate trains fully. With it (`search.halving_configs` > 0) every candidate
        first trains briefly (`search.halving_epochs`: a rung of its own, cached under its own
        key, never scored), then the best N of each task by that brief validation loss (NLL) train
        fully: more configurations seen for little more than the cost of N."""
        if not self.config.halving_configs:
            yield self._with_baseline(
                [*(extra or []), *(EvalRequest(arch, task, c) for task, configs in candidates.items() for c in configs)]
            )
            return
        brief = self._with_baseline(
            [
                *(extra or []),
                *(EvalRequest(arch, task, c, brief=True) for task, configs in candidates.items() for c in configs),
            ]
        )
        results = yield brief
        # Ranked by validation loss, a continuous signal: after a few epochs many configurations
        # tie on accuracy (e.g. always predicting the commonest digit), and a stable sort of ties
        # would promote the bank's first ones, arbitrary ones.
        loss = {request: result.valid_loss for request, result in zip(brief, results)}
        promoted = []
        for task, configs in candidates.items():
            # The cell's best N of its pool, and the GRU's own best N of the same pool: the GRU
            # goes through the same procedure on the same configurations (`Scores.paired_baseline`).
            for who in dict.fromkeys([arch, self.scores.baseline_arch]):
                ranked = sorted(configs, key=lambda c: loss[EvalRequest(who, task, c, brief=True)])
                promoted += [EvalRequest(who, task, c) for c in ranked[: self.config.configs_per_task]]
        yield self._with_baseline(promoted)

    def _replicates(self, arch: str, tasks: tuple[str, ...]) -> list[EvalRequest]:
        """Per task: `arch`'s best configuration on the next replicate seed it lacks, and the
        GRU's paired configuration on the same seed (`scores.replicate_seed`)."""
        requests = (
            request
            for task in tasks
            for request in self._seeds_up_to(arch, (task,), self.scores.seeds_on_best(arch, task) + 1)
        )
        return list(dict.fromkeys(requests))

    def _seeds_up_to(self, arch: str, tasks: tuple[str, ...], n: int) -> list[EvalRequest]:
        """Per task: `arch`'s best configuration on each of the first `n` seeds of the run (its
        own, then the replicate seeds in order) that it lacks, and the GRU's paired configuration
        on the same seeds (from the cache where it has them): one batch, trained in parallel."""
        wanted = [None, *(replicate_seed(self.seed, r) for r in range(n - 1))]
        requests = []
        for task in tasks:
            config = self.scores.best_config(arch, task)
            if config is None:
                continue
            have = set(self.scores.config_scores(arch, task)[config])
            baseline = self.scores.paired_baseline_config(arch, task)
            for seed in wanted:
                if (self.seed if seed is None else seed) in have:
                    continue
                requests.append(EvalRequest(arch, task, HParams.from_json(config), seed=seed))
                if baseline is not None:
                    requests.append(
                        EvalRequest(self.scores.baseline_arch, task, HParams.from_json(baseline), seed=seed)
                    )
        return list(dict.fromkeys(requests))

    def _race(self, arch: str, task: str) -> Generator[list[EvalRequest], list[EvalResult], bool]:
        """Races `arch` against the gate on `task` (`statistics.race`): `race_seeds` seeds, then
        twice as many until `race_max_seeds`, stopping early only when the interval lies below
        the gate. A child that may pass is trained on every seed before it does: its score ranks
        it in the population and picks what the confirmation trains, and a score over 2 seeds
        ranked lucky draws first (on run seed 1 the top child had 2 seeds and a search interval
        of 0.85-1.32; benchmarks/README.md). Returns whether it passed."""
        config = self.config
        n = config.race_seeds
        while True:
            requests = self._seeds_up_to(arch, (task,), n)
            if requests:
                yield requests
            final = n >= config.race_max_seeds
            call = self.scores.race(arch, task, config.first_task_ratio, config.ratio_sd, final)
            if call is False or final:
                return bool(call)
            n = min(2 * n, config.race_max_seeds)

    def _best_config(self, arch: str, task: str) -> HParams | None:
        config = self.scores.best_config(arch, task)
        return None if config is None else HParams.from_json(config)

    def _inherited(self, parent: str, task: str, n: int) -> list[HParams]:
        """The parent's best configuration on `task` (for the filter task, when the parent
        never ran it: its best on the first task, at the filter task's budget), then the bank's first ones."""
        best = self._best_config(parent, task)
        if best is None and task == self.config.filter_task:
            best = self._best_config(parent, self.tasks[0])
            if best is not None:
                best = dataclasses.replace(best, param_budget=self.preset.budget(task))
        return self._bank_configs(task, n, [best] if best else [])

    def _needs_another_round(self, arch: str, task: str, is_baseline: bool) -> bool:
        """Whether a seed cell gets the bank's next configurations on `task`: on the filter task
        while none reached its threshold; on a scored task while none trained well (for the GRU,
        while it has no positive score to divide by)."""
        if task == self.config.filter_task:
            best = self.scores.task_score(arch, task)
            return best is None or best < self.config.filter_threshold
        return not self.scores.has_baseline(task) if is_baseline else self.scores.task_score(arch, task) is None

    def _random_parents(self) -> list[str]:
        """The random-search baseline's parents: the seed cells (trained, so they pass their
        best configurations on by the same rule as a population member), never a cell chosen
        by score."""
        seeds = [self._seeds[name] for name in dict.fromkeys(self.config.seed_cells)]
        trained = [arch for arch in seeds if any(self.scores.task_score(arch, t) for t in self.tasks)]
        return sorted(trained or seeds)

    # ----------------------------------------------------------------- the steps

    def _seed_step(self, step: int, arch: str) -> Step:
        """Start: a seed cell on every task with N random configs (more rounds for a task
        where none trained well, as the baseline needs a positive score everywhere), and on the
        filter task, so that its children take the filter with a configuration known to work there
        (more rounds there too while none reaches the filter's threshold: a child inheriting a
        configuration its parent fails with would be filtered for the configuration, not the cell)."""
        self.store.start_step(step, "seed", arch)
        is_baseline = arch == self.scores.baseline_arch
        todo = [self.config.filter_task, *self.tasks]
        n, size = self.config.configs_per_task, self._candidate_count()
        for round_ in range(_SEED_ROUNDS):
            filtering = [
                EvalRequest(arch, task, config)
                for task in todo
                if task not in self.tasks
                for config in self._bank_configs(task, n, offset=round_ * n)
            ]
            yield from self._rungs(
                arch,
                {task: self._bank_configs(task, size, offset=round_ * size) for task in todo if task in self.tasks},
                filtering,
            )
            todo = [task for task in todo if self._needs_another_round(arch, task, is_baseline)]
            if not todo:
                break
        scored = [task for task in todo if task in self.tasks]
        if is_baseline and scored:
            self.scores.baseline(scored[0])  # raises BaselineError naming the task and the fix
        # Every seed the races will pair with: the GRU's side trained once, here.
        more = self._seeds_up_to(arch, self.tasks, self.config.race_max_seeds)
        if more:
            yield more
        # Scored and admitted once every seed is done (the GRU's scores are the denominators).
        return StepOutcome(
            Outcome.SEEDED, None, {"scores": {task: self.scores.task_score(arch, task) for task in self.tasks}}
        )

    def _reevaluate_step(self, step: int, arch: str) -> Step:
        """(a) A population member's best configuration on every task is trained again on a fresh
        seed (the next replicate seed its configuration lacks), and so is the GRU's paired
        configuration, on the same seed: scores are means over seeds (`evo_rnn.scoring.paper_scores`), so a
        member that was best by a lucky draw regresses and makes room (racing), on both sides
        of its ratio.

        The requests are planned once, when the step starts, and kept with it: a step resumed
        after a kill asks for the same ones (those recorded come from the cache), not for one
        more seed than the cell has by then."""
        planned = [dataclasses.asdict(r) | {"hparams": r.hparams.to_json()} for r in self._replicates(arch, self.tasks)]
        plan = self.store.start_step(step, "reevaluate", arch, plan={"requests": planned})
        yield [EvalRequest(**(r | {"hparams": HParams.from_json(r["hparams"])})) for r in plan["requests"]]
        score, kept = self._offer(arch)
        return StepOutcome(Outcome.REEVALUATED, score, {"ratios": self.ratios(arch), "in_population": kept})

    def _mutate_step(self, step: int, rng: random.Random, resumed: dict[str, Any] | None = None) -> Step:
        """(b) A child of a population member: dedup, memorization filter, first task, the rest."""
        if resumed is None:
            if self.config.strategy == "random":  # the random-search baseline: a child of a seed cell
                parent = rng.choice(self._random_parents())
            else:
                parent = rng.choice(sorted(self._population))
            try:
                graph, mutations = self.mutate(self.store.architecture(parent), rng)
            except _mutate.MutationError as error:
                self.store.start_step(step, "mutate", parent, parent)
                return StepOutcome(Outcome.UNMUTABLE, None, {"message": str(error)})
            seen = self.store.find_architecture(graph)
            if seen is not None:
                self.store.start_step(step, "mutate", seen, parent)
                return StepOutcome(Outcome.DUPLICATE, None, {"arch": seen})
            arch = self.store.add_architecture(graph, "mutation", parent, [m.to_dict() for m in mutations])
            self.store.start_step(step, "mutate", arch, parent)
            self.candidates += 1
        else:
            arch, parent = resumed["arch"], resumed["parent"]
        config = self.config

        # 1. The cheap filter: memorization.
        results = yield [
            EvalRequest(arch, config.filter_task, c)
            for c in self._inherited(parent, config.filter_task, config.filter_configs)
        ]
        filter_score = max((r.valid_score for r in results if r.ok), default=0.0)
        if filter_score < config.filter_threshold:
            return StepOutcome(
                Outcome.FILTERED, None, {"filter_score": filter_score, "threshold": config.filter_threshold}
            )

        # 2. The first task, with the parent's best configuration and random ones, raced against the gate.
        first = self.tasks[0]
        yield from self._rungs(arch, {first: self._inherited(parent, first, self._candidate_count())})
        passed = yield from self._race(arch, first)
        ratio = self.scores.ratios(arch, [first])[first]
        if not passed:
            return StepOutcome(
                Outcome.REJECTED,
                None,
                {
                    "first_task": first,
                    "ratio": ratio,
                    "needed": config.first_task_ratio,
                    "seeds": self.scores.seeds_on_best(arch, first),
                },
            )

        # 3. Every other task on as many seeds as a race starts with; the population takes the
        # child if it is among the best.
        if self.tasks[1:]:
            yield from self._rungs(
                arch, {task: self._inherited(parent, task, self._candidate_count()) for task in self.tasks[1:]}
            )
            more = self._seeds_up_to(arch, self.tasks[1:], config.race_seeds)
            if more:
                yield more
        score, entered = self._offer(arch)
        return StepOutcome(Outcome.ACCEPTED if entered else Outcome.EVALUATED, score, {"ratios": self.ratios(arch)})

    # ----------------------------------------------------------------- what runs next

    def _admit_seeds(self) -> None:
        """Offers the seed cells to the population once all are scored (the GRU's scores are the
        denominators), once."""
        for arch in self._seeds.values():
            if arch not in self._admitted:
                self._admitted.add(arch)
                self._offer(arch)

    @property
    def seeding(self) -> bool:
        """Whether a seed cell's step has not started or not finished: the seed cells are scored
        whatever the budget, as every answer of the search needs them."""
        return bool(self._seeding) or any(a not in self._seeded for a in self._seeds.values())

    def next_step(self) -> StepRun | None:
        """The next step to start, or None when none may start now: the seeds are still being
        scored (children are scored against the GRU), or `max_candidates` is reached.

        Raises:
            SearchError: every seed cell failed, so there is no population to draw from.
        """
        unseeded = [a for a in self._seeds.values() if a not in self._seeded]
        if unseeded:
            arch = unseeded[0]
            self._seeded.add(arch)
            step = self.store.next_step_id()
            self._seeding.add(step)
            return StepRun(step, "seed", self._seed_step(step, arch))
        if self._seeding:
            return None
        self._admit_seeds()
        if self.max_candidates is not None and self.candidates >= self.max_candidates:
            return None
        if not self._population:
            raise SearchError("the population is empty: every seed cell failed to train; check the preset and tasks")
        step = self.store.next_step_id()  # every step records itself as soon as it starts
        rng = self._step_rng(step)
        # The GRU is never re-evaluated: its ratio is 1 by definition, and a seed of its own that
        # no other cell has pairs with nothing.
        others = sorted(self._population - {self.scores.baseline_arch})
        if rng.random() < self.config.reevaluate_probability and others:
            return StepRun(step, "reevaluate", self._reevaluate_step(step, rng.choice(others)))
        return StepRun(step, "mutate", self._mutate_step(step, rng))

    def _step_rng(self, step: int) -> random.Random:
        """Step `step`'s randomness: seeded by the run's seed and the step, and by the strategy
        for any strategy but evolution, so that two strategies compared on one seed draw
        independent children from the first mutation on (with one stream they drew the same
        children until their populations differed)."""
        if self.config.strategy == "evolution":
            return random.Random(f"{self.seed}:step:{step}")
        return random.Random(f"{self.seed}:{self.config.strategy}:step:{step}")

    def unfinished_steps(self) -> list[StepRun]:
        """The steps a killed or interrupted process left unfinished, started again (their
        finished evaluations will come from the cache)."""
        runs = []
        for row in self.store.steps(unfinished=True):
            step, kind, arch = row["id"], row["kind"], row["arch"]
            if kind == "seed":
                self._seeding.add(step)
                generator = self._seed_step(step, arch)
            elif kind == "reevaluate":
                generator = self._reevaluate_step(step, arch)
            else:
                generator = self._mutate_step(step, self._step_rng(step), resumed=row)
            runs.append(StepRun(step, kind, generator))
        return runs

    def finish_step(self, run: StepRun, outcome: StepOutcome) -> dict[str, Any]:
        """Records how a step ended; returns what a progress display shows of it."""
        self.store.finish_step(run.id, outcome.outcome, outcome.score, outcome.detail)
        self._seeding.discard(run.id)
        if run.kind == "seed" and not self.seeding:
            self._admit_seeds()  # scored against the GRU once every seed is done, whatever the budget
        return {
            "id": run.id,
            "kind": run.kind,
            "outcome": str(outcome.outcome),
            "score": outcome.score,
            "arch": self.store.step(run.id)["arch"],
            "detail": outcome.detail,
        }

    # ----------------------------------------------------------------- reporting

    def counts(self) -> dict[str, int]:
        """Over the whole run: new children (`candidates`) by what became of them, those whose
        step is unfinished, duplicates and re-evaluations."""
        counts = {str(o): 0 for o in (*CHILD_OUTCOMES, Outcome.DUPLICATE, Outcome.REEVALUATED)}
        for (kind, outcome), n in self.store.step_counts().items():
            if outcome in counts and kind in ("mutate", "reevaluate"):
                counts[outcome] += n
        counts["candidates"] = self.candidates
        counts["unfinished"] = self.candidates - sum(counts[o] for o in CHILD_OUTCOMES)
        return counts
