"""evo_rnn: evolutionary search for recurrent cells better than the LSTM and the GRU.

Importing the package registers its Keras layers, so that `.keras` models holding them
load with `keras.models.load_model`. It also quiets TensorFlow's C++ log (see
`evo_rnn.core.backend`), unless `TF_CPP_MIN_LOG_LEVEL` was set before.
"""

from evo_rnn.core import backend as _backend

_backend.quiet_tensorflow_log()
with _backend.quiet_native_stderr():
    import keras as _keras  # noqa: F401  (loads the backend; the layers below register with it)

from evo_rnn.cells import file_format, zoo
from evo_rnn.cells.graph import CellBuilder, prune, validate
from evo_rnn.cells.hashing import same_architecture, structural_hash
from evo_rnn.core.errors import CellFormatError, EvoRnnError, InvalidCellError, UnknownNameError
from evo_rnn.layers import GraphCell, GraphRNN

__version__ = "0.1.0"

__all__ = [
    "CellBuilder",
    "CellFormatError",
    "EvoRnnError",
    "GraphCell",
    "GraphRNN",
    "InvalidCellError",
    "UnknownNameError",
    "file_format",
    "prune",
    "same_architecture",
    "structural_hash",
    "validate",
    "zoo",
]
