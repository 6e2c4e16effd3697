"""Which engine trains a command's evaluations, and how many configurations one batched job
holds: chosen here, from one flag, for every command.

`--batched P` is that flag: P > 1 trains up to P configurations of one cell, task and shape as
one compiled program (the batched engine, `evo_rnn.training.batched_engine`); P = 1 trains one
configuration at a time with Keras' fit (`evo_rnn.training.fit_engine`); `auto` is the
hardware's batch (`backend.BATCHED_MEMBERS`) for a new run, and the engine a stored run started
with when it resumes. The engine is part of a run's preset (its `engine` field, stored among the
run's overrides), so it is never set with `--set engine=...`: the two engines' results agree over
the first epochs only, and a run keeps to the one it started with.
"""

from __future__ import annotations

import argparse
import dataclasses

from evo_rnn.core import backend
from evo_rnn.core.cli import UsageError
from evo_rnn.training.presets import Preset

__all__ = ["AUTO", "EngineChoice", "add_batched_argument", "choose", "confirmation_members"]

AUTO = "auto"
ENGINE_FIELD = "engine="


@dataclasses.dataclass(frozen=True)
class EngineChoice:
    """The engine and the size of its jobs.

    Attributes:
        members: configurations per job (1: Keras' fit, one at a time).
    """

    members: int

    @property
    def engine(self) -> str:
        """The preset's `engine` field this choice stands for."""
        return "batched" if self.members > 1 else "fit"

    def overrides(self, overrides: list[str] | tuple[str, ...]) -> list[str]:
        """A command's `--set` items with the engine this choice stands for (the batched engine's
        item is appended; the fit engine is the presets' own)."""
        return [*overrides, f"{ENGINE_FIELD}batched"] if self.members > 1 else list(overrides)


def _batched(text: str) -> int | str:
    """--batched: `auto` or a whole number of at least 1."""
    if text == AUTO:
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected `auto` or a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected `auto` or at least 1, got {value}")
    return value


def add_batched_argument(parser: argparse.ArgumentParser, default: int | str) -> None:
    """The `--batched P` flag, the same for every command that trains."""
    parser.add_argument(
        "--batched",
        type=_batched,
        default=default,
        metavar="P",
        help="the engine: P > 1 trains up to P configurations of one cell, task and shape as one compiled program "
        "(the batched engine: the same batches as Keras' fit; results agree over the first epochs only, so a "
        "run keeps to one engine); 1 trains one at a time with Keras' fit; auto: the hardware's batch "
        f"({backend.BATCHED_MEMBERS['cpu']} on a CPU, {backend.BATCHED_MEMBERS['gpu']} on a GPU), or the engine "
        f"a resumed run started with (default: {default})",
    )


def choose(
    batched: int | str, overrides: list[str] | tuple[str, ...] = (), stored: Preset | None = None
) -> EngineChoice:
    """The engine `--batched` asks for: a number as it says; `auto`, the hardware's batch, except
    that a stored run trained with Keras' fit resumes so.

    Raises:
        UsageError: `overrides` set the engine themselves (`--set engine=...`).
    """
    if any(item.replace(" ", "").startswith(ENGINE_FIELD) for item in overrides):
        raise UsageError(
            "the engine is chosen with --batched P (1: Keras' fit, one at a time; P > 1: batched jobs "
            "of up to P), not with --set engine=..."
        )
    if batched != AUTO:
        return EngineChoice(int(batched))
    if stored is not None and stored.engine != "batched":
        return EngineChoice(1)
    return EngineChoice(backend.default_batched_members())


def confirmation_members(preset: Preset, seeds: int) -> int:
    """Configurations per job when a run's cells are trained again on `seeds` fresh seeds: under
    the batched engine a cell's seeds on a task are one job; under fit, one at a time."""
    return seeds if preset.engine == "batched" else 1
