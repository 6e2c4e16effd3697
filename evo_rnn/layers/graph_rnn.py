"""`GraphRNN`: runs a `GraphCell` over a sequence, with the input projections hoisted out of the loop."""

from __future__ import annotations

import keras

from evo_rnn.layers.graph_cell import GraphCell

__all__ = ["GraphRNN"]


@keras.saving.register_keras_serializable(package="evo_rnn")
class GraphRNN(keras.layers.RNN):
    """`keras.layers.RNN` for a `GraphCell`, faster: the x-side linear maps of all time
    steps are one matmul before the recurrent loop, so each step only does the
    state-side work.

    Takes the same arguments as `keras.layers.RNN` (`return_sequences`, `return_state`,
    `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`, masking) and gives the
    same results as `keras.layers.RNN(cell)`.

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

    def call(self, sequences, initial_state=None, mask=None, training=False):
        projected = self.cell.project_inputs(sequences)
        with self.cell.inputs_projected():
            return super().call(projected, initial_state=initial_state, mask=mask, training=training)
