"""The paper's tasks by name: generated (arith, xml, memorize) and real (ptb, four music datasets)."""

from __future__ import annotations

import os
from typing import Any

from evo_rnn import datafiles
from evo_rnn.errors import UnknownNameError
from evo_rnn.tasks.arith import ArithConfig, ArithTask
from evo_rnn.tasks.base import Split, Task, TaskData
from evo_rnn.tasks.memorize import MemorizeConfig, MemorizeTask
from evo_rnn.tasks.music import MUSIC_FILES, MusicConfig, MusicTask
from evo_rnn.tasks.ptb import PtbConfig, PtbTask
from evo_rnn.tasks.xml import XmlConfig, XmlTask

__all__ = [
    "names", "get", "family", "check_data", "FAMILIES", "GENERATED", "MUSIC", "Task", "TaskData", "Split",
    "ArithConfig", "XmlConfig", "MemorizeConfig", "PtbConfig", "MusicConfig",
]

GENERATED = ("arith", "xml", "memorize")
MUSIC = tuple(MUSIC_FILES)
FAMILIES = (*GENERATED, "ptb", "music")  # tasks that share a config and a parameter budget: the music sets
_GENERATED_CLASSES = {"arith": ArithTask, "xml": XmlTask, "memorize": MemorizeTask}


def names() -> list[str]:
    """Every task name."""
    return [*GENERATED, "ptb", *MUSIC]


def family(name: str) -> str:
    """The family of task `name`, which names its config and its parameter budget in a preset:
    "music" for the four music sets, the task's own name otherwise.

    Raises:
        UnknownNameError: `name` is not a task (the message lists them).
    """
    if name in MUSIC:
        return "music"
    if name in names():
        return name
    raise UnknownNameError(f"unknown task {name!r}; known: {', '.join(names())}")


def get(name: str, config: Any = None, data_dir: str | os.PathLike | None = None) -> Task:
    """The task `name` with `config` (its config dataclass; None for the defaults).

    Args:
        name: one of `names()`.
        config: e.g. `ArithConfig(max_digits=3)` for "arith".
        data_dir: where real datasets are read (see `evo_rnn.datafiles.resolve_data_dir`).

    Raises:
        UnknownNameError: `name` is not a task (the message lists them).
    """
    if name in _GENERATED_CLASSES:
        return _GENERATED_CLASSES[name](config)
    if name == "ptb":
        return PtbTask(config, data_dir)
    if name in MUSIC:
        return MusicTask(name, config, data_dir)
    hint = f" (music is a family: {', '.join(MUSIC)})" if name == "music" else ""
    raise UnknownNameError(f"unknown task {name!r}{hint}; known: {', '.join(names())}")


def check_data(name: str, data_dir: str | os.PathLike | None = None) -> None:
    """Raises FileNotFoundError (naming the file and where to get it) when a real dataset the
    task `name` reads is missing from the data folder; generated tasks need nothing."""
    files = datafiles.DATASETS["ptb"] if name == "ptb" else ((MUSIC_FILES[name],) if name in MUSIC else ())
    for path in files:
        datafiles.locate(path, data_dir)
