"""Fault injection: each command killed with SIGKILL at seeded random moments, rerun after every
kill, and checked against the same command run once without a fault.

    python benchmarks/fault_injection.py --kills 20 --seed 0 --out benchmarks/results/fault-injection
    python benchmarks/fault_injection.py --commands search,export --kills 3 --work /tmp/faults

A kill is a pass of one of the commands' fault points (`evo_rnn.core.faults`: an evaluation sent
to training, optionally a fraction of a second later, in the middle of it; a result about to be
committed, or just committed; inside the population's transaction; an export's cell written, its
swap about to happen, or done), the point and its count drawn from `--seed`. An episode starts
from a fresh copy of the command's starting state and kills the command until a rerun finishes
without reaching its point (or after `--per-episode` kills), then finishes it without a fault.
After every kill, and at the end of every episode, it checks:

- lost: evaluations recorded before the kill missing or changed after it (goal 0);
- trained twice: evaluations sent to training although already recorded, or a model the export
  retrains although the run already kept it (`EVO_RNN_TRACE`, one file per attempt; goal 0);
- integrity: `PRAGMA integrity_check` not ok (goal 0);
- mixed exports: an export folder that is neither the one before the kill nor a complete one
  (its `export.json` lists exactly what is there) (goal 0);
- differ: at the end, evaluations, population, steps or export (the file names, and every
  file but the models, SavedModels and report, byte for byte) unlike the uninterrupted run's
  (goal 0); staging left: hidden staging or set-aside folders beside the export at the end.

The commands (tiny tasks, one process, so that runs are deterministic on CPU): `search` (a budget
in evaluations, confirmation on 2 seeds, export), `ablation` (GRU and LSTM, tuning and
confirmation), `confirm` (of a finished search; then its export), `export` (of a confirmed
search whose kept models were deleted, so that it retrains them, over an older export).
Prints one table row per command; `--out` also writes `counts.json` and the log.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "max_epochs=2",
    "memorize.n_train=256",
    "memorize.n_valid=64",
    "memorize.n_test=64",
    "arith.n_train=256",
    "arith.n_valid=64",
    "arith.n_test=64",
    "budgets.arith=3000",
    "budgets.memorize=3000",
    "search.filter_threshold=0.05",
    "search.first_task_ratio=0.5",
    "search.halving_configs=0",
    "search.tasks=arith",
    "search.configs_per_task=2",
    "search.race_seeds=1",
    "search.race_max_seeds=1",
]
SETS = [item for s in TINY for item in ("--set", s)]
SMALLER = {"max_epochs=2": "max_epochs=1"}
# Files of an export compared byte for byte at the end (models hold the time they were saved;
# the report the time it was made).
UNCOMPARED = (".keras", ".pb", "report.html", "fingerprint.pb")
KILLED = -9


@dataclasses.dataclass(frozen=True)
class Fault:
    """Where a command may be killed: the `most`-th pass of `point` at most, `delay` seconds
    later at most (0: at once)."""

    point: str
    most: int
    delay: float = 0.0

    def draw(self, rng: random.Random) -> str:
        """An `EVO_RNN_KILL_AT` value: this point, a pass and a delay drawn from `rng`."""
        spec = f"{self.point}:{rng.randint(1, self.most)}"
        return spec + (f":{self.delay * rng.random():.3f}" if self.delay else "")


@dataclasses.dataclass(frozen=True)
class Planned:
    """A fault given as it is (`EVO_RNN_KILL_AT`), nothing drawn."""

    spec: str

    def draw(self, rng: random.Random) -> str:
        return self.spec


class _InOrder:
    """Chooses a command's planned faults in order (in place of a `random.Random`)."""

    def __init__(self):
        self.next = 0

    def choice(self, items):
        self.next += 1
        return items[self.next - 1]


@dataclasses.dataclass(frozen=True)
class Command:
    """One command under test: its arguments, where it may be killed, and its starting state:
    "empty", "searched" (a search without confirmation or export) or "confirmed" (a search
    confirmed and exported with --top 1, its kept models deleted)."""

    name: str
    argv: tuple[str, ...]
    faults: tuple[Fault, ...]
    setup: str

    def smaller(self) -> Command:
        """The command at the test suite's size: one epoch (the benchmark's figures: two)."""
        return dataclasses.replace(self, argv=_smaller(self.argv))


def _smaller(argv) -> tuple[str, ...]:
    return tuple(SMALLER.get(a, a) for a in argv)


