"""The package's layering (no import runs up a floor, no cycle), its style (ruff's lint and
format), and its command lines' help (every flag says what it does and its default)."""

from __future__ import annotations

import argparse
import ast
import importlib
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from conftest import ROOT

PACKAGE = ROOT / "evo_rnn"

# The packages from the ground up: a package imports its own modules and the packages below it,
# never one above. A new package must be given its place here (the test fails until it is).
LAYERS = ["core", "cells", "layers", "tasks", "interop", "training", "runs", "scoring", "views", "search", "commands"]
# Entry points sit above every package and are imported by nothing of the package: `evo_rnn`
# itself (the facade a user imports), the command shims `evo_rnn/<command>.py` and every
# `__main__.py` (what `python -m` runs).
ENTRY = len(LAYERS)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_entry(module: str) -> bool:
    parts = module.split(".")
    return (len(parts) <= 2 and module not in {f"evo_rnn.{name}" for name in LAYERS}) or parts[-1] == "__main__"


def package(module: str) -> str | None:
    """The package a module belongs to (None for an entry point)."""
    return None if is_entry(module) else module.split(".")[1]


def level(module: str) -> int:
    found = package(module)
    if found is None:
        return ENTRY
    if found not in LAYERS:
        raise KeyError(f"{module}: package evo_rnn.{found} has no place in LAYERS")
    return LAYERS.index(found)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The evo_rnn modules `path` imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "evo_rnn"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "evo_rnn":
            for alias in node.names:  # `from evo_rnn.cells import zoo` imports the module evo_rnn.cells.zoo
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
    return found


def import_graph() -> nx.DiGraph:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    for module, path in paths.items():
        graph.add_node(module)
        for target in imports(path, set(paths)):
            if target != module:
                graph.add_edge(module, target)
    return graph


def package_graph(graph: nx.DiGraph) -> nx.DiGraph:
    packages = nx.DiGraph()
    for a, b in graph.edges:
        if package(a) and package(b) and package(a) != package(b):
            packages.add_edge(package(a), package(b))
    return packages


def test_every_package_has_a_place_and_no_import_runs_up():
    graph = import_graph()
    upward = [(a, b) for a, b in graph.edges if level(b) > level(a)]
    assert not upward, upward


def test_an_entry_point_only_runs_its_command():
    """`evo_rnn/<command>.py` and the `__main__.py` files are what `python -m` runs: each imports
    its command from `evo_rnn.commands` and nothing else, so it adds no import between packages."""
    graph = import_graph()
    for module in graph:
        if is_entry(module) and module != "evo_rnn":
            assert set(graph.successors(module)) <= {f"evo_rnn.commands.{module.split('.')[1]}"}, module


def test_nothing_in_a_package_imports_an_entry_point():
    graph = import_graph()
    into_entries = [(a, b) for a, b in graph.edges if is_entry(b) and not is_entry(a)]
    assert not into_entries, into_entries


def test_no_two_packages_import_each_other_and_modules_have_no_cycle():
    graph = import_graph()
    assert nx.is_directed_acyclic_graph(package_graph(graph)), nx.find_cycle(package_graph(graph))
    assert nx.is_directed_acyclic_graph(graph), nx.find_cycle(graph)


def test_every_package_says_what_it_is_responsible_for():
    for name in LAYERS:
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text()))
        assert doc and len(doc) > 30, f"evo_rnn.{name} has no docstring saying what it is responsible for"
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} == set(LAYERS)


def test_the_layering_check_would_see_an_upward_import(tmp_path):
    graph = import_graph()
    assert ("evo_rnn.views.export", "evo_rnn.runs.run") in graph.edges  # the check reads real imports
    assert level("evo_rnn.search.evolution") > level("evo_rnn.scoring.paper_scores") > level("evo_rnn.runs.store")
    assert is_entry("evo_rnn.search.__main__") and is_entry("evo_rnn.evaluate") and is_entry("evo_rnn")
    assert not is_entry("evo_rnn.search") and package("evo_rnn.search.api") == "search"
    upward = tmp_path / "upward.py"
    upward.write_text("def f():\n    from evo_rnn.search import api\n")
    assert imports(upward, {"evo_rnn.search.api"}) == {"evo_rnn.search.api"}


def test_the_views_and_the_commands_read_runs_through_run_not_their_database():
    """A run's store, followed from the report, the export and the commands, stays in the runs and
    scoring packages: above them a run is an `evo_rnn.runs.run.Run`."""
    graph = import_graph()
    held = []
    for path in [*(PACKAGE / "views").glob("*.py"), *(PACKAGE / "commands").glob("*.py")]:
        module = module_name(path)
        if "evo_rnn.runs.store" in graph.successors(module):
            held.append(f"{module} imports evo_rnn.runs.store")
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr == "store") or (
                isinstance(node, ast.Name) and node.id == "store"
            ):
                held.append(f"{module}:{node.lineno} holds a store")
    assert not held, held


def test_the_tests_mirror_the_packages():
    """tests/<package>/test_<module>[_more].py: a folder per package, a file per module it tests
    (test_<package>.py for the package's own `__init__`)."""
    tests = ROOT / "tests"
    for folder in (p for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))):
        assert folder.name in LAYERS, f"tests/{folder.name}/ is not a package of evo_rnn"
        modules = {p.stem for p in (PACKAGE / folder.name).glob("*.py") if p.stem != "__init__"} | {folder.name}
        for test in folder.glob("test_*.py"):
            stem = test.stem.removeprefix("test_")
            assert any(stem == m or stem.startswith(m + "_") for m in modules), f"{test} tests no module of it"
    top = {p.name for p in tests.glob("test_*.py")}
    assert top == {"test_docs.py", "test_layout.py", "test_repository.py"}, top  # the repository's own checks


def test_no_test_imports_a_private_name():
    found = []
    for test in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(test.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("evo_rnn"):
                found += [f"{test.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert not found, found


COMMANDS = sorted(f"evo_rnn.commands.{p.stem}" for p in (PACKAGE / "commands").glob("*.py") if p.stem != "__init__")


def test_every_command_runs_as_python_m_evo_rnn_its_name():
    for module in COMMANDS:
        name = module.rsplit(".", 1)[1]
        entry = PACKAGE / f"{name}.py" if (PACKAGE / f"{name}.py").is_file() else PACKAGE / name / "__main__.py"
        assert f"from {module} import" in entry.read_text(), f"python -m evo_rnn.{name} does not run {module}"


def parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from parsers(sub)


@pytest.mark.parametrize("module", COMMANDS)
def test_every_flag_says_what_it_does_and_its_default(module):
    parser = importlib.import_module(module).build_parser()
    for each in parsers(parser):
        for action in each._actions:
            if (
                isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
                or action.help == argparse.SUPPRESS
            ):
                continue
            name = "/".join(action.option_strings) or action.dest
            assert action.help and len(action.help) > 10, f"{module} {name} has no description"
            assert "default" in action.help or "required" in action.help, f"{module} {name} does not state its default"


@pytest.mark.parametrize("ruff", [["check", "--no-fix"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_finds_nothing_to_lint_or_format(ruff):
    """ruff.toml's rules hold for the whole repository: `ruff check --fix` and `ruff format` mend most."""
    result = subprocess.run([sys.executable, "-m", "ruff", *ruff, "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
