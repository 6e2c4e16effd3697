"""Drives the search's steps over an executor: keeps every worker busy, serves repeated
requests from the run database (the evaluation cache), commits every result at once, retries
evaluations whose worker died, keeps the best trained models, and stops when the time budget
is spent. What the steps ask for is the algorithm's business (`evo_rnn.search.evolution`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

from evo_rnn import cell_format
from evo_rnn.executors import EvalJob, Executor, Job, PopulationJob, WorkerLostError
from evo_rnn.hparams import HParams
from evo_rnn.presets import Preset
from evo_rnn.results import CacheKey, EvalResult, Status
from evo_rnn.runs import RunFiles
from evo_rnn.tensorboard_logs import TensorBoardLog
from evo_rnn.search.evolution import EvalRequest, Evolution, SearchError, StepOutcome, StepRun

__all__ = ["Scheduler"]


@dataclasses.dataclass
class _Running:
    """A step being driven: the results of its current batch as they come in."""

    run: StepRun
    results: list[EvalResult | None] = dataclasses.field(default_factory=list)
    missing: int = 0


@dataclasses.dataclass
class _InFlight:
    """A job on a worker: its members' cache keys (one for an `EvalJob`) and model paths."""

    keys: tuple[CacheKey, ...]
    job: Job
    attempts: int
    model_paths: tuple[str | None, ...]


