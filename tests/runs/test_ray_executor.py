"""The Ray executor on a local Ray instance: a tiny search through the CLI, a Ray worker killed
in the middle of an evaluation, and the same results as the local executor."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from evo_rnn.cells import file_format, zoo
from evo_rnn.runs.executors import Job, run_job
from evo_rnn.runs.ray_executor import REMOTE_NAME, RayExecutor
from evo_rnn.runs.store import Store
from evo_rnn.search.evolution import Evolution
from evo_rnn.search.scheduler import Scheduler
from evo_rnn.training import presets
from evo_rnn.training.results import Status

from conftest import TINY, has_population, interrupt, run_module, search_args, start, wait_for


@pytest.fixture(scope="module")
def executor():
    ray_executor = RayExecutor(workers=2, num_cpus=2)
    yield ray_executor
    ray_executor.shutdown()


def tiny_preset(*more: str) -> presets.Preset:
    return presets.with_overrides(presets.get("quick"), [*TINY, "search.configs_per_task=1", *more])


def busy_ray_workers() -> list[int]:
    """Pids of Ray worker processes running an evaluation (Ray titles them `ray::<task name>`)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if cmdline.startswith(f"ray::{REMOTE_NAME}".encode()):
                found.append(int(entry))
    return found


def test_local_and_ray_executors_give_the_same_scores(executor):
    preset = tiny_preset()
    graph = file_format.dumps(zoo.get("gru"))
    config = (
        '{"dropout":0.0,"init_scale":1.0,"learning_rate":1.0,"max_grad_norm":5.0,"num_layers":1,"param_budget":3000}'
    )
    job = Job("gru", graph, "memorize", (config,), (3,), preset)
    (local,) = run_job(job)
    (remote,) = executor.submit(job).result(timeout=300)
    assert remote.status is local.status is Status.OK
    for key in ("valid_score", "test_score", "valid_metrics", "test_metrics", "epochs", "units", "params"):
        assert getattr(remote, key) == getattr(local, key), key
    assert [p["loss"] for p in remote.curve] == [p["loss"] for p in local.curve]


def test_a_killed_ray_worker_is_retried_and_the_store_shows_it(executor, tmp_path):
    preset = tiny_preset("max_epochs=4")
    killed: list[int] = []
    done = threading.Event()

    def kill_one_busy_worker():
        while not done.is_set() and not killed:
            for pid in busy_ray_workers():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one_busy_worker, daemon=True)
    events = []
    with Store(tmp_path / "search.sqlite") as store:
        search = Scheduler(
            Evolution(store, preset, seed=0, max_candidates=0),
            executor,
            on_event=lambda kind, data: events.append((kind, data)),
        )
        killer.start()
        try:
            search.run(tick=0.2)
        finally:
            done.set()
        assert killed, "no busy Ray worker was found to kill"
        results = store.evaluations()
        assert len(results) == 6 and all(r["status"] == "ok" for r in results)  # the search completed
        retried = [r for r in results if r.get("attempts", 1) > 1]
        assert len(retried) == 1 and "earlier workers running it died" in retried[0]["message"]
        assert any(kind == "retry" and "WorkerCrashedError" in data["message"] for kind, data in events)
        assert store.population()


def test_ray_flags_without_ray_executor_are_refused(tmp_path):
    result = run_module("evo_rnn.search", *search_args(tmp_path, "--gpus-per-eval", "0.25"))
    assert result.returncode == 2 and "go with --executor ray" in result.stderr


def test_a_tiny_search_on_ray_stops_on_ctrl_c_and_resumed_completes_and_exports(tmp_path):
    # One Ray instance for both halves (starting one costs seconds): stopped with children in
    # flight, then the same command again to the end.
    args = search_args(tmp_path, "--executor", "ray", "--workers", "2", "--max-candidates", "2", "--top", "1")
    database = tmp_path / "runs" / "tiny" / "search.sqlite"
    process = start(args)
    wait_for(lambda: has_population(database), process)
    wait_for(lambda: bool(busy_ray_workers()), process)
    stderr = interrupt(process, timeout=180)
    assert process.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr and "python -m evo_rnn.export --run tiny" in stderr
    deadline = time.time() + 30
    while busy_ray_workers() and time.time() < deadline:
        time.sleep(0.5)
    assert not busy_ray_workers()  # the evaluations in flight were cancelled

    result = run_module("evo_rnn.search", *args, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    with Store(database) as store:
        assert store.evaluation_count() >= 12 and store.population()
        assert all(r["status"] in ("ok", "diverged", "failed") for r in store.evaluations())
        children = [s for s in store.steps() if s["kind"] == "mutate" and s["outcome"] not in ("duplicate",)]
        assert len(children) == 2
    folders = sorted(p for p in (tmp_path / "out" / "tiny").iterdir() if p.is_dir())
    folder = folders[0]  # the best child, or with none admitted the first baseline
    assert (folder / "model-arith.keras").is_file() and (folder / "savedmodel-xml").is_dir()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["rank"] == 1 if folder.name.startswith("1-") else summary["baseline"] == "gru"
