"""Evaluations on a Ray cluster (or a local Ray instance), several per GPU, surviving worker loss.

The search loop and its SQLite store stay on the driver; each evaluation is a Ray task that
asks for `cpus_per_eval` CPUs and `gpus_per_eval` GPUs (fractions pack several small models
on one GPU). Worker processes are reused between tasks, so each loads a task's data once
(`evo_rnn.training.kit.task_data` caches it per process). A task whose worker dies (killed, out of
memory, node lost) surfaces as `WorkerLostError`; the search retries it a bounded number of
times and then records it as failed. Ray is an optional extra: `pip install 'evo_rnn[ray]'`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from evo_rnn.core import backend
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.executors import Evaluate, Executor, Job, WorkerLostError, run_job

__all__ = ["REMOTE_NAME", "RayExecutor"]

REMOTE_NAME = "evo_rnn_evaluation"  # Ray names a busy worker process `ray::<this>`
_PREPARED = False


def _import_ray():
    try:
        import ray
    except ImportError:
        raise EvoRnnError(
            "--executor ray needs Ray, which is not installed: pip install 'evo_rnn[ray]' (or pip install ray)"
        ) from None
    return ray


def _prepare_worker(threads: int) -> None:
    """Once per Ray worker process, before TensorFlow touches a GPU (memory growth, threads)."""
    global _PREPARED
    if not _PREPARED:
        backend.configure_worker(threads)
        _PREPARED = True


def _evaluate_remotely(job: Job, threads: int, evaluate: Evaluate) -> tuple[Any, list[bytes | None]]:
    """Runs in a Ray worker: the result(s), and the trained models' bytes where the driver wants
    them (the driver's paths may not exist on this node)."""
    _prepare_worker(threads)
    wanted = list(job.model_paths)
    if not any(wanted):
        return evaluate(job), [None] * len(wanted)
    with tempfile.TemporaryDirectory(prefix="evo_rnn-") as scratch:
        local = [None if path is None else str(Path(scratch) / f"model-{i}.keras") for i, path in enumerate(wanted)]
        result = evaluate(dataclasses.replace(job, model_paths=tuple(local)))
        return result, [Path(path).read_bytes() if path and Path(path).is_file() else None for path in local]


class RayExecutor(Executor):
    """Runs evaluations as Ray tasks.

    Args:
        address: a running cluster's address (`ray start --head` prints it; "auto" finds a
            local one); None starts a local Ray instance for this search alone.
        workers: evaluations in flight at most (default: as many as the cluster's CPUs and
            GPUs hold at `cpus_per_eval` / `gpus_per_eval` each).
        cpus_per_eval: CPUs each evaluation reserves (also its TensorFlow thread count).
        gpus_per_eval: GPUs each evaluation reserves; 0.25 packs four on one GPU.
        num_cpus: CPUs of the local instance (only without `address`; default: all cores).
        evaluate: what runs a job on a worker (default `run_job`).
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_eval: float = 1.0,
        gpus_per_eval: float = 0.0,
        num_cpus: int | None = None,
        evaluate: Evaluate = run_job,
    ):
        if cpus_per_eval <= 0 or gpus_per_eval < 0:
            raise EvoRnnError("--cpus-per-eval must be positive and --gpus-per-eval 0 or more")
        ray = self._ray = _import_ray()
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "runtime_env": {"env_vars": backend.worker_environment()},
            }
            if address is None:
                options["num_cpus"] = num_cpus or os.cpu_count() or 1
            interrupt_handler = signal.getsignal(signal.SIGINT)
            try:
                ray.init(address=address, **options)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise EvoRnnError(
                    f"cannot reach a Ray cluster at {address!r} ({error}); start one with "
                    "`ray start --head` or leave --ray-address out for a local instance"
                ) from None
            if threading.current_thread() is threading.main_thread() and callable(interrupt_handler):
                # Ray's core takes SIGINT over at the C level; without this, Ctrl-C never
                # reaches the search, which must cancel its tasks and export.
                signal.signal(signal.SIGINT, interrupt_handler)
        resources = ray.cluster_resources()
        slots = int(resources.get("CPU", 0) // cpus_per_eval)
        if gpus_per_eval > 0:
            if resources.get("GPU", 0) < gpus_per_eval:
                self.shutdown()
                raise EvoRnnError(
                    f"--gpus-per-eval {gpus_per_eval} but the Ray cluster has "
                    f"{resources.get('GPU', 0):g} GPUs; start nodes with GPUs or use --gpus-per-eval 0"
                )
            slots = min(slots, int(resources["GPU"] / gpus_per_eval + 1e-9))
        if slots < 1:
            self.shutdown()
            raise EvoRnnError(
                f"the Ray cluster has {resources.get('CPU', 0):g} CPUs, fewer than --cpus-per-eval {cpus_per_eval:g}"
            )
        self.workers = min(slots, workers) if workers else slots
        self.threads = max(1, int(cpus_per_eval))
        self._evaluate = evaluate
        # max_retries=0: the search counts and records retries itself. max_calls=0: worker
        # processes are reused (Ray's default for GPU tasks is a new process per task), so
        # task data is loaded once per process and GPU memory growth is set once.
        self._remote = ray.remote(max_calls=0, max_retries=0)(_evaluate_remotely).options(
            name=REMOTE_NAME,
            num_cpus=cpus_per_eval,
            num_gpus=gpus_per_eval,
        )
        self._refs: dict[Any, concurrent.futures.Future] = {}

    def submit(self, job: Job) -> concurrent.futures.Future:
        ray = self._ray
        ref = self._remote.remote(job, self.threads, self._evaluate)
        outer: concurrent.futures.Future = concurrent.futures.Future()
        self._refs[ref] = outer

        def relay(inner: concurrent.futures.Future) -> None:
            self._refs.pop(ref, None)
            if outer.done():
                return
            try:
                result, model = inner.result()
            except (
                ray.exceptions.WorkerCrashedError,
                ray.exceptions.NodeDiedError,
                ray.exceptions.LocalRayletDiedError,
                ray.exceptions.OutOfMemoryError,
            ) as error:
                outer.set_exception(
                    WorkerLostError(
                        f"the Ray worker died: {type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else ''}"
                    )
                )
                return
            except ray.exceptions.TaskCancelledError:
                outer.cancel()
                return
            except ray.exceptions.RayTaskError as error:  # our own code raised: a bug, stop the search
                outer.set_exception(error.as_instanceof_cause())
                return
            except BaseException as error:
                outer.set_exception(error)
                return
            for path, data in zip(job.model_paths, model):
                if path is not None and data is not None:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                    Path(path).write_bytes(data)
            outer.set_result(result)

        ref.future().add_done_callback(relay)
        return outer

    def shutdown(self, cancel: bool = False) -> None:
        ray = self._ray
        if cancel:
            for ref in list(self._refs):
                ray.cancel(ref, force=True)
            for outer in list(self._refs.values()):
                outer.cancel()
            self._refs.clear()
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