class Scheduler:
    """Runs an `Evolution` over an executor.

    Args:
        evolution: the algorithm (it holds the run database, preset and seed).
        executor: where evaluations run.
        data_dir: where workers read real datasets.
        budget_seconds: the run's total search time (over all resumptions); when it is
            spent, no new evaluation starts and those running finish. Steps whose next
            evaluations had not started stay unfinished and go on when the run is resumed
            with a larger budget.
        run_files: where the best trained model of every (architecture, task) is kept for
            export; None keeps no models.
        on_event: called with (kind, data) on "evaluation", "step", "retry" and "tick" events.
        max_retries: how often an evaluation whose worker died is tried again before it is
            recorded as failed.
        clock: the time source (tests pass a fake one).
        tensorboard: writes every evaluation this session trains as a TensorBoard run; None: none.
        members_per_job: the most requests of one step for one (architecture, task, shape) sent
            as one population job (`evo_rnn.population`); above 1 the preset's engine must be
            "population", so that a member's result does not depend on its company.
    """

    def __init__(self, evolution: Evolution, executor: Executor, data_dir: str | os.PathLike | None = None,
                 budget_seconds: float | None = None, run_files: RunFiles | None = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None, max_retries: int = 2,
                 clock: Callable[[], float] = time.monotonic, members_per_job: int = 1,
                 tensorboard: TensorBoardLog | None = None):
        if members_per_job < 1:
            raise SearchError(f"--population-size must be at least 1, got {members_per_job}")
        if members_per_job > 1 and evolution.preset.engine != "population":
            raise SearchError("population jobs need the population engine: --set engine=population")
        self.members_per_job, self.tensorboard = members_per_job, tensorboard
        self.evolution, self.executor = evolution, executor
        self.store, self.preset, self.seed = evolution.store, evolution.preset, evolution.seed
        self.data_dir = None if data_dir is None else str(data_dir)
        self.budget_seconds, self.run_files = budget_seconds, run_files
        self.on_event, self.max_retries, self.clock = on_event, max_retries, clock
        self.trained = self.cache_hits = 0  # this session's evaluations: run on a worker, or served by the store
        self._running: dict[int, _Running] = {}
        self._queue: list[tuple[int, int, int, EvalRequest]] = []  # heap: older steps' requests first
        self._queued = 0
        self._in_flight: dict[Future, _InFlight] = {}
        self._waiters: dict[CacheKey, list[tuple[int, int]]] = {}
        self._graph_json: dict[str, str] = {}
        self._started = clock()
        self._elapsed_before = float(self.store.get_meta("elapsed_seconds", 0.0))

    # ----------------------------------------------------------------- time

    def elapsed(self) -> float:
        """The run's search time so far, over all resumptions."""
        return self._elapsed_before + (self.clock() - self._started)

    def out_of_time(self) -> bool:
        return self.budget_seconds is not None and self.elapsed() >= self.budget_seconds

    # ----------------------------------------------------------------- steps

    def _start(self, run: StepRun) -> None:
        running = _Running(run)
        self._running[run.id] = running
        self._advance(running, None)

    def _advance(self, running: _Running, results: list[EvalResult] | None) -> None:
        """Sends a finished batch to its step; queues the step's next batch or records its end."""
        try:
            requests = running.run.generator.send(results)
        except StopIteration as stop:
            outcome: StepOutcome = stop.value
            del self._running[running.run.id]
            self._emit("step", self.evolution.finish_step(running.run, outcome))
            return
        running.results, running.missing = [None] * len(requests), len(requests)
        for index, request in enumerate(requests):
            self._queued += 1
            heapq.heappush(self._queue, (running.run.id, self._queued, index, request))

    def _deliver(self, step: int, index: int, result: EvalResult) -> None:
        running = self._running[step]
        running.results[index] = result
        running.missing -= 1
        if running.missing == 0:
            self._advance(running, list(running.results))

    # ----------------------------------------------------------------- evaluations

    def _graph_text(self, arch: str) -> str:
        if arch not in self._graph_json:
            self._graph_json[arch] = cell_format.dumps(self.store.architecture(arch))
        return self._graph_json[arch]

    def _preset(self, request: EvalRequest) -> Preset:
        """The preset a request trains with: the run's, or a successive-halving rung's brief one."""
        return self.preset.halving_rung() if request.brief else self.preset

    def _key(self, request: EvalRequest) -> CacheKey:
        scores = self.evolution.scores
        preset = scores.rung_key if request.brief else scores.preset_key
        seed = self.seed if request.seed is None else request.seed
        return CacheKey(request.arch, request.task, request.hparams.to_json(), seed, preset)

    def _dispatch(self, requests: list[tuple[int, int, EvalRequest]]) -> None:
        """Serves each request from the cache, joins an identical one in flight, or sends the
        rest (all of one step, architecture, task and shape) as jobs of at most
        `members_per_job` members."""
        new: list[tuple[CacheKey, EvalRequest]] = []
        for step, index, request in requests:
            key = self._key(request)
            hit = self.store.cached(key)
            if hit is not None:
                self.cache_hits += 1
                self._deliver(step, index, hit)
            elif key in self._waiters:
                self._waiters[key].append((step, index))
            else:
                self._waiters[key] = [(step, index)]
                new.append((key, request))
        for start in range(0, len(new), self.members_per_job):
            chunk = new[start:start + self.members_per_job]
            first = chunk[0][1]
            # Kept: models of full training with the run's seed (a brief rung's or a replicate's never are).
            keep = self.run_files is not None and not first.brief and first.seed is None
            paths = tuple(str(self.run_files.new_pending_model()) if keep else None for _ in chunk)
            preset = self._preset(first)
            if len(chunk) == 1:
                job: Job = EvalJob(first.arch, self._graph_text(first.arch), first.task, chunk[0][0].hparams,
                                   chunk[0][0].seed, preset, self.data_dir, paths[0])
            else:
                job = PopulationJob(first.arch, self._graph_text(first.arch), first.task,
                                    tuple(key.hparams for key, _ in chunk), tuple(key.seed for key, _ in chunk), preset,
                                    self.data_dir, paths)
            self._submit(_InFlight(tuple(key for key, _ in chunk), job, 0, paths))

    def _next_requests(self) -> list[tuple[int, int, EvalRequest]]:
        """The next queued request and, for population jobs, every other queued request of its
        step with the same architecture, task and shape (the rest stay queued, in order)."""
        step, _, index, request = heapq.heappop(self._queue)
        taken = [(step, index, request)]
        if self.members_per_job == 1:
            return taken
        shape = (request.arch, request.task, request.hparams.num_layers, request.hparams.param_budget, request.brief,
                 request.seed is None)
        others = []
        while self._queue and self._queue[0][0] == step:
            item = heapq.heappop(self._queue)
            other = item[3]
            if (other.arch, other.task, other.hparams.num_layers, other.hparams.param_budget, other.brief,
                    other.seed is None) == shape:
                taken.append((item[0], item[2], other))
            else:
                others.append(item)
        for item in others:
            heapq.heappush(self._queue, item)
        return taken

    def _submit(self, flight: _InFlight) -> None:
        self._in_flight[self.executor.submit(flight.job)] = flight

    def _collect(self, future: Future) -> None:
        """Records a finished job's evaluations at once, keeps each model that is the best so
        far, and hands every result to the steps waiting for it."""
        flight = self._in_flight.pop(future)
        job = flight.job
        try:
            outcome = future.result()
            results: list[EvalResult] = outcome if isinstance(outcome, list) else [outcome]
        except WorkerLostError as error:
            if flight.attempts < self.max_retries:
                self._emit("retry", {"arch": job.arch, "task": job.task, "attempt": flight.attempts + 1,
                                     "message": str(error)})
                self._submit(dataclasses.replace(flight, attempts=flight.attempts + 1))
                return
            message = f"the worker running this evaluation died {flight.attempts + 1} times: {error}"
            results = [_failed(job, key, message) for key in flight.keys]
        for key, path, result in zip(flight.keys, flight.model_paths, results):
            if flight.attempts:
                result = dataclasses.replace(result, attempts=flight.attempts + 1)
                if result.ok:
                    result.message = f"finished on attempt {flight.attempts + 1}: earlier workers running it died"
            self.trained += 1
            self.store.record(key, result)
            self._keep_model(key, path, result)
            if self.tensorboard is not None:
                self._log(key, result)
            self._emit("evaluation", {"arch": key.arch, "task": key.task, "status": str(result.status),
                                      "valid_score": result.valid_score, "seconds": result.seconds})
            for step, index in self._waiters.pop(key):
                self._deliver(step, index, result)
        self.store.set_meta("elapsed_seconds", self.elapsed())

    def _log(self, key: CacheKey, result: EvalResult) -> None:
        """Writes a finished evaluation as a TensorBoard run: a zoo cell by its name, a child by
        its hash; phase `rung` (a successive-halving rung), `replicate` (a re-evaluation's seed) or `full`."""
        phase = ("rung" if key.preset == self.evolution.scores.rung_key
                 else "replicate" if key.seed != self.seed else "full")
        self.tensorboard.write(result, self.store.label(key.arch), phase, {"arch": key.arch})

    def _keep_model(self, key: CacheKey, model_path: str | None, result: EvalResult) -> None:
        """Keeps the model of a recorded result whose configuration is now its architecture's
        best on the task, as `Scores.best_config` (the export's choice, ties included) says."""
        if model_path is None or self.run_files is None:
            return
        path = Path(model_path)
        best = result.ok and self.evolution.scores.best_config(key.arch, key.task) == key.hparams
        if best and path.is_file():
            target = self.run_files.kept_model(key.arch, key.task, key.hparams)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        else:
            path.unlink(missing_ok=True)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    # ----------------------------------------------------------------- the loop

    def _fill(self) -> None:
        """Gives every idle worker an evaluation: queued requests first, then new steps."""
        while len(self._in_flight) < self.executor.workers and not self.out_of_time():
            if self._queue:
                self._dispatch(self._next_requests())
                continue
            run = self.evolution.next_step()
            if run is None:
                break
            self._start(run)

    def _save_progress(self) -> None:
        self.store.set_meta("elapsed_seconds", self.elapsed())
        self.evolution.rescore()

    def run(self, tick: float = 1.0) -> None:
        """Runs until the budget or the algorithm's `max_candidates` is reached and nothing is
        in flight.

        On an exception (Ctrl-C included) the evaluations in flight are cancelled (the
        executor is shut down) and that exception propagates; everything finished is already
        in the store. Otherwise the executor is left to its owner.
        """
        if self.run_files is not None:
            self.run_files.clear_pending()
        try:
            for run in self.evolution.unfinished_steps():
                self._start(run)
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
            # Best effort: when the store is what failed, its second error must not hide the first.
            with contextlib.suppress(Exception):
                self._save_progress()
            raise
        self._save_progress()

    # ----------------------------------------------------------------- reporting

    def counts(self) -> dict[str, int]:
        """The algorithm's counts over the whole run, with this session's evaluations (trained
        on a worker, or served by the cache) and those in flight."""
        return {**self.evolution.counts(), "trained": self.trained, "cache_hits": self.cache_hits,
                "in_flight": len(self._in_flight)}

    def unfinished_steps(self) -> int:
        """Steps still running (or left unfinished when the budget was spent)."""
        return len(self._running)


def _failed(job: Job, key: CacheKey, message: str) -> EvalResult:
    config = HParams.from_dict(json.loads(key.hparams))
    return EvalResult(status=Status.FAILED, task=key.task, preset=job.preset.name, seed=key.seed,
                      hparams=config.to_dict(), message=message)
