"""Keras 3 layers that turn cell graphs into trainable, saveable recurrent layers."""

from evo_rnn.layers.graph_cell import GraphCell
from evo_rnn.layers.graph_rnn import GraphRNN

__all__ = ["GraphCell", "GraphRNN"]
