"""`Run` and `RunSettings`: what a stored run was started with."""

from __future__ import annotations

from pathlib import Path

from evo_rnn.runs.run import Run, RunFiles, RunSettings
from evo_rnn.scoring.paper_scores import Scores

REFERENCE = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "search-default.sqlite"


def test_a_run_stored_before_the_default_fitness_changed_reads_with_the_search_it_was_started_with():
    old = RunSettings.from_dict({"preset": "quick", "overrides": ["engine=batched"], "seed": 0})
    assert old.resolved_preset().search.tasks == ("arith", "xml")
    assert old.resolved_preset().search.configs_per_task == 2 and old.resolved_preset().search.halving_configs == 8
    assert old.resolved_preset().engine == "batched"  # its own overrides still apply, after the old search's
    new = RunSettings.from_dict(RunSettings("quick", ("engine=batched",), 0).to_dict())
    assert new.resolved_preset().search.tasks == ("ptb_chars",)
    assert new.to_dict()["format"] == RunSettings.FORMAT == 2


def test_the_shipped_reference_run_still_scores_on_arith_and_xml(tmp_path):
    copy = tmp_path / "runs" / "reference" / "search.sqlite"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(REFERENCE.read_bytes())
    with Run.open(RunFiles("reference", tmp_path / "runs")) as run:
        scores = Scores.of(run)
        assert scores.tasks == ("arith", "xml")
        assert set(scores.baselines()) == {"gru", "lstm"}
        population = run.population()
        assert set(scores.baselines().values()) <= set(population)  # it ended with the seed cells only
        assert scores.children(population) == sorted(set(population) - set(scores.baselines().values()))
