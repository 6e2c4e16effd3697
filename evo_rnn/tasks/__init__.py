"""Tasks by name: the paper's, generated (arith, xml, memorize) and real (ptb, ptb_chars, four music
datasets); a user's files (`text:PATH`, `npz:PATH`: `evo_rnn.tasks.sources`); and tasks that
packages add (`register`, or an entry point in the group `evo_rnn.tasks`)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from importlib import metadata
from typing import Any

from evo_rnn.core.errors import EvoRnnError, UnknownNameError
from evo_rnn.tasks import data_files
from evo_rnn.tasks.arith import ArithConfig, ArithTask
from evo_rnn.tasks.arrays import NpzConfig, NpzTask
from evo_rnn.tasks.base import Split, Task, TaskData
from evo_rnn.tasks.memorize import MemorizeConfig, MemorizeTask
from evo_rnn.tasks.music import MUSIC_FILES, MusicConfig, MusicTask
from evo_rnn.tasks.ptb import PtbConfig, PtbTask
from evo_rnn.tasks.ptb_chars import PtbCharsConfig, PtbCharsTask
from evo_rnn.tasks.sources import SourceError, is_source, parse
from evo_rnn.tasks.text import TextConfig, TextTask
from evo_rnn.tasks.xml import XmlConfig, XmlTask

__all__ = [
    "ENTRY_POINT_GROUP",
    "FAMILIES",
    "GENERATED",
    "MUSIC",
    "ArithConfig",
    "MemorizeConfig",
    "MusicConfig",
    "NpzConfig",
    "PluginError",
    "PtbCharsConfig",
    "PtbConfig",
    "SourceError",
    "Split",
    "Task",
    "TaskData",
    "TextConfig",
    "XmlConfig",
    "check_data",
    "check_name",
    "family",
    "file_stem",
    "get",
    "identity",
    "is_source",
    "names",
    "plugin_problems",
    "register",
]

GENERATED = ("arith", "xml", "memorize")
MUSIC = tuple(MUSIC_FILES)
# Tasks that share a config and a parameter budget in a preset: the music sets ("music"), a
# user's text files ("text") and arrays ("npz"), and tasks that packages add ("custom").
FAMILIES = (*GENERATED, "ptb", "ptb_chars", "music", "text", "npz", "custom")
_GENERATED_CLASSES = {"arith": ArithTask, "xml": XmlTask, "memorize": MemorizeTask}
ENTRY_POINT_GROUP = "evo_rnn.tasks"
IDENTITY = re.compile(r"(text|npz):sha256-[0-9a-f]{16}(\?.*)?")  # `Source.identity`
_REGISTERED: dict[str, Callable[[], Task]] = {}


class PluginError(EvoRnnError, ValueError):
    """A task a package adds (`register`, an entry point) has a bad name or a broken factory."""


def _check_plugin_name(name: Any, what: str) -> None:
    """Refuses a plug-in task's name as `register` does: not a plain name, or a built-in one."""
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise PluginError(f"{what}: task name {name!r}: use letters, digits, '_' and '-'")
    if name in _builtin_names() or name in ("music", "text", "npz"):
        raise PluginError(f"{what}: task name {name!r} is built in; choose another")


