"""`npz:PATH`: sequences from a user's NumPy `.npz` file, classified per sequence or per step.

Arrays: `x`, int tokens [n, T] (ids from 0) or float features [n, T, d]; `y`, an int class per
sequence [n] or per step [n, T]; optional `lengths` [n] (the real steps of each row, default
T); optional pre-split `x_valid`, `y_valid`, `x_test`, `y_test` (and `lengths_valid`,
`lengths_test`), else a split of the rows 80/10/10, seeded (seed 0: the same for every run; a
user's data is fixed like the real datasets). Per-sequence classification reads the cell's
state at the last real step into the softmax (only that position is scored); per-step
classification scores every real step. Score: accuracy (ceiling 1 only when the labels are a
function of the inputs, unknown otherwise; `majority` reports the commonest class's share).
The file is read with `allow_pickle=False`: no code runs from it, and each member's header is
read first: a member that is not a `.npy` array, or arrays that declare more than
`MAX_ARRAY_BYTES` (1 GiB) together, are refused before anything is allocated. Token ids and
classes must fit the model's index type, int32.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import zipfile
import zlib

import numpy as np

from evo_rnn.tasks.base import Split, Task, TaskData, weighted_accuracy
from evo_rnn.tasks.sources import Source, SourceError

__all__ = ["INDEX_LIMIT", "MAX_ARRAY_BYTES", "NpzConfig", "NpzTask", "load_npz"]

SHARES = (0.8, 0.1, 0.1)
MAX_ARRAY_BYTES = 2**30  # the most the arrays of one .npz may declare, together (1 GiB)
INDEX_LIMIT = 2**31 - 1  # token ids and classes are int32 in the model: each must be below this
# The most token ids or classes a model is built for (an embedding or a softmax of this width):
# ids far apart (a product code, a hash) must be renumbered first, not become a model with
# billions of outputs.
MAX_IDS = 2**20
_SAVE = "save it with numpy.savez(path, x=..., y=...)"
_BROKEN = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError)
_SPLIT_KEYS = ("x_valid", "y_valid", "x_test", "y_test")


@dataclasses.dataclass(frozen=True)
class NpzConfig:
    """Settings of `npz:` tasks (the preset's `npz` field)."""

    max_sequences: int | None = None  # use only the first N training rows


def load_npz(raw: bytes, name: str, limit: int = MAX_ARRAY_BYTES) -> dict[str, np.ndarray]:
    """The arrays of the .npz file whose bytes are `raw` (`name` in messages), read without
    pickles once every member's header has been checked: a `.npy` array of plain values whose
    declared size its member holds, the arrays together at most `limit` bytes.

    Raises:
        SourceError: not an .npz (a lone .npy, a zip of other files), a member that is not a
            plain array, a declared size larger than the member or than `limit`.
    """
    if raw.startswith(b"\x93NUMPY"):
        raise SourceError(f"{name} is a single .npy array, not an .npz archive of arrays x and y; {_SAVE}")
    declared = 0
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            for info in archive.infolist():
                key = info.filename.removesuffix(".npy")
                if not info.filename.endswith(".npy"):
                    raise SourceError(
                        f"{name} holds {info.filename!r}, which is not a .npy array (an .npz holds one NAME.npy "
                        f"per array); {_SAVE}"
                    )
                with archive.open(info) as member:
                    shape, dtype = _header(member)
                if dtype.hasobject:
                    raise SourceError(
                        f"{name} is not a readable .npz of plain arrays ({key} holds Python objects, which evo_rnn "
                        f"does not unpickle); {_SAVE} with numbers"
                    )
                size = math.prod(shape) * dtype.itemsize
                if size > info.file_size:
                    raise SourceError(
                        f"{name}: array {key} declares shape {shape} of {dtype} ({size:,} bytes) but holds "
                        f"{info.file_size:,}; the file is truncated or corrupted: save it again"
                    )
                declared += size
                if declared > limit:
                    raise SourceError(
                        f"{name}: its arrays declare more than {limit:,} bytes ({declared:,} so far, {key} "
                        f"{shape} of {dtype}), the most evo_rnn reads; give fewer rows or a smaller dtype"
                    )
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except SourceError:
        raise
    except _BROKEN as error:
        raise SourceError(f"{name} is not a readable .npz of plain arrays ({error}); {_SAVE}") from None


def _header(member) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a .npy member declares, read from its header alone."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f"a .npy header of version {version[0]}.{version[1]}, which evo_rnn does not read")
    return tuple(shape), dtype


class NpzTask(Task):
    """Sequence (or per-step) classification on a user's arrays."""

    description = "your arrays: classify each sequence (or each step)"

    def __init__(self, spec: str, source: Source, config: NpzConfig | None = None):
        self.name, self.source = spec, source
        self.config = config or NpzConfig()
        arrays = self._arrays
        x = arrays["x"]
        self.input_kind = "tokens" if np.issubdtype(x.dtype, np.integer) else "dense"
        xs = [arrays[k] for k in ("x", "x_valid", "x_test") if k in arrays]
        ys = [arrays[k] for k in ("y", "y_valid", "y_test") if k in arrays]
        self.input_size = int(max(a.max() for a in xs)) + 1 if self.input_kind == "tokens" else int(x.shape[-1])
        self.output_size = max(int(max(a.max() for a in ys)) + 1, 2)
        self.per_step = ys[0].ndim == 2
        for what, size, arrays_of in (("token ids", self.input_size, xs), ("classes", self.output_size, ys)):
            if size > MAX_IDS and (what == "classes" or self.input_kind == "tokens"):
                used = len(np.unique(np.concatenate([a.ravel() for a in arrays_of])))
                name = "x" if what == "token ids" else "y"
                raise self._fail(
                    f"its {what} go up to {size - 1:,} ({used:,} distinct), so the model would be {size:,} wide, more "
                    f"than the {MAX_IDS:,} it is built for; number them from 0 without gaps, e.g. "
                    f"_, {name} = numpy.unique({name}, return_inverse=True)"
                )

    def _fail(self, message: str) -> SourceError:
        return SourceError(f"task {self.name!r}: {message}")

    @functools.cached_property
    def _arrays(self) -> dict[str, np.ndarray]:
        """The file's arrays, checked (read once)."""
        try:
            arrays = load_npz(self.source.read()[0], self.source.path.name)
        except SourceError as error:
            raise self._fail(str(error)) from None
        for key in ("x", "y"):
            if key not in arrays:
                raise self._fail(
                    f"the file has no array {key!r} (it has {', '.join(sorted(arrays)) or 'none'}); "
                    "save it with numpy.savez(path, x=..., y=...)"
                )
        known = {"x", "y", "lengths", *_SPLIT_KEYS, "lengths_valid", "lengths_test"}
        unknown = sorted(set(arrays) - known)
        if unknown:
            raise self._fail(f"unknown arrays {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        given = [k for k in _SPLIT_KEYS if k in arrays]
        if given and len(given) != len(_SPLIT_KEYS):
            raise self._fail(f"pre-split arrays need all of {', '.join(_SPLIT_KEYS)}; it has {', '.join(given)}")
        for suffix in ("", "_valid", "_test"):
            if f"x{suffix}" in arrays:
                self._check(arrays, suffix)
        if given:  # the splits must be one kind of data: the same dtype kind, T and d
            shapes = {
                key: (arrays[key].dtype.kind in "iu", arrays[key].shape[1:]) for key in ("x", "x_valid", "x_test")
            }
            if len(set(shapes.values())) > 1:
                listed = ", ".join(f"{key} {arrays[key].dtype} {arrays[key].shape}" for key in shapes)
                raise self._fail(
                    f"the splits differ ({listed}); x, x_valid and x_test need one dtype kind, the "
                    "same steps T and the same features d"
                )
            if {arrays[k].ndim for k in ("y", "y_valid", "y_test")} != {arrays["y"].ndim}:
                raise self._fail("y, y_valid and y_test must all be a class per sequence [n] or all per step [n, T]")
        return arrays

    def _check(self, arrays: dict[str, np.ndarray], suffix: str) -> None:
        x, y = arrays[f"x{suffix}"], arrays[f"y{suffix}"]
        name = f"x{suffix}"
        if x.ndim not in (2, 3) or 0 in x.shape:
            raise self._fail(
                f"{name} has shape {x.shape}; it must be [n, T] int tokens or [n, T, d] float features "
                "with n, T and d at least 1"
            )
        if y.ndim == 0:
            raise self._fail(f"y{suffix} is a single number; give one class per sequence [n] or per step [n, T]")
        if np.issubdtype(x.dtype, np.integer):
            if x.ndim != 2 or x.min() < 0:
                raise self._fail(f"{name}: integer tokens must be [n, T] ids >= 0 (shape {x.shape}, min {x.min()})")
            if x.max() >= INDEX_LIMIT:
                raise self._fail(
                    f"{name} holds token id {x.max()}, more than the model's index type (int32) holds (ids below "
                    f"{INDEX_LIMIT:,}); number the tokens from 0, e.g. numpy.unique({name}, return_inverse=True)"
                )
        elif np.issubdtype(x.dtype, np.floating):
            if x.ndim != 3:
                raise self._fail(f"{name}: float features must be [n, T, d], got shape {x.shape}")
            if not np.isfinite(x).all():
                bad = np.argwhere(~np.isfinite(x))[0]
                raise self._fail(
                    f"{name} has NaN or infinite features (first at index {tuple(int(i) for i in bad)})"
                    "; clean or impute them"
                )
        else:
            raise self._fail(f"{name} has dtype {x.dtype}; use integers (tokens) or floats (features)")
        if not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and (y == np.round(y)).all():
                pass
            else:
                raise self._fail(f"y{suffix} holds non-integer classes (dtype {y.dtype}); give int class ids from 0")
        if len(y) != len(x):
            raise self._fail(
                f"x{suffix} has {len(x)} rows but y{suffix} has {len(y)}; give one label (row) per sequence"
            )
        if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] != x.shape[1]):
            raise self._fail(
                f"y{suffix} has shape {y.shape}; give [n] (a class per sequence) or [n, T] with T = "
                f"{x.shape[1]} (a class per step)"
            )
        if y.min() < 0:
            raise self._fail(f"y{suffix} has negative classes; give class ids from 0")
        if y.max() >= INDEX_LIMIT:
            raise self._fail(
                f"y{suffix} holds class {y.max()}, more than the model's index type (int32) holds (classes "
                f"below {INDEX_LIMIT:,}); number the classes from 0, e.g. numpy.unique(y{suffix}, return_inverse=True)"
            )
        lengths = arrays.get(f"lengths{suffix}")
        if lengths is not None and (
            lengths.shape != (len(x),)
            or not np.issubdtype(lengths.dtype, np.integer)
            or lengths.min() < 1
            or lengths.max() > x.shape[1]
        ):
            raise self._fail(f"lengths{suffix} must be [n] whole numbers from 1 to T = {x.shape[1]}")

    def _rows(self, suffix: str, index: np.ndarray | None = None) -> Split:
        arrays = self._arrays
        x, y = arrays[f"x{suffix}"], arrays[f"y{suffix}"].astype("int64")
        lengths = arrays.get(f"lengths{suffix}", np.full(len(x), x.shape[1]))
        if index is not None:
            x, y, lengths = x[index], y[index], lengths[index]
        steps = np.arange(x.shape[1])[None, :]
        real = (steps < lengths[:, None]).astype("float32")
        if self.per_step:
            targets, weights = y, real
        else:
            targets = np.repeat(y[:, None], x.shape[1], axis=1)
            weights = (steps == (lengths[:, None] - 1)).astype("float32")  # the last real step only
        inputs = x.astype("int32") if self.input_kind == "tokens" else x.astype("float32")
        return Split(inputs, targets.astype("int32"), weights)

    def data(self, seed: int) -> TaskData:
        arrays = self._arrays
        if "x_valid" in arrays:
            splits = [self._rows(""), self._rows("_valid"), self._rows("_test")]
        else:
            n = len(arrays["x"])
            if n < 10:
                raise self._fail(
                    f"it has {n} sequences; a split 80/10/10 needs at least 10 (give more, or "
                    "pre-split arrays x_valid, y_valid, x_test, y_test)"
                )
            order = np.random.default_rng(0).permutation(n)
            cuts = [int(n * SHARES[0]), int(n * (SHARES[0] + SHARES[1]))]
            splits = [
                self._rows("", order[: cuts[0]]),
                self._rows("", order[cuts[0] : cuts[1]]),
                self._rows("", order[cuts[1] :]),
            ]
        if self.config.max_sequences is not None:
            first = splits[0]
            cap = self.config.max_sequences
            splits[0] = Split(first.inputs[:cap], first.targets[:cap], first.weights[:cap])
        return TaskData(*splits)

    def metrics(self, split: Split, nll: np.ndarray, correct: np.ndarray | None) -> dict[str, float]:
        w = split.weights
        accuracy = weighted_accuracy(correct, w)
        scored = split.targets[w > 0]
        majority = float(np.bincount(scored).max() / len(scored)) if len(scored) else float("nan")
        return {"score": accuracy, "accuracy": accuracy, "nll": float((nll * w).sum() / w.sum()), "majority": majority}

    def encoding(self) -> None:
        return None  # not text: `describe` says what the model expects

    def describe(self) -> dict:
        """What a model trained on this task expects and returns (written beside an export)."""
        return {
            "kind": "npz",
            "inputs": (
                "int token ids [n, T]" if self.input_kind == "tokens" else f"float features [n, T, {self.input_size}]"
            ),
            "input_size": self.input_size,
            "classes": self.output_size,
            "labels": "one per step [n, T]" if self.per_step else "one per sequence, read at the last real step",
            "lengths": "optional [n]: the real steps of each row",
        }

    def decode(self, split: Split, index: int) -> str:
        scored = np.flatnonzero(split.weights[index])
        labels = split.targets[index][scored]
        shown = (
            " ".join(str(int(t)) for t in split.inputs[index][:20])
            if self.input_kind == "tokens"
            else f"{split.inputs.shape[1]} steps of {split.inputs.shape[2]} features"
        )
        return f"input {shown}{' ...' if split.inputs.shape[1] > 20 else ''}\nlabel(s) {labels.tolist()[:20]}"
