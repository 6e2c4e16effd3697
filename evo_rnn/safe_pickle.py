"""Loading untrusted pickles: plain containers and numbers only (and numpy integers/arrays)."""

from __future__ import annotations

import io
import pickle
from typing import Any

from evo_rnn.errors import DataIntegrityError, UnsafePickleError

__all__ = ["safe_loads"]

# What the original music pickles may need beyond plain containers: numpy scalars and arrays.
_ALLOWED_GLOBALS = frozenset({
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("_codecs", "encode"),  # how protocol 2 carries numpy's raw bytes from Python 3; encodes a string only
})


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"the pickle asks for {module}.{name}, which a data file never needs; refusing to load it "
                "(only lists, tuples, dicts, strings, numbers and numpy integers/arrays are allowed)"
            )
        import importlib

        return getattr(importlib.import_module(module), name)


def safe_loads(data: bytes) -> Any:
    """Unpickles `data` allowing only plain containers, numbers, strings and numpy numbers/arrays.

    Raises:
        UnsafePickleError: the pickle references any other class or function.
        DataIntegrityError: the bytes are not a complete pickle (truncated or corrupted).
    """
    try:
        # latin1: the original datasets are Python 2 pickles whose numpy payloads are byte strings.
        return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, OverflowError, UnicodeDecodeError, RecursionError) as error:
        raise DataIntegrityError(f"not a readable pickle (truncated or corrupted?): {type(error).__name__}: {error}")
