"""The noise table: how noisy is each candidate fitness task, and how cheap?

For each task variant (arith with 1-, 2- and 3-digit operands, XML closing tags, memorize,
characters of Penn Treebank, characters of a text that ships with Python, the smallest music
set) this trains the GRU, the LSTM, `tanh` and LSTM-f on the same fresh seeds and reports, per
cell and metric: the seed SD (absolute and relative), the SD of the per-seed ratio to the GRU
(paired by seed), the tier gap (GRU against `tanh` and LSTM-f) in SDs of that ratio, the
smallest relative gain a paired t-test detects at 80% power with 8 and 16 seeds, and the
seconds per evaluation on this machine.

The project is driven only through its command line (`python -m evo_rnn.evaluate ... --json`,
one process per evaluation, run from this checkout), never through its modules, so the script
keeps working while modules move.

Configuration: `evaluate --trials 1 --seed S` trains the configuration bank's first entry, the
reference configuration (`hparams.REFERENCE`: one layer, SGD at 1.0 clipped at 5, init scale
1), with training seed S, and it is the same for every task and seed. The command trains any
other bank configuration only with the seed that comes with it (trial k of `--seed S` trains
with seed S + k, and the bank itself is drawn from S), so through the command line a tuned
configuration cannot be trained again on fresh seeds. Every cell therefore trains with the
reference configuration. `--tune K` adds, per variant, the GRU's and the LSTM's first K bank
configurations on one tuning seed (`evaluate --trials K --seed TUNING_SEED`), to show how far
the reference is from the best of K; those runs are reported beside the table, never used in it.

Every evaluation is appended as one JSON line to `benchmarks/results/noise-table/raw.jsonl`
(the command's JSON plus the variant, the command line, wall seconds, load average and
commit); rerunning skips what is there. `--table-only` rebuilds `table.md` and `table.csv`
from it without training.

    nice -n 19 python benchmarks/noise_table.py --data-dir ../shared/data          # everything
    python benchmarks/noise_table.py --variants arith-d1,xml --seeds 8 --data-dir DIR
    python benchmarks/noise_table.py --table-only
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, stats

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "noise-table"

CELLS = ("gru", "lstm", "tanh", "lstm_f")  # the GRU first: every ratio is to it
BASELINE = "gru"
LOW_TIER = ("tanh", "lstm_f")
FIRST_SEED = 2000  # noise seeds FIRST_SEED, FIRST_SEED + 1, ... (never a tuning seed)
TUNING_SEED = 3000  # --tune K: trial k trains with TUNING_SEED + k
ALPHA, POWER = 0.05, 0.80
POWER_SEEDS = (8, 16)


@dataclass(frozen=True)
class Variant:
    """A candidate fitness task: a task spec (with `{data_dir}` and `{pydoc_topics}` filled in)
    and preset overrides on top of `quick`."""

    task: str
    overrides: tuple[str, ...] = ()
    chars: bool = False  # a next-character task: bits per character apply
    note: str = ""


# In the order they are trained (the priority).
VARIANTS: dict[str, Variant] = {
    "arith-d1": Variant("arith", (), note="quick arith (1-digit operands): the search's fitness today"),
    "arith-d2": Variant("arith", ("arith.max_digits=2",), note="quick arith, 2-digit operands"),
    "arith-d3": Variant("arith", ("arith.max_digits=3",), note="quick arith, 3-digit operands"),
    "xml": Variant("xml", (), note="quick XML, scored on the closing tags"),
    "memorize": Variant("memorize", (), note="quick memorize (the search's filter)"),
    "ptb-char": Variant(
        "text:{data_dir}/ptb/ptb.train.txt?unit=char",
        (),
        chars=True,
        note="characters of PTB's training text (ptb.train.txt) as a text: task: split by "
        "position 80/10/10, quick text caps (first 50,000 training / 10,000 evaluation "
        "characters)",
    ),
    "ptb-char-e8": Variant(
        "text:{data_dir}/ptb/ptb.train.txt?unit=char",
        ("max_epochs=8",),
        chars=True,
        note="ptb-char with 8 epochs at most (about half the cost: the 15-epoch one took over 30 s "
        "per evaluation here)",
    ),
    "ptb-chars": Variant(
        "ptb_chars",
        (),
        chars=True,
        note="the built-in ptb_chars task, the search's default fitness: PTB's published splits as "
        "characters (first 50,000 training / 10,000 validation and test characters), 8 epochs at most",
    ),
    "jsb": Variant("jsb", (), note="JSB Chorales (the smallest music set), quick music settings"),
    "text-pydoc": Variant(
        "text:{pydoc_topics}?unit=char",
        (),
        chars=True,
        note="characters of the stdlib's pydoc_data/topics.py as a text: task (quick text caps)",
    ),
    "text-pydoc-e8": Variant(
        "text:{pydoc_topics}?unit=char", ("max_epochs=8",), chars=True, note="text-pydoc with 8 epochs at most"
    ),
}

# (metric, where it comes from, higher is better, which variants): the rows of the table.
METRICS = ("test_score", "valid_score", "valid_nll", "test_nll", "valid_exp_neg_nll")
HIGHER_IS_BETTER = {
    "test_score": True,
    "valid_score": True,
    "valid_nll": False,
    "test_nll": False,
    "valid_exp_neg_nll": True,
}
METRIC_LABEL = {
    "test_score": "test score",
    "valid_score": "valid score",
    "valid_nll": "valid NLL",
    "test_nll": "test NLL",
    "valid_exp_neg_nll": "valid exp(-NLL)",
}


# ---------------------------------------------------------------------------------------------
# Running evaluations


def pydoc_topics_path() -> str:
    """The stdlib's pydoc_data/topics.py of the Python that runs the evaluations."""
    import pydoc_data.topics

    return str(Path(pydoc_data.topics.__file__).resolve())


