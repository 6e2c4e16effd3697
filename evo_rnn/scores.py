"""The paper's scores of a run, read from its database: an architecture's best validation
score per task, its ratio to the GRU's, and the minimum of those ratios over the tasks
(Jozefowicz et al. 2015, section 3).

Ratios are paired: the denominator is the GRU's best over the configurations the architecture
itself was trained on (the search trains the GRU on each of them once), so a cell that got more
configurations is not compared with a GRU that got fewer, or the other way round. Where the
GRU shares no configuration with the cell (or scored 0 on all it shares), the GRU's best over
all its configurations is the denominator, as in the paper.
"""

from __future__ import annotations

from evo_rnn import architectures
from evo_rnn.errors import EvoRnnError
from evo_rnn.presets import Preset
from evo_rnn.results import EvalResult, preset_key
from evo_rnn.store import Store

__all__ = ["BASELINE", "BaselineError", "Scores"]

BASELINE = "gru"  # scores are ratios to the best GRU


class BaselineError(EvoRnnError):
    """The GRU baseline has no positive score on a task, so no ratio to it can be taken."""


class Scores:
    """The scores of one run.

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

    def best_result(self, arch: str, task: str) -> EvalResult | None:
        """The evaluation that reached the best validation score on `task`."""
        return self.store.best(arch, task, self.preset_key, self.seed)[1]

    def has_baseline(self, task: str) -> bool:
        """Whether the GRU has a positive best score on `task` (ratios to it exist)."""
        score = self.task_score(self.baseline_arch, task)
        return score is not None and score > 0

    def baseline(self, task: str) -> float:
        """The best GRU score on `task`, the denominator of every ratio.

        Raises:
            BaselineError: the GRU has no successful evaluation on `task`, or its best score is 0.
        """
        score = self.task_score(self.baseline_arch, task)
        if score is None:
            raise BaselineError(
                f"the GRU baseline has no successful evaluation on {task!r} in this run; it needs one to "
                "score cells: raise search.configs_per_task (--set search.configs_per_task=N) or check the task"
            )
        if score <= 0:
            raise BaselineError(
                f"the GRU baseline's best score on {task!r} is {score:g}, so no ratio to it exists: every "
                "configuration it had scored 0; raise search.configs_per_task (--set search.configs_per_task=N), "
                "train longer (--set max_epochs=N) or check the task"
            )
        return score

    def paired_baseline(self, arch: str, task: str) -> float:
        """The GRU's best score on `task` over the configurations `arch` was trained on (see the
        module's docstring); the best over all its configurations where they share none.

        Raises:
            BaselineError: as `baseline`, when the fallback is needed and fails.
        """
        mine = self.store.scores_by_config(arch, task, self.preset_key, self.seed)
        gru = self.store.scores_by_config(self.baseline_arch, task, self.preset_key, self.seed)
        shared = [gru[config] for config in mine if config in gru]
        if shared and max(shared) > 0:
            return max(shared)
        return self.baseline(task)

    def ratios(self, arch: str, tasks: list[str] | None = None) -> dict[str, float]:
        """Per task: the architecture's best score divided by the GRU's best on the same
        configurations (`paired_baseline`; 0 where the architecture has no score)."""
        return {task: (self.task_score(arch, task) or 0.0) / self.paired_baseline(arch, task)
                for task in tasks or self.tasks}

    def overall(self, arch: str) -> float:
        """The minimum over tasks of the ratio to the best GRU (the paper's criterion)."""
        return min(self.ratios(arch).values())
