"""`python -m evo_rnn.evaluate`: JSON output, batched trials in trial order, bad input in one line."""

from __future__ import annotations

import json

import pytest

from evo_rnn.cells import zoo
from evo_rnn.commands import evaluate
from evo_rnn.core.errors import EvoRnnError

from conftest import run_module, stderr_lines

MEMORIZE = ["max_epochs=1", "memorize.n_train=128", "memorize.n_valid=32", "memorize.n_test=32"]


def set_flags(items: list[str]) -> list[str]:
    """`--set ITEM` for each item."""
    return [part for item in items for part in ("--set", item)]


def test_evaluate_cli_json_output():
    result = run_module(
        "evo_rnn.evaluate",
        "--arch",
        "gru",
        "--task",
        "memorize",
        "--trials",
        "2",
        "--json",
        "--quiet",
        *set_flags(["max_epochs=1", "memorize.n_train=128", "memorize.n_valid=32", "memorize.n_test=32"]),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and all(r["status"] == "ok" and r["arch"] == "gru" for r in rows)
    assert rows[0]["hparams"] != rows[1]["hparams"] or rows[0]["seed"] != rows[1]["seed"]


def test_evaluate_cli_trains_the_trials_as_batched_jobs_in_trial_order():
    sets = set_flags(["max_epochs=1", "memorize.n_train=128", "memorize.n_valid=32", "memorize.n_test=32"])
    args = ["--arch", "gru", "--task", "memorize", "--trials", "5", "--json", "--quiet", *sets]
    solo = [json.loads(line) for line in run_module("evo_rnn.evaluate", *args).stdout.splitlines()]
    result = run_module("evo_rnn.evaluate", *args, "--batched", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5 and all(r["status"] == "ok" for r in rows)
    # the same trials (configs and seeds) in the same order; the shapes (layers) were grouped
    assert [(r["hparams"], r["seed"]) for r in rows] == [(r["hparams"], r["seed"]) for r in solo]
    assert len({r["hparams"]["num_layers"] for r in rows}) == 2
    bad = run_module("evo_rnn.evaluate", *args, "--batched", "0")
    assert bad.returncode == 2 and "argument --batched: expected `auto` or at least 1, got 0" in stderr_lines(bad)[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--arch", "lstn", "--task", "arith"], "'lstn' is neither a zoo cell"),
        (["--arch", "gru", "--task", "sums"], "unknown task 'sums'; known: arith"),
        (
            ["--arch", "gru", "--task", "arith", "--trials", "0"],
            "argument --trials: expected a whole number from 1 to 100000, got 0",
        ),
        (["--arch", "gru", "--task", "arith", "--set", "epochs=2"], "unknown preset field 'epochs'"),
    ],
)
def test_evaluate_cli_errors(args, message):
    result = run_module("evo_rnn.evaluate", *args)
    assert result.returncode == 2
    lines = stderr_lines(result)
    assert len(lines) == 1 and message in lines[0], lines


def test_evaluate_from_python_gives_the_commands_results_for_a_name_or_a_graph():
    command = run_module(
        "evo_rnn.evaluate",
        "--arch",
        "gru",
        "--task",
        "memorize",
        "--trials",
        "2",
        "--json",
        "--quiet",
        "--seed",
        "3",
        *set_flags(MEMORIZE),
    )
    expected = [json.loads(line) for line in command.stdout.splitlines()]
    for arch in ("gru", zoo.get("gru")):
        results = evaluate.run(arch, "memorize", trials=2, seed=3, set=MEMORIZE)
        assert [(r.hparams, r.seed, r.test_score) for r in results] == [
            (r["hparams"], r["seed"], r["test_score"]) for r in expected
        ]
    with pytest.raises(EvoRnnError, match="argument --trials: expected a whole number from 1 to 100000, got 0"):
        evaluate.run("gru", "memorize", trials=0)
    with pytest.raises(EvoRnnError, match="unknown task 'sums'"):
        evaluate.run("gru", "sums")
    with pytest.raises(EvoRnnError, match="arch must be a zoo name, a cell .json path or a networkx.DiGraph, got 123"):
        evaluate.run(123, "memorize")
    for bad in (None, "max_epochs=1", [1]):
        with pytest.raises(EvoRnnError, match="set must be a list of FIELD=VALUE strings"):
            evaluate.run("gru", "memorize", set=bad)
