"""The export: it never deletes what it did not write (a run folder, a foreign folder), replaces
only an earlier export of the same run, recognises exports made before export.json, and
exports a read-only run elsewhere without writing to it."""

from __future__ import annotations

import json
import shutil

import pytest

from evo_rnn.core.cli import UsageError
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.run import RunFiles
from evo_rnn.runs.store import Store, StoreError
from evo_rnn.views.export import export_in, export_run
from evo_rnn.views.report import write_report

from conftest import ROOT, digest, quiet, run_module, stderr_lines, tree


def test_an_export_into_the_runs_folder_is_refused_and_the_run_is_intact(searched):
    files, _ = searched
    before, listing = digest(files.database), tree(files.root)
    result = run_module(
        "evo_rnn.export", "--run", "tiny", "--runs-dir", str(files.root.parent), "--out", str(files.root.parent)
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = stderr_lines(result)
    assert len(lines) == 1 and "is not an evo_rnn export" in lines[0] and "nothing was written" in lines[0], lines
    assert digest(files.database) == before and tree(files.root) == listing


def test_an_export_over_a_foreign_folder_is_refused_and_its_files_kept(searched, tmp_path):
    files, _ = searched
    out = tmp_path / "exports"
    (out / "tiny").mkdir(parents=True)
    (out / "tiny" / "thesis.tex").write_text("my thesis")
    with pytest.raises(UsageError, match="is not an evo_rnn export"):
        export_run(files, out, top=1, log=quiet)
    assert (out / "tiny" / "thesis.tex").read_text() == "my thesis"
    assert [p.name for p in out.iterdir()] == ["tiny"]  # no staging folder left behind


def test_an_export_replaces_only_a_previous_export_of_the_same_run(searched, tmp_path):
    files, _ = searched
    with Store(files.database) as store:
        store.set_meta(MetaKey.RUN_ID, "run-one")
    out = tmp_path / "exports"
    said: list[str] = []
    first = export_run(files, out, top=1, log=said.append)
    assert any("retraining" in line for line in said)  # the fake run kept no models
    marker = json.loads((first / "export.json").read_text())
    assert marker["run"] == "tiny" and marker["run_id"] == "run-one" and marker["format_version"] == 1
    (first / "left-from-before.txt").write_text("an earlier export's file")
    said.clear()
    second = export_run(files, out, top=1, log=said.append)
    assert not any("retraining" in line for line in said)  # the first export kept them in the run
    assert second == first and not (second / "left-from-before.txt").exists()
    assert (second / "README.md").is_file() and sorted(p.name for p in out.iterdir()) == ["tiny"]
    # Another run of the same name (another identity) does not replace it.
    marker["run_id"] = "run-two"
    (second / "export.json").write_text(json.dumps(marker))
    with pytest.raises(UsageError, match="export of another run"):
        export_run(files, out, top=1, log=quiet)
    assert json.loads((second / "export.json").read_text())["run_id"] == "run-two"


def test_an_export_made_before_export_json_is_recognised_by_its_summaries(tmp_path):
    shipped = ROOT / "saved_architectures" / "reference-quick-seed0"
    assert export_in(shipped) == ("reference-quick-seed0", json.loads((shipped / "export.json").read_text())["run_id"])
    legacy = tmp_path / "legacy"  # as exports were before export.json: summaries only
    for folder in ("1-94c6576d", "2-126c3db2"):
        (legacy / folder).mkdir(parents=True)
        shutil.copyfile(shipped / folder / "summary.json", legacy / folder / "summary.json")
    assert export_in(legacy) == ("reference-quick-seed0", None)
    (tmp_path / "1-abc").mkdir()
    (tmp_path / "1-abc" / "summary.json").write_text(json.dumps({"run": "x"}))
    (tmp_path / "notes.txt").write_text("mine")
    assert export_in(tmp_path) is None  # a file no export writes: not an export


def test_a_read_only_run_is_reported_and_exported_elsewhere_without_a_write(searched, tmp_path, monkeypatch):
    files, _ = searched
    monkeypatch.setattr(RunFiles, "writable", lambda self: False)  # as on a read-only disk
    before, listing = digest(files.database), tree(files.root)
    report = write_report(files, tmp_path / "report.html")
    assert "<!DOCTYPE html>" in report.read_text()
    exported = export_run(files, tmp_path / "out", top=1, log=quiet)
    assert any(exported.glob("1-*/model-arith.keras"))  # retrained into the export, not the run
    assert digest(files.database) == before and tree(files.root) == listing
    with pytest.raises(StoreError, match="readonly"), Store(files.database, readonly=True) as store:
        store.set_meta(MetaKey.WORKERS, 1)
