"""Exporting a search's best cells: cell file, diagram, trained models with their task's text
encoding, and a summary per cell, and a leaderboard; `python -m evo_rnn.export --run NAME`
does it for a stored run.

Layout, under `OUT/NAME/` (`OUT` defaults to `saved_architectures`):

    export.json                     which run this is an export of (its name and identity)
    README.md                       the leaderboard, with the diagrams
    report.html                     the run's report, self-contained (`evo_rnn.report`)
    <rank>-<hash8>/cell.json        the cell (evo_rnn.cells.file_format)
    <rank>-<hash8>/cell.png         its diagram (cell.dot when Graphviz's `dot` is missing)
    <rank>-<hash8>/model-<task>.keras    trained model (keras.models.load_model after `import evo_rnn`)
    <rank>-<hash8>/task-<task>.json      how text becomes the model's input ids and its outputs text
                                         (`python -m evo_rnn.predict MODEL TEXT` uses it)
    <rank>-<hash8>/savedmodel-<task>/    the same model as a TensorFlow SavedModel (no evo_rnn needed)
    <rank>-<hash8>/summary.json     scores per task, ratios to the GRU and LSTM, best
                                    hyperparameters, lineage (`format_version` 1)

The export is written into a fresh folder beside `OUT/NAME/` and swapped in when complete. It
replaces only a previous export of the same run (its `export.json` names the run and its
identity; an export older than `export.json` is recognised by its summaries); any other
existing `OUT/NAME/` (a run's own folder, a user's files) is refused and left as it is. Of a
previous export it replaces only the files that export wrote (`export.json` lists them; for an
older export, the names an export writes): a file or folder a user added there is carried into
the new export (a hard link, else a copy) before the swap, and one that is in the way of a new
file is refused. The staging folder (`.NAME.evo-rnn-export-PID-*`) and the previous export set
aside during the swap (`.NAME.evo-rnn-previous-PID-*`) are named for the process; an export
removes those a killed export left (and puts a set-aside export back when the swap was cut short).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evo_rnn import tasks
from evo_rnn.cells import diagram, file_format, zoo
from evo_rnn.core import atomic_files, backend, faults
from evo_rnn.core.cli import UsageError
from evo_rnn.runs.executors import InlineExecutor
from evo_rnn.runs.run import Run, RunFiles, RunSettings
from evo_rnn.runs.service import Evaluations, Request
from evo_rnn.scoring import statistics
from evo_rnn.scoring.paper_scores import Scores, verdict
from evo_rnn.training import kit
from evo_rnn.training.hyperparameters import HParams
from evo_rnn.training.presets import Preset
from evo_rnn.views.report import render_report

__all__ = [
    "EXPORT_FORMAT_VERSION",
    "SUMMARY_FORMAT_VERSION",
    "TASK_FORMAT_VERSION",
    "export_in",
    "export_run",
    "task_file_for",
]

SUMMARY_FORMAT_VERSION = 2  # of summary.json (2: the seed cells are baselines: `rank` null, `baseline` their name)
TASK_FORMAT_VERSION = 1  # of task-<task>.json
EXPORT_FORMAT_VERSION = 1  # of export.json
_LEGACY_EXPORT_FILES = {"README.md", "report.html"}  # beside the rank folders, in an export without export.json
# What an export writes in a rank folder: the names an export without a list of its files wrote.
_CELL_FILES = ("cell.json", "cell.png", "cell.dot", "summary.json", "model-*.keras", "task-*.json")
_CELL_TREES = ("savedmodel-*",)  # folders written whole
_STAGING, _PREVIOUS = "evo-rnn-export", "evo-rnn-previous"  # the hidden folders beside OUT/NAME

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def task_file_for(model_file: str | os.PathLike) -> Path:
    """The task file exported beside `model-<task>.keras`: `task-<task>.json`."""
    model_file = Path(model_file)
    return model_file.with_name("task-" + model_file.stem.removeprefix("model-") + ".json")


def export_in(folder: Path) -> tuple[str, str | None] | None:
    """The run (name, identity) `folder` is an export of, or None when it is not an export.
    An export without `export.json` (older evo_rnn) counts when it holds only its leaderboard,
    report and rank folders whose summaries name one run; its identity is then None."""
    marker = folder / "export.json"
    if marker.is_file():
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
            return str(data["run"]), data.get("run_id")
        except (OSError, ValueError, KeyError, TypeError):
            return None
    runs = set()
    for entry in folder.iterdir():
        if entry.name in _LEGACY_EXPORT_FILES and entry.is_file():
            continue
        summary = entry / "summary.json"
        if not (entry.is_dir() and summary.is_file()):
            return None
        try:
            runs.add(str(json.loads(summary.read_text(encoding="utf-8"))["run"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return (runs.pop(), None) if len(runs) == 1 else None


def _check_destination(final: Path, name: str, identity: str | None) -> None:
    """Refuses a destination that exists and is not a previous export of this run.

    Raises:
        UsageError: `final` exists and is anything but this run's earlier export.
    """
    if not final.exists() and not final.is_symlink():
        return
    if final.is_symlink() or not final.is_dir():
        raise UsageError(
            f"{final} exists and is not an export folder; nothing was written. Choose another --out, or move it away"
        )
    found = export_in(final)
    if found is None:
        raise UsageError(
            f"{final} exists and is not an evo_rnn export (no export.json naming run {name!r}); nothing "
            "was written and it was left as it is. Choose another --out, or move it away"
        )
    if found[0] != name or (found[1] is not None and identity is not None and found[1] != identity):
        raise UsageError(
            f"{final} holds the export of another run ({found[0]!r}, identity {found[1]}); nothing was "
            "written and it was left as it is. Choose another --out, or move it away"
        )


def check_out_dir(out_root: Path) -> None:
    """Refuses an `--out` that is a file (or lies below one): an export folder is a folder.

    Raises:
        UsageError: `out_root` or a folder above it is a file.
    """
    found = next((p for p in (out_root, *out_root.parents) if p.exists() or p.is_symlink()), None)
    if found is not None and not found.is_dir():
        raise UsageError(
            f"--out {out_root}: {found} is a file, not a folder; nothing was written. Give --out a folder "
            "(made when missing), e.g. saved_architectures"
        )


def _hidden(name: str, what: str) -> str:
    """The name's start of this process's staging (or set-aside) folder for the export of run `name`."""
    return f".{name}.{what}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(out_root: Path, final: Path, log: Log) -> None:
    """Removes the staging folders a killed export of this run left beside `final`, and puts back
    the previous export it had set aside when it was killed before the new one was in place."""
    pattern = re.compile(rf"\.{re.escape(final.name)}\.({_STAGING}|{_PREVIOUS})-(\d+)-[^/]+")
    if not out_root.is_dir():
        return
    for entry in sorted(out_root.iterdir()):
        match = pattern.fullmatch(entry.name)
        if not match or entry.is_symlink() or not entry.is_dir() or _alive(int(match.group(2))):
            continue
        set_aside = entry / final.name
        if match.group(1) == _PREVIOUS and set_aside.is_dir() and not final.exists() and not final.is_symlink():
            os.replace(set_aside, final)
            log(f"export: put back the previous export of {final.name}, set aside by an export that was stopped")
        shutil.rmtree(entry)
        log(f"export: removed {entry.name}, left by an export that was stopped")


def _written_by(folder: Path) -> Callable[[str], bool]:
    """Whether a path (relative, with '/') in the previous export `folder` is one that export
    wrote: listed in its `export.json`, or for an export that lists no files, one of the names
    an export writes (its leaderboard, report, marker, and in its rank folders the cell's files)."""
    try:
        listed = json.loads((folder / "export.json").read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        listed = None
    if isinstance(listed, list) and all(isinstance(item, str) for item in listed):
        ours = {item.rstrip("/") for item in listed} | {"export.json"}
        return lambda relative: relative in ours
    ranks = {entry.name for entry in folder.iterdir() if entry.is_dir() and (entry / "summary.json").is_file()}

    def legacy(relative: str) -> bool:
        top, _, rest = relative.partition("/")
        if not rest:
            return top in _LEGACY_EXPORT_FILES or top == "export.json" or top in ranks
        if top not in ranks:
            return False
        first = rest.partition("/")[0]
        if "/" in rest:
            return any(fnmatch.fnmatchcase(first, tree) for tree in _CELL_TREES)
        return any(fnmatch.fnmatchcase(first, name) for name in (*_CELL_FILES, *_CELL_TREES))

    return legacy


def _listing(folder: Path) -> list[str]:
    """Every path under `folder`, relative with '/', folders ending in '/'."""
    paths = []
    for root, folders, files in os.walk(folder):
        base = Path(root).relative_to(folder)
        paths += [(base / name).as_posix() + "/" for name in folders]
        paths += [(base / name).as_posix() for name in files]
    return sorted(paths)


def _carry_over(previous: Path, staging: Path) -> list[str]:
    """Puts into `staging` what a user added to the previous export `previous` (everything it
    did not write): files as hard links (a copy where links cannot be made), links as links,
    folders as folders. Returns what it carried.

    Raises:
        UsageError: a user's file is where the new export writes one of its own, or is not a
            regular file, a link or a folder; nothing is replaced.
    """
    ours = _written_by(previous)
    carried = []
    for root, folders, files in os.walk(previous):
        base = Path(root).relative_to(previous)
        for name in sorted(folders) + sorted(files):
            relative = (base / name).as_posix()
            source, target = previous / relative, staging / relative
            if ours(relative):
                continue
            mode = source.lstat().st_mode
            if stat.S_ISDIR(mode):
                if target.exists() and not target.is_dir():
                    raise _in_the_way(previous, relative)
                target.mkdir(parents=True, exist_ok=True)
                continue
            if target.exists() or target.is_symlink():
                raise _in_the_way(previous, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                os.symlink(os.readlink(source), target)
            elif stat.S_ISREG(mode):
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)
            else:
                raise UsageError(
                    f"{source} is not a file, a link or a folder, and is not the export's own; the export was "
                    "not replaced (nothing was written). Move it out of the export folder and export again"
                )
            carried.append(relative)
    return carried


def _in_the_way(previous: Path, relative: str) -> UsageError:
    return UsageError(
        f"{previous / relative} is not the previous export's own but is where the new export writes; the export "
        "was not replaced (nothing was written). Move it out of the export folder and export again"
    )


def _swap_in(staging: Path, final: Path) -> None:
    """Puts the complete export `staging` at `final`, over the previous export there (checked by
    `_check_destination`), which is removed only once the new one is in place: in one step where
    the system can (`atomic_files.exchange`; `staging` then holds the previous export, removed by
    the caller), else set aside first (a killed export leaves it beside `final`, and the next
    export puts it back: `_remove_stale`)."""
    if not final.exists():
        os.replace(staging, final)
        faults.point("export:swapped")
        return
    if atomic_files.exchange(staging, final):
        faults.point("export:swapped")
        return
    previous = Path(tempfile.mkdtemp(prefix=_hidden(final.name, _PREVIOUS), dir=final.parent))
    os.replace(final, previous / final.name)
    try:
        os.replace(staging, final)
    except OSError:
        os.replace(previous / final.name, final)  # put the previous export back
        raise
    finally:
        if (previous / final.name).exists() and final.exists():
            shutil.rmtree(previous)
        elif not any(previous.iterdir()):
            previous.rmdir()


def _trained_model(
    evaluations: Evaluations, scores: Scores, arch: str, task: str, preset: Preset, seed: int, log: Log
) -> Path | None:
    """The kept model of `arch`'s best configuration on `task`, retrained through the evaluation
    service when the run kept none (same configuration and seed: the same model on CPU)."""
    best = scores.best_result(arch, task)
    if best is None:
        return None
    config = HParams.from_dict(best.hparams)
    kept = evaluations.run_files.kept_model(arch, task, config.to_json())
    if not kept.is_file():
        log(f"export: retraining {arch[:8]} on {task} with its best configuration (no kept model)")
        evaluations.run([Request(arch, task, config, seed, preset, keep_model=True, phase="export", retrain=True)])
    return kept if kept.is_file() else None


def _write_savedmodel(model_file: Path, target: Path) -> None:
    import keras

    model = keras.models.load_model(model_file)
    model.export(str(target), verbose=False)
    keras.backend.clear_session()


def _task_file(task: str, preset: Preset, data_dir) -> dict[str, Any] | None:
    """What `task-<task>.json` holds: the task's name and config and its text encoding (None
    for a task whose inputs are not text)."""
    loaded = kit.load_task(task, preset, data_dir)
    encoding = loaded.encoding()
    if encoding is None:
        describe = getattr(loaded, "describe", None)  # a user's arrays: what the model expects
        return (
            None
            if describe is None
            else {"format_version": TASK_FORMAT_VERSION, "task": task, "preset": preset.name, **describe()}
        )
    return {
        "format_version": TASK_FORMAT_VERSION,
        "task": task,
        "preset": preset.name,
        "config": dataclasses.asdict(loaded.config),
        **encoding,
    }


def _leaderboard(
    rows: list[dict[str, Any]],
    baselines: dict[str, dict[str, float | None]],
    tasks: list[str],
    name: str,
    command: str | None,
    settings: RunSettings,
    diagram_name: str,
) -> str:
    lines = [f"# Search run `{name}`", ""]
    if command:
        lines += ["Made by", "", "```bash", command, "```", ""]
    lines += [
        f"Preset `{settings.preset}`, seed {settings.seed}, tasks {', '.join(tasks)}. Score: the minimum over tasks "
        "of the cell's mean validation score (its best configuration) over the GRU's on the same seeds and paired "
        "configuration (1.0 = as good as the GRU on its worst task). The seed cells are baselines, listed after the "
        "ranked children and not counted in `--top`. Confirmed: the same minimum over the ratios of mean test "
        "scores to the GRU's on fresh seeds, "
        "with a simultaneous 95% interval over those seeds (below); confirmed cells are ranked by it, the others after "
        "them by the score, and a cell that was not "
        "confirmed is a candidate, not a finding. Per task: the best configuration's validation score, its mean over "
        "the seeds it was trained with (re-evaluations add seeds) (paired ratio to the GRU).",
        "",
        "| rank | cell | score | confirmed | " + " | ".join(tasks) + " | origin | diagram |",
        "|---" * (len(tasks) + 6) + "|",
    ]
    for row in rows:
        cells = [
            f"{row['tasks'][t]['valid_score']:.4f} ({row['tasks'][t]['ratio_to_gru']:.3f})"
            if row["tasks"][t]["valid_score"] is not None
            else "—"
            for t in tasks
        ]
        picture = (
            f"![]({row['folder']}/{diagram_name})"
            if diagram_name.endswith(".png")
            else f"[{diagram_name}]({row['folder']}/{diagram_name})"
        )
        confirmed = (
            "not confirmed"
            if row.get("confirmed_score") is None
            else "1 (the reference)"
            if row.get("baseline") == "gru"
            else _interval({"mean": row["confirmed_score"], "ci95": row.get("confirmed_score_ci95") or [None, None]}, 3)
        )
        rank = row["rank"] if row.get("baseline") is None else f"baseline ({row['baseline']})"
        lines.append(
            f"| {rank} | [`{row['arch'][:8]}`]({row['folder']}/) | {row['overall_score']:.4f} | "
            f"{confirmed} | " + " | ".join(cells) + f" | {row['lineage'][0]['origin']} | {picture} |"
        )
    lines += ["", "Baselines (best validation score in this run):", ""]
    for cell, scores in baselines.items():
        lines.append(
            f"- {cell}: " + ", ".join(f"{t} {s:.4f}" if s is not None else f"{t} —" for t, s in scores.items())
        )
    lines.append("")
    return "\n".join(lines)


def _confirmation_section(
    rows: list[dict[str, Any]], baselines: dict[str, dict[str, dict | None]], tasks: list[str]
) -> str:
    """The leaderboard's confirmation: per cell and task, the mean test score over fresh seeds
    with its 95% interval, the paired ratio to the GRU, and in words whether the paired t-test
    tells the cell from the GRU. Empty when the run was not confirmed."""
    lines = []
    for row in rows:
        for task in tasks:
            block = row["tasks"][task].get("confirm")
            if block is None:
                continue
            ratio = block["ratio_to_gru"]
            lines.append(
                f"- `{row['arch'][:8]}` on {task}: test {_interval(block)} over {block['seeds']} fresh seeds; "
                f"ratio to the GRU " + (_interval(ratio, 3) if ratio else "—") + f": {verdict(block)}"
            )
    for name, per_task in baselines.items():
        for task, block in per_task.items():
            if block is not None:
                lines.append(f"- {name.upper()} on {task}: test {_interval(block)} over {block['seeds']} fresh seeds")
    if not lines:
        return ""
    return (
        "\nConfirmation (`python -m evo_rnn.confirm`): each cell, the GRU and the LSTM trained again with their "
        "best configuration on the same fresh seeds; the mean test score with its 95% t interval, the ratio to "
        "the GRU paired by seed, and the paired t-test against the GRU at the 5% level, its p-value Holm-adjusted "
        "over every cell and task the confirmation tested. These intervals and tests are about each cell at "
        "the configuration it was confirmed with (training seeds vary inside them, the configuration does not); "
        "for a claim about a cell itself, ablate its `cell.json` beside `gru` in two or more runs with different "
        "`--seed` and combine them with `python -m evo_rnn.ablation --across RUN RUN ...` "
        "(docs/search.md).\n\n" + "\n".join(lines) + "\n"
    )


def _interval(block: dict[str, Any], digits: int = 4) -> str:
    low, high = block["ci95"]
    if low is None:
        return f"{block['mean']:.{digits}f}"
    return f"{block['mean']:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def export_run(
    files: RunFiles,
    out_dir: str | os.PathLike = "saved_architectures",
    top: int = 3,
    data_dir: str | os.PathLike | None = None,
    command: str | None = None,
    log: Log = _stderr,
) -> Path:
    """Exports the best `top` architectures of a stored run into `out_dir/NAME/` (replacing
    an earlier export of the same run only once the new one is complete).

    Without Graphviz's `dot`, each diagram is written as `cell.dot` (and `log` says how to get
    the PNGs); everything else is the same.

    Raises:
        EvoRnnError: the run does not exist, or has no population yet.
    """
    if top < 1:
        raise UsageError("--top must be at least 1")
    check_out_dir(Path(out_dir))
    # A run on a read-only disk is exported all the same: models it did not keep are retrained
    # into the export only. A writable run is locked: its retrained models are kept in it.
    writable = files.database.is_file() and files.writable()
    with Run.open(files, readonly=True, lock=writable) as run:
        return _export(run, Path(out_dir), top, data_dir, command, log, writable)


def _export(run: Run, out_root: Path, top: int, data_dir, command: str | None, log: Log, writable: bool) -> Path:
    files, settings, preset, seed = run.files, run.settings, run.preset, run.seed
    identity = run.run_id
    final = out_root / files.name
    _remove_stale(out_root, final, log)
    _check_destination(final, files.name, identity)
    members = run.population()
    scores = Scores.of(run)
    # Scored again from the evaluations (the stored scores date from the last population
    # update), confirmed cells first (`Scores.leaderboard`): the best `top` children, then the
    # seed cells as baselines (exported too, never counted in `top`).
    board, named = scores.board(members, top)
    children = len(members) - len(named)
    if top > children:
        log(
            f"export: the population of run {files.name!r} holds {children} children besides the seed cells; "
            f"exporting {'all ' if children else ''}{children} (--top {top} asked for more) and the baselines"
        )
    diagram_name = "cell.png" if diagram.graphviz_available() else "cell.dot"
    if diagram_name == "cell.dot":
        log(
            f"export: {diagram.GRAPHVIZ_MISSING}; writing each diagram as cell.dot instead. For the PNGs, install "
            f"it and run `python -m evo_rnn.export --run {files.name}` again"
        )
    backend.warm_up()
    task_names = list(scores.tasks)
    task_files = {task: _task_file(task, preset, data_dir) for task in task_names}
    out_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=_hidden(files.name, _STAGING), dir=out_root))
    # Models the run did not keep are retrained in this process and kept in the run (or, for a
    # read-only run, beside the export, which takes a copy).
    retrained = files if writable else RunFiles(files.name, staging / ".retrained")
    evaluations = Evaluations.of(run, InlineExecutor(), data_dir, run_files=retrained)
    try:
        rows = []
        for row in board:
            arch = row.arch
            rank = None if arch in named else row.rank
            folder = f"baseline-{named[arch]}" if rank is None else f"{rank}-{arch[:8]}"
            label = f"baseline {named[arch]}" if rank is None else f"#{rank}"
            target = staging / folder
            graph = run.architecture(arch)
            file_format.save(graph, target / "cell.json")
            diagram.write_diagram(graph, target / diagram_name, title=f"{label} {arch[:8]}  score {row.score:.3f}")
            per_task = {}
            for task in task_names:
                best, measured = scores.best_result(arch, task), row.tasks[task]
                per_task[task] = {
                    "valid_score": measured.valid,  # the best configuration's mean over its seeds
                    "valid_seeds": measured.seeds,
                    "test_score": None if best is None else best.test_score,  # the run's seed
                    "ratio_to_gru": measured.ratio_to_gru,  # paired (evo_rnn.scoring.paper_scores)
                    "ratio_to_gru_over_seeds": (
                        None if measured.ratio_to_gru_over_seeds is None else measured.ratio_to_gru_over_seeds.to_dict()
                    ),
                    "ratio_to_lstm": measured.ratio_to_lstm,
                    "config_spread": None if measured.config_spread is None else list(measured.config_spread),
                    "hparams": None if best is None else best.hparams,
                    "units": None if best is None else best.units,
                    "valid_metrics": None if best is None else best.valid_metrics,
                    "test_metrics": None if best is None else best.test_metrics,
                    "evaluations": len(run.evaluations(arch=arch, task=tasks.identity(task))),
                    "confirm": measured.confirm,
                }
                stem = tasks.file_stem(task)  # a user's file: text-NAME-HASH, no path in a file name
                exported = target / f"model-{stem}.keras"
                model = _trained_model(evaluations, scores, arch, task, preset, seed, log)
                if model is not None:
                    shutil.copyfile(model, exported)
                    if task_files[task] is not None:
                        (target / f"task-{stem}.json").write_text(
                            json.dumps(task_files[task], indent=1, sort_keys=True) + "\n"
                        )
                    _write_savedmodel(exported, target / f"savedmodel-{stem}")
            summary = {
                "format_version": SUMMARY_FORMAT_VERSION,
                "rank": rank,
                "baseline": named.get(arch),
                "arch": arch,
                "folder": folder,
                "overall_score": row.score,
                "confirmed_score": row.confirmed,
                "confirmed_score_ci95": None
                if row.confirmed_interval is None
                else row.confirmed_interval.to_dict()["ci95"],
                "confirmed_score_covers": statistics.SEEDS_ONLY,
                "tasks": per_task,
                "lineage": run.ancestry(arch),
                "run": files.name,
                "preset": settings.preset,
                "overrides": list(settings.overrides),
                "seed": seed,
            }
            (target / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
            rows.append(summary)
            log(f"export: {label} {arch[:8]} score {row.score:.4f} -> {final / folder}")
            faults.point("export:cell")
        baseline_keys = {name: key for name in ("gru", "lstm") if (key := run.find_architecture(zoo.get(name)))}
        baselines = {name: {t: scores.task_score(key, t) for t in task_names} for name, key in baseline_keys.items()}
        confirmed = {name: {t: scores.confirmation(key, t) for t in task_names} for name, key in baseline_keys.items()}
        (staging / "README.md").write_text(
            _leaderboard(rows, baselines, task_names, files.name, command or settings.command, settings, diagram_name)
            + _confirmation_section(rows, confirmed, task_names)
            + "\nThe run's report, with plots: [report.html](report.html).\n"
        )
        (staging / "report.html").write_text(render_report(run, top), encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private; an export is meant to be shared
        shutil.rmtree(staging / ".retrained", ignore_errors=True)
        (staging / "export.json").write_text(
            json.dumps(
                {
                    "format_version": EXPORT_FORMAT_VERSION,
                    "run": files.name,
                    "run_id": identity,
                    "cells": [row["folder"] for row in rows],
                    "files": sorted([*_listing(staging), "export.json"]),  # what a later export may replace
                },
                indent=1,
                sort_keys=True,
            )
            + "\n"
        )
        _check_destination(final, files.name, identity)  # nothing appeared there meanwhile
        if final.is_dir():
            for relative in _carry_over(final, staging):
                log(f"export: kept {relative}, which the previous export did not write")
        faults.point("export:swap")
        _swap_in(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return final
