"""Exporting a search's best cells: cell file, diagram, trained models and a summary per cell,
and a leaderboard; `python -m evo_rnn.export --run NAME` does it for a stored run.

Layout, under `OUT/NAME/` (`OUT` defaults to `saved_architectures`):

    README.md                       the leaderboard, with the diagrams
    <rank>-<hash8>/cell.json        the cell (evo_rnn.cell_format)
    <rank>-<hash8>/cell.png         its diagram
    <rank>-<hash8>/model-<task>.keras    trained model (keras.models.load_model after `import evo_rnn`)
    <rank>-<hash8>/savedmodel-<task>/    the same as a TensorFlow SavedModel (no evo_rnn needed)
    <rank>-<hash8>/summary.json     scores per task, ratios to the GRU and LSTM, best
                                    hyperparameters, lineage
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evo_rnn import architectures, cell_format, presets
from evo_rnn.cli import ArgumentParser, UsageError, run
from evo_rnn.errors import EvoRnnError

__all__ = ["RunFiles", "export_run", "load_run_preset", "main"]


class RunFiles:
    """Where a run keeps its files: `RUNS/NAME/search.sqlite` and `RUNS/NAME/models/`."""

    def __init__(self, name: str, runs_dir: str | os.PathLike = "runs"):
        if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
            raise UsageError(f"invalid run name {name!r}: use letters, digits, '-', '_' or '.'")
        self.name = name
        self.root = Path(runs_dir) / name
        self.database = self.root / "search.sqlite"
        self.models = self.root / "models"


def load_run_preset(config: dict[str, Any]) -> presets.Preset:
    """The preset a run was started with (its name and `--set` overrides, stored in the run)."""
    return presets.with_overrides(presets.get(config["preset"]), list(config.get("overrides", [])))


def _lineage(store, arch: str) -> list[dict[str, Any]]:
    """The architecture and its ancestors, each with its origin and the mutations that made it."""
    chain, seen = [], set()
    while arch is not None and arch not in seen:
        seen.add(arch)
        info = store.lineage(arch)
        chain.append({"arch": arch, **info})
        arch = info["parent"]
    return chain


def _trained_model(search_scores, arch: str, task: str, graph, preset, seed: int, kept: Path, data_dir,
                   log: Callable[[str], None]) -> Path | None:
    """The kept best model of `arch` on `task`, retrained (same configuration and seed:
    the same model on CPU) when the run kept none."""
    if kept.is_file():
        return kept
    best = search_scores.best_result(arch, task)
    if best is None:
        return None
    from evo_rnn import train
    from evo_rnn.hparams import HParams

    log(f"export: retraining {arch[:8]} on {task} with its best configuration (no kept model)")
    kept.parent.mkdir(parents=True, exist_ok=True)
    result = train.evaluate(graph, task, HParams.from_dict(best["hparams"]), seed=seed, preset=preset,
                            data_dir=data_dir, save_model=kept)
    return kept if result.status == "ok" and kept.is_file() else None


def _write_savedmodel(model_file: Path, target: Path) -> None:
    import keras

    model = keras.models.load_model(model_file)
    model.export(str(target), verbose=False)
    keras.backend.clear_session()


def _leaderboard(rows: list[dict[str, Any]], baselines: dict[str, dict[str, float | None]], tasks: list[str],
                 name: str, command: str | None, preset_name: str, seed: int) -> str:
    lines = [f"# Search run `{name}`", ""]
    if command:
        lines += ["Made by", "", "```bash", command, "```", ""]
    lines += [
        f"Preset `{preset_name}`, seed {seed}, tasks {', '.join(tasks)}. Score: the minimum over tasks of the "
        "cell's best validation score divided by the best GRU's (1.0 = as good as the GRU on its worst task). "
        "Per task: best validation score (ratio to the GRU).",
        "",
        "| rank | cell | score | " + " | ".join(tasks) + " | origin | diagram |",
        "|---" * (len(tasks) + 5) + "|",
    ]
    for row in rows:
        cells = [f"{row['tasks'][t]['valid_score']:.4f} ({row['tasks'][t]['ratio_to_gru']:.3f})"
                 if row["tasks"][t]["valid_score"] is not None else "—" for t in tasks]
        lines.append(f"| {row['rank']} | [`{row['arch'][:8]}`]({row['folder']}/) | {row['overall_score']:.4f} | "
                     + " | ".join(cells) + f" | {row['lineage'][0]['origin']} | ![]({row['folder']}/cell.png) |")
    lines += ["", "Baselines (best validation score in this run):", ""]
    for cell, scores in baselines.items():
        lines.append(f"- {cell}: " + ", ".join(f"{t} {s:.4f}" if s is not None else f"{t} —" for t, s in scores.items()))
    lines.append("")
    return "\n".join(lines)


def export_run(files: RunFiles, out_dir: str | os.PathLike = "saved_architectures", top: int = 3,
               data_dir: str | os.PathLike | None = None, command: str | None = None,
               log: Callable[[str], None] = lambda message: print(message, file=sys.stderr)) -> Path:
    """Exports the best `top` architectures of a stored run into `out_dir/NAME/` (replacing
    an earlier export of the same run only once the new one is complete).

    Raises:
        EvoRnnError: the run does not exist, or has no population yet.
    """
    from evo_rnn.diagram import write_diagram
    from evo_rnn.search.algorithm import Scores, kept_model_path
    from evo_rnn.search.executors import warm_up_tensorflow
    from evo_rnn.store import Store

    if top < 1:
        raise UsageError("--top must be at least 1")
    if not files.database.is_file():
        raise EvoRnnError(f"no search run at {files.database}; start one with `python -m evo_rnn.search --run {files.name}`")
    with Store(files.database) as store:
        config = store.get_meta("config")
        if config is None:
            raise EvoRnnError(f"{files.database} holds no search configuration; it was not written by evo_rnn.search")
        preset, seed = load_run_preset(config), int(config["seed"])
        members = store.population()
        if not members:
            raise EvoRnnError(f"run {files.name!r} has no population yet (its seed cells are still being evaluated); "
                              "let the search run longer")
        warm_up_tensorflow()
        scores = Scores(store, preset, seed)
        # Scored again from the evaluations: the stored scores date from the last population update.
        population = {arch: scores.overall(arch) for arch in members}
        population = dict(sorted(population.items(), key=lambda item: (-item[1], item[0])))
        tasks = list(scores.tasks)
        lstm = store.find_architecture(architectures.get("lstm"))
        out_root = Path(out_dir)
        out_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{files.name}-", dir=out_root))
        try:
            rows = []
            for rank, arch in enumerate(list(population)[:top], start=1):
                folder = f"{rank}-{arch[:8]}"
                target = staging / folder
                graph = store.architecture(arch)
                cell_format.save(graph, target / "cell.json")
                write_diagram(graph, target / "cell.png", title=f"#{rank} {arch[:8]}  score {population[arch]:.3f}")
                per_task = {}
                for task in tasks:
                    best = scores.best_result(arch, task)
                    lstm_score = scores.task_score(lstm, task) if lstm else None
                    valid = None if best is None else best["valid_score"]
                    per_task[task] = {
                        "valid_score": valid,
                        "test_score": None if best is None else best["test_score"],
                        "ratio_to_gru": (valid or 0.0) / scores.baseline(task),
                        "ratio_to_lstm": (valid or 0.0) / lstm_score if lstm_score else None,
                        "hparams": None if best is None else best["hparams"],
                        "units": None if best is None else best["units"],
                        "valid_metrics": None if best is None else best["valid_metrics"],
                        "test_metrics": None if best is None else best["test_metrics"],
                        "evaluations": len(store.evaluations(arch=arch, task=task)),
                    }
                    model = _trained_model(scores, arch, task, graph, preset, seed, kept_model_path(files.models, arch, task),
                                           data_dir, log)
                    if model is not None:
                        shutil.copyfile(model, target / f"model-{task}.keras")
                        _write_savedmodel(model, target / f"savedmodel-{task}")
                summary = {
                    "rank": rank, "arch": arch, "folder": folder, "overall_score": population[arch],
                    "tasks": per_task, "lineage": _lineage(store, arch), "run": files.name,
                    "preset": config["preset"], "overrides": config.get("overrides", []), "seed": seed,
                }
                (target / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
                rows.append(summary)
                log(f"export: #{rank} {arch[:8]} score {population[arch]:.4f} -> {out_root / files.name / folder}")
            baselines = {name: {t: scores.task_score(key, t) for t in tasks}
                         for name in ("gru", "lstm") if (key := store.find_architecture(architectures.get(name)))}
            (staging / "README.md").write_text(
                _leaderboard(rows, baselines, tasks, files.name, command or config.get("command"), config["preset"], seed)
            )
            staging.chmod(0o755)  # mkdtemp makes it private; an export is meant to be shared
            final = out_root / files.name
            if final.exists():
                shutil.rmtree(final)
            os.replace(staging, final)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    return final


def _job(args: argparse.Namespace) -> None:
    path = export_run(RunFiles(args.run, args.runs_dir), args.out, args.top, args.data_dir)
    print(path)


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (2 for bad input)."""
    parser = ArgumentParser(prog="python -m evo_rnn.export",
                            description="Export the best cells of a search run (cell, diagram, trained models, summary).")
    parser.add_argument("--run", default="default", help="the run's name (default: default)")
    parser.add_argument("--runs-dir", default="runs", help="where runs live (default runs/)")
    parser.add_argument("--out", default="saved_architectures", help="export folder (default saved_architectures/)")
    parser.add_argument("--top", type=int, default=3, help="how many architectures (default 3)")
    parser.add_argument("--data-dir", default=None, help="dataset folder, for retraining a model the run did not keep")
    return run(parser, _job, argv)


if __name__ == "__main__":
    raise SystemExit(main())
