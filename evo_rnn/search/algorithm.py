"""The evolutionary search of Jozefowicz et al. (2015), section 3: a population of the best
cells, grown by mutation, filtered cheaply, and scored against the best GRU.

- Start: the seed cells (LSTM and GRU) are evaluated on every task with N random
  hyperparameter configurations.
- An architecture's score on a task is its best validation score over the configurations
  tried; its overall score is the minimum over tasks of (its score / the best GRU score).
- The population holds the best `population_size` architectures. Each step either
  *re-evaluates* a random member on N fresh random configs per task, or *mutates* a random
  member: a child already seen is skipped; the child must pass the memorization filter,
  then reach `first_task_ratio` of the best GRU on the first task (the parent's best
  configs plus random ones), then it is evaluated on the other tasks and enters the
  population if its overall score is among the best.

Every step is a generator that reads like the list above: it yields a batch of evaluation
requests and receives their results. The loop (`Search.run`) interleaves many steps so
that every worker of the executor stays busy, serves repeated requests from the run
database (the evaluation cache), commits every result at once, and records each step, so
that a killed search resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Generator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

from evo_rnn import architectures, cell_format, hparams
from evo_rnn.errors import EvoRnnError
from evo_rnn.hparams import HParams
from evo_rnn.mutate import MutationError, mutate
from evo_rnn.presets import Preset
from evo_rnn.search.executors import EvalJob, Executor, WorkerLostError
from evo_rnn.store import Store, preset_key

__all__ = ["BASELINE", "EvalRequest", "Scores", "Search", "SearchError", "StepOutcome", "kept_model_path"]

BASELINE = "gru"  # scores are ratios to the best GRU
_SEED_ROUNDS = 3  # rounds of N configs a seed cell gets per task before a task with no good run is an error


def kept_model_path(models_dir: str | os.PathLike, arch: str, task: str) -> Path:
    """Where a run keeps the best trained model of `arch` on `task` (read by the export)."""
    return Path(models_dir) / arch / f"{task}.keras"


class SearchError(EvoRnnError):
    """The search cannot go on (e.g. the GRU baseline never trained successfully on a task)."""


@dataclasses.dataclass(frozen=True)
class EvalRequest:
    """One evaluation a step asks for."""

    arch: str
    task: str
    hparams: HParams


@dataclasses.dataclass(frozen=True)
class StepOutcome:
    """How a step ended: `outcome` ("seeded", "accepted", "evaluated", "filtered", "rejected",
    "duplicate", "reevaluated", "unmutable"), the architecture's overall score, and why."""

    outcome: str
    score: float | None
    detail: dict[str, Any]


Step = Generator[list[EvalRequest], list[dict[str, Any]], StepOutcome]


@dataclasses.dataclass
class _StepRun:
    id: int
    kind: str
    generator: Step
    results: list[dict[str, Any] | None] = dataclasses.field(default_factory=list)
    missing: int = 0


@dataclasses.dataclass
class _InFlight:
    key: tuple
    job: EvalJob
    attempts: int


class Scores:
    """The paper's scores, read from the run database: an architecture's best validation score
    per task, its ratio to the best GRU's, and the minimum of those ratios over the tasks.

    Args:
        store: the run database.
        preset: only evaluations under this preset's training settings count.
        seed: only evaluations with this training seed count.
    """

    def __init__(self, store: Store, preset: Preset, seed: int):
        self.store, self.seed, self.preset_key = store, seed, preset_key(preset)
        self.tasks = tuple(preset.search.tasks)
        self.baseline_arch = store.add_architecture(architectures.get(BASELINE), f"zoo:{BASELINE}")

    def task_score(self, arch: str, task: str) -> float | None:
        """The architecture's best validation score on `task` (None if no run went well)."""
        return self.store.best_score(arch, task, self.preset_key, self.seed)

    def best_result(self, arch: str, task: str) -> dict[str, Any] | None:
        """The evaluation that reached the best validation score on `task`."""
        return self.store.best(arch, task, self.preset_key, self.seed)[1]

    def baseline(self, task: str) -> float:
        """The best GRU score on `task`, the denominator of every ratio."""
        score = self.task_score(self.baseline_arch, task)
        if not score:
            raise SearchError(
                f"the GRU baseline has no successful evaluation on {task!r} in this run; it needs one to "
                "score cells: raise search.configs_per_task (--set search.configs_per_task=N) or check the task"
            )
        return score

    def ratios(self, arch: str, tasks: list[str] | None = None) -> dict[str, float]:
        """Per task: the architecture's score divided by the best GRU's (0 where it has none)."""
        return {task: (self.task_score(arch, task) or 0.0) / self.baseline(task) for task in tasks or self.tasks}

    def overall(self, arch: str) -> float:
        """The minimum over tasks of the ratio to the best GRU (the paper's criterion)."""
        return min(self.ratios(arch).values())