def resolve_task(variant: Variant, data_dir: str | None) -> str:
    if "{data_dir}" in variant.task and not data_dir:
        raise SystemExit(f"task {variant.task!r} needs --data-dir (the shared data folder)")
    return variant.task.format(
        data_dir=str(Path(data_dir).resolve()) if data_dir else "",
        pydoc_topics=pydoc_topics_path() if "{pydoc_topics}" in variant.task else "",
    )


def file_sha256(task: str) -> str | None:
    """The sha256 of a text: task's file (None for the other tasks)."""
    if not task.startswith("text:"):
        return None
    path = task[len("text:") :].split("?", 1)[0]
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "evo_rnn", "benchmarks/noise_table.py")
    return commit + ("-dirty" if dirty else "")


def row_key(row: dict) -> tuple:
    return (row["variant"], row["role"], row["cell"], row["seed"], row.get("trials", 1))


def load_raw(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                print(f"warning: {path}:{number} is not JSON (a run killed while writing?); ignored", file=sys.stderr)
    return rows


def evaluate(
    python: str, cell: str, task: str, overrides: tuple[str, ...], seed: int, trials: int, data_dir: str | None
) -> tuple[list[dict], float, str, str]:
    """Runs `python -m evo_rnn.evaluate` once; returns its JSON results, wall seconds, the
    command line and stderr's tail."""
    command = [
        python,
        "-m",
        "evo_rnn.evaluate",
        "--arch",
        cell,
        "--task",
        task,
        "--trials",
        str(trials),
        "--seed",
        str(seed),
        "--json",
        "--quiet",
    ]
    if data_dir:
        command += ["--data-dir", str(Path(data_dir).resolve())]
    for item in overrides:
        command += ["--set", item]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(results) != trials:
        raise RuntimeError(
            f"{shlex.join(command)} exited {done.returncode} with {len(results)} results:\n{done.stderr[-3000:]}"
        )
    return results, wall, shlex.join(command), done.stderr[-500:]


def plan(
    variants: list[str], seeds: int, tune: int, cells: tuple[str, ...] = CELLS
) -> list[tuple[str, str, str, int, int]]:
    """(variant, role, cell, seed, trials) in training order: per variant, seed by seed, every
    cell of a seed before the next seed (so a cut run leaves paired seeds); then the tuning runs."""
    jobs = []
    for name in variants:
        for seed in range(FIRST_SEED, FIRST_SEED + seeds):
            jobs += [(name, "noise", cell, seed, 1) for cell in cells]
        if tune > 1:
            jobs += [(name, "tune", cell, TUNING_SEED, tune) for cell in ("gru", "lstm") if cell in cells]
    return jobs


def train(args: argparse.Namespace) -> None:
    raw_path = args.out / "raw.jsonl"
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    done = {row_key(row) for row in load_raw(raw_path)}
    commit = git_commit()
    jobs = [
        job
        for job in plan(args.variants, args.seeds, args.tune, args.cells)
        if (job[0], job[1], job[2], job[3], job[4]) not in done
    ]
    print(f"{len(jobs)} evaluation commands to run ({len(done)} rows already in {raw_path})", flush=True)
    for index, (name, role, cell, seed, trials) in enumerate(jobs, 1):
        variant = VARIANTS[name]
        task = resolve_task(variant, args.data_dir)
        try:
            results, wall, command, _ = evaluate(
                args.python, cell, task, variant.overrides, seed, trials, args.data_dir
            )
        except RuntimeError as error:
            print(f"[{index}/{len(jobs)}] {name} {cell} seed {seed}: FAILED\n{error}", file=sys.stderr, flush=True)
            if args.stop_on_error:
                raise SystemExit(1) from None
            continue
        load = os.getloadavg()[0]
        with raw_path.open("a") as out:
            for trial, result in enumerate(results):
                row = {
                    "variant": name,
                    "role": role,
                    "cell": cell,
                    "seed": seed,
                    "trials": trials,
                    "trial": trial,
                    "task": task,
                    "task_sha256": file_sha256(task),
                    "overrides": list(variant.overrides),
                    "command": command,
                    "wall_seconds": round(wall / trials, 2),
                    "loadavg_1min": round(load, 2),
                    "code_commit": commit,
                    "result": result,
                }
                out.write(json.dumps(row, sort_keys=True) + "\n")
        best = max(results, key=lambda r: r["valid_score"])
        print(
            f"[{index}/{len(jobs)}] {name:10} {role:5} {cell:6} seed {seed}: {best['status']} "
            f"valid {best['valid_score']:.4f} test {best['test_score']:.4f} "
            f"({best['seconds']:.1f} s training, {wall:.1f} s wall, load {load:.1f})",
            flush=True,
        )


# ---------------------------------------------------------------------------------------------
# The table


def metric_value(result: dict, metric: str) -> float:
    """The metric of one evaluation (NaN when it did not train or the metric is missing)."""
    if result["status"] != "ok":
        return math.nan
    if metric == "test_score":
        return float(result["test_score"])
    if metric == "valid_score":
        return float(result["valid_score"])
    split, name = metric.split("_", 1)
    metrics = result[f"{split}_metrics"]
    if name == "nll":
        return float(metrics.get("nll", math.nan))
    if name == "exp_neg_nll":
        return float(math.exp(-metrics["nll"])) if "nll" in metrics else math.nan
    raise ValueError(metric)


def smallest_detectable_gain(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true mean paired ratio difference |d| that a two-sided paired t-test at
    `alpha` detects with probability `power` over `n` seeds, when the per-seed ratio has SD `sd`
    (noncentral t; NaN when sd is not finite)."""
    if not math.isfinite(sd) or n < 2:
        return math.nan
    if sd == 0:
        return 0.0
    df = n - 1
    critical = stats.t.ppf(1 - alpha / 2, df)

    def shortfall(effect: float) -> float:  # effect in SDs (Cohen's d_z)
        nc = effect * math.sqrt(n)
        return stats.nct.sf(critical, df, nc) + stats.nct.cdf(-critical, df, nc) - power

    return optimize.brentq(shortfall, 1e-9, 50.0) * sd


def sd_upper(sd: float, n: int, level: float = 0.95) -> float:
    """The upper end of the two-sided `level` chi-square interval of an SD estimated from n values."""
    if not math.isfinite(sd) or n < 2:
        return math.nan
    return sd * math.sqrt((n - 1) / stats.chi2.ppf((1 - level) / 2, n - 1))


def summarise(rows: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """(table rows, per-variant timing, tuning rows) from the raw rows."""
    noise = [row for row in rows if row["role"] == "noise"]
    table, timing = [], []
    for name in [v for v in VARIANTS if any(r["variant"] == v for r in noise)]:
        variant = VARIANTS[name]
        mine = [r for r in noise if r["variant"] == name]
        by_cell = {cell: {r["seed"]: r["result"] for r in mine if r["cell"] == cell} for cell in CELLS}
        seconds = [r["result"]["seconds"] for r in mine]
        walls = [r["wall_seconds"] for r in mine]
        timing.append(
            {
                "variant": name,
                "evaluations": len(mine),
                "train_seconds_mean": float(np.mean(seconds)),
                "train_seconds_max": float(np.max(seconds)),
                "wall_seconds_mean": float(np.mean(walls)),
                "epochs_mean": float(np.mean([r["result"]["epochs"] for r in mine])),
                "loadavg_mean": float(np.mean([r["loadavg_1min"] for r in mine])),
                "not_ok": sum(r["result"]["status"] != "ok" for r in mine),
                "task": mine[0]["task"],
                "task_sha256": mine[0]["task_sha256"],
                "overrides": " ".join(mine[0]["overrides"]) or "(none)",
                "note": variant.note,
                "commits": sorted({r["code_commit"] for r in mine}),
            }
        )
        metrics = [m for m in METRICS if not (m == "valid_exp_neg_nll" and False)]
        for metric in metrics:
            higher = HIGHER_IS_BETTER[metric]
            gru = {s: metric_value(res, metric) for s, res in by_cell[BASELINE].items()}
            gru_values = np.array([v for v in gru.values() if math.isfinite(v)])
            if len(gru_values) < 2:
                continue
            gru_mean = float(gru_values.mean())
            for cell in CELLS:
                values = {s: metric_value(res, metric) for s, res in by_cell[cell].items()}
                finite = np.array([v for v in values.values() if math.isfinite(v)])
                if len(finite) < 2:
                    continue
                if cell == BASELINE:  # seed s against the GRU's mean: the noise of one GRU evaluation
                    ratios = finite / gru_mean
                else:  # paired by seed
                    ratios = np.array(
                        [
                            values[s] / gru[s]
                            for s in values
                            if s in gru and math.isfinite(values[s]) and math.isfinite(gru[s]) and gru[s] != 0
                        ]
                    )
                n_pairs = len(ratios)
                ratio_sd = float(np.std(ratios, ddof=1)) if n_pairs > 1 else math.nan
                ratio_mean = float(np.mean(ratios)) if n_pairs else math.nan
                # The GRU's advantage over this cell in SDs of the paired ratio (positive: the GRU is better).
                gap = (
                    (1 - ratio_mean if higher else ratio_mean - 1) / ratio_sd
                    if ratio_sd and cell != BASELINE
                    else math.nan
                )
                sd = float(np.std(finite, ddof=1))
                mean = float(finite.mean())
                row = {
                    "variant": name,
                    "metric": metric,
                    "cell": cell,
                    "seeds": len(values),
                    "ok": len(finite),
                    "mean": mean,
                    "sd": sd,
                    "relative_sd": sd / abs(mean) if mean else math.nan,
                    "ratio_pairs": n_pairs,
                    "ratio_mean": ratio_mean,
                    "ratio_sd": ratio_sd,
                    "ratio_sd_upper95": sd_upper(ratio_sd, n_pairs),
                    "gap_sds": gap,
                    "mde_8": smallest_detectable_gain(ratio_sd, 8),
                    "mde_16": smallest_detectable_gain(ratio_sd, 16),
                    "min": float(finite.min()),
                    "max": float(finite.max()),
                }
                if variant.chars and metric in ("valid_nll", "test_nll"):
                    row["bits_per_char"] = mean / math.log(2)
                table.append(row)
    tuning = []
    for row in rows:
        if row["role"] == "tune":
            result = row["result"]
            tuning.append(
                {
                    "variant": row["variant"],
                    "cell": row["cell"],
                    "trial": row["trial"],
                    "train_seed": result["seed"],
                    "valid_score": result["valid_score"],
                    "test_score": result["test_score"],
                    "status": result["status"],
                    "hparams": {
                        k: result["hparams"][k] for k in ("init_scale", "learning_rate", "max_grad_norm", "num_layers")
                    },
                }
            )
    return table, timing, tuning


def _shown(path: Path) -> str:
    """`path` relative to the repository when it lies inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def fmt(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if digits >= 3 and value != 0 and (abs(value) < 10**-digits or abs(value) >= 1e6):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


UNDERFLOW = 1e-6  # a GRU mean score below this is exp(-NLL) of a large NLL: its ratios say nothing


def _underflows(by: dict, name: str, metric: str) -> bool:
    """Whether `metric` of variant `name` is an exp(-NLL) too small to read (the music sets' score)."""
    gru = by.get((name, metric, BASELINE))
    return (
        metric in ("test_score", "valid_score", "valid_exp_neg_nll")
        and gru is not None
        and abs(gru["mean"]) < UNDERFLOW
    )


def markdown(table: list[dict], timing: list[dict], tuning: list[dict], raw_path: Path, rows: list[dict]) -> str:
    by = {(r["variant"], r["metric"], r["cell"]): r for r in table}
    times = {t["variant"]: t for t in timing}
    out = io.StringIO()
    w = out.write
    commits = sorted({r["code_commit"] for r in rows})
    w("# Noise table: candidate fitness tasks, GRU / LSTM / tanh / LSTM-f\n\n")
    w(
        f"Generated by `python benchmarks/noise_table.py --table-only` from `{_shown(raw_path)}` "
        f"({len(rows)} evaluations; code commit(s) that trained them: {', '.join(c[:10] for c in commits)}). "
        "Preset `quick` with the overrides listed; every cell trains with the bank's reference configuration "
        "(one layer, SGD at 1.0, gradient norm clipped at 5, init scale 1; `evaluate --trials 1 --seed S`), "
        f"seeds {FIRST_SEED}, {FIRST_SEED + 1}, ... (the same seeds for every cell; a generated task draws its "
        "data from the seed). No tuning enters the table (see the script's docstring and *Reference against "
        "the bank* below).\n\n"
    )
    w(
        "Columns: `SD` is the SD over seeds (ddof 1) and `rel SD` = SD / |mean|. `ratio SD` is the SD of the "
        "per-seed ratio cell / GRU on the same seed; **for the GRU row it is the SD of GRU(seed) / mean of the "
        "GRU over seeds** (the noise of one GRU evaluation against an exactly known baseline; a paired ratio of "
        "two independent cells of equal quality would have about √2 times its SD). `≤` is the upper end of the "
        "95% chi-square interval of `ratio SD` (8 seeds estimate an SD only to within about 0.7x-2x). "
        "`gap` = GRU's advantage over the cell in SDs of the paired ratio, (1 - mean ratio) / ratio SD for "
        "scores, (mean ratio - 1) / ratio SD for NLL (positive: the GRU is better; the paired effect size d_z). "
        "`MDE n` = the smallest true mean ratio change (relative gain, as a fraction) detected by a two-sided "
        f"paired t-test at alpha {ALPHA} with {POWER:.0%} power on n seeds, given that row's ratio SD "
        "(noncentral t). `s/eval` = training seconds reported by `evaluate` (mean over every evaluation of the "
        "variant) and wall seconds per `evaluate` process (Python and TensorFlow start-up included), all under "
        "`nice -n 19` on this 2-core machine, beside other work (1-minute load average in the timing table).\n\n"
    )

    for metric in ("test_score", "valid_score", "valid_nll"):
        w(f"## Summary: {METRIC_LABEL[metric]} (the LSTM's paired ratio SD is the proxy for a candidate's)\n\n")
        w(
            "| variant | GRU mean | GRU ratio SD (= rel SD) | LSTM ratio mean | LSTM ratio SD [≤] | gap tanh "
            "| gap LSTM-f | tiers apart | MDE 8 (LSTM) | MDE 16 (LSTM) | s/eval training (wall) | meets |\n"
        )
        w("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
        for name in [v for v in VARIANTS if v in times]:
            g, lstm = by.get((name, metric, "gru")), by.get((name, metric, "lstm"))
            tanh, lf = by.get((name, metric, "tanh")), by.get((name, metric, "lstm_f"))
            t = times[name]
            if not g:
                continue
            if _underflows(by, name, metric):
                w(
                    f"| {name} | {fmt(g['mean'])} | exp(-NLL) of an NLL near {-math.log(g['mean']):.0f}: "
                    "its ratios are meaningless (read the NLL) |" + " |" * 9 + "\n"
                )
                continue
            apart = all(c is not None and math.isfinite(c["gap_sds"]) and c["gap_sds"] >= 2 for c in (tanh, lf))
            meets = (
                lstm is not None
                and g["ratio_sd"] <= 0.03
                and lstm["ratio_sd"] <= 0.03
                and t["train_seconds_mean"] <= 30
            )
            w(
                f"| {name} | {fmt(g['mean'])} | {fmt(g['ratio_sd'])} | "
                f"{fmt(lstm and lstm['ratio_mean'])} | {fmt(lstm and lstm['ratio_sd'])} "
                f"[{fmt(lstm and lstm['ratio_sd_upper95'])}] | "
                f"{fmt(tanh and tanh['gap_sds'], 1)} | {fmt(lf and lf['gap_sds'], 1)} | {'yes' if apart else 'no'} | "
                f"{fmt(lstm and lstm['mde_8'])} | "
                f"{fmt(lstm and lstm['mde_16'])} | {t['train_seconds_mean']:.1f} ({t['wall_seconds_mean']:.1f}) | "
                f"{'yes' if meets else 'no'} |\n"
            )
        w("\n")
    w(
        "`meets` reads the point estimates: the GRU's ratio SD ≤ 0.03, the LSTM's paired ratio SD ≤ 0.03, and the "
        "mean training seconds per evaluation (what a search worker spends: data, model build, training, scoring) "
        "≤ 30. The wall figure adds one Python and TensorFlow start-up per evaluation, which a search's worker "
        "processes pay once. `tiers apart`: the GRU is ahead of both `tanh` and LSTM-f by at least 2 SDs of the "
        "paired ratio. A small ratio SD where the tiers are not apart can be a floor or a plateau (every cell "
        "near chance): `meets` does not check that; read the gaps and the per-variant tables.\n\n"
    )

    w("## Every variant, metric and cell\n\n")
    for name in [v for v in VARIANTS if v in times]:
        t = times[name]
        w(
            f"### {name}\n\n{t['note']}. Task `{t['task']}`"
            + (f" (sha256 `{t['task_sha256']}`)" if t["task_sha256"] else "")
            + f"; overrides: {t['overrides']}. {t['evaluations']} evaluations, {t['not_ok']} not `ok`; "
            f"training {t['train_seconds_mean']:.1f} s mean ({t['train_seconds_max']:.1f} s max), "
            f"{t['wall_seconds_mean']:.1f} s wall per evaluation, {t['epochs_mean']:.1f} epochs on average.\n\n"
        )
        if not any(key[0] == name for key in by):
            w("Timing only: too few evaluations for a table (it needs at least two seeds of the GRU).\n\n")
            continue
        chars = VARIANTS[name].chars
        w(
            "| metric | cell | seeds | mean | SD | rel SD | min-max | ratio mean | ratio SD [≤] | gap | MDE 8 "
            "| MDE 16 |" + (" bits/char |" if chars else "") + "\n"
        )
        w("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if chars else "") + "\n")
        for metric in METRICS:
            if _underflows(by, name, metric):
                w(
                    f"| {METRIC_LABEL[metric]} | all | exp(-NLL) underflows (the GRU's mean is "
                    f"{fmt(by[(name, metric, BASELINE)]['mean'])}): its ratios are meaningless: read the NLL rows |"
                    + " |" * (9 + chars)
                    + "\n"
                )
                continue
            for cell in CELLS:
                r = by.get((name, metric, cell))
                if r is None:
                    continue
                seeds = f"{r['ok']}" if r["ok"] == r["seeds"] else f"{r['ok']} of {r['seeds']}"
                w(
                    f"| {METRIC_LABEL[metric]} | {cell} | {seeds} | {fmt(r['mean'], 4)} | {fmt(r['sd'], 4)} | "
                    f"{fmt(r['relative_sd'])} | {fmt(r['min'])}-{fmt(r['max'])} | {fmt(r['ratio_mean'])} | "
                    f"{fmt(r['ratio_sd'])} [{fmt(r['ratio_sd_upper95'])}] | {fmt(r['gap_sds'], 1)} | "
                    f"{fmt(r['mde_8'])} | {fmt(r['mde_16'])} |"
                    + (f" {fmt(r.get('bits_per_char'))} |" if chars else "")
                    + "\n"
                )
        w("\n")

    w(
        "## Timing\n\n| variant | evaluations | not ok | epochs (mean) | training s (mean / max) | wall s per "
        "evaluation | load average (mean) |\n|---|---|---|---|---|---|---|\n"
    )
    for t in timing:
        w(
            f"| {t['variant']} | {t['evaluations']} | {t['not_ok']} | {t['epochs_mean']:.1f} | "
            f"{t['train_seconds_mean']:.1f} / {t['train_seconds_max']:.1f} | {t['wall_seconds_mean']:.1f} | "
            f"{t['loadavg_mean']:.2f} |\n"
        )
    w("\n")

    w("## Reference against the bank\n\n")
    if not tuning:
        w("Not run (`--tune K` trains the GRU's and the LSTM's first K bank configurations on the tuning seed).\n")
    else:
        w(
            f"`evaluate --trials K --seed {TUNING_SEED}`: trial k = bank configuration k (k = 0 is the reference) "
            f"trained with seed {TUNING_SEED} + k, so each trial also has its own seed: one draw each, not a "
            "tuning result. Not used in the table.\n\n| variant | cell | trial | seed | init | lr | clip | layers | "
            "status | valid | test |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
        for r in tuning:
            h = r["hparams"]
            w(
                f"| {r['variant']} | {r['cell']} | {r['trial']}{' (reference)' if r['trial'] == 0 else ''} | "
                f"{r['train_seed']} | {h['init_scale']:g} | {h['learning_rate']:g} | {h['max_grad_norm']:g} | "
                f"{h['num_layers']} | {r['status']} | {r['valid_score']:.4f} | {r['test_score']:.4f} |\n"
            )
    return out.getvalue()


def write_table(out_dir: Path) -> None:
    raw_path = out_dir / "raw.jsonl"
    rows = load_raw(raw_path)
    if not rows:
        raise SystemExit(f"no results in {raw_path}: train first")
    table, timing, tuning = summarise(rows)
    (out_dir / "table.md").write_text(markdown(table, timing, tuning, raw_path, rows))
    fields = [
        "variant",
        "metric",
        "cell",
        "seeds",
        "ok",
        "mean",
        "sd",
        "relative_sd",
        "min",
        "max",
        "ratio_pairs",
        "ratio_mean",
        "ratio_sd",
        "ratio_sd_upper95",
        "gap_sds",
        "mde_8",
        "mde_16",
        "bits_per_char",
        "train_seconds_mean",
        "wall_seconds_mean",
    ]
    times = {t["variant"]: t for t in timing}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in table:
        t = times[row["variant"]]
        writer.writerow(
            {
                **{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()},
                "train_seconds_mean": f"{t['train_seconds_mean']:.2f}",
                "wall_seconds_mean": f"{t['wall_seconds_mean']:.2f}",
            }
        )
    (out_dir / "table.csv").write_text(buffer.getvalue())
    print(f"wrote {out_dir / 'table.md'} and {out_dir / 'table.csv'} from {len(rows)} rows")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated task variants, trained in this order (default: all: {', '.join(VARIANTS)})",
    )
    parser.add_argument(
        "--seeds", type=int, default=8, help=f"noise seeds per cell: {FIRST_SEED}, {FIRST_SEED}+1, ... (default: 8)"
    )
    parser.add_argument(
        "--cells",
        default=",".join(CELLS),
        help=f"comma-separated cells to train (default: {','.join(CELLS)}; e.g. gru with --seeds 1 "
        "to time one evaluation per variant first)",
    )
    parser.add_argument(
        "--tune",
        type=int,
        default=0,
        metavar="K",
        help=f"also train the GRU's and the LSTM's first K bank configurations on seed {TUNING_SEED} "
        "per variant (reported, not used in the table) (default: 0, none)",
    )
    parser.add_argument("--data-dir", default=None, help="the shared data folder (ptb/, music/) for ptb-char and jsb")
    parser.add_argument(
        "--python", default=sys.executable, help="the Python that runs `-m evo_rnn.evaluate` (default: this one)"
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"results folder (default: {OUT.relative_to(ROOT)})")
    parser.add_argument(
        "--table-only", action="store_true", help="rebuild table.md and table.csv from raw.jsonl; train nothing"
    )
    parser.add_argument(
        "--stop-on-error", action="store_true", help="stop at the first failed command (default: go on)"
    )
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    args.cells = tuple(c.strip() for c in args.cells.split(",") if c.strip())
    if set(args.cells) - set(CELLS):
        parser.error(f"--cells: unknown cells {sorted(set(args.cells) - set(CELLS))}; known: {', '.join(CELLS)}")
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if not args.table_only:
        train(args)
    write_table(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
