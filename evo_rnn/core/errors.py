"""The exceptions evo_rnn raises for bad input, one class per kind of problem."""

from __future__ import annotations

__all__ = [
    "CellFormatError",
    "DataFileMissingError",
    "DataIntegrityError",
    "EvoRnnError",
    "GraphvizNotFoundError",
    "InvalidCellError",
    "UnknownNameError",
    "UnsafePickleError",
]


class EvoRnnError(Exception):
    """Base class of every error evo_rnn raises on purpose for bad input."""


class InvalidCellError(EvoRnnError, ValueError):
    """A cell graph breaks a rule of the cell format.

    Attributes:
        node: the name of the offending node, or None when the problem is
            about the cell as a whole.
    """

    def __init__(self, message: str, node: str | None = None):
        super().__init__(message)
        self.node = node


class CellFormatError(EvoRnnError, ValueError):
    """A cell file or JSON document is malformed (not a cell in format version 1)."""


class UnknownNameError(EvoRnnError, LookupError):
    """A name (architecture, task, ...) is not in its registry."""

    def __str__(self) -> str:  # LookupError would repr() the message.
        return str(self.args[0]) if self.args else ""


class GraphvizNotFoundError(EvoRnnError, RuntimeError):
    """Graphviz's `dot` program, needed to render PNG or SVG, is not installed."""


class DataFileMissingError(EvoRnnError, FileNotFoundError):
    """A dataset file is not in the data directory (the message says how to get it)."""


class DataIntegrityError(EvoRnnError, ValueError):
    """A dataset file is truncated, corrupted, or not the published dataset."""


class UnsafePickleError(DataIntegrityError):
    """A pickle asks to build an object the restricted unpickler does not allow."""
