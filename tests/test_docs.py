"""The documentation: the MkDocs site builds with --strict (a broken link, a stale anchor or a
docstring the API reference cannot render fails here), the README stays a front door, and
every command in its code blocks is either run here or named with the test that runs it."""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_module, run_python

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)

# README commands too dear to run here, each with the test that exercises it. A README
# command in neither this list nor run below fails test_every_readme_command_is_run_or_exercised.
EXERCISED_ELSEWHERE = {
    # scripts/search.sh sets up the venv and execs `python -m evo_rnn.search`: real tiny searches
    "bash scripts/search.sh": "tests/commands/test_search.py::test_a_tiny_search_exports_cells_whose_models_reload",
    # the test suite itself: .ci/run runs exactly this command
    "bash scripts/test.sh": ".ci/run",
    "python -m evo_rnn.search --run NAME --budget-minutes 60": (
        "tests/commands/test_search.py::test_a_killed_search_resumes_without_losing_or_repeating_evaluations"
    ),
    "python -m evo_rnn.evaluate --arch gru --task arith --trials 3 --seed 0": (
        "tests/commands/test_evaluate.py::test_evaluate_cli_json_output"
    ),
}


def code_blocks(path: Path, languages: tuple[str, ...]) -> list[str]:
    return [body for language, body in FENCE.findall(path.read_text()) if language in languages]


def commands(path: Path) -> list[tuple[str, str]]:
    """Each `python -m evo_rnn...` or `bash scripts/...` line of the shell code blocks in `path`
    (continuation lines joined): the command without its comment, and the comment."""
    found = []
    for body in code_blocks(path, ("bash", "sh", "")):
        for line in body.replace("\\\n", " ").splitlines():
            command, _, comment = line.partition("  #")
            command = shlex.join(shlex.split(command))
            if command.startswith(("python -m evo_rnn", "bash scripts/")):
                found.append((command, comment.strip()))
    return found


def parse(command: str) -> None:
    """Parses a `python -m evo_rnn...` command line with its module's own parser (no run): a
    flag the command no longer has fails."""
    argv = shlex.split(command)
    module = importlib.import_module("evo_rnn.commands." + argv[2].removeprefix("evo_rnn."))  # its command
    try:
        module.build_parser().parse_args(argv[3:])
    except SystemExit:
        pytest.fail(f"{command!r}: its command line refuses these arguments (stderr above)")


def test_the_site_builds_with_strict(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    assert (site / "index.html").is_file() and (site / "reference" / "cells" / "index.html").is_file()


def test_the_readme_is_a_front_door():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    setup = code_blocks(README, ("bash",))[0]  # CI runs the README's test command
    assert "bash scripts/search.sh" in setup and "bash scripts/test.sh" in setup


def test_the_readmes_links_lead_to_files():
    """The README is not part of the site, so mkdocs does not check its links: this does."""
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [target for target in targets if "://" not in target]
    assert local, "the README links the site's pages"
    assert not [target for target in local if not (ROOT / target).exists()]


RUN_HERE = [(command, comment) for command, comment in commands(README) if command not in EXERCISED_ELSEWHERE]


def test_every_readme_command_is_run_or_exercised():
    listed = {command for command, _ in commands(README)}
    assert RUN_HERE, "the README's cheap commands (predict on the shipped run) are run here"
    for command, where in EXERCISED_ELSEWHERE.items():
        assert command in listed, f"{command!r} is no longer in the README: drop it from EXERCISED_ELSEWHERE"
        path, _, test = where.partition("::")
        assert (ROOT / path).is_file() and (not test or f"def {test}(" in (ROOT / path).read_text()), where
        if command.startswith("bash "):
            assert (ROOT / shlex.split(command)[1]).is_file()
        else:
            parse(command)


@pytest.mark.parametrize("command, comment", RUN_HERE, ids=[command for command, _ in RUN_HERE])
def test_a_readme_command_runs_and_prints_what_the_readme_says(command, comment):
    argv = shlex.split(command)
    assert argv[:2] == ["python", "-m"], command
    result = run_module(argv[2], *argv[3:], timeout=180)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    printed = re.match(r"prints (\S+)$", comment)
    if printed:
        assert result.stdout.strip() == printed.group(1), command


def test_the_readme_predict_example_on_xml_prints_what_it_says():
    said = re.search(r'`"(<[^`]+>)"` with `(model-xml\.keras)` prints `([^`.]+)\.\.\.`', README.read_text())
    assert said, "the README's XML example of evo_rnn.predict"
    text, model, start = said.groups()
    result = run_module(
        "evo_rnn.predict", f"saved_architectures/reference-quick-seed0/1-94c6576d/{model}", text, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(start), result.stdout


def test_the_readme_python_example_runs():
    for block in code_blocks(README, ("python",)):
        result = run_python(block + "\nprint('ran')", timeout=180)
        assert result.returncode == 0 and result.stdout.strip().endswith("ran"), f"{block}\n{result.stderr}"


def test_the_cell_pages_examples_run(tmp_path):
    """docs/cells.md's examples, in order, in an empty folder (they save a model there)."""
    blocks = code_blocks(ROOT / "docs" / "cells.md", ("python",))
    assert len(blocks) == 2
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)], cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "savedmodel" / "saved_model.pb").is_file()


def test_every_command_line_in_the_docs_parses():
    """The site's commands are too many and too long to run here; each is parsed by its own
    command's parser, so a renamed or removed flag fails."""
    lines = [command for page in sorted((ROOT / "docs").rglob("*.md")) for command, _ in commands(page)]
    assert len(lines) > 20
    for command in lines:
        if command.startswith("python -m evo_rnn"):
            parse(command)
        else:
            assert (ROOT / shlex.split(command)[1]).is_file(), command
