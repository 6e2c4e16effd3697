"""The paper's scores of a run, read from its database: an architecture's best validation
score per task, its ratio to the GRU's, and the minimum of those ratios over the tasks
(Jozefowicz et al. 2015, section 3).

Ratios are paired: the denominator is the GRU's best over the configurations the architecture
itself was tried on (with successive halving: its whole first-rung pool, of which the GRU
trained its own best N fully, as the cell did; the search trains the GRU on every such
configuration once), so a cell that got more configurations is not compared with a GRU that got
fewer, or the other way round, and a cell whose promoted configurations happen to fail for the
GRU too does not score 1.0 by failing alongside it. Where the
GRU shares no configuration with the cell (or scored 0 on all it shares), the GRU's best over
all its configurations is the denominator, as in the paper.

A configuration's score is its mean validation score over the seeds it was trained with: the
run's seed and, after re-evaluations, replicate seeds (`replicate_seed`: run seed + 50,000 +
r). A re-evaluation trains a member's best configuration and the GRU's paired one on the next
replicate seed, so a configuration that was best by a lucky draw regresses to its mean and
loses its place (racing), on both sides of the ratio. Scores over seeds come with a paired
interval once a best configuration has two replicate seeds (`search_interval`; the run's own
seed, on which the configuration was chosen, is left out).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from evo_rnn import tasks
from evo_rnn.cells import zoo
from evo_rnn.cells.hashing import structural_hash
from evo_rnn.core.errors import EvoRnnError
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.run import Run
from evo_rnn.runs.seeds import CONFIRM_SEED_OFFSET, replicate_seed
from evo_rnn.runs.store import Store
from evo_rnn.scoring import statistics
from evo_rnn.training.presets import Preset, preset_key
from evo_rnn.training.results import CacheKey, EvalResult

__all__ = ["BASELINE", "BaselineError", "LeaderRow", "Scores", "TaskScores", "confirmed_score", "verdict"]

BASELINE = "gru"  # scores are ratios to the best GRU
SIGNIFICANCE = 0.05  # the paired t-test's level for the leaderboard's words


def _mean(scores: dict[int, float | None]) -> float:
    """A configuration's score: the mean over its seeds (a run that did not go well counts 0)."""
    return sum(s or 0.0 for s in scores.values()) / len(scores)


def confirmed_score(blocks: dict[str, dict[str, Any] | None]) -> float | None:
    """The minimum over tasks of the ratio to the GRU (of mean test scores) over the fresh seeds, from one cell's
    confirmation blocks per task; None unless every task has a block with a ratio."""
    ratios = [block["ratio_to_gru"]["mean"] if block and block["ratio_to_gru"] else None for block in blocks.values()]
    return None if not ratios or None in ratios else min(ratios)


def verdict(block: dict[str, Any]) -> str:
    """The leaderboard's words for a confirmation block: whether the cell is distinguishable
    from the GRU by the paired t-test at the 5% level, after Holm's correction over every cell
    and task the confirmation tested (`p_value_vs_gru_holm`) where the block has it."""
    raw, ratio = block.get("p_value_vs_gru"), (block.get("ratio_to_gru") or {}).get("mean")
    adjusted = block.get("p_value_vs_gru_holm")
    if raw is None or ratio is None:
        return "no paired test against the GRU"
    p = raw if adjusted is None else adjusted
    shown = f"p = {raw:.2g}" if adjusted is None else f"Holm-adjusted p = {adjusted:.2g}, raw {raw:.2g}"
    if p >= SIGNIFICANCE:
        return f"not distinguishable from the GRU ({shown})"
    return f"{'better' if ratio > 1 else 'worse'} than the GRU ({shown})"


@dataclasses.dataclass(frozen=True)
class TaskScores:
    """One cell on one task, as a leaderboard shows it.

    Attributes:
        valid: the best configuration's mean validation score over its seeds (None: nothing trained).
        seeds: the seeds that mean is over.
        configs: the configurations it was fully trained with.
        ratio_to_gru: `valid` over the GRU's best on the same configurations (`Scores.ratios`).
        ratio_to_gru_over_seeds: that ratio over the seeds both share, with its interval
            (`Scores.search_interval`; None under two seeds).
        ratio_to_lstm: `valid` over the LSTM's best score (None without an LSTM score).
        confirm: the confirmation block (`Scores.confirmation`; None if not confirmed).
        config_spread: the lowest and highest mean validation score over the configurations the
            cell was fully trained with: its sensitivity to the configuration, to read beside a
            seed interval (which holds one configuration fixed). None under two configurations.
    """

    valid: float | None
    seeds: int
    configs: int
    ratio_to_gru: float
    ratio_to_gru_over_seeds: statistics.Estimate | None
    ratio_to_lstm: float | None
    confirm: dict[str, Any] | None
    config_spread: tuple[float, float] | None = None


