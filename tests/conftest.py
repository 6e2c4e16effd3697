"""Shared test helpers, one room for each: the Keras backend and the repository root; running
our commands in a fresh interpreter; the fake evaluator and fake searches (milliseconds per
evaluation) that the search, confirmation, report and TensorBoard tests share; real tiny
searches in a subprocess for the command-line, Ray and run-safety tests."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # evo_rnn itself sets TensorFlow's C++ log level
# Encoded `text:` sources are kept in a cache folder (evo_rnn.tasks.text_encoding): the tests'
# own, not the user's ~/.cache, shared by the commands they run.
os.environ.setdefault("EVO_RNN_CACHE", tempfile.mkdtemp(prefix="evo-rnn-test-cache-"))

from evo_rnn.cells import file_format, zoo
from evo_rnn.cells.hashing import same_architecture, structural_hash
from evo_rnn.runs.executors import InlineExecutor, Job
from evo_rnn.runs.run import RunFiles, RunSettings
from evo_rnn.runs.store import Store
from evo_rnn.search.evolution import Evolution
from evo_rnn.search.scheduler import Scheduler
from evo_rnn.training import presets
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.results import EvalResult, Status

ROOT = Path(__file__).resolve().parents[1]
# The shared datasets (Penn Treebank, music); CI sets EVO_RNN_REQUIRE_DATA=1 so that their
# absence fails instead of skipping.
SHARED = Path(os.environ.get("EVO_RNN_TEST_DATA", ROOT.parent / "shared" / "data"))
HAVE_SHARED = (SHARED / "ptb" / "ptb.train.txt").is_file()
if not HAVE_SHARED and os.environ.get("EVO_RNN_REQUIRE_DATA") == "1":
    raise RuntimeError(f"the shared datasets are not in {SHARED}; set EVO_RNN_TEST_DATA to their folder")
needs_shared_data = pytest.mark.skipif(not HAVE_SHARED, reason=f"the shared datasets are not in {SHARED}")


def run_python(code: str, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs `python -c code args...` in a fresh interpreter from the repository root."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def run_module(module: str, *args: str, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs `python -m module args...` from the repository root (in `env` if given, else ours)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


def user_environment(**changes: str) -> dict[str, str]:
    """The environment a user's shell would give a command: none of the variables this test
    process set for itself (TensorFlow's log level), plus `changes`."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST")}
    return {**env, **changes}


def without_graphviz() -> dict[str, str]:
    """A user environment whose PATH has Python's folder but no Graphviz `dot`."""
    return user_environment(PATH=os.path.dirname(sys.executable))


RAW_TENSORFLOW_LOG = ("E0000", "W0000", "I0000", "cuInit", "NodeDef", "oneDNN", "WARNING: All log messages")


def stderr_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The lines of stderr that evo_rnn wrote (TensorFlow's own C++ log lines dropped)."""
    return [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith(("E0000", "W0000", "I0000", "WARNING: All log messages"))
    ]


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)


# --- Fake evaluations and fake searches ---

BASE_SCORES = {"gru": {"arith": 0.5, "xml": 0.6, "memorize": 0.9}, "lstm": {"arith": 0.4, "xml": 0.66, "memorize": 0.8}}


def search_preset(**search_fields) -> presets.Preset:
    fields = {
        "tasks": "arith,xml",
        "race_seeds": 1,
        "race_max_seeds": 1,
        "population_size": 100,
        "reevaluate_probability": 0.2,
        "configs_per_task": 3,
        "filter_configs": 2,
        "filter_threshold": 0.3,
        "first_task_ratio": 0.9,
        "halving_configs": 0,
        **search_fields,
    }
    return presets.with_overrides(presets.get("quick"), [f"search.{k}={v}" for k, v in fields.items()])


@dataclasses.dataclass(frozen=True)
class Member:
    """One member of a `Job` as a fake evaluator sees it: one configuration and seed."""

    arch: str
    graph: str
    task: str
    hparams: str
    seed: int
    preset: presets.Preset
    data_dir: str | None
    model_path: str | None


def members(job: Job) -> list[Member]:
    return [
        Member(job.arch, job.graph, job.task, h, s, job.preset, job.data_dir, m)
        for h, s, m in zip(job.hparams, job.seeds, job.model_paths)
    ]


class FakeEvaluator:
    """Scores a cell from its structure: the zoo's GRU and LSTM get fixed scores, any other
    cell a pseudo-random quality per task; a learning rate below 1 costs 10%. Logs every call
    (`calls`: one per member; `jobs`: the jobs of several members). A job gets one result per
    member, as `training.evaluate` gives; subclasses change `one`, the result of one member."""

    def __init__(self, fail=None):
        self.calls: list[tuple] = []
        self.jobs: list[Job] = []
        self.fail = fail or (lambda member: None)

    def quality(self, graph, task: str) -> float:
        for name, scores in BASE_SCORES.items():
            if same_architecture(graph, zoo.get(name)):
                return scores[task]
        return random.Random(structural_hash(graph) + task).uniform(0.0, 0.8)

    def __call__(self, job: Job) -> list[EvalResult]:
        if len(job.seeds) > 1:
            self.jobs.append(job)
        return [self.one(member) for member in members(job)]

    def one(self, job: Member) -> EvalResult:
        self.calls.append((job.arch, job.task, job.hparams, job.seed))
        status = self.fail(job)
        config = HParams.from_dict(json.loads(job.hparams))
        if status is not None:
            return EvalResult(
                status=status, task=job.task, preset=job.preset.name, seed=job.seed, hparams=config.to_dict()
            )
        score = self.quality(file_format.loads(job.graph), job.task) * (1.0 if config.learning_rate >= 1 else 0.9)
        return EvalResult(
            status=Status.OK,
            task=job.task,
            preset=job.preset.name,
            seed=job.seed,
            hparams=config.to_dict(),
            valid_score=score,
            test_score=score * 0.95,
            seconds=0.01,
            valid_metrics={"score": score, "nll": 1.0 - score},
        )  # a loss that falls as the score rises


@pytest.fixture
def store(tmp_path):
    """A fresh run database."""
    with Store(tmp_path / "search.sqlite") as opened:
        yield opened


def best_by_task(store, arch, preset) -> dict[str, float]:
    """Best ok validation score per task, read straight from the evaluations table."""
    best: dict[str, float] = {}
    for row in store.evaluations(arch=arch):
        if row["status"] == "ok":
            best[row["task"]] = max(best.get(row["task"], 0.0), row["valid_score"])
    return best


def make_search(store, preset, evaluate=None, seed=0, mutate=None, max_candidates=None, **kwargs) -> Scheduler:
    """The paper's algorithm over the store, scheduled on an in-process executor."""
    extra = {} if mutate is None else {"mutate": mutate}
    evolution = Evolution(store, preset, seed=seed, max_candidates=max_candidates, **extra)
    return Scheduler(evolution, InlineExecutor(evaluate or FakeEvaluator()), **kwargs)


def run_search(store, preset, evaluate=None, seed=0, **kwargs) -> Scheduler:
    search = make_search(store, preset, evaluate, seed, **kwargs)
    search.run(tick=0)
    return search


class Interrupt(BaseException):
    """Stands for Ctrl-C / a killed process in the middle of a search."""


TINY_TRAINING = [
    "max_epochs=1",
    "arith.n_train=128",
    "arith.n_valid=32",
    "arith.n_test=32",
    "xml.n_train=128",
    "xml.n_valid=32",
    "xml.n_test=32",
    "budgets.arith=2000",
    "budgets.xml=2000",
]


class SeededFake(FakeEvaluator):
    """The fake evaluator with seed noise: the same cell and config score differently per seed."""

    def one(self, job: Member) -> EvalResult:
        result = super().one(job)
        noise = random.Random(f"{job.seed}:{job.arch}").uniform(-0.05, 0.05)
        return dataclasses.replace(result, valid_score=result.valid_score + noise, test_score=result.test_score + noise)


def search_overrides(preset: presets.Preset) -> list[str]:
    """The `--set` overrides a run stores for the search fields of `search_preset(...)` that differ
    from `quick`'s own: a stored run built by a test reads back with the preset it was made with."""
    return [
        f"search.{k}={','.join(v) if isinstance(v, tuple) else v}"
        for k, v in dataclasses.asdict(preset.search).items()
        if k
        in (
            "population_size",
            "reevaluate_probability",
            "configs_per_task",
            "filter_configs",
            "filter_threshold",
            "first_task_ratio",
            "halving_configs",
            "tasks",
            "race_seeds",
            "race_max_seeds",
        )
    ]


@pytest.fixture
def searched(tmp_path):
    """A finished fake search stored as a run named `tiny`, with its settings."""
    files = RunFiles("tiny", tmp_path / "runs")
    files.database.parent.mkdir(parents=True)
    overrides = search_overrides(search_preset(reevaluate_probability=0.0, first_task_ratio=0.0, filter_threshold=0.0))
    overrides += TINY_TRAINING  # the export retrains the fake run's models for real: at a tiny size
    preset = presets.with_overrides(presets.get("quick"), overrides)
    with Store(files.database) as store:
        RunSettings("quick", tuple(overrides), 0, "python -m evo_rnn.search --run tiny").save(store)
        run_search(store, preset, SeededFake(), max_candidates=3)
    return files, preset


# --- Real tiny searches in a subprocess ---

TINY = [
    "max_epochs=1",
    "memorize.n_train=256",
    "memorize.n_valid=64",
    "memorize.n_test=64",
    "arith.n_train=256",
    "arith.n_valid=64",
    "arith.n_test=64",
    "xml.n_train=256",
    "xml.n_valid=64",
    "xml.n_test=64",
    "budgets.arith=3000",
    "budgets.xml=3000",
    "budgets.memorize=3000",
    "search.filter_threshold=0.05",
    "search.first_task_ratio=0.5",
    "search.halving_configs=0",
    # The generated tasks, one seed a configuration: what these tests are about is the search's
    # machinery, not the default fitness (its own test: tests/commands/test_search.py).
    "search.tasks=arith,xml",
    "search.configs_per_task=2",
    "search.race_seeds=1",
    "search.race_max_seeds=1",
]


def search_args(tmp_path, *extra: str) -> list[str]:
    sets = [item for s in TINY for item in ("--set", s)]
    return [
        "--run",
        "tiny",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        "--confirm-seeds",
        "0",
        *sets,
        *extra,
    ]


def _default_sigint() -> None:
    # A shell runs background jobs with SIGINT ignored, and an ignored SIGINT is inherited:
    # give the search the disposition a terminal's Ctrl-C meets.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "evo_rnn.search", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def interrupt(process: subprocess.Popen, timeout: float, signal_number: int = signal.SIGINT) -> str:
    """Sends Ctrl-C (SIGINT, or `signal_number`) and returns stderr once the search exits; a
    search that does not exit in time is killed, so that it cannot slow down the tests after it."""
    process.send_signal(signal_number)
    try:
        return process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        stderr = process.communicate()[1]
        pytest.fail(f"the search did not stop within {timeout} s of signal {signal_number}: {stderr[-2000:]}")


def has_population(database) -> bool:
    """Whether the run's seeds are all scored (its population is not empty)."""
    if not database.exists():
        return False
    with sqlite3.connect(database, timeout=30) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM population").fetchone()[0] > 0
        except sqlite3.OperationalError as error:  # the search is still creating its database
            if "no such table" in str(error):
                return False
            raise


def wait_for(condition, process: subprocess.Popen, limit: float = 240) -> None:
    deadline = time.time() + limit
    while not condition():
        assert process.poll() is None, process.communicate()[1][-3000:]
        if time.time() > deadline:
            process.kill()
            pytest.fail(f"the search did not get there in {limit} s: {process.communicate()[1][-2000:]}")
        time.sleep(0.5)


# --- Files ---


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> list[str]:
    """The files in `folder`, less the run's lock and SQLite's own companions of a database."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.name != "run.lock" and not p.name.endswith(("-wal", "-shm"))
    )


def quiet(_: str) -> None:
    """A log function that says nothing."""


class ConfigSeedFake(FakeEvaluator):
    """The fake evaluator whose scores move with the configuration and the seed, so that the best
    configuration by one seed and by the mean over seeds can differ."""

    def one(self, job):
        result = super().one(job)
        noise = random.Random(f"{job.seed}:{job.hparams}:{job.arch}").uniform(-0.2, 0.2)
        return dataclasses.replace(
            result, valid_score=result.valid_score + noise, test_score=result.test_score + noise / 2
        )


class CurvedFake(FakeEvaluator):
    """`FakeEvaluator` whose results have a learning curve rising to their score."""

    def one(self, job):
        result = super().one(job)
        if not result.ok:
            return result
        curve = [
            {"epoch": e, "loss": 3.0 / e, "val_score": result.valid_score * e / 4, "learning_rate": 1.0}
            for e in range(1, 5)
        ]
        return dataclasses.replace(result, curve=curve, epochs=4)


class SavesModels(FakeEvaluator):
    """The fake evaluator that writes a file where a job asks for its model."""

    def one(self, job):
        if job.model_path is not None:
            with open(job.model_path, "w") as model:
                model.write("a model")
        return super().one(job)


class NoisyEvaluator(FakeEvaluator):
    """`FakeEvaluator` with a seed-dependent draw of +-10% per configuration."""

    def one(self, job):
        result = super().one(job)
        if not result.ok:
            return result
        noise = random.Random(f"{job.hparams}:{job.seed}").uniform(0.9, 1.1)
        return dataclasses.replace(result, valid_score=result.valid_score * noise, test_score=result.test_score * noise)


class NoisySaver(NoisyEvaluator):
    """`NoisyEvaluator` that writes a file where a job asks for its model, as training does."""

    def one(self, job):
        if job.model_path is not None:
            with open(job.model_path, "w") as model:
                model.write(f"{job.arch} {job.task} {job.hparams} {job.seed}")
        return super().one(job)
