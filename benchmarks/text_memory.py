"""Memory and time of a large `text:` source in each process that trains on it (the search and
every worker load the task), with the encoded-text cache (`evo_rnn.tasks.text_encoding`) against
two references measured in the same run: the same code with the cache off (each process
encodes the text itself), and the code before the cache (evo_rnn at commit d0de1f1: the text,
its tokens and their ids held as Python objects in every process).

    python benchmarks/text_memory.py --megabytes 100 --seed 0 > benchmarks/results/text-memory.md

Each measurement is a fresh process that imports evo_rnn and builds the quick preset's
`text:` task data (50k training characters) from a seeded random text of `--megabytes` MB;
it prints its peak resident memory (ru_maxrss) and the seconds the task took. Rows: the
process importing evo_rnn only (the floor), the old code, the cache off, the first process with
the cache (encodes and keeps it) and a later one (maps it), with ratios to the old code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "d0de1f1"
CHILD = r"""
import importlib.util, json, resource, sys, time
import evo_rnn
from evo_rnn.tasks import sources
from evo_rnn.training import presets
mode, path, old_file = sys.argv[1], sys.argv[2], sys.argv[3]
started = time.perf_counter()
if mode != "floor":
    if mode == "old":
        spec = importlib.util.spec_from_file_location("old_text", old_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules["old_text"] = module
        spec.loader.exec_module(module)
        TextTask = module.TextTask
    else:
        from evo_rnn.tasks.text import TextTask
    name = f"text:{path}"
    task = TextTask(name, sources.parse(name), presets.get("quick").text)
    data = task.data(0)
    assert data.train.inputs.size > 0
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mode": mode, "peak_mb": peak, "seconds": seconds}))
"""


def make_text(path: Path, megabytes: int, seed: int) -> None:
    """A seeded random text: lines of words drawn from 5,000 made-up words with Zipf-like weights."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 9))) for _ in range(5000)]
    weights = [1 / (rank + 1) for rank in range(len(words))]
    with open(path, "w", encoding="utf-8") as out:
        written = 0
        while written < megabytes * 1_000_000:
            line = " ".join(rng.choices(words, weights, k=rng.randint(5, 20))) + "\n"
            out.write(line)
            written += len(line)


def measure(mode: str, text: Path, old_file: Path, cache: str) -> dict:
    env = {**os.environ, "EVO_RNN_CACHE": cache, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(text), str(old_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evo-rnn-text-memory-") as work:
        work = Path(work)
        text = work / "large.txt"
        make_text(text, args.megabytes, args.seed)
        old_file = work / "old_text.py"
        old_file.write_text(
            subprocess.run(
                ["git", "show", f"{OLD_COMMIT}:evo_rnn/tasks/text.py"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        cache = str(work / "cache")
        rows = [
            ("imports evo_rnn only (the floor)", measure("floor", text, old_file, "off")),
            (f"before the cache ({OLD_COMMIT})", measure("old", text, old_file, "off")),
            ("cache off (EVO_RNN_CACHE=off)", measure("new", text, old_file, "off")),
            ("cache: the first process (encodes, keeps)", measure("new", text, old_file, cache)),
            ("cache: a later process (maps it)", measure("new", text, old_file, cache)),
        ]
    floor = rows[0][1]["peak_mb"]
    old = rows[1][1]
    print(f"A {args.megabytes} MB text (seed {args.seed}), quick preset's text task; one fresh process per row.\n")
    print("| process | peak memory (MB) | above the floor (MB) | ratio to before the cache | task seconds | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in rows:
        above = row["peak_mb"] - floor
        ratio = "" if name.startswith("imports") else f"{above / (old['peak_mb'] - floor):.3f}"
        speed = "" if name.startswith("imports") else f"{row['seconds'] / old['seconds']:.3f}"
        seconds = "" if name.startswith("imports") else f"{row['seconds']:.1f}"
        print(f"| {name} | {row['peak_mb']:.0f} | {above:.0f} | {ratio} | {seconds} | {speed} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
