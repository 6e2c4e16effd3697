"""Where evaluations run (for the search and the ablation): in this process, or in a pool of
spawned worker processes.

Every executor takes `Job`s and returns `concurrent.futures.Future`s of their `EvalResult`s,
so a caller keeps any number of workers busy without knowing where they are (a cluster
executor, `evo_rnn.runs.ray_executor`, plugs in behind the same three members: `workers`,
`submit`, `shutdown`). What runs a job is passed in (default `run_job`).
"""

from __future__ import annotations

import abc
import concurrent.futures
import dataclasses
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool

from evo_rnn.cells import file_format
from evo_rnn.core import backend
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.training import evaluation
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.presets import Preset
from evo_rnn.training.results import EvalResult

__all__ = ["Executor", "InlineExecutor", "Job", "LocalPoolExecutor", "WorkerLostError", "local_executor", "run_job"]


class WorkerLostError(EvoRnnError, RuntimeError):
    """The process running an evaluation died (killed, out of memory) before it answered: not a
    bug, so a command reports it in one line (what finished is stored; a rerun resumes)."""


@dataclasses.dataclass(frozen=True)
class Job:
    """Configurations of one cell on one task, as plain data that travels to a worker: the one
    packet between the evaluation service and the executors.

    Member i is configuration `hparams[i]` trained with seed `seeds[i]` and saved to
    `model_paths[i]` (None: not saved). The preset's engine trains them (`training.evaluate`):
    Keras' fit one at a time, or the batched engine as one compiled program (the members then
    share one shape: layers and parameter budget).

    Attributes:
        arch: the architecture's key in the run database.
        graph: the cell as canonical JSON (`evo_rnn.cells.file_format.dumps`).
        task: the task name.
        hparams: the configurations as canonical JSON (`HParams.to_json`).
        seeds: the training seeds, one per configuration.
        preset: the preset (task sizes, epochs, engine...).
        data_dir: where workers read real datasets; it must be reachable from them.
        model_paths: where to save each trained model (`.keras`); empty: none is saved.
        data_seed: fixes a generated task's data (None: each member's training seed draws it).
    """

    arch: str
    graph: str
    task: str
    hparams: tuple[str, ...]
    seeds: tuple[int, ...]
    preset: Preset
    data_dir: str | None = None
    model_paths: tuple[str | None, ...] = ()
    data_seed: int | None = None

    def __post_init__(self) -> None:
        if not self.hparams or len(self.hparams) != len(self.seeds):
            raise ValueError(f"a job needs one seed per configuration, got {len(self.hparams)} and {len(self.seeds)}")
        if not self.model_paths:
            object.__setattr__(self, "model_paths", (None,) * len(self.seeds))
        elif len(self.model_paths) != len(self.seeds):
            raise ValueError(f"a job needs one model path (or None) per member, got {len(self.model_paths)}")

    def members(self) -> list[Job]:
        """The job's members, each a job of its own."""
        return [
            dataclasses.replace(self, hparams=(h,), seeds=(s,), model_paths=(m,))
            for h, s, m in zip(self.hparams, self.seeds, self.model_paths)
        ]


Evaluate = Callable[[Job], "list[EvalResult]"]  # what runs one job: one result per member, in order


def run_job(job: Job) -> list[EvalResult]:
    """Trains one job (in whatever process runs it): one `EvalResult` per member, in order.

    A candidate's own failures come back as status "failed" or "diverged"; errors of
    evo_rnn's own code propagate to the caller, which stops.
    """
    return evaluation.evaluate(
        file_format.loads(job.graph),
        job.task,
        [HParams.from_json(h) for h in job.hparams],
        job.seeds,
        job.preset,
        data_dir=job.data_dir,
        data_seed=job.data_seed,
        save_models=job.model_paths,
    )


class Executor(abc.ABC):
    """Runs evaluation jobs; `workers` says how many run at once."""

    workers: int

    @abc.abstractmethod
    def submit(self, job: Job) -> concurrent.futures.Future:
        """Starts `job`; the future's result is what `run_job` returns. A future that raises
        `WorkerLostError` lost its worker and may be submitted again."""

    @abc.abstractmethod
    def shutdown(self, cancel: bool = False) -> None:
        """Frees the workers; with `cancel`, evaluations in flight are abandoned at once."""


class InlineExecutor(Executor):
    """Runs each job in this process when it is submitted (one worker; for tests and debugging).

    Args:
        evaluate: what runs a job (default `run_job`; tests pass a fake evaluator).
    """

    workers = 1

    def __init__(self, evaluate: Evaluate = run_job):
        if evaluate is run_job:
            backend.warm_up()  # real training runs in this process
        self._evaluate = evaluate

    def submit(self, job: Job) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(self._evaluate(job))
        except Exception as error:  # handed to the search, which decides
            future.set_exception(error)
        return future

    def shutdown(self, cancel: bool = False) -> None:
        pass


def _exit_with_parent(parent: int, period: float = 1.0) -> None:
    """Ends this worker process once its parent is gone (killed with SIGKILL, say): the pool
    cannot tell it to stop then, and an orphan would train on with nobody to hear its result."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(period)
        os._exit(1)

    threading.Thread(target=watch, name="evo_rnn-parent-watch", daemon=True).start()


def _init_worker(threads: int | None, parent: int) -> None:
    """Runs first in every pool worker: Ctrl-C is the driver's to handle, and the worker ends
    with the driver."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent)
    backend.configure_worker(threads)


class LocalPoolExecutor(Executor):
    """A pool of `workers` spawned processes on this machine (TensorFlow cannot be forked).

    Each worker loads task data once and keeps it for all its evaluations. A worker that
    dies breaks the pool: its futures raise `WorkerLostError`, and the next `submit`
    starts a fresh pool.

    Args:
        workers: processes (default: the machine's cores).
        threads_per_worker: TensorFlow threads per worker (default: cores // workers, at least 1).
        evaluate: what runs a job in a worker (default `run_job`); a module-level function,
            since it travels to the workers by name.
    """

    def __init__(self, workers: int | None = None, threads_per_worker: int | None = None, evaluate: Evaluate = run_job):
        cores = os.cpu_count() or 1
        self.workers = workers or cores
        self.threads = threads_per_worker or max(1, cores // self.workers)
        self._evaluate = evaluate
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None or getattr(self._pool, "_broken", False):
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.threads, os.getpid()),
            )
        return self._pool

    def submit(self, job: Job) -> concurrent.futures.Future:
        try:
            inner = self._ensure_pool().submit(self._evaluate, job)
        except BrokenProcessPool:
            self._pool = None
            inner = self._ensure_pool().submit(self._evaluate, job)
        outer: concurrent.futures.Future = concurrent.futures.Future()

        def relay(done: concurrent.futures.Future) -> None:
            if done.cancelled():
                outer.cancel()
                return
            error = done.exception()
            if isinstance(error, BrokenProcessPool):
                outer.set_exception(WorkerLostError(f"a worker process died: {error}"))
            elif error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(done.result())

        inner.add_done_callback(relay)
        return outer

    def shutdown(self, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel:
            # ProcessPoolExecutor cannot stop a running call; its workers are ours to end.
            for process in list(getattr(pool, "_processes", {}).values()):
                if process.is_alive():
                    process.terminate()
        pool.shutdown(wait=True, cancel_futures=cancel)


def local_executor(workers: int | None) -> Executor:
    """Where the `--workers` option (`cli.add_workers_argument`) runs evaluations: 0 in this
    process, N in a pool of N processes, None in a pool of one per CPU core."""
    return InlineExecutor() if workers == 0 else LocalPoolExecutor(workers)