SEARCH = (
    "evo_rnn.search",
    "--run",
    "r",
    "--max-evaluations",
    "16",
    "--confirm-seeds",
    "2",
    "--top",
    "2",
    "--workers",
    "0",
    "--quiet",
    *SETS,
)
COMMANDS = {
    "search": Command(
        "search",
        SEARCH,
        (
            Fault("train", 12),
            Fault("train", 12, 0.3),
            Fault("record", 12),
            Fault("recorded", 12),
            Fault("population", 4),
            Fault("record:confirm", 4),
            Fault("export:cell", 3),
            Fault("export:swap", 1),
            Fault("export:swapped", 1),
        ),
        "empty",
    ),
    "ablation": Command(
        "ablation",
        (
            "evo_rnn.ablation",
            "--run",
            "a",
            "--cells",
            "gru,lstm",
            "--tasks",
            "arith",
            "--trials",
            "2",
            "--replicates",
            "2",
            "--confirm-seeds",
            "2",
            "--workers",
            "0",
            "--batched",
            "1",
            *SETS,
        ),
        (
            Fault("train:tune", 6),
            Fault("train:tune", 6, 0.3),
            Fault("record:tune", 8),
            Fault("recorded:tune", 8),
            Fault("record:confirm", 4),
        ),
        "empty",
    ),
    "confirm": Command(
        "confirm",
        ("evo_rnn.confirm", "--run", "r", "--seeds", "2", "--top", "2", "--workers", "0"),
        (
            Fault("train:confirm", 4),
            Fault("train:confirm", 4, 0.3),
            Fault("record:confirm", 6),
            Fault("recorded:confirm", 6),
            Fault("export:cell", 3),
            Fault("export:swap", 1),
        ),
        "searched",
    ),
    "export": Command(
        "export",
        ("evo_rnn.export", "--run", "r", "--top", "2"),
        (
            Fault("train:export", 3),
            Fault("train:export", 3, 0.5),
            Fault("export:cell", 3),
            Fault("export:swap", 1),
            Fault("export:swapped", 1),
        ),
        "confirmed",
    ),
}


@dataclasses.dataclass
class Counts:
    """What one command's episodes found."""

    command: str
    kills: int = 0
    attempts: int = 0
    episodes: int = 0
    lost: int = 0
    trained_twice: int = 0
    integrity: int = 0
    mixed_exports: int = 0
    differ: int = 0
    staging_left: int = 0
    seconds: float = 0.0
    problems: list[str] = dataclasses.field(default_factory=list)


class Place:
    """A command's working folder: its runs, its export, its trace files."""

    def __init__(self, root: Path):
        self.root = root
        self.runs, self.out = root / "runs", root / "out"

    def database(self, command: Command) -> Path:
        return self.runs / command.argv[command.argv.index("--run") + 1] / "search.sqlite"

    def export(self, command: Command) -> Path:
        return self.out / command.argv[command.argv.index("--run") + 1]


def invoke(command: Command, place: Place, kill_at: str | None, trace: Path, log) -> int:
    """Runs `command` in `place` (with `EVO_RNN_KILL_AT=kill_at`); returns its exit code (-9 killed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("EVO_RNN_KILL_AT", "EVO_RNN_TRACE")}
    env.update(EVO_RNN_TRACE=str(trace), PYTHONPATH=str(ROOT))
    if kill_at:
        env["EVO_RNN_KILL_AT"] = kill_at
    argv = [sys.executable, "-m", *command.argv, "--runs-dir", str(place.runs)]
    if command.name != "ablation":
        argv += ["--out", str(place.out)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode not in (0, KILLED):
        log(done.stderr[-3000:])
        raise RuntimeError(f"{command.name} (kill at {kill_at}) exited with {done.returncode}")
    return done.returncode


# --- What a run holds ---


def evaluations(database: Path) -> dict[tuple, tuple]:
    if not database.exists():
        return {}
    with sqlite3.connect(database) as db:
        try:
            rows = db.execute(
                "SELECT arch, task, hparams, seed, preset, status, valid_score, test_score FROM evaluations"
            ).fetchall()
        except sqlite3.OperationalError:  # killed before its tables were made
            return {}
    return {row[:5]: row[5:] for row in rows}


def table(database: Path, query: str) -> list[tuple]:
    if not database.exists():
        return []
    with sqlite3.connect(database) as db:
        try:
            return db.execute(query).fetchall()
        except sqlite3.OperationalError:
            return []


def integrity(database: Path) -> str:
    if not database.exists():
        return "ok"
    with sqlite3.connect(database) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def run_state(database: Path) -> dict[str, object]:
    """What must come out the same as without faults."""
    return {
        "evaluations": sorted(evaluations(database).items()),
        "population": table(database, "SELECT arch, score FROM population ORDER BY arch"),
        "steps": table(database, "SELECT id, kind, arch, parent, outcome, score FROM steps ORDER BY id"),
    }


def kept_models(run_folder: Path) -> set[str]:
    return {
        str(p.relative_to(run_folder)) for p in (run_folder / "models").rglob("*.keras") if "pending" not in p.parts
    }


def export_files(folder: Path) -> dict[str, str]:
    """An export's files (relative path: digest, '' for those not compared)."""
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = str(path.relative_to(folder))
        compared = not (path.name.endswith(UNCOMPARED) or "savedmodel-" in relative)
        content = path.read_bytes()
        if relative == "export.json":  # each run has its own identity
            content = json.dumps({k: v for k, v in json.loads(content).items() if k != "run_id"}).encode()
        found[relative] = hashlib.sha256(content).hexdigest() if compared else ""
    return found


