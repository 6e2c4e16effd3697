"""Diagrams and the `python -m evo_rnn.render` command line."""

from __future__ import annotations

import os

import pytest

from evo_rnn.cells import file_format, zoo
from evo_rnn.cells.diagram import to_dot, write_diagram
from evo_rnn.core.atomic_files import OutputPathError
from evo_rnn.core.errors import GraphvizNotFoundError, UnknownNameError

from conftest import run_module, stderr_lines


def test_dot_shows_names_ops_states_and_sub_operands():
    dot = to_dot(zoo.get("gru"))
    text = dot.to_string()
    for expected in ('"W_hz"', "h[t-1]", "h[t]", "x[t]", "σ", "tanh", "×", "−"):
        assert expected in text, expected
    # A biased linear: its name, a spacer line (so that the underscore of W_xz clears the line
    # below) and the bias in a smaller font, as an HTML-like label.
    label = dot.get_node('"W_xz"')[0].get("label")
    assert label.startswith("<W_xz<BR/>") and '<FONT POINT-SIZE="4"> </FONT><BR/>' in label
    assert label.endswith('<FONT POINT-SIZE="9">+b (init 0)</FONT>>')
    sub_edges = [e for e in dot.get_edges() if e.get_destination() == '"one_minus_z"']
    labels = {e.get_source(): e.get("label") for e in sub_edges}
    assert labels == {'"one"': '"+"', '"z"': '"−"'}
    state_in = dot.get_subgraphs()[0].get_node('"h"')[0]
    assert state_in.get("fillcolor") == '"#9ecbff"' or state_in.get("fillcolor") == "#9ecbff"


def test_title_defaults_to_the_cell_name():
    assert 'label="lstm"' in to_dot(zoo.get("lstm")).to_string()
    assert 'label="mine"' in to_dot(zoo.get("lstm"), title="mine").to_string()


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".dot", b"digraph")])
def test_write_formats(tmp_path, suffix, magic):
    path = write_diagram(zoo.get("mut3"), tmp_path / f"cell{suffix}")
    assert path.read_bytes().startswith(magic)
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not a private temporary one


def test_unknown_format_and_missing_graphviz(tmp_path, monkeypatch):
    with pytest.raises(UnknownNameError, match=r"use a \.png, \.svg or \.dot"):
        write_diagram(zoo.get("tanh"), tmp_path / "cell.jpg")
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        write_diagram(zoo.get("tanh"), tmp_path / "cell.png")
    write_diagram(zoo.get("tanh"), tmp_path / "cell.dot")  # .dot needs no Graphviz


def test_render_cli_zoo_name_and_file(tmp_path):
    result = run_module("evo_rnn.render", "lstm_b", "-o", str(tmp_path / "out.svg"))
    assert result.returncode == 0, result.stderr
    assert "W_xf" in (tmp_path / "out.svg").read_text()
    cell = file_format.save(zoo.get("mut2"), tmp_path / "mine.json")
    result = run_module("evo_rnn.render", str(cell), "-o", str(tmp_path / "mine.png"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "mine.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope", "-o", "x.png"], "'nope' is neither a zoo cell (tanh, lstm"),
        (["lstm", "-o", "x.gif"], "use a .png, .svg or .dot"),
        (["lstm"], "the following arguments are required: -o/--output"),
        (["{bad}", "-o", "x.png"], "neither a zoo cell"),
    ],
)
def test_render_cli_errors_are_one_line_with_exit_2(tmp_path, args, message):
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    result = run_module("evo_rnn.render", *args)
    assert result.returncode == 2
    lines = stderr_lines(result)
    assert len(lines) == 1, lines
    assert message in lines[0]


def test_render_cli_bad_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format_version": 1, "nodes": [], "edges": [')
    result = run_module("evo_rnn.render", str(bad), "-o", str(tmp_path / "x.png"))
    assert result.returncode == 2
    (line,) = stderr_lines(result)
    assert "bad.json: not valid JSON" in line


@pytest.mark.parametrize(
    "name, held, message",
    [
        ("notes.dot", b"my notes, not a graph", "notes.dot exists and is not a DOT file"),
        ("page.svg", b"<!DOCTYPE html><p>mine</p>", "page.svg exists and is not an SVG file"),
        ("search.png", b"SQLite format 3\x00", "search.png exists and is not a PNG file"),
    ],
)
def test_a_diagram_is_never_written_over_a_file_of_another_kind(tmp_path, name, held, message):
    (tmp_path / name).write_bytes(held)
    with pytest.raises(OutputPathError, match=message):
        write_diagram(zoo.get("gru"), tmp_path / name)
    assert (tmp_path / name).read_bytes() == held and [p.name for p in tmp_path.iterdir()] == [name]
    (tmp_path / "ok.dot").write_text("digraph old {}")
    write_diagram(zoo.get("gru"), tmp_path / "ok.dot")  # a diagram over a diagram: replaced
    assert "digraph old" not in (tmp_path / "ok.dot").read_text()
