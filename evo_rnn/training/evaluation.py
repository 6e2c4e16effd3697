"""One training interface for both engines: configurations of one cell on one task, each with
its training seed, trained as the preset's `engine` says, one `EvalResult` per configuration.

The engines (`preset_rules.ENGINES`):

- "fit": one configuration at a time with Keras' `fit` (`evo_rnn.training.fit_engine.evaluate`).
- "batched": all of them as one compiled program (`evo_rnn.training.batched_engine.evaluate_batched`;
  they must share one shape: layers and parameter budget), each member with the result it
  would have alone in a batched job. Against "fit" the losses agree over the first epochs
  only (training is chaotic in the seed; the figures are in benchmarks/README.md), so every
  comparison keeps to one engine.

Model building, initial weights, batch order, seeding and the candidate's own errors live once,
in `evo_rnn.training.fit_engine`; both engines use them. Everything that trains (the executors' jobs, the
`evaluate` command) comes through `evaluate` here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import networkx as nx

from evo_rnn.tasks import Task
from evo_rnn.training import batched_engine, fit_engine, kit
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.preset_rules import ENGINES
from evo_rnn.training.presets import Preset
from evo_rnn.training.results import EvalResult

__all__ = ["ENGINES", "evaluate"]

Progress = Callable[[int, int, dict], None]  # (configuration's index, epoch, its curve point)


def evaluate(
    cell: nx.DiGraph | str,
    task: str | Task,
    configs: Sequence[HParams],
    seeds: Sequence[int],
    preset: Preset,
    data_dir: str | os.PathLike | None = None,
    data_seed: int | None = None,
    save_models: Sequence[str | os.PathLike | None] | None = None,
    progress: Progress | None = None,
) -> list[EvalResult]:
    """Trains configuration i with seed i (and saves its model to `save_models[i]` when given),
    with the preset's engine; `progress` hears every epoch of the "fit" engine. Generated tasks
    draw their data from each training seed unless `data_seed` fixes it (`kit.data_seed_of`).

    Returns:
        One result per configuration, in order; a candidate's own failures are results with
        status "failed" or "diverged".
    """
    if len(configs) != len(seeds):
        raise ValueError(f"{len(configs)} configurations need as many seeds, got {len(seeds)}")
    paths = list(save_models) if save_models is not None else [None] * len(configs)
    if preset.engine == "batched":
        return batched_engine.evaluate_batched(
            cell, task, list(configs), list(seeds), preset, data_dir, data_seed, paths
        )
    loaded = kit.load_task(task, preset, data_dir) if isinstance(task, str) else task
    results = []
    for index, (config, seed, path) in enumerate(zip(configs, seeds, paths)):
        heard = None if progress is None else (lambda epoch, point, index=index: progress(index, epoch, point))
        results.append(
            fit_engine.evaluate(
                cell,
                loaded,
                config,
                seed,
                preset,
                data_dir=data_dir,
                data_seed=data_seed,
                progress=heard,
                save_model=path,
            )
        )
    return results
