"""The package's layering (no import runs up a floor, no cycle) and its command lines' help
(every flag says what it does and its default)."""

from __future__ import annotations

import argparse
import ast
import importlib
from pathlib import Path

import networkx as nx
import pytest

from conftest import ROOT

PACKAGE = ROOT / "evo_rnn"

# Each module's floor: a module may import its own floor and those below, never above. A new
# module must be given a floor here (the test fails until it is).
FLOORS: dict[str, int] = {
    # plain facts and process set-up, no evo_rnn imports of substance
    "evo_rnn.errors": 0, "evo_rnn.ops": 0, "evo_rnn.atomic_files": 0, "evo_rnn.backend": 0, "evo_rnn.cli": 0,
    "evo_rnn.stats": 0, "evo_rnn.run_lock": 0, "evo_rnn.preset_rules": 0, "evo_rnn.seeds": 0,
    "evo_rnn.tensorboard_logs": 2,  # evaluations as TensorBoard runs
    # cells, files, results
    "evo_rnn.cell_graph": 1, "evo_rnn.safe_pickle": 1, "evo_rnn.datafiles": 1, "evo_rnn.results": 1,
    "evo_rnn.cell_hash": 2, "evo_rnn.cell_format": 2, "evo_rnn.architectures": 2, "evo_rnn.hparams": 2,
    "evo_rnn.diagram": 2, "evo_rnn.tasks": 2, "evo_rnn.interop": 2,
    # layers, presets, mutation, the run database
    "evo_rnn.layers": 3, "evo_rnn.presets": 3, "evo_rnn.mutate": 3, "evo_rnn.store": 3, "evo_rnn": 3,
    # one evaluation; a run's files and settings; the paper's scores
    "evo_rnn.train": 4, "evo_rnn.runs": 4, "evo_rnn.scores": 4,
    # many evaluations in one program; where evaluations run; the export; the paper's algorithm
    "evo_rnn.batched": 5, "evo_rnn.engines": 5, "evo_rnn.comparison": 5, "evo_rnn.executors": 5, "evo_rnn.evaluations": 5, "evo_rnn.ray_executor": 5, "evo_rnn.export": 5, "evo_rnn.report": 5, "evo_rnn.search.evolution": 5,
    "evo_rnn.strategies": 5,  # search strategies compared over runs (read by the report)
    # the scheduler; using an exported model
    "evo_rnn.search.scheduler": 6, "evo_rnn.predict": 6, "evo_rnn.confirm": 6,
    "evo_rnn.search.progress": 7, "evo_rnn.search": 7,
    # command lines
    "evo_rnn.evaluate": 8, "evo_rnn.ablation": 8, "evo_rnn.render": 8, "evo_rnn.demo": 8, "evo_rnn.write_zoo": 8,
    "evo_rnn.tasks.__main__": 8, "evo_rnn.search.__main__": 8,
    "evo_rnn.interop.__main__": 8,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor(module: str) -> int:
    """The floor of a module: its own entry, else its package's (evo_rnn.tasks.arith is evo_rnn.tasks')."""
    name = module
    while name not in FLOORS:
        if "." not in name:
            raise KeyError(f"{module} has no floor in FLOORS")
        name = name.rsplit(".", 1)[0]
    return FLOORS[name]


def imports(path: Path, modules: set[str]) -> set[str]:
    """The evo_rnn modules `path` imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "evo_rnn"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "evo_rnn":
            for alias in node.names:  # `from evo_rnn import tasks` imports the module evo_rnn.tasks
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


def test_every_module_has_a_floor_and_no_import_runs_up_one():
    graph = import_graph()
    upward = [(a, floor(a), b, floor(b)) for a, b in graph.edges if floor(b) > floor(a)]
    assert not upward, upward


def test_the_modules_import_each_other_without_a_cycle():
    graph = import_graph()
    assert nx.is_directed_acyclic_graph(graph), nx.find_cycle(graph)


def test_the_layering_check_would_see_an_upward_import():
    graph = import_graph()
    assert ("evo_rnn.export", "evo_rnn.runs") in graph.edges  # the check reads real imports
    assert floor("evo_rnn.search.evolution") > floor("evo_rnn.scores") > floor("evo_rnn.store")
    assert not any(b.startswith("evo_rnn.search") for a, b in graph.edges if a == "evo_rnn.export")


COMMANDS = ["evo_rnn.evaluate", "evo_rnn.ablation", "evo_rnn.export", "evo_rnn.search.__main__",
            "evo_rnn.render", "evo_rnn.demo", "evo_rnn.write_zoo", "evo_rnn.tasks.__main__", "evo_rnn.predict",
            "evo_rnn.confirm", "evo_rnn.report", "evo_rnn.interop.__main__"]


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
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
                continue
            name = "/".join(action.option_strings) or action.dest
            assert action.help and len(action.help) > 10, f"{module} {name} has no description"
            assert "default" in action.help or "required" in action.help, f"{module} {name} does not state its default"
