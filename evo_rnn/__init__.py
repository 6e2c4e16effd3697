"""evo_rnn: evolutionary search for recurrent cells better than the LSTM and the GRU.

Importing the package registers its Keras layers, so that `.keras` models holding them
load with `keras.models.load_model`.
"""

import contextlib as _contextlib
import os as _os
import sys as _sys


@_contextlib.contextmanager
def _quiet_native_stderr(again: bool = False):
    """Hides what native code writes to fd 2 meanwhile (TensorFlow's C++ start-up notes on
    oneDNN and CUDA drivers, which no setting turns off). EVO_RNN_SHOW_TF_STARTUP=1 keeps them.
    Only around the first import of Keras, unless `again`."""
    if _os.environ.get("EVO_RNN_SHOW_TF_STARTUP") == "1" or ("keras" in _sys.modules and not again):
        yield
        return
    try:
        _sys.stderr.flush()
        saved = _os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded interpreters, notebooks)
        yield
        return
    try:
        with open(_os.devnull, "w") as devnull:
            _os.dup2(devnull.fileno(), 2)
            yield
    finally:
        _os.dup2(saved, 2)
        _os.close(saved)


with _quiet_native_stderr():
    import keras as _keras  # noqa: F401  (loads the backend; the layers below register with it)

from evo_rnn import architectures, cell_format
from evo_rnn.cell_graph import CellBuilder, prune, validate
from evo_rnn.cell_hash import same_architecture, structural_hash
from evo_rnn.errors import CellFormatError, EvoRnnError, InvalidCellError, UnknownNameError
from evo_rnn.layers import GraphCell, GraphRNN

__version__ = "0.1.0"

__all__ = [
    "architectures",
    "cell_format",
    "CellBuilder",
    "validate",
    "prune",
    "structural_hash",
    "same_architecture",
    "GraphCell",
    "GraphRNN",
    "EvoRnnError",
    "InvalidCellError",
    "CellFormatError",
    "UnknownNameError",
]