def register(name: str, factory: Callable[[], Task]) -> None:
    """Adds a task under `name` for every command of this process: `factory()` returns the
    `Task` (a `Task` subclass is a factory). It is trained at the preset's `budgets.custom`
    and batch size; its `data(seed)` decides whether the data depend on the seed. A package
    makes it visible to every process (the workers included) with an entry point instead:
    `[project.entry-points."evo_rnn.tasks"] NAME = "package.module:factory"`.

    Raises:
        PluginError (a ValueError): `name` is a built-in task, a file kind, or not a plain
            name, or `factory` is not callable.
    """
    _check_plugin_name(name, "register()")
    if not callable(factory):
        raise PluginError(
            f"register({name!r}, ...): the factory {factory!r} is not callable; give a Task subclass or a "
            "function that returns a Task"
        )
    _REGISTERED[name] = factory


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {point.name: point for point in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _entry_point_problem(name: str) -> str | None:
    """Why the entry point `name` cannot be a task (its name), or None."""
    try:
        _check_plugin_name(name, f"entry point {name!r} ({_entry_points()[name].value})")
    except PluginError as error:
        return str(error)
    return None


def plugin_problems() -> dict[str, str]:
    """The entry points of the group `evo_rnn.tasks` whose names cannot be tasks, with why
    (they are left out of `names()`; a factory that fails is only found when it is called)."""
    return {name: problem for name in _entry_points() if (problem := _entry_point_problem(name)) is not None}


def _plugins() -> list[str]:
    usable = {name for name in _entry_points() if _entry_point_problem(name) is None}
    return sorted({*_REGISTERED, *usable} - set(_builtin_names()))


def _made_by_plugin(name: str) -> Task:
    """The task the plug-in `name` makes: its factory called, the result checked.

    Raises:
        PluginError: the entry point cannot be loaded, the factory raises, or it returns
            something that is not a `Task`.
    """
    point = None if name in _REGISTERED else _entry_points()[name]
    what = f"task {name!r}" + ("" if point is None else f" (entry point {point.value} in group {ENTRY_POINT_GROUP})")
    fix = (
        "fix the package that adds it, or uninstall it" if point is not None else "fix the factory given to register()"
    )
    try:
        factory = _REGISTERED[name] if point is None else point.load()
    except Exception as error:  # a missing module, a missing attribute, an error at import
        raise PluginError(f"{what} cannot be loaded ({type(error).__name__}: {error}); {fix}") from None
    if not callable(factory):
        raise PluginError(f"{what} names {factory!r}, which is not callable; {fix}")
    try:
        task = factory()
    except Exception as error:  # a plug-in's own failure: reported in one line, not as evo_rnn's bug
        raise PluginError(f"{what}: its factory raised {type(error).__name__}: {error}; {fix}") from None
    if not isinstance(task, Task):
        raise PluginError(f"{what}: its factory returned {task!r}, not a Task; {fix}")
    return task


def _builtin_names() -> list[str]:
    return [*GENERATED, "ptb", "ptb_chars", *MUSIC]


def names() -> list[str]:
    """Every task name: the built-in ones, then those registered or added by packages (a
    user's files are named `text:PATH` and `npz:PATH`, not listed)."""
    return [*_builtin_names(), *_plugins()]


def check_name(name: str) -> str:
    """Returns `name` when it names a task (a file spec is parsed and its path checked; its
    content is read when the task is built).

    Raises:
        UnknownNameError: not a task (the message lists them and the file forms).
        SourceError: a file spec that is malformed or whose path is missing.
    """
    family(name)
    return name


def family(name: str) -> str:
    """The family of task `name`, which names its config and its parameter budget in a preset:
    "music" for the four music sets, "text" and "npz" for a user's files, "custom" for tasks
    packages add, the task's own name otherwise.

    Raises:
        UnknownNameError: `name` is not a task (the message lists them).
        SourceError: a file spec that is malformed or whose path is missing.
    """
    if name in MUSIC:
        return "music"
    if name in _builtin_names():
        return name
    if is_source(name):
        return parse(name).kind
    if name in _plugins():
        return "custom"
    if name in _entry_points():
        raise PluginError(_entry_point_problem(name))
    hint = f" (music is a family: {', '.join(MUSIC)})" if name == "music" else ""
    raise UnknownNameError(
        f"unknown task {name!r}{hint}; known: {', '.join(names())}, or your files as text:PATH or npz:PATH"
    )


def identity(name: str) -> str:
    """What the cache knows task `name` by: its name, or for a user's file its content hash
    and options (`Source.identity`: moving the file keeps it, editing it does not)."""
    if not is_source(name) or IDENTITY.fullmatch(name):  # a built-in name, or already an identity
        return name
    return parse(name).identity


def file_stem(name: str) -> str:
    """Task `name` as a part of a file name: itself for a named task; for a user's file its
    kind, the file's stem and a short content hash (`text-corpus-93329d41`)."""
    if not is_source(name):
        return name
    source = parse(name)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", source.path.stem)[:40]
    return f"{source.kind}-{stem}-{source.digest[:8]}"


def get(name: str, config: Any = None, data_dir: str | os.PathLike | None = None) -> Task:
    """The task `name` with `config` (its config dataclass; None for the defaults).

    Args:
        name: one of `names()`, or `text:PATH[?unit=word&vocab=N]`, `npz:PATH`.
        config: e.g. `ArithConfig(max_digits=3)` for "arith".
        data_dir: where real datasets are read (see `evo_rnn.tasks.data_files.resolve_data_dir`).

    Raises:
        UnknownNameError: `name` is not a task (the message lists them).
        SourceError: a user's file cannot be used (the message says why and the fix).
        PluginError: a task a package adds cannot be made (the message names its entry point).
    """
    if name in _GENERATED_CLASSES:
        return _GENERATED_CLASSES[name](config)
    if name == "ptb":
        return PtbTask(config, data_dir)
    if name == "ptb_chars":
        return PtbCharsTask(config, data_dir)
    if name in MUSIC:
        return MusicTask(name, config, data_dir)
    if is_source(name):
        source = parse(name)
        return (TextTask if source.kind == "text" else NpzTask)(name, source, config)
    family(name)  # raises for an unknown name: what is left is a task a package added
    task = _made_by_plugin(name)
    task.name = name
    return task


def check_data(name: str, data_dir: str | os.PathLike | None = None, config: Any = None) -> None:
    """Raises FileNotFoundError (naming the file and where to get it) when a real dataset the
    task `name` reads is missing from the data folder, and SourceError when a user's file
    cannot be used with `config` (its family's config: too small for its batches, not UTF-8...);
    generated tasks need nothing."""
    if is_source(name):
        get(name, config, data_dir).data(0)  # read, checked and cut as training will
        return
    files = (
        data_files.DATASETS["ptb"] if name in ("ptb", "ptb_chars") else ((MUSIC_FILES[name],) if name in MUSIC else ())
    )
    for path in files:
        data_files.locate(path, data_dir)
