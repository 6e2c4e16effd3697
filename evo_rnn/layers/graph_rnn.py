"""`GraphRNN`: runs a `GraphCell` over a sequence, with the input projections hoisted out of the loop."""

from __future__ import annotations

import keras
from keras import ops

from evo_rnn.layers.graph_cell import GraphCell

try:  # The loop every Keras RNN layer runs; internal, so keep a public fallback.
    from keras.src.backend import rnn as _backend_rnn
except ImportError:  # pragma: no cover - depends on the installed Keras
    _backend_rnn = None

__all__ = ["GraphRNN", "run_projected"]

# Keras' TensorFlow loop reads a missing `input_length` as `inputs.shape[1]`, which for a
# time-major input is the batch size: in a function traced for sequences of any length (a
# model's predict function once it has seen two lengths) the loop would stop after `batch`
# steps and leave the later outputs unwritten. Its own condition stops at the real length, so
# an unknown length is passed as "no limit" instead.
_NO_LIMIT = 2**31 - 1


def run_projected(cell: GraphCell, projected, initial_state: list):
    """Runs `cell` over time-major projected inputs ([time, ...], as `cell.project_inputs`
    gives) from `initial_state`, returning every step's output ([time, ...]) and the final
    states. The loop every Keras RNN layer runs (a while loop on TensorFlow, a scan on JAX);
    the leading dimensions after time may be anything the cell computes with (a batched job's
    members and batch, under `GraphCell.member_weights`)."""
    if _backend_rnn is None:  # pragma: no cover - depends on the installed Keras
        raise RuntimeError("this Keras has no keras.src.backend.rnn; batched training needs it")
    steps = projected.shape[0]
    _, outputs, states = _backend_rnn(
        cell.step_projected,
        projected,
        list(initial_state),
        time_major=True,
        input_length=steps if steps is not None else _NO_LIMIT,
        return_all_outputs=True,
    )
    return outputs, states


@keras.saving.register_keras_serializable(package="evo_rnn")
class GraphRNN(keras.layers.RNN):
    """`keras.layers.RNN` for a `GraphCell`, faster: the x-side linear maps of all time
    steps are one matmul before the recurrent loop, so each step only does the
    state-side work.

    Takes the same arguments as `keras.layers.RNN` (`return_sequences`, `return_state`,
    `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`, masking) and gives the
    same results as `keras.layers.RNN(cell)`.

    The raw input is put time-major before the projection (rather than the projection,
    which is several times wider), and the loop runs time-major.

    Args:
        cell: a `GraphCell`.
        **kwargs: as for `keras.layers.RNN`.
    """

    def __init__(self, cell: GraphCell, **kwargs):
        if not isinstance(cell, GraphCell):
            raise TypeError(
                f"GraphRNN runs a GraphCell, got {type(cell).__name__}; use keras.layers.RNN for other cells."
            )
        super().__init__(cell, **kwargs)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if _backend_rnn is None:
            return self._batch_major_loop(sequences, initial_state, mask)
        projected = self.cell.project_inputs(ops.transpose(sequences, (1, 0, 2)))
        if mask is not None:
            mask = ops.transpose(mask, (1, 0, *range(2, len(mask.shape))))
        last_output, outputs, states = _backend_rnn(
            self.cell.step_projected,
            projected,
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1] if sequences.shape[1] is not None else _NO_LIMIT,
            time_major=True,
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
        if self.return_sequences:
            outputs = ops.transpose(outputs, (1, 0, 2))
        return last_output, outputs, states

    def _batch_major_loop(self, sequences, initial_state, mask):
        """The same computation through `keras.layers.RNN`'s own loop (public API only)."""
        projected = self.cell.project_inputs(sequences)
        with self.cell.inputs_projected():
            return super().inner_loop(projected, initial_state, mask)
