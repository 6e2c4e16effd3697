"""Drives the search's steps: keeps every worker busy with the evaluations the steps ask for
(run, cached, packed, retried and recorded by `evo_rnn.runs.service`), keeps the model of every
configuration that becomes an architecture's best, and stops when the time budget is spent.
What the steps ask for is the algorithm's business (`evo_rnn.search.evolution`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

from evo_rnn.runs.executors import Executor
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.run import RunFiles
from evo_rnn.runs.seeds import confirm_seeds
from evo_rnn.runs.service import Evaluations, Request
from evo_rnn.runs.tensorboard import TensorBoardLog
from evo_rnn.search.evolution import EvalRequest, Evolution, SearchError, StepOutcome, StepRun
from evo_rnn.training.results import EvalResult

__all__ = ["Scheduler"]


@dataclasses.dataclass
class _Running:
    """A step being driven: the results of its current batch as they come in."""

    run: StepRun
    results: list[EvalResult | None] = dataclasses.field(default_factory=list)
    missing: int = 0


class Scheduler:
    """Runs an `Evolution` over an executor.

    Args:
        evolution: the algorithm (it holds the run database, preset and seed).
        executor: where evaluations run.
        data_dir: where workers read real datasets.
        budget_seconds: the run's total search time (over all resumptions); when it is
            spent, no new evaluation starts and those running finish, except that the seed
            cells' steps always finish. Other steps whose next evaluations had not started stay
            unfinished and go on when the run is resumed with a larger budget.
        run_files: where the best trained model of every (architecture, task) is kept for
            export; None keeps no models.
        on_event: called with (kind, data) on "evaluation", "step", "retry" and "tick" events.
        max_retries: how often an evaluation whose worker died is tried again before it is
            recorded as failed.
        clock: the time source (tests pass a fake one).
        max_evaluations: the run's budget in evaluations (over all resumptions: those stored in
            the run database, rungs and replicates included, the confirmation's and cache hits
            not): once reached, no
            new evaluation starts, as when the time budget is spent (those in flight finish, so
            a run may end a few above it). None: no limit. Two strategies compared at one
            budget get the same number of trainings whatever each costs.
        tensorboard: writes every evaluation this session trains as a TensorBoard run; None: none.
        members_per_job: the most requests of one step for one (architecture, task, shape) sent
            as one batched job (`evo_rnn.training.batched_engine`); above 1 the preset's engine must be
            "batched", so that a member's result does not depend on its company.
    """

    def __init__(
        self,
        evolution: Evolution,
        executor: Executor,
        data_dir: str | os.PathLike | None = None,
        budget_seconds: float | None = None,
        run_files: RunFiles | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        max_retries: int = 2,
        clock: Callable[[], float] = time.monotonic,
        members_per_job: int = 1,
        tensorboard: TensorBoardLog | None = None,
        max_evaluations: int | None = None,
    ):
        if members_per_job < 1:
            raise SearchError(f"--batched must be at least 1, got {members_per_job}")
        if members_per_job > 1 and evolution.preset.engine != "batched":
            raise SearchError(
                "batched jobs need the batched engine (its preset field engine=batched): choose it with --batched P"
            )
        self.evolution, self.executor = evolution, executor
        self.store, self.preset, self.seed = evolution.store, evolution.preset, evolution.seed
        self._rung = self.preset.halving_rung()
        self.budget_seconds, self.max_evaluations, self.run_files = budget_seconds, max_evaluations, run_files
        self.on_event, self.clock = on_event, clock
        self.evaluations = Evaluations(
            self.store,
            executor,
            data_dir,
            run_files,
            members_per_job,
            max_retries,
            tensorboard,
            keep=self._may_become_best,
            on_event=self._on_evaluation_event,
        )
        self._running: dict[int, _Running] = {}
        self._started = clock()
        self._elapsed_before = float(self.store.get_meta(MetaKey.ELAPSED_SECONDS, 0.0))

    @property
    def trained(self) -> int:
        """Evaluations this session ran on a worker."""
        return self.evaluations.trained

    @property
    def cache_hits(self) -> int:
        """Evaluations this session's steps asked for that the run database answered."""
        return self.evaluations.cache_hits

    # ----------------------------------------------------------------- time

    def elapsed(self) -> float:
        """The run's search time so far, over all resumptions."""
        return self._elapsed_before + (self.clock() - self._started)

    def out_of_time(self) -> bool:
        return self.budget_seconds is not None and self.elapsed() >= self.budget_seconds

    def search_evaluations(self) -> int:
        """The run's evaluations so far that count against `max_evaluations`: every one but the
        confirmation's (whose seeds start at `confirm_seeds(seed, 1)[0]`)."""
        return self.store.evaluation_count(below_seed=confirm_seeds(self.seed, 1)[0])

    def seconds_per_evaluation(self) -> float | None:
        """The run's wall-clock search time per evaluation so far (all sessions, at their workers);
        None before it has both."""
        evaluations, elapsed = self.search_evaluations(), self.elapsed()
        return elapsed / evaluations if evaluations and elapsed > 0 else None

    def out_of_evaluations(self) -> bool:
        return self.max_evaluations is not None and self.search_evaluations() >= self.max_evaluations

    def budget_spent(self) -> bool:
        """Whether the time or the evaluation budget is spent: no new evaluation starts."""
        return self.out_of_time() or self.out_of_evaluations()

    # ----------------------------------------------------------------- steps

    def _start(self, run: StepRun) -> None:
        running = _Running(run)
        self._running[run.id] = running
        self._advance(running, None)

    def _advance(self, running: _Running, results: list[EvalResult] | None) -> None:
        """Sends a finished batch to its step; asks for the step's next batch or records its end."""
        try:
            requests = running.run.generator.send(results)
        except StopIteration as stop:
            outcome: StepOutcome = stop.value
            del self._running[running.run.id]
            self._emit("step", self.evolution.finish_step(running.run, outcome))
            return
        running.results, running.missing = [None] * len(requests), len(requests)
        for index, request in enumerate(requests):
            self.evaluations.submit(
                self._request(running.run.id, request),
                lambda result, step=running, at=index: self._deliver(step, at, result),
            )

    def _deliver(self, running: _Running, index: int, result: EvalResult) -> None:
        running.results[index] = result
        running.missing -= 1
        if running.missing == 0:
            self._advance(running, list(running.results))

    def _request(self, step: int, request: EvalRequest) -> Request:
        """What the service is asked for: a brief request trains with the rung's preset; the models
        of full training with the run's seed are kept (a rung's or a replicate's never are)."""
        replicate = request.seed is not None
        phase = "rung" if request.brief else "replicate" if replicate and request.seed != self.seed else "full"
        return Request(
            request.arch,
            request.task,
            request.hparams,
            self.seed if request.seed is None else request.seed,
            self._rung if request.brief else self.preset,
            keep_model=not request.brief and not replicate,
            phase=phase,
            group=step,
        )

    def _may_become_best(self, arch: str, task: str) -> list[str]:
        """The configurations of `arch` on `task` whose models are kept: those that may become its
        best (`Scores.ranked_configs`), so that the export finds the best one's model.

        A cell's replicate seeds train its best configuration alone, so only the best one's mean
        moves: when it falls, the second becomes the best, and one below the second never can.
        The GRU also trains the configurations it is paired with on replicate seeds, so any of
        its configurations may rise: all are kept (they are the bank's, a bounded number)."""
        ranked = self.evolution.scores.ranked_configs(arch, task)
        return ranked if arch == self.evolution.scores.baseline_arch else ranked[:2]

    def _on_evaluation_event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "job":
            self.store.set_meta(MetaKey.ELAPSED_SECONDS, self.elapsed())
        else:
            self._emit(kind, data)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    # ----------------------------------------------------------------- the loop

    def _fill(self) -> None:
        """Gives every idle worker an evaluation: queued requests first, then new steps. A spent
        budget starts nothing new, except while the seed cells are scored: without them the
        search has no population, so no answer."""
        while self.evaluations.in_flight < self.executor.workers and (
            not self.budget_spent() or self.evolution.seeding
        ):
            if self.evaluations.queued:
                self.evaluations.dispatch()
                continue
            run = self.evolution.next_step()
            if run is None:
                break
            self._start(run)

    def _save_progress(self) -> None:
        self.store.set_meta(MetaKey.ELAPSED_SECONDS, self.elapsed())
        self.evolution.rescore()

    def run(self, tick: float = 1.0) -> None:
        """Runs until a budget (time, evaluations) or the algorithm's `max_candidates` is reached
        and nothing is in flight.

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
                if not self.evaluations.in_flight:
                    break
                self.evaluations.poll(tick)
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
        return {
            **self.evolution.counts(),
            "trained": self.trained,
            "cache_hits": self.cache_hits,
            "in_flight": self.evaluations.in_flight,
        }
