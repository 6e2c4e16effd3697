"""Where the search's evaluations run: in this process, or in a pool of spawned worker processes.

Every executor takes `EvalJob`s and returns `concurrent.futures.Future`s of plain result
dicts, so the search loop keeps any number of workers busy without knowing where they are
(a cluster executor plugs in behind the same three members: `workers`, `submit`, `shutdown`).
"""

from __future__ import annotations

import abc
import concurrent.futures
import dataclasses
import json
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from evo_rnn.presets import Preset

__all__ = ["EvalJob", "Executor", "InlineExecutor", "LocalPoolExecutor", "run_job", "WorkerLostError"]


class WorkerLostError(RuntimeError):
    """The process running an evaluation died (killed, out of memory) before it answered."""


@dataclasses.dataclass(frozen=True)
class EvalJob:
    """One evaluation, as plain data that travels to a worker.

    Attributes:
        arch: the architecture's key in the run database.
        graph: the cell as canonical JSON (`evo_rnn.cell_format.dumps`).
        task: the task name.
        hparams: the configuration as canonical JSON (`HParams.to_json`).
        seed: the training seed.
        preset: the preset (task sizes, epochs...).
        data_dir: where workers read real datasets; it must be reachable from them.
        model_path: where to save the trained model (`.keras`), or None.
    """

    arch: str
    graph: str
    task: str
    hparams: str
    seed: int
    preset: Preset
    data_dir: str | None = None
    model_path: str | None = None


def run_job(job: EvalJob) -> dict[str, Any]:
    """Trains one job (in whatever process runs it) and returns its `EvalResult` as a dict.

    A candidate's own failures come back as status "failed" or "diverged"; errors of
    evo_rnn's own code propagate to the search, which stops.
    """
    from evo_rnn import cell_format, train
    from evo_rnn.hparams import HParams

    # Every evaluation builds new models, so TensorFlow's "N out of the last M calls
    # triggered retracing" warnings are expected here; they would flood the search's output.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    result = train.evaluate(
        cell_format.loads(job.graph), job.task, HParams.from_dict(json.loads(job.hparams)), seed=job.seed,
        preset=job.preset, data_dir=job.data_dir, save_model=job.model_path,
    )
    return result.to_dict()


class Executor(abc.ABC):
    """Runs evaluation jobs; `workers` says how many run at once."""

    workers: int

    @abc.abstractmethod
    def submit(self, job: EvalJob) -> concurrent.futures.Future:
        """Starts `job`; the future's result is `run_job`'s dict. A future that raises
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

    def __init__(self, evaluate: Callable[[EvalJob], dict[str, Any]] = run_job):
        self._evaluate = evaluate

    def submit(self, job: EvalJob) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(self._evaluate(job))
        except Exception as error:  # handed to the search, which decides
            future.set_exception(error)
        return future

    def shutdown(self, cancel: bool = False) -> None:
        pass


def warm_up_tensorflow() -> None:
    """Starts TensorFlow's devices and runs one tiny training step with native stderr hidden:
    on a machine without a GPU driver TensorFlow logs a failed `cuInit` "ERROR", and its
    first `tf.data` pipeline a NodeDef note, in every worker; neither means anything is wrong."""
    import keras
    import numpy as np

    import evo_rnn

    if keras.backend.backend() != "tensorflow":
        return
    with evo_rnn._quiet_native_stderr(again=True):
        import tensorflow as tf

        tf.config.list_physical_devices()
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        model.fit(np.zeros((2, 2)), np.zeros((2, 1)), verbose=0)
        keras.backend.clear_session()


def configure_tensorflow(threads: int | None) -> None:
    """Prepares a worker process before TensorFlow runs anything: GPU memory grows on demand
    (TensorFlow takes a whole card by default, which breaks several evaluations per GPU),
    its thread pools get `threads` threads (None: TensorFlow's default), then the devices
    start quietly (`warm_up_tensorflow`)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    import evo_rnn  # registers the layers, quiets TensorFlow's start-up notes

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with evo_rnn._quiet_native_stderr(again=True):  # a machine without a GPU driver logs a failed cuInit
            gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
    warm_up_tensorflow()


def _init_worker(threads: int | None) -> None:
    """Runs first in every pool worker: Ctrl-C is the driver's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_tensorflow(threads)


class LocalPoolExecutor(Executor):
    """A pool of `workers` spawned processes on this machine (TensorFlow cannot be forked).

    Each worker loads task data once and keeps it for all its evaluations. A worker that
    dies breaks the pool: its futures raise `WorkerLostError`, and the next `submit`
    starts a fresh pool.

    Args:
        workers: processes (default: the machine's cores).
        threads_per_worker: TensorFlow threads per worker (default: cores // workers, at least 1).
    """

    def __init__(self, workers: int | None = None, threads_per_worker: int | None = None):
        cores = os.cpu_count() or 1
        self.workers = workers or cores
        self.threads = threads_per_worker or max(1, cores // self.workers)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None or getattr(self._pool, "_broken", False):
            # Spawned workers inherit it, and import TensorFlow before `_init_worker` runs: its
            # C++ log would print a tf.data NodeDef "error" for every evaluation. Real failures
            # still arrive as exceptions and messages.
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(self.threads,),
            )
        return self._pool

    def submit(self, job: EvalJob) -> concurrent.futures.Future:
        try:
            inner = self._ensure_pool().submit(run_job, job)
        except BrokenProcessPool:
            self._pool = None
            inner = self._ensure_pool().submit(run_job, job)
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