def complete_export(folder: Path) -> bool:
    """Whether `folder` is one whole export: its export.json lists exactly what is there
    (folders with a trailing '/')."""
    manifest = folder / "export.json"
    if not manifest.is_file():
        return False
    there = {str(p.relative_to(folder)) + ("/" if p.is_dir() else "") for p in folder.rglob("*")}
    return there == set(json.loads(manifest.read_text())["files"])


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".")) if out.is_dir() else []


# --- Starting states ---


def prepare(command: Command, place: Place, cache: Path, log, small: bool = False) -> None:
    """Puts the command's starting state in `place` (built once into `cache`, then copied;
    `small`: at the test suite's size). Processes that share `cache`'s folder build each
    starting state once between them, and the confirmed state from the searched one."""
    if command.setup == "empty":
        place.root.mkdir(parents=True)
        return
    _build_setup(command.setup, cache, log, small)
    shutil.copytree(cache, place.root, symlinks=True)


def _build_setup(setup: str, cache: Path, log, small: bool) -> None:
    """Builds starting state `setup` ("searched" or "confirmed") into `cache` unless it is there,
    under a lock beside it."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.parent / f".{cache.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if cache.exists():
            return
        staging = Place(cache.with_name(cache.name + ".building"))
        shutil.rmtree(staging.root, ignore_errors=True)
        if setup == "confirmed":  # the searched state, confirmed, exported with --top 1, its kept models deleted
            searched = cache.with_name("setup-searched")
            _build_setup("searched", searched, log, small)
            shutil.copytree(searched, staging.root, symlinks=True)
            confirm = COMMANDS["confirm"]
            top_one = list(confirm.argv)
            top_one[top_one.index("--top") + 1] = "1"
            invoke(dataclasses.replace(confirm, argv=tuple(top_one)), staging, None, staging.root / "setup.trace", log)
            shutil.rmtree(staging.runs / "r" / "models")
        else:
            argv = list(_smaller(SEARCH) if small else SEARCH)
            argv[argv.index("--confirm-seeds") + 1] = "0"
            base = dataclasses.replace(COMMANDS["search"], argv=(*argv, "--no-export"))
            invoke(base, staging, None, staging.root / "setup.trace", log)
        staging.root.rename(cache)


# --- Episodes ---


def trained_twice(trace: Path, recorded_before: set[tuple], kept_before: set[str], run_folder: Path) -> list[str]:
    """Evaluations this attempt sent to training although they were recorded before it (or sent
    twice), and models the export retrained although the run had kept them."""
    from evo_rnn.runs.run import RunFiles

    problems, seen = [], set()
    if not trace.exists():
        return problems
    files = RunFiles(run_folder.name, run_folder.parent)
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        key = (event["arch"], event["task"], event["hparams"], event["seed"], event["preset"])
        if event["retrain"]:
            kept = str(files.kept_model(event["arch"], event["task"], event["hparams"]).relative_to(run_folder))
            if kept in kept_before:
                problems.append(f"retrained a kept model {kept}")
        elif key in recorded_before:
            problems.append(f"trained again after it was recorded: {key[:2]} seed {key[3]}")
        if (key, event["retrain"]) in seen:
            problems.append(f"sent to training twice in one attempt: {key[:2]} seed {key[3]}")
        seen.add((key, event["retrain"]))
    return problems


def episode(
    command: Command,
    place: Place,
    reference: dict,
    rng: random.Random,
    kills_left: int,
    per_episode: int,
    counts: Counts,
    log,
) -> None:
    database, export = place.database(command), place.export(command)
    run_folder = database.parent
    killed_here = 0
    attempt = 0
    while True:
        attempt += 1
        fault = None
        if killed_here < min(per_episode, kills_left):
            fault = rng.choice(command.faults).draw(rng)
        before = evaluations(database)
        kept_before = kept_models(run_folder) if run_folder.is_dir() else set()
        export_before = export_files(export)
        trace = place.root / f"trace-{attempt}.jsonl"
        code = invoke(command, place, fault, trace, log)
        counts.attempts += 1
        after = evaluations(database)
        lost = [key for key, value in before.items() if after.get(key) != value]
        twice = trained_twice(trace, set(before), kept_before, run_folder)
        check = integrity(database)
        now = export_files(export)
        mixed = bool(now) and now != export_before and not complete_export(export)
        counts.lost += len(lost)
        counts.trained_twice += len(twice)
        counts.integrity += check != "ok"
        counts.mixed_exports += mixed
        for problem in (
            twice
            + [f"lost {key[:2]} seed {key[3]}" for key in lost]
            + (["integrity: " + check] if check != "ok" else [])
            + (["a mixed export"] if mixed else [])
        ):
            counts.problems.append(f"{command.name} at {fault}: {problem}")
        outcome = "killed" if code == KILLED else "finished"
        log(f"{command.name}: attempt {attempt} kill at {fault}: {outcome}; {len(after)} evaluations")
        if code != KILLED:  # finished: without a fault, or before the pass drawn
            break
        counts.kills += 1
        killed_here += 1
    differ = []
    state = run_state(database)
    for part in ("evaluations", "population", "steps"):
        if state[part] != reference["state"][part]:
            differ.append(part)
    exported = export_files(export)
    if exported != reference["export"]:
        names = sorted(set(exported) ^ set(reference["export"])) or [
            name for name in exported if exported[name] != reference["export"][name]
        ]
        differ.append(f"export ({', '.join(names[:6])})")
    counts.differ += bool(differ)
    if differ:  # both states beside the live folder, to see how
        (place.root.parent / f"differ-{counts.episodes + 1}.json").write_text(
            json.dumps({"reference": reference, "found": {**state, "export": exported}}, indent=0, default=str)
        )
        counts.problems.append(
            f"{command.name} episode {counts.episodes + 1}: differs from the uninterrupted run in {', '.join(differ)}"
        )
    left = leftovers(place.out)
    counts.staging_left += len(left)
    if left:
        counts.problems.append(f"{command.name}: left {left}")
    counts.episodes += 1


def measure(
    command: Command,
    work: Path,
    kills: int,
    seed: int,
    per_episode: int,
    log,
    plan: list[str] | None = None,
    small: bool = False,
    setups: Path | None = None,
) -> Counts:
    """Runs episodes of `command` until `kills` kills; returns what they found. With `plan`
    (`EVO_RNN_KILL_AT` values), one episode kills at those, in order, then finishes; `small`:
    at the test suite's size (one epoch); `setups`: where the starting states are kept (default:
    `work`; one folder shared by several measurements builds each once)."""
    if small:
        command = command.smaller()
    started = time.time()
    counts = Counts(command.name)
    cache = (setups or work) / f"setup-{command.setup}"
    # Every episode runs in the same folder as the reference: the paths a run stores (its
    # command line) and its export's README names are then the same.
    live = Place(work / command.name / "live")
    shutil.rmtree(live.root, ignore_errors=True)
    prepare(command, live, cache, log, small)
    invoke(command, live, None, live.root / "trace.jsonl", log)
    reference = {"state": run_state(live.database(command)), "export": export_files(live.export(command))}
    rng = random.Random(f"{seed}:{command.name}")
    if plan is not None:
        command = dataclasses.replace(command, faults=tuple(Planned(spec) for spec in plan))
        rng, kills, per_episode = _InOrder(), len(plan), len(plan)
    while counts.kills < kills and not (plan is not None and counts.episodes):
        shutil.rmtree(live.root)
        prepare(command, live, cache, log, small)
        episode(command, live, reference, rng, kills - counts.kills, per_episode, counts, log)
    counts.seconds = time.time() - started
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", default="search,ablation,confirm,export")
    parser.add_argument("--kills", type=int, default=20, help="kills per command (default: 20)")
    parser.add_argument("--per-episode", type=int, default=5, help="kills before an episode finishes (default: 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=None, help="where counts.json and log.txt go")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="evo-rnn-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        print(line, file=sys.stderr, flush=True)

    results = []
    for name in args.commands.split(","):
        results.append(measure(COMMANDS[name], work, args.kills, args.seed, args.per_episode, log))
        if args.out:  # after each command: a long run that stops keeps what it measured
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "counts.json").write_text(json.dumps([dataclasses.asdict(c) for c in results], indent=1) + "\n")
    columns = ("kills", "attempts", "episodes", "lost", "trained_twice", "integrity", "mixed_exports", "differ")
    print("| command | " + " | ".join(c.replace("_", " ") for c in columns) + " | staging left | seconds |")
    print("|---|" + "---:|" * (len(columns) + 2))
    for c in results:
        cells = " | ".join(str(getattr(c, k)) for k in columns)
        print(f"| {c.command} | {cells} | {c.staging_left} | {c.seconds:.0f} |")
    for c in results:
        for problem in c.problems:
            print(problem)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "counts.json").write_text(json.dumps([dataclasses.asdict(c) for c in results], indent=1) + "\n")
        (args.out / "log.txt").write_text("\n".join(lines) + "\n")
    return 1 if any(c.problems for c in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
