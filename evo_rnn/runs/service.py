"""The evaluation service: what a driver (the search's scheduler, the confirmation) asks to have
trained becomes results recorded in the run's database, one way for all of them: a request
already in the cache is answered from it, identical requests in flight are joined, requests of
one group, cell, task and shape are packed into batched jobs, a job whose worker died is tried
again, every result is committed as it arrives, trained models are kept by the driver's rule,
and every evaluation can go to TensorBoard.

Drivers either submit requests with a callback and drive the loop themselves (`submit`,
`dispatch`, `poll`: the search keeps its steps going while evaluations run) or hand over a
list and wait (`run`).
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import os
import tempfile
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

import networkx as nx

from evo_rnn import tasks
from evo_rnn.cells import file_format
from evo_rnn.core import faults
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.executors import Executor, InlineExecutor, Job, WorkerLostError
from evo_rnn.runs.run import Run, RunFiles
from evo_rnn.runs.store import Store
from evo_rnn.runs.tensorboard import TensorBoardLog
from evo_rnn.training.hyperparameters import HParams, pack_by_shape
from evo_rnn.training.presets import Preset, preset_key
from evo_rnn.training.results import CacheKey, EvalResult, Status

__all__ = ["Evaluations", "Request", "evaluate_apart"]

OnResult = Callable[[EvalResult], None]
# The configurations of an architecture on a task (`HParams.to_json`) whose models are worth keeping.
KeepRule = Callable[[str, str], Collection[str]]


@dataclasses.dataclass(frozen=True)
class Request:
    """One evaluation a driver asks for.

    Attributes:
        arch: the architecture's key in the run database.
        task: the task.
        hparams: the configuration.
        seed: the training seed.
        preset: what it trains with (a successive-halving rung's brief preset, or the run's).
        keep_model: offer its trained model to the service's keep rule (else none is saved).
        phase: its label in TensorBoard (full, rung, replicate, confirm...).
        group: requests are served in ascending group order, and packed into one job only
            within a group (the search's step number; 0 for a plain list).
        retrain: train it even when the cache holds its result (the export: a model the run did
            not keep); the result first recorded stays the one on record.
    """

    arch: str
    task: str
    hparams: HParams
    seed: int
    preset: Preset
    keep_model: bool = False
    phase: str = "full"
    group: int = 0
    retrain: bool = False

    @functools.cached_property
    def key(self) -> CacheKey:
        """What makes two requests the same evaluation (`evo_rnn.training.results.CacheKey`)."""
        # A user's file is known by its content, not its path (`tasks.identity`).
        return CacheKey(
            self.arch, tasks.identity(self.task), self.hparams.to_json(), self.seed, preset_key(self.preset)
        )

    def shape(self) -> tuple:
        """What requests packed into one batched job share."""
        return (self.group, self.arch, self.task, self.hparams.shape, self.key.preset, self.keep_model)


@dataclasses.dataclass
class _InFlight:
    """A job on a worker: its requests (one per member) and where their models go."""

    requests: tuple[Request, ...]
    job: Job
    attempts: int
    model_paths: tuple[str | None, ...]


class Evaluations:
    """Runs and records the evaluations of one run.

    Args:
        store: the run's database (the cache; every result is recorded in it, unless it was
            opened read-only).
        executor: where jobs run.
        data_dir: where workers read real datasets.
        data_seed: fixes the generated tasks' data for every job (None: each training seed
            draws its own). Not part of the cache key: only for a store of one command's own
            (`evaluate_apart`).
        run_files: where models are kept (`RunFiles.kept_model`); None keeps none.
        members_per_job: the most requests packed into one batched job (`evo_rnn.training.batched_engine`);
            above 1 every request's preset must train with the batched engine, so that a
            member's result does not depend on its company.
        max_retries: how often a job whose worker died is tried again before its requests are
            recorded as failed.
        tensorboard: where every evaluation trained here is written as a run; None: nowhere.
        keep: once a result is recorded, the configurations of its architecture on its task whose
            models are worth keeping: its model is kept if its configuration is one of them, and
            the kept models of the others are deleted (default: every model is kept).
        on_event: called with (kind, data) on "evaluation" (each result recorded), "job" (a
            job's results all recorded) and "retry" events.
    """

    @classmethod
    def of(cls, run: Run, executor: Executor, data_dir: str | os.PathLike | None = None, **options: Any) -> Evaluations:
        """The service recording into `run` (its files unless `options` name others: `run_files`)."""
        return cls(run.store, executor, data_dir, **{"run_files": run.files, **options})

    def __init__(
        self,
        store: Store,
        executor: Executor,
        data_dir: str | os.PathLike | None = None,
        run_files: RunFiles | None = None,
        members_per_job: int = 1,
        max_retries: int = 2,
        tensorboard: TensorBoardLog | None = None,
        keep: KeepRule | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        data_seed: int | None = None,
    ):
        if members_per_job < 1:
            raise EvoRnnError(f"--batched must be at least 1, got {members_per_job}")
        self.store, self.executor = store, executor
        self.data_dir = None if data_dir is None else str(data_dir)
        self.data_seed = data_seed
        self.run_files, self.members_per_job, self.max_retries = run_files, members_per_job, max_retries
        self.tensorboard, self.keep, self.on_event = tensorboard, keep, on_event
        self.trained = self.cache_hits = 0  # evaluations run on a worker, or answered by the cache
        self._queue: list[tuple[int, int, Request]] = []  # heap: (group, order of arrival, request)
        self._arrivals = 0
        self._waiters: dict[CacheKey, list[OnResult]] = {}
        self._in_flight: dict[Future, _InFlight] = {}
        self._graph_json: dict[str, str] = {}

    # ----------------------------------------------------------------- state

    @property
    def in_flight(self) -> int:
        """Jobs on workers now."""
        return len(self._in_flight)

    @property
    def queued(self) -> int:
        """Requests waiting for a worker."""
        return len(self._queue)

    # ----------------------------------------------------------------- asking

    def submit(self, request: Request, on_result: OnResult) -> None:
        """Asks for `request`; `on_result(result)` is called when its result is known: at once
        when it is in the cache, else when a job running it (or an identical request) ends."""
        key = request.key
        hit = None if request.retrain else self.store.cached(key)
        if hit is not None:
            self.cache_hits += 1
            on_result(hit)
        elif key in self._waiters:
            self._waiters[key].append(on_result)
        else:
            if self.members_per_job > 1 and request.preset.engine != "batched":
                raise EvoRnnError(
                    "batched jobs need the batched engine (its preset field engine=batched): choose it with --batched P"
                )
            self._waiters[key] = [on_result]
            self._arrivals += 1
            heapq.heappush(self._queue, (request.group, self._arrivals, request))

    def run(self, requests: Sequence[Request], on_result: OnResult | None = None) -> list[EvalResult]:
        """Evaluates `requests` (cached ones are not trained again) and waits for all of them;
        `on_result` hears each result as it is known.

        Returns:
            Their results, in order.
        """
        results: list[EvalResult | None] = [None] * len(requests)

        def heard(index: int, result: EvalResult) -> None:
            results[index] = result
            if on_result is not None:
                on_result(result)

        for index, request in enumerate(requests):
            self.submit(request, functools.partial(heard, index))
        while self._queue or self._in_flight:
            while self._queue and len(self._in_flight) < self.executor.workers:
                self.dispatch()
            self.poll(None)
        return results  # type: ignore[return-value]

    # ----------------------------------------------------------------- running

    def dispatch(self) -> None:
        """Sends the first queued request to a worker, packed with the queued requests of the
        same group and shape (at most `members_per_job`; the rest stay queued, in order)."""
        group = self._queue[0][0]
        waiting = []  # the first group's requests, in order
        while self._queue and self._queue[0][0] == group:
            waiting.append(heapq.heappop(self._queue))
        first_job = set(pack_by_shape([item[2] for item in waiting], self.members_per_job, Request.shape)[0])
        chunk = [item[2] for i, item in enumerate(waiting) if i in first_job]
        for i, item in enumerate(waiting):
            if i not in first_job:
                heapq.heappush(self._queue, item)
        first = chunk[0]
        keep = first.keep_model and self.run_files is not None
        paths = tuple(str(self.run_files.new_pending_model()) if keep else None for _ in chunk)
        graph = self._graph_text(first.arch)
        job = Job(
            first.arch,
            graph,
            first.task,
            tuple(r.key.hparams for r in chunk),
            tuple(r.seed for r in chunk),
            first.preset,
            self.data_dir,
            paths,
            self.data_seed,
        )
        for request in chunk:  # for the fault-injection suite: what was sent to training, and why
            faults.trace(
                {
                    "event": "train",
                    **dataclasses.asdict(request.key),
                    "phase": request.phase,
                    "retrain": request.retrain,
                }
            )
        faults.point(f"train:{first.phase}")
        self._submit(_InFlight(tuple(chunk), job, 0, paths))

    def poll(self, timeout: float | None) -> None:
        """Waits up to `timeout` seconds (None: until one ends) for jobs to end, and records them."""
        if not self._in_flight:
            return
        done, _ = wait(list(self._in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            self._collect(future)

    def shutdown(self, cancel: bool = False) -> None:
        """Frees the executor's workers; with `cancel`, jobs in flight are abandoned."""
        self.executor.shutdown(cancel=cancel)

    def _graph_text(self, arch: str) -> str:
        if arch not in self._graph_json:
            self._graph_json[arch] = file_format.dumps(self.store.architecture(arch))
        return self._graph_json[arch]

    def _submit(self, flight: _InFlight) -> None:
        self._in_flight[self.executor.submit(flight.job)] = flight

    def _collect(self, future: Future) -> None:
        """Records a finished job's results at once, keeps the models its rule keeps, and hands
        every result to those waiting for it."""
        flight = self._in_flight.pop(future)
        job = flight.job
        try:
            results: list[EvalResult] = future.result()
        except WorkerLostError as error:
            if flight.attempts < self.max_retries:
                self._emit(
                    "retry", {"arch": job.arch, "task": job.task, "attempt": flight.attempts + 1, "message": str(error)}
                )
                self._submit(dataclasses.replace(flight, attempts=flight.attempts + 1))
                return
            message = f"the worker running this evaluation died {flight.attempts + 1} times: {error}"
            results = [_failed(request, message) for request in flight.requests]
        for request, path, result in zip(flight.requests, flight.model_paths, results):
            if result.task != request.key.task:  # a user's file: stored under its content, not its path
                result = dataclasses.replace(result, task=request.key.task)
            if flight.attempts:
                result = dataclasses.replace(result, attempts=flight.attempts + 1)
                if result.ok:
                    result.message = f"finished on attempt {flight.attempts + 1}: earlier workers running it died"
            self.trained += 1
            faults.point(f"record:{request.phase}")
            if not self.store.readonly:  # a read-only run (the export of a copy) is never written
                self.store.record(request.key, result)
            faults.point(f"recorded:{request.phase}")
            self._keep_model(request.key, path, result)
            if self.tensorboard is not None:
                self.tensorboard.write(result, self.store.label(request.arch), request.phase, {"arch": request.arch})
            self._emit(
                "evaluation",
                {
                    "arch": request.arch,
                    "task": request.task,
                    "status": str(result.status),
                    "valid_score": result.valid_score,
                    "seconds": result.seconds,
                },
            )
            for on_result in self._waiters.pop(request.key):
                on_result(result)
        self._emit("job", {})

    def _keep_model(self, key: CacheKey, model_path: str | None, result: EvalResult) -> None:
        if model_path is None or self.run_files is None:
            return
        path = Path(model_path)
        worth = None if self.keep is None else set(self.keep(key.arch, key.task))
        if result.ok and path.is_file() and (worth is None or key.hparams in worth):
            target = self.run_files.kept_model(key.arch, key.task, key.hparams)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        else:
            path.unlink(missing_ok=True)
        if worth is not None:
            self.run_files.drop_kept_models(key.arch, key.task, keeping=worth)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)