@dataclasses.dataclass(frozen=True)
class LeaderRow:
    """One cell of a leaderboard (`Scores.leaderboard`): its rank, the paper's score (the minimum
    over tasks of the ratio to the GRU), the same on the confirmation (None if not confirmed)
    with its simultaneous interval over the confirmation seeds, and per task its `TaskScores`
    (whose confirmation blocks carry Holm-adjusted p-values)."""

    rank: int
    arch: str
    score: float
    confirmed: float | None
    tasks: dict[str, TaskScores]
    confirmed_interval: statistics.Estimate | None = None  # `Scores.confirmed_interval`


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
        # A successive-halving rung's key: the configurations a cell was tried on briefly.
        self.rung_key = preset_key(preset.halving_rung()) if preset.search.halving_configs else None
        self.tasks = tuple(preset.search.tasks)
        self.seed_cells = tuple(preset.search.seed_cells)
        # Read, never written: a run without the GRU yet scores nothing against it (the key it
        # would be stored under matches no evaluation).
        gru = zoo.get(BASELINE)
        self.baseline_arch = store.find_architecture(gru) or structural_hash(gru)

    @classmethod
    def of(cls, run: Run) -> Scores:
        """The scores of `run` under its preset and seed."""
        return cls(run.store, run.preset, run.seed)

    def config_scores(self, arch: str, task: str, preset_key: str | None = None) -> dict[str, dict[int, float | None]]:
        """`arch`'s validation scores on `task` per configuration and seed (the run's seed and its
        replicate seeds; `Store.scores_by_config`), under the run's preset key or `preset_key`."""
        replicates = (replicate_seed(self.seed, 0), self.seed + CONFIRM_SEED_OFFSET - 1)
        return self.store.scores_by_config(
            arch, tasks.identity(task), preset_key or self.preset_key, self.seed, replicates
        )

    def ranked_configs(self, arch: str, task: str) -> list[str]:
        """`arch`'s configurations on `task` (`HParams.to_json`), best mean score over their seeds
        first (ties to the smaller text, not to the order workers finished in); [] if no run went well."""
        scores = self.config_scores(arch, task)
        if all(s is None for seeds in scores.values() for s in seeds.values()):
            return []
        return sorted(scores, key=lambda config: (-_mean(scores[config]), config))

    def best_config(self, arch: str, task: str) -> str | None:
        """The first of `ranked_configs`; None if no run went well."""
        return next(iter(self.ranked_configs(arch, task)), None)

    def task_score(self, arch: str, task: str) -> float | None:
        """The architecture's best score on `task`: its best configuration's mean validation score
        over its seeds (None if no run went well)."""
        config = self.best_config(arch, task)
        return None if config is None else _mean(self.config_scores(arch, task)[config])

    def seeds_on_best(self, arch: str, task: str) -> int:
        """How many seeds `arch`'s best configuration on `task` was trained with (0: none)."""
        config = self.best_config(arch, task)
        return 0 if config is None else len(self.config_scores(arch, task)[config])

    def best_result(self, arch: str, task: str) -> EvalResult | None:
        """The best configuration's evaluation with the run's seed (its hparams, model size,
        metrics and curve; the score the search uses is `task_score`)."""
        config = self.best_config(arch, task)
        return (
            None
            if config is None
            else self.store.cached(CacheKey(arch, tasks.identity(task), config, self.seed, self.preset_key))
        )

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
        config = self.paired_baseline_config(arch, task)
        if config is not None:
            return _mean(self.config_scores(self.baseline_arch, task)[config])
        return self.baseline(task)

    def paired_baseline_config(self, arch: str, task: str) -> str | None:
        """The GRU's best configuration (by its mean over seeds) among those `arch` was tried on,
        its first-rung pool included; None where they share none or the GRU scored 0 on all."""
        mine = set(self.config_scores(arch, task))
        if self.rung_key is not None:  # the whole pool the cell was tried on, not only what it promoted
            mine |= set(self.config_scores(arch, task, self.rung_key))
        gru = self.config_scores(self.baseline_arch, task)
        shared = sorted((-_mean(gru[config]), config) for config in mine if config in gru)
        return shared[0][1] if shared and shared[0][0] < 0 else None

    def chose_on_run_seed(self, arch: str, task: str) -> bool:
        """Whether `arch`'s configuration on `task` was chosen on the run's seed: it was tried on
        more than one (or on a successive-halving pool). A cell given one configuration (its
        parent's, or the reference) chose nothing, and every seed it has is an honest draw."""
        return self.rung_key is not None or len(self.config_scores(arch, task)) > 1

    def paired_seed_scores(self, arch: str, task: str, fresh_only: bool = False) -> tuple[list[float], list[float]]:
        """The validation scores of `arch`'s best configuration on `task` and of the GRU's paired
        configuration, over the seeds both were trained on, in seed order (a run that did not
        go well counts 0); with `fresh_only`, without the run's seed where the configuration
        was chosen on it (`chose_on_run_seed`). ([], []) where they share none."""
        config, gru_config = self.best_config(arch, task), self.paired_baseline_config(arch, task)
        if config is None or gru_config is None:
            return [], []
        mine = self.config_scores(arch, task)[config]
        gru = self.config_scores(self.baseline_arch, task)[gru_config]
        shared = set(mine) & set(gru)
        if fresh_only and self.chose_on_run_seed(arch, task):
            shared -= {self.seed}
        return [mine[s] or 0.0 for s in sorted(shared)], [gru[s] or 0.0 for s in sorted(shared)]

    def search_interval(self, arch: str, task: str) -> statistics.Estimate | None:
        """`arch`'s ratio to the GRU on `task` over the seeds its best configuration and the
        GRU's paired one share, with Fieller's 95% interval; None under two. Where the
        configuration was chosen on the run's seed (`chose_on_run_seed`), that seed is left out:
        it would bias the interval upwards (the replicates only decided whether it kept its
        place; the confirmation's fresh seeds decided nothing)."""
        mine, gru = self.paired_seed_scores(arch, task, fresh_only=True)
        if len(mine) < 2:
            return None
        return statistics.paired_ratio(mine, gru)

    def ratios(self, arch: str, tasks: list[str] | None = None) -> dict[str, float]:
        """Per task: the architecture's best configuration's mean score over the seeds it shares
        with the GRU's paired configuration (`paired_baseline_config`), over the GRU's mean over
        the same seeds (a ratio of paired means); where they share no seed, its best score over
        the GRU's best on the same configurations (`paired_baseline`); 0 where the architecture
        has no score."""
        ratios = {}
        for task in tasks or self.tasks:
            mine, gru = self.paired_seed_scores(arch, task)
            if mine and sum(gru) > 0:
                ratios[task] = sum(mine) / sum(gru)
            else:
                ratios[task] = (self.task_score(arch, task) or 0.0) / self.paired_baseline(arch, task)
        return ratios

    def race(self, arch: str, task: str, threshold: float, prior_sd: float, final: bool) -> bool | None:
        """`statistics.race` on `arch`'s paired seeds on `task` (all of them: the race decides
        where seeds go, not a claim). False where it shares no seed with the GRU."""
        mine, gru = self.paired_seed_scores(arch, task)
        return statistics.race(mine, gru, threshold, prior_sd, final) if mine else False

    def baselines(self) -> dict[str, str]:
        """The seed cells (`search.seed_cells`, and the GRU) the run has stored, by zoo name:
        the baselines a run reports beside its children, never among them."""
        found = {
            name: self.store.find_architecture(zoo.get(name)) for name in dict.fromkeys([*self.seed_cells, BASELINE])
        }
        return {name: arch for name, arch in found.items() if arch is not None}

    def children(self, archs) -> list[str]:
        """`archs` without the baselines (`baselines`), best overall score first (ties by hash)."""
        seeds = set(self.baselines().values())
        return sorted((arch for arch in archs if arch not in seeds), key=lambda arch: (-self.overall(arch), arch))

    def board(self, members, top: int | None = None) -> tuple[list[LeaderRow], dict[str, str]]:
        """What a run shows of `members`: its children ranked (`leaderboard`), the best `top` of
        them (None: all), then the seed cells among `members` as baselines, unranked; and those
        baselines' zoo names by architecture.

        Raises:
            BaselineError: the GRU has no score on a task yet.
        """
        named = {arch: name for name, arch in self.baselines().items() if arch in members}
        children = self.leaderboard(self.children(members))[:top]
        return [*children, *self.leaderboard(list(named), ranked=False)], named

    def overall(self, arch: str) -> float:
        """The minimum over tasks of the ratio to the best GRU (the paper's criterion)."""
        return min(self.ratios(arch).values())

    # ----------------------------------------------------------------- confirmation

    def confirm_keys(self, arch: str, task: str, seeds: list[int]) -> list[CacheKey]:
        """The cache keys of `arch`'s confirmation runs on `task`, one per training seed: its
        best configuration on the task (none when it has none)."""
        config = self.best_config(arch, task)
        if config is None:
            return []
        return [CacheKey(arch, tasks.identity(task), config, seed, self.preset_key) for seed in seeds]

    def _confirm_scores(self, arch: str | None, task: str, seeds: list[int]) -> list[float] | None:
        """The test scores of `arch`'s confirmation runs (a run that did not go well scores 0),
        or None unless every seed ran with its current best configuration."""
        keys = [] if arch is None else self.confirm_keys(arch, task, seeds)
        results = [self.store.cached(key) for key in keys]
        if not results or None in results:
            return None
        return [result.test_score if result.ok else 0.0 for result in results]

    def leaderboard(self, archs, ranked: bool = True) -> list[LeaderRow]:
        """The leaderboard rows of `archs` (the export's, the report's and the search's panel),
        in the order given, or with `ranked` as a run reports them: confirmed cells first, by
        their confirmed score (what held up on fresh seeds), the others after them by the
        search's score.

        Raises:
            BaselineError: the GRU has no score on a task yet.
        """
        lstm = self.store.find_architecture(zoo.get("lstm"))
        lstm_scores = {task: self.task_score(lstm, task) if lstm else None for task in self.tasks}
        rows = []
        for arch in archs:
            per_task = {}
            for task in self.tasks:
                valid, lstm_score = self.task_score(arch, task), lstm_scores[task]
                means = [_mean(seeds) for seeds in self.config_scores(arch, task).values()]
                per_task[task] = TaskScores(
                    valid=valid,
                    seeds=self.seeds_on_best(arch, task),
                    configs=len(self.config_scores(arch, task)),
                    ratio_to_gru=self.ratios(arch, [task])[task],
                    ratio_to_gru_over_seeds=self.search_interval(arch, task),
                    ratio_to_lstm=(valid or 0.0) / lstm_score if lstm_score else None,
                    confirm=self.confirmation(arch, task),
                    config_spread=(min(means), max(means)) if len(means) > 1 else None,
                )
            confirmed = confirmed_score({task: scores.confirm for task, scores in per_task.items()})
            rows.append(
                LeaderRow(
                    0,
                    arch,
                    min(t.ratio_to_gru for t in per_task.values()),
                    confirmed,
                    per_task,
                    self.confirmed_interval(arch) if confirmed is not None else None,
                )
            )
        adjusted = self.holm_adjusted()
        rows = [
            dataclasses.replace(
                row,
                tasks={
                    task: dataclasses.replace(
                        scores, confirm={**scores.confirm, "p_value_vs_gru_holm": adjusted.get((row.arch, task))}
                    )
                    if scores.confirm is not None
                    else scores
                    for task, scores in row.tasks.items()
                },
            )
            for row in rows
        ]
        if ranked:
            rows.sort(key=lambda r: (r.confirmed is None, -(r.confirmed or 0.0), -r.score, r.arch))
        return [dataclasses.replace(row, rank=rank) for rank, row in enumerate(rows, start=1)]

    def holm_adjusted(self, tasks: Sequence[str] | None = None) -> dict[tuple[str, str], float]:
        """The paired t-tests against the GRU (`versus_gru`) of every cell and task the last
        confirmation tested (its cells other than the GRU, x `tasks`, default the run's tasks),
        Holm-adjusted as one family: {(arch, task): adjusted p}. Empty before any confirmation.
        The one Holm family of a run: the export, the report and the ablation's table read it."""
        meta = self.store.get_meta(MetaKey.CONFIRMATION)
        if not meta:
            return {}
        family = [
            (arch, task)
            for arch in meta["cells"]
            if arch != self.baseline_arch
            for task in (self.tasks if tasks is None else tasks)
        ]
        raw = [self.versus_gru(arch, task)[1] for arch, task in family]
        return {key: p for key, p in zip(family, statistics.holm(raw)) if p is not None}

    def versus_gru(self, arch: str, task: str) -> tuple[statistics.Estimate | None, float | None]:
        """`arch`'s ratio to the GRU on `task` over the last confirmation's seeds, paired by seed
        with its 95% interval, and the paired t-test's p-value: (None, None) unless both were
        confirmed on every seed. The one paired comparison with the GRU of a run."""
        pair = self.confirmed_pair(arch, self.baseline_arch, task)
        if pair is None:
            return None, None
        return statistics.paired_ratio(*pair), statistics.paired_t_test(*pair)

    def confirmed_interval(self, arch: str) -> statistics.Estimate | None:
        """The headline confirmed score, the minimum over tasks of `arch`'s ratio to the GRU (the
        ratio of their mean test scores over the confirmation seeds, paired by seed), with a
        simultaneous 95% interval (`statistics.min_of_ratios_interval`). The seeds are fresh, so
        no seed a configuration was chosen on is in it; the configurations are fixed, so their
        choice is not. None unless every task was confirmed on every seed."""
        per_task = {}
        for task in self.tasks:
            pair = self.confirmed_pair(arch, self.baseline_arch, task)
            if pair is None:
                return None
            per_task[task] = pair
        return statistics.min_of_ratios_interval(per_task) if per_task else None

    def _confirmation_seeds(self) -> list[int] | None:
        """The seeds of the run's last confirmation (`MetaKey.CONFIRMATION`); None before any."""
        meta = self.store.get_meta(MetaKey.CONFIRMATION)
        return list(meta["seeds"]) if meta else None

    def confirmed_pair(self, arch: str, baseline: str | None, task: str) -> tuple[list[float], list[float]] | None:
        """The test scores of `arch`'s and `baseline`'s confirmation runs on `task`, paired by
        seed; None unless both have every seed of the last confirmation."""
        seeds = self._confirmation_seeds()
        if seeds is None:
            return None
        mine, theirs = self._confirm_scores(arch, task, seeds), self._confirm_scores(baseline, task, seeds)
        return None if mine is None or theirs is None else (mine, theirs)

    def confirmed_scores(self, arch: str, task: str) -> list[float] | None:
        """`arch`'s test scores on `task` over the last confirmation's seeds, in seed order;
        None where it was not confirmed with its current best configuration."""
        seeds = self._confirmation_seeds()
        return None if seeds is None else self._confirm_scores(arch, task, seeds)

    def confirmed_test(self, arch: str, task: str) -> statistics.Estimate | None:
        """`arch`'s mean test score on `task` over the last confirmation's seeds with its 95% t
        interval; None where it was not confirmed with its current best configuration."""
        mine = self.confirmed_scores(arch, task)
        return None if mine is None else statistics.mean_interval(mine)

    def confirmation(self, arch: str, task: str) -> dict[str, Any] | None:
        """The block `python -m evo_rnn.confirm` adds to an exported summary, for `arch` on
        `task`: its mean test score over the confirmation seeds with a 95% t interval
        (`confirmed_test`), its ratios to the GRU and the LSTM (ratios of means paired by seed,
        with Fieller's intervals),
        and the paired t-test's p-value against the GRU. None where the run was not confirmed,
        or `arch`'s best configuration changed since (a later search step found a better one)."""
        estimate = self.confirmed_test(arch, task)
        if estimate is None:
            return None
        seeds = self._confirmation_seeds()
        to_gru, p_value = self.versus_gru(arch, task)
        lstm = self.confirmed_pair(arch, self.store.find_architecture(zoo.get("lstm")), task)
        to_lstm = None if lstm is None else statistics.paired_ratio(*lstm)

        def ratio(paired: statistics.Estimate | None) -> dict[str, Any] | None:
            return None if paired is None else {"mean": paired.mean, "ci95": paired.to_dict()["ci95"]}

        return {
            "mean": estimate.mean,
            "ci95": estimate.to_dict()["ci95"],
            "seeds": len(seeds),
            "seed_list": seeds,
            "score": "test",
            "ratio_to_gru": ratio(to_gru),
            "ratio_to_lstm": ratio(to_lstm),
            "p_value_vs_gru": p_value,
            "covers": statistics.SEEDS_ONLY,
        }
