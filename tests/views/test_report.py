"""The HTML run report: one self-contained file (every image embedded, nothing external) that
parses, shows every section, works on a killed run, and draws what a mutation changed."""

from __future__ import annotations

import base64
import html.parser
import random

import pytest

from evo_rnn.cells import diagram, mutation, zoo
from evo_rnn.runs.metadata import MetaKey
from evo_rnn.runs.run import Run, RunFiles, RunSettings
from evo_rnn.runs.store import Store
from evo_rnn.views.report import graph_diff, render_report, write_report

from conftest import (
    CurvedFake,
    Interrupt,
    digest,
    run_module,
    run_search,
    search_overrides,
    search_preset,
    stderr_lines,
    tree,
)


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.headings, self.rows, self._heading = [], [], [], 0, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        self.links += [attrs[k] for k in ("href", "src") if k in attrs and tag != "img"]
        self._heading = tag in ("h1", "h2", "h3")
        self.rows += tag == "tr"

    def handle_data(self, data):
        if self._heading:
            self.headings.append(data.strip())
            self._heading = False


def make_run(tmp_path, evaluate, max_candidates=4, name="tiny"):
    files = RunFiles(name, tmp_path / "runs")
    files.database.parent.mkdir(parents=True)
    preset = search_preset(reevaluate_probability=0.3, first_task_ratio=0.0, filter_threshold=0.0)
    overrides = search_overrides(preset)
    with Store(files.database) as store:
        RunSettings("quick", tuple(overrides), 0, f"python -m evo_rnn.search --run {name}").save(store)
        store.set_meta(MetaKey.WORKERS, 2)
        store.set_meta(MetaKey.ELAPSED_SECONDS, 90.0)
        run_search(store, preset, evaluate, max_candidates=max_candidates)
    return files


def test_the_report_is_one_self_contained_page_with_every_section(tmp_path):
    files = make_run(tmp_path, CurvedFake())
    path = write_report(files, tmp_path / "report.html", top=2)
    text = path.read_text()
    page = Page()
    page.feed(text)
    for heading in (
        "Leaderboard",
        "The search over time",
        "Funnel",
        "Evaluations per minute",
        "Learning curves",
        "Spread over configurations",
    ):
        assert heading in page.headings, heading
    diagrams = 2 if diagram.graphviz_available() else 0
    assert len(page.images) == 5 + diagrams  # time, funnel, throughput, curves, spread (+ the top cells' diagrams)
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not page.links and "http://" not in text and "https://" not in text  # nothing to fetch: opens offline
    with Store(files.database) as store:
        members = len(store.population())
    assert (
        page.rows == 1 + members + 1 + 9
    )  # leaderboard head + members; funnel head + children, 6 ends, unfinished, re-evaluations
    assert "per worker (2 workers)" in text and "every step finished" in text


def test_a_killed_run_still_gets_its_report(tmp_path):
    fake = CurvedFake()

    def dies(job):
        if len(fake.calls) == 30:
            raise Interrupt()
        return None

    fake.fail = dies
    with pytest.raises(Interrupt):
        make_run(tmp_path, fake, max_candidates=10)
    files = RunFiles("tiny", tmp_path / "runs")
    with Run.open(files, readonly=True) as run:
        text = render_report(run)
    assert "unfinished (the run is going on, or was stopped" in text and "<h2>Leaderboard</h2>" in text


def test_the_graph_diff_is_what_the_mutation_changed():
    parent = zoo.get("gru")
    child, mutations = mutation.mutate(parent, random.Random(3))
    nodes, edges = graph_diff(parent, child)
    assert nodes or edges
    assert {m.node for m in mutations} & (nodes | {v for _, v in edges} | {u for u, _ in edges})
    assert graph_diff(parent, parent) == (set(), set())


def test_the_command_line_refuses_a_run_that_does_not_exist(tmp_path):
    result = run_module("evo_rnn.report", "--run", "nothing", "--runs-dir", str(tmp_path))
    lines = stderr_lines(result)
    assert result.returncode == 2 and len(lines) == 1 and "no search run at" in lines[0], lines


OUTPUTS = {  # -o and what the one line says ({run}: the run's folder, {tmp}: the test's folder)
    "the run's database": (["-o", "{run}/search.sqlite"], "the file written is HTML, so its name must end in .html"),
    "a picture named .html": (["-o", "{tmp}/picture.html"], "picture.html exists and is not an HTML file"),
    "a text file": (["-o", "{tmp}/notes.txt"], "its name must end in .html"),
    "a folder": (["-o", "{run}"], "its name must end in .html"),
    "a comparison over a picture's name": (["--compare", "tiny", "tiny", "-o", "{tmp}/cmp.png"], "must end in .html"),
    "a comparison whose plot would replace a page": (
        ["--compare", "tiny", "tiny", "-o", "{tmp}/page.html"],
        "page.png exists and is not a PNG file",
    ),
}


@pytest.mark.parametrize("case", OUTPUTS)
def test_the_report_never_writes_over_a_run_file_or_a_file_of_another_kind(searched, tmp_path, case, capsys):
    from evo_rnn.commands.report import main as report_main

    files, _ = searched
    (tmp_path / "picture.html").write_bytes(b"\x89PNG\r\n\x1a\nmy picture")
    (tmp_path / "page.png").write_text("<!DOCTYPE html><p>my page</p>")
    listing = tree(tmp_path)
    before = {name: digest(tmp_path / name) for name in listing if (tmp_path / name).is_file()}
    options, message = OUTPUTS[case]
    options = [option.format(run=files.root, tmp=tmp_path) for option in options]
    assert report_main(["--run", "tiny", "--runs-dir", str(files.root.parent), *options]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "nothing was written" in lines[0], lines
    assert tree(tmp_path) == listing
    assert {name: digest(tmp_path / name) for name in listing if (tmp_path / name).is_file()} == before
