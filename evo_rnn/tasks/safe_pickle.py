"""Loading untrusted pickles: plain containers and numbers only (and numpy integers/arrays), of bounded size."""

from __future__ import annotations

import io
import math
import pickle
from typing import Any

import numpy as np

from evo_rnn.core.errors import DataIntegrityError, UnsafePickleError

__all__ = ["MAX_ELEMENTS", "safe_loads"]

# The most elements a loaded pickle may stand for, counting every shared reference as often as
# it is used (what converting it, item by item, builds). The largest music dataset, MuseData,
# has 1.75 million (pieces, time steps and notes); a small pickle that reuses one list
# thousands of times at every level of nesting stands for billions.
MAX_ELEMENTS = 5_000_000

# What the original music pickles may need beyond plain containers: numpy scalars and arrays.
_ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("_codecs", "encode"),  # how protocol 2 carries numpy's raw bytes from Python 3; encodes a string only
    }
)
_CONTAINERS = (list, tuple, set, frozenset)
_SCALARS = frozenset({int, float, complex, bool, str, bytes, bytearray, type(None)})


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, max_elements: int, **kwargs):
        super().__init__(file, **kwargs)
        self.max_elements = max_elements

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"the pickle asks for {module}.{name}, which a data file never needs; refusing to load it "
                "(only lists, tuples, dicts, strings, numbers and numpy integers/arrays are allowed)"
            )
        import importlib

        found = getattr(importlib.import_module(module), name)
        if name == "ndarray":
            return _ndarray_called
        return self._bounded_reconstruct(found) if name == "_reconstruct" else found

    def _bounded_reconstruct(self, reconstruct):
        """numpy's `_reconstruct(ndarray, shape, dtype)` allocates `shape` before the pickle's
        data arrives (numpy's own pickles pass (0,)); refuse a shape beyond the limit."""

        def bounded(subtype, shape, dtype):
            size = math.prod(shape) if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape) else None
            if size is None or size > self.max_elements:
                raise DataIntegrityError(
                    f"the pickle asks for a numpy array of shape {shape!r}; at most "
                    f"{self.max_elements:,} elements are allowed"
                )
            return reconstruct(np.ndarray if subtype is _ndarray_called else subtype, shape, dtype)

        return bounded


def _ndarray_called(*args, **kwargs):
    """Stands for `numpy.ndarray` in a pickle, where it may only name the type `_reconstruct`
    builds: called, it would allocate any shape the pickle asks for."""
    raise DataIntegrityError("the pickle calls numpy.ndarray directly, which numpy's own pickles never do")


def _expanded_size(obj: Any, limit: int | None = None) -> int:
    """How many elements `obj` stands for once every shared reference is expanded: each object
    counts one, plus what it holds (a list, tuple or set its items, a dict its keys and values,
    a numpy array its entries), an object held in several places counted in each. Takes time
    linear in the number of references between the objects (at most the pickle's length),
    whatever the expanded size.

    Args:
        obj: a loaded structure.
        limit: stop counting, and raise, once the size passes this.

    Raises:
        DataIntegrityError: the size passes `limit`, or the structure holds itself (a cycle).
    """
    if not _holds_items(obj):
        return _leaf_size(obj)
    sizes: dict[int, int] = {}  # id -> expanded size of each container counted so far
    waiting: set[int] = set()  # containers whose items are being counted: those holding the top of the stack
    stack = [obj]
    while stack:
        node = stack[-1]
        if id(node) in sizes:
            stack.pop()
            continue
        items = _items(node)
        size, pending = 1 + len(items), []
        for item in items:
            kind = type(item)
            if kind in _SCALARS:
                continue
            if id(item) in sizes:
                size += sizes[id(item)] - 1
            elif (kind is list or kind is tuple) and _SCALARS.issuperset(map(type, item)):
                sizes[id(item)] = 1 + len(item)  # a time step's notes, say: counted at once
                size += len(item)
            elif _holds_items(item):
                if id(item) in waiting:
                    raise DataIntegrityError(
                        "the pickle holds a container inside itself (a cycle); a data file never does"
                    )
                pending.append(item)
            else:
                size += _leaf_size(item) - 1
        if pending:
            waiting.add(id(node))
            stack.extend(pending)
            continue
        if limit is not None and size > limit:
            raise DataIntegrityError(
                f"the pickle expands to more than {limit:,} elements (lists, tuples, dicts, "
                "numbers and array entries, a shared reference counted wherever it is "
                "used); refusing to load it"
            )
        waiting.discard(id(node))
        sizes[id(node)] = size
        stack.pop()
    return sizes[id(obj)]


def _holds_items(obj: Any) -> bool:
    return isinstance(obj, (*_CONTAINERS, dict)) or (isinstance(obj, np.ndarray) and obj.dtype.hasobject)


def _items(container: Any) -> list | tuple:
    if isinstance(container, dict):
        return [*container.keys(), *container.values()]
    if isinstance(container, np.ndarray):  # an array of Python objects
        return list(container.flat)
    return container if isinstance(container, (list, tuple)) else list(container)


def _leaf_size(obj: Any) -> int:
    return 1 + obj.size if isinstance(obj, np.ndarray) else 1


def safe_loads(data: bytes, max_elements: int = MAX_ELEMENTS) -> Any:
    """Unpickles `data` allowing only plain containers, numbers, strings and numpy numbers/arrays,
    and at most `max_elements` elements once shared references are expanded (each object counts
    one, plus the items, keys, values or array entries it holds, an object held in several places
    counted in each), so that a small hostile pickle cannot make its reader build billions of objects.

    Raises:
        UnsafePickleError: the pickle references any other class or function.
        DataIntegrityError: the bytes are not a complete pickle (truncated or corrupted), they
            expand beyond `max_elements`, or they hold a cycle.
    """
    try:
        # latin1: the original datasets are Python 2 pickles whose numpy payloads are byte strings.
        loaded = _RestrictedUnpickler(io.BytesIO(data), max_elements, encoding="latin1").load()
    except DataIntegrityError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
        OverflowError,
        UnicodeDecodeError,
        RecursionError,
    ) as error:
        raise DataIntegrityError(
            f"not a readable pickle (truncated or corrupted?): {type(error).__name__}: {error}"
        ) from error
    _expanded_size(loaded, max_elements)
    return loaded
