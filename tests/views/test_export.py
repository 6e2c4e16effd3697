"""The export: it never deletes what it did not write (a run folder, a foreign folder, a user's
files inside an earlier export), replaces only an earlier export of the same run, cleans up after
an export that was killed, recognises exports made before export.json, and exports a read-only
run elsewhere without writing to it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

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
    (first / "left-from-before.txt").write_text("a user's file")
    said.clear()
    second = export_run(files, out, top=1, log=said.append)
    assert not any("retraining" in line for line in said)  # the first export kept them in the run
    assert second == first and (second / "left-from-before.txt").read_text() == "a user's file"  # not the export's
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


USER_FILES = {  # what a user adds to an export folder ({rank}: the #1 cell's folder) -> its content
    "NOTES.md": "my notes",
    "my_plots/fig1.png": "my figure",
    "{rank}/mine.txt": "about this cell",
    "{rank}/savedmodel-extra/readme.txt": "mine too",
}


def test_a_re_export_keeps_a_users_files_and_cleans_up_after_a_killed_export(searched, tmp_path):
    files, _ = searched
    out = tmp_path / "exports"
    first = export_run(files, out, top=1, log=quiet)
    rank = next(p.name for p in first.iterdir() if p.name.startswith("1-"))
    listed = json.loads((first / "export.json").read_text())["files"]
    assert "README.md" in listed and f"{rank}/cell.json" in listed and "export.json" in listed
    added = {name.format(rank=rank): text for name, text in USER_FILES.items()}
    for name, text in added.items():
        (first / name).parent.mkdir(parents=True, exist_ok=True)
        (first / name).write_text(text)
    (first / "README.md").write_text("edited leaderboard")  # the export's own: replaced
    (out / ".tiny-mine").mkdir()  # a user's hidden folder beside it: not the export's
    # As if an export was killed with SIGKILL halfway through its swap: its staging folder left,
    # the previous export set aside and the new one not yet in place.
    waiting = subprocess.Popen(["true"])
    waiting.wait()
    dead = waiting.pid
    (out / f".tiny.evo-rnn-export-{dead}-abc" / "1-x").mkdir(parents=True)
    aside = out / f".tiny.evo-rnn-previous-{dead}-def"
    aside.mkdir()
    os.replace(first, aside / "tiny")
    said: list[str] = []
    second = export_run(files, out, top=1, log=said.append)
    assert sorted(p.name for p in out.iterdir()) == [".tiny-mine", "tiny"], said  # no staging folder left
    assert any("put back the previous export" in line for line in said)
    for name, text in added.items():
        assert (second / name).read_text() == text, name
    assert (second / "README.md").read_text() != "edited leaderboard"
    # A user's file where the new export writes one of its own: refused, nothing replaced.
    marker = json.loads((second / "export.json").read_text())
    marker["files"].remove("README.md")  # as if README.md were the user's
    (second / "export.json").write_text(json.dumps(marker))
    before = tree(second)
    with pytest.raises(UsageError, match="README.md is not the previous export's own but is where the new export"):
        export_run(files, out, top=1, log=quiet)
    assert tree(second) == before and sorted(p.name for p in out.iterdir()) == [".tiny-mine", "tiny"]


@pytest.mark.parametrize("out", ["afile", "afile/below"])
def test_an_export_into_a_file_is_one_line_with_advice(searched, tmp_path, out, capsys):
    from evo_rnn.commands.export import main as export_main

    files, _ = searched
    (tmp_path / "afile").write_text("mine")
    code = export_main(["--run", "tiny", "--runs-dir", str(files.root.parent), "--out", str(tmp_path / out)])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "afile is a file, not a folder" in lines[0] and "Give --out" in lines[0]
    assert (tmp_path / "afile").read_text() == "mine"