def _failed(request: Request, message: str) -> EvalResult:
    return EvalResult(
        status=Status.FAILED,
        task=request.task,
        preset=request.preset.name,
        seed=request.seed,
        hparams=request.hparams.to_dict(),
        message=message,
    )


def evaluate_apart(
    graph: nx.DiGraph,
    name: str,
    task: str,
    configs: Sequence[HParams],
    seeds: Sequence[int],
    preset: Preset,
    *,
    data_dir: str | os.PathLike | None = None,
    data_seed: int | None = None,
    members_per_job: int = 1,
    tensorboard: TensorBoardLog | None = None,
    on_result: OnResult | None = None,
) -> list[EvalResult]:
    """Configuration i of cell `graph` (called `name`) trained on `task` with seed i, through the
    service into a database of its own that is thrown away afterwards: `python -m
    evo_rnn.evaluate`, which keeps no run, packs, trains and logs exactly as a run does.

    Returns:
        One result per configuration, in order; `on_result` hears each as it is known.
    """
    if len(configs) != len(seeds):
        raise ValueError(f"{len(configs)} configurations need as many seeds, got {len(seeds)}")
    with (
        tempfile.TemporaryDirectory(prefix="evo_rnn-evaluate-") as scratch,
        Store(Path(scratch) / "run.sqlite") as store,
    ):
        arch = store.add_architecture(graph, f"file:{name}")
        service = Evaluations(
            store,
            InlineExecutor(),
            data_dir,
            members_per_job=members_per_job,
            tensorboard=tensorboard,
            data_seed=data_seed,
        )
        requests = [Request(arch, task, config, seed, preset, phase="evaluate") for config, seed in zip(configs, seeds)]
        return service.run(requests, on_result)