class Search:
    """One search run over a run database.

    Args:
        store: the run database (resumed when it already holds steps).
        executor: where evaluations run.
        preset: task sizes and training settings; `preset.search` holds the search's knobs.
        seed: seeds every random choice of the search and every training run.
        data_dir: where workers read real datasets.
        budget_seconds: the run's total search time (over all resumptions); when it is
            spent, no new evaluation starts and those running finish.
        max_candidates: stop after this many new child architectures (over all resumptions).
        models_dir: where the best trained model of every (architecture, task) is kept
            for export; None keeps no models.
        on_event: called with (kind, data) on "evaluation" and "step" events (progress).
        max_retries: how often an evaluation whose worker died is tried again before it is
            recorded as failed.
        clock: the time source (tests pass a fake one).
    """

    def __init__(self, store: Store, executor: Executor, preset: Preset, seed: int = 0,
                 data_dir: str | os.PathLike | None = None, budget_seconds: float | None = None,
                 max_candidates: int | None = None, models_dir: str | os.PathLike | None = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None, max_retries: int = 2,
                 clock: Callable[[], float] = time.monotonic):
        self.store, self.executor, self.preset, self.seed = store, executor, preset, seed
        self.config = preset.search
        self.tasks = tuple(self.config.tasks)
        if not self.tasks:
            raise SearchError("the search needs at least one task (--tasks)")
        self.data_dir = None if data_dir is None else str(data_dir)
        self.budget_seconds, self.max_candidates = budget_seconds, max_candidates
        self.models_dir = None if models_dir is None else Path(models_dir)
        self.on_event, self.max_retries, self.clock = on_event, max_retries, clock
        self.preset_key = preset_key(preset)
        self.scores = Scores(store, preset, seed)
        self.trained = self.cache_hits = 0  # this session's evaluations: run on a worker, or served by the store
        self._runs: dict[int, _StepRun] = {}
        self._queue: list[tuple[int, int, int, EvalRequest]] = []  # heap: older steps' requests first
        self._queued = 0
        self._in_flight: dict[Future, _InFlight] = {}
        self._waiters: dict[tuple, list[tuple[int, int]]] = {}
        self._graph_json: dict[str, str] = {}
        self._population: set[str] = set(store.population())
        self._seeds = {name: store.add_architecture(architectures.get(name), f"zoo:{name}")
                       for name in dict.fromkeys([*self.config.seed_cells, BASELINE])}
        self._started = clock()
        self._elapsed_before = float(store.get_meta("elapsed_seconds", 0.0))
        steps = store.steps()
        self._candidates = sum(s["kind"] == "mutate" and s["outcome"] not in ("duplicate", "unmutable") for s in steps)
        self._seeded = {s["arch"] for s in steps if s["kind"] == "seed"}
        self._admitted = set(self._population)  # seeds join the population once all are scored

    # ----------------------------------------------------------------- scores

    def task_score(self, arch: str, task: str) -> float | None:
        return self.scores.task_score(arch, task)

    def ratios(self, arch: str) -> dict[str, float]:
        return self.scores.ratios(arch)

    def overall_score(self, arch: str) -> float:
        return self.scores.overall(arch)

    def population(self) -> dict[str, float]:
        """The population with current scores, best first."""
        return self.store.population()

    def _offer(self, arch: str) -> tuple[float, bool]:
        """Re-scores the population with `arch` among it (the GRU's best may have changed),
        keeps the best `population_size`, and says whether `arch` is in."""
        scores = {a: self.overall_score(a) for a in self._population | {arch}}
        ranked = sorted(scores, key=lambda a: (-scores[a], a))[: self.config.population_size]
        self._population = set(ranked)
        self.store.set_population({a: scores[a] for a in ranked})
        return scores[arch], arch in self._population

    # ----------------------------------------------------------------- configurations

    def _random_configs(self, rng: random.Random, task: str, n: int, start: list[HParams] | None = None) -> list[HParams]:
        """`start` completed to `n` distinct configurations drawn from the prior."""
        configs = list(dict.fromkeys(start or []))[:n]
        for _ in range(50 * n):
            if len(configs) >= n:
                break
            config = hparams.sample(rng, self.preset.budget(task), max_layers=self.preset.max_layers)
            if config not in configs:
                configs.append(config)
        return configs

    def _best_config(self, arch: str, task: str) -> HParams | None:
        result = self.scores.best_result(arch, task)
        return None if result is None else HParams.from_dict(result["hparams"])

    def _inherited(self, parent: str, task: str, rng: random.Random, n: int) -> list[HParams]:
        """The parent's best configuration on `task` (for the filter task, when the parent
        never ran it: its best on the first task, at the filter task's budget), then random ones."""
        best = self._best_config(parent, task)
        if best is None and task == self.config.filter_task:
            best = self._best_config(parent, self.tasks[0])
            if best is not None:
                best = dataclasses.replace(best, param_budget=self.preset.budget(task))
        return self._random_configs(rng, task, n, [best] if best else [])

    def _configs_rng(self, step: int) -> random.Random:
        return random.Random(f"{self.seed}:step:{step}:configs")

    # ----------------------------------------------------------------- the steps

    def _seed_step(self, step: int, arch: str) -> Step:
        """Start: a seed cell on every task with N random configs (more rounds for a task
        where none trained well, as the baseline needs a score everywhere), and on the filter
        task, so that its children take the filter with a configuration known to work there."""
        self.store.start_step(step, "seed", arch)
        rng = self._configs_rng(step)
        todo = [self.config.filter_task, *self.tasks]
        for _ in range(_SEED_ROUNDS):
            yield [EvalRequest(arch, task, config) for task in todo
                   for config in self._random_configs(rng, task, self.config.configs_per_task)]
            todo = [task for task in todo if task in self.tasks and self.task_score(arch, task) is None]
            if not todo:
                break
        if arch == self.scores.baseline_arch and todo:
            self.scores.baseline(todo[0])  # raises SearchError naming the task
        # Scored and admitted once every seed is done (the GRU's scores are the denominators).
        return StepOutcome("seeded", None, {"scores": {task: self.task_score(arch, task) for task in self.tasks}})

    def _reevaluate_step(self, step: int, arch: str) -> Step:
        """(a) A population member gets N fresh random configs on every task."""
        self.store.start_step(step, "reevaluate", arch)
        rng = self._configs_rng(step)
        yield [EvalRequest(arch, task, config) for task in self.tasks
               for config in self._random_configs(rng, task, self.config.configs_per_task)]
        score, kept = self._offer(arch)
        return StepOutcome("reevaluated", score, {"ratios": self.ratios(arch), "in_population": kept})

    def _mutate_step(self, step: int, rng: random.Random, resumed: dict[str, Any] | None = None) -> Step:
        """(b) A child of a population member: dedup, memorization filter, first task, the rest."""
        if resumed is None:
            parent = rng.choice(sorted(self._population))
            try:
                graph, mutations = mutate(self.store.architecture(parent), rng)
            except MutationError as error:
                arch = parent
                self.store.start_step(step, "mutate", arch, parent)
                return StepOutcome("unmutable", None, {"message": str(error)})
            seen = self.store.find_architecture(graph)
            if seen is not None:
                self.store.start_step(step, "mutate", seen, parent)
                return StepOutcome("duplicate", None, {"arch": seen})
            arch = self.store.add_architecture(graph, "mutation", parent, [m.to_dict() for m in mutations])
            self.store.start_step(step, "mutate", arch, parent)
            self._candidates += 1
        else:
            arch, parent = resumed["arch"], resumed["parent"]
        config_rng = self._configs_rng(step)
        config = self.config

        # 1. The cheap filter: memorization.
        results = yield [EvalRequest(arch, config.filter_task, c)
                         for c in self._inherited(parent, config.filter_task, config_rng, config.filter_configs)]
        filter_score = max((r["valid_score"] for r in results if r["status"] == "ok"), default=0.0)
        if filter_score < config.filter_threshold:
            return StepOutcome("filtered", None, {"filter_score": filter_score, "threshold": config.filter_threshold})

        # 2. The first task, with the parent's best configuration and random ones.
        first = self.tasks[0]
        yield [EvalRequest(arch, first, c) for c in self._inherited(parent, first, config_rng, config.configs_per_task)]
        ratio = self.scores.ratios(arch, [first])[first]
        if ratio < config.first_task_ratio:
            return StepOutcome("rejected", None, {"first_task": first, "ratio": ratio,
                                                  "needed": config.first_task_ratio})

        # 3. Every other task; the population takes the child if it is among the best.
        rest = [EvalRequest(arch, task, c) for task in self.tasks[1:]
                for c in self._inherited(parent, task, config_rng, config.configs_per_task)]
        if rest:
            yield rest
        score, entered = self._offer(arch)
        return StepOutcome("accepted" if entered else "evaluated", score, {"ratios": self.ratios(arch)})

    # ----------------------------------------------------------------- the loop

    def elapsed(self) -> float:
        """The run's search time so far, over all resumptions."""
        return self._elapsed_before + (self.clock() - self._started)

    def out_of_time(self) -> bool:
        return self.budget_seconds is not None and self.elapsed() >= self.budget_seconds

    def _start(self, step: int, kind: str, generator: Step) -> None:
        run = _StepRun(step, kind, generator)
        self._runs[step] = run
        self._advance(run, None)

    def _start_next(self) -> bool:
        """Starts one new step; False when none may start now."""
        if self.out_of_time():
            return False
        unseeded = [a for a in self._seeds.values() if a not in self._seeded]
        if unseeded:
            arch = unseeded[0]
            self._seeded.add(arch)
            step = self.store.next_step_id()
            self._start(step, "seed", self._seed_step(step, arch))
            return True
        if any(run.kind == "seed" for run in self._runs.values()):
            return False  # children are scored against the GRU: wait for the seeds
        for arch in self._seeds.values():
            if arch not in self._admitted:
                self._admitted.add(arch)
                self._offer(arch)
        if self.max_candidates is not None and self._candidates >= self.max_candidates:
            return False
        if not self._population:
            raise SearchError("the population is empty: every seed cell failed to train; check the preset and tasks")
        step = self.store.next_step_id()  # every step records itself as soon as it starts
        rng = random.Random(f"{self.seed}:step:{step}")
        if rng.random() < self.config.reevaluate_probability:
            self._start(step, "reevaluate", self._reevaluate_step(step, rng.choice(sorted(self._population))))
        else:
            self._start(step, "mutate", self._mutate_step(step, rng))
        return True

    def _resume_unfinished(self) -> None:
        """Restarts the steps a killed or interrupted process left unfinished; their finished
        evaluations come from the cache."""
        for row in self.store.steps(unfinished=True):
            step, kind, arch = row["id"], row["kind"], row["arch"]
            if kind == "seed":
                generator = self._seed_step(step, arch)
            elif kind == "reevaluate":
                generator = self._reevaluate_step(step, arch)
            else:
                generator = self._mutate_step(step, random.Random(f"{self.seed}:step:{step}"), resumed=row)
            self._start(step, kind, generator)

    def _advance(self, run: _StepRun, results: list[dict[str, Any]] | None) -> None:
        """Sends a finished batch to its step; queues the step's next batch or records its end."""
        try:
            requests = run.generator.send(results)
        except StopIteration as stop:
            outcome: StepOutcome = stop.value
            self.store.finish_step(run.id, outcome.outcome, outcome.score, outcome.detail)
            del self._runs[run.id]
            self._emit("step", {"id": run.id, "kind": run.kind, "outcome": outcome.outcome, "score": outcome.score,
                                "arch": self.store.step(run.id)["arch"], "detail": outcome.detail})
            return
        run.results, run.missing = [None] * len(requests), len(requests)
        for index, request in enumerate(requests):
            self._queued += 1
            heapq.heappush(self._queue, (run.id, self._queued, index, request))

    def _deliver(self, step: int, index: int, result: dict[str, Any]) -> None:
        run = self._runs[step]
        run.results[index] = result
        run.missing -= 1
        if run.missing == 0:
            self._advance(run, list(run.results))

    def _graph_text(self, arch: str) -> str:
        if arch not in self._graph_json:
            self._graph_json[arch] = cell_format.dumps(self.store.architecture(arch))
        return self._graph_json[arch]

    def _dispatch(self, step: int, index: int, request: EvalRequest) -> None:
        """Serves a request from the cache, joins an identical one in flight, or submits it."""
        config = request.hparams.to_json()
        key = (request.arch, request.task, config, self.seed, self.preset_key)
        hit = self.store.cached(*key)
        if hit is not None:
            self.cache_hits += 1
            self._deliver(step, index, hit)
            return
        if key in self._waiters:
            self._waiters[key].append((step, index))
            return
        model_path = None
        if self.models_dir is not None:
            (self.models_dir / "pending").mkdir(parents=True, exist_ok=True)
            model_path = str(self.models_dir / "pending" / f"{uuid.uuid4().hex}.keras")
        job = EvalJob(request.arch, self._graph_text(request.arch), request.task, config, self.seed, self.preset,
                      self.data_dir, model_path)
        self._waiters[key] = [(step, index)]
        self._submit(_InFlight(key, job, 0))

    def _submit(self, flight: _InFlight) -> None:
        self._in_flight[self.executor.submit(flight.job)] = flight

    def _collect(self, future: Future) -> None:
        """Records a finished evaluation at once, keeps its model if it is the best so far,
        and hands the result to every step waiting for it."""
        flight = self._in_flight.pop(future)
        job = flight.job
        try:
            result = future.result()
        except WorkerLostError as error:
            if flight.attempts < self.max_retries:
                self._emit("retry", {"arch": job.arch, "task": job.task, "attempt": flight.attempts + 1,
                                     "message": str(error)})
                self._submit(dataclasses.replace(flight, attempts=flight.attempts + 1))
                return
            result = _failed(job, f"the worker running this evaluation died {flight.attempts + 1} times: {error}")
        if flight.attempts:
            result = {**result, "attempts": flight.attempts + 1}
            if result["status"] == "ok":
                result["message"] = f"finished on attempt {flight.attempts + 1}: earlier workers running it died"
        self.trained += 1
        previous = self.task_score(job.arch, job.task)
        self.store.record(job.arch, job.hparams, self.preset_key, result)
        self._keep_model(job, result, previous)
        self.store.set_meta("elapsed_seconds", self.elapsed())
        self._emit("evaluation", {"arch": job.arch, "task": job.task, "status": result["status"],
                                  "valid_score": result["valid_score"], "seconds": result["seconds"]})
        for step, index in self._waiters.pop(flight.key):
            self._deliver(step, index, result)

    def _keep_model(self, job: EvalJob, result: dict[str, Any], previous: float | None) -> None:
        if job.model_path is None:
            return
        path = Path(job.model_path)
        best = result["status"] == "ok" and (previous is None or result["valid_score"] > previous)
        if best and path.is_file():
            target = kept_model_path(self.models_dir, job.arch, job.task)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        else:
            path.unlink(missing_ok=True)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    def run(self, tick: float = 1.0) -> None:
        """Runs until the budget or `max_candidates` is reached and nothing is in flight.

        On an exception (Ctrl-C included) the evaluations in flight are cancelled (the
        executor is shut down) and the exception propagates; everything finished is already
        in the store. Otherwise the executor is left to its owner.
        """
        if self.models_dir is not None:
            for stale in (self.models_dir / "pending").glob("*.keras"):
                stale.unlink()
        try:
            self._resume_unfinished()
            while True:
                self._fill()
                if not self._in_flight:
                    break
                done, _ = wait(list(self._in_flight), timeout=tick, return_when=FIRST_COMPLETED)
                for future in done:
                    self._collect(future)
                self._emit("tick", {})
        except BaseException:
            self.executor.shutdown(cancel=True)
            raise
        finally:
            self.store.set_meta("elapsed_seconds", self.elapsed())
            self.rescore()

    def rescore(self) -> None:
        """Re-scores the population from the store: evaluations of steps left unfinished (the
        budget ran out, or Ctrl-C) may have raised a member's best, or the GRU's."""
        if not self._population:
            return
        try:
            scores = {a: self.overall_score(a) for a in self._population}
        except SearchError:  # no GRU baseline yet
            return
        self.store.set_population(scores)

    def _fill(self) -> None:
        """Gives every idle worker an evaluation: queued requests first, then new steps."""
        while len(self._in_flight) < self.executor.workers and not self.out_of_time():
            if self._queue:
                step, _, index, request = heapq.heappop(self._queue)
                self._dispatch(step, index, request)
            elif not self._start_next():
                break

    # ----------------------------------------------------------------- reporting

    def counts(self) -> dict[str, int]:
        """Children by what became of them (over the whole run), re-evaluations, and this
        session's evaluations (trained on a worker, or served by the cache)."""
        counts = dict.fromkeys(("filtered", "rejected", "evaluated", "accepted", "duplicate", "reevaluated"), 0)
        counts.update(candidates=self._candidates, trained=self.trained, cache_hits=self.cache_hits,
                      in_flight=len(self._in_flight))
        for (kind, outcome), n in self.store.step_counts().items():
            if outcome in counts and kind in ("mutate", "reevaluate"):
                counts[outcome] += n
        return counts


def _failed(job: EvalJob, message: str) -> dict[str, Any]:
    from evo_rnn.train import EvalResult

    config = HParams.from_dict(json.loads(job.hparams))
    return EvalResult(status="failed", task=job.task, preset=job.preset.name, seed=job.seed,
                      hparams=config.to_dict(), message=message).to_dict()
