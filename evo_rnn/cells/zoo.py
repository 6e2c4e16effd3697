"""The zoo: the reference cells of Jozefowicz et al. (2015), by name.

Linear nodes use the paper's names (`W_xi`, `W_hi`, ... for the LSTM's gates i, f, o and
candidate g; `W_xz`, `W_hz`, `W_xr`, `W_hr`, `W_xh`, `W_hh` for the GRU and MUT cells).
A gate's bias sits on its x-side linear; where a gate has no x-side linear (MUT1's
candidate, MUT2's reset gate) the bias sits on its h-side linear.

The shipped copies in `saved_architectures/zoo/` are written by
`python -m evo_rnn.write_zoo saved_architectures/zoo`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import networkx as nx

from evo_rnn.cells.graph import CellBuilder
from evo_rnn.core.errors import UnknownNameError

__all__ = ["get", "names", "resolve"]


def _gate(b: CellBuilder, gate: str, activation: str, bias_init: float = 0.0) -> str:
    """activation(W_x<gate> x + b_<gate> + W_h<gate> h)."""
    pre = b.add(f"{gate}_pre", b.linear(f"W_x{gate}", "x", bias_init), b.linear(f"W_h{gate}", "h"))
    return b.activation(activation, gate, pre)


def _lstm(
    name: str, forget: bool = True, input_gate: bool = True, output_gate: bool = True, forget_bias: float = 0.0
) -> nx.DiGraph:
    """i, f, o = σ(W_x· x + W_h· h + b); g = tanh(W_xg x + W_hg h + b_g);
    c' = f*c + i*g; h' = o * tanh(c'); a removed gate is fixed to 1."""
    b = CellBuilder(name, states=("h", "c"))
    g = _gate(b, "g", "tanh")
    new_info = b.mul("i_g", _gate(b, "i", "sigmoid"), g) if input_gate else g
    kept = b.mul("f_c", _gate(b, "f", "sigmoid", forget_bias), "c") if forget else "c"
    c_new = b.add("c_new", kept, new_info)
    b.output("c", c_new)
    tanh_c = b.activation("tanh", "tanh_c", c_new)
    b.output("h", b.mul("o_tanh_c", _gate(b, "o", "sigmoid"), tanh_c) if output_gate else tanh_c)
    return b.build()


def tanh() -> nx.DiGraph:
    """h' = tanh(W_xh x + W_hh h + b_h), as `keras.layers.SimpleRNN`."""
    b = CellBuilder("tanh")
    pre = b.add("h_pre", b.linear("W_xh", "x", 0.0), b.linear("W_hh", "h"))
    b.output("h", b.activation("tanh", "h_new", pre))
    return b.build()


def gru() -> nx.DiGraph:
    """Cho et al., reset before the matmul, as `keras.layers.GRU(reset_after=False)`:
    z = σ(W_xz x + W_hz h + b_z); r = σ(W_xr x + W_hr h + b_r);
    ĥ = tanh(W_xh x + W_hh (r*h) + b_h); h' = z*h + (1-z)*ĥ."""
    b = CellBuilder("gru")
    z, r = _gate(b, "z", "sigmoid"), _gate(b, "r", "sigmoid")
    r_h = b.mul("r_h", r, "h")
    candidate = b.activation(
        "tanh", "candidate", b.add("candidate_pre", b.linear("W_xh", "x", 0.0), b.linear("W_hh", r_h))
    )
    one_minus_z = b.sub("one_minus_z", b.const("one", 1.0), z)
    b.output("h", b.add("h_new", b.mul("z_h", z, "h"), b.mul("update", one_minus_z, candidate)))
    return b.build()


def _mut_output(b: CellBuilder, candidate_pre: str, z: str) -> None:
    """h' = tanh(candidate_pre) * z + h * (1 - z), the shared tail of MUT1-3."""
    candidate = b.activation("tanh", "candidate", candidate_pre)
    one_minus_z = b.sub("one_minus_z", b.const("one", 1.0), z)
    b.output("h", b.add("h_new", b.mul("update", candidate, z), b.mul("keep", "h", one_minus_z)))


def mut1() -> nx.DiGraph:
    """z = σ(W_xz x + b_z); r = σ(W_xr x + W_hr h + b_r);
    h' = tanh(W_hh (r*h) + tanh(x) + b_h) * z + h * (1 - z)."""
    b = CellBuilder("mut1")
    z = b.activation("sigmoid", "z", b.linear("W_xz", "x", 0.0))
    r = _gate(b, "r", "sigmoid")
    w_hh = b.linear("W_hh", b.mul("r_h", r, "h"), 0.0)
    _mut_output(b, b.add("candidate_pre", w_hh, b.activation("tanh", "tanh_x", "x")), z)
    return b.build()


def mut2() -> nx.DiGraph:
    """z = σ(W_xz x + W_hz h + b_z); r = σ(x + W_hr h + b_r);
    h' = tanh(W_hh (r*h) + W_xh x + b_h) * z + h * (1 - z)."""
    b = CellBuilder("mut2")
    z = _gate(b, "z", "sigmoid")
    r = b.activation("sigmoid", "r", b.add("r_pre", "x", b.linear("W_hr", "h", 0.0)))
    w_hh = b.linear("W_hh", b.mul("r_h", r, "h"))
    _mut_output(b, b.add("candidate_pre", w_hh, b.linear("W_xh", "x", 0.0)), z)
    return b.build()


def mut3() -> nx.DiGraph:
    """z = σ(W_xz x + W_hz tanh(h) + b_z); r = σ(W_xr x + W_hr h + b_r);
    h' = tanh(W_hh (r*h) + W_xh x + b_h) * z + h * (1 - z)."""
    b = CellBuilder("mut3")
    tanh_h = b.activation("tanh", "tanh_h", "h")
    z = b.activation("sigmoid", "z", b.add("z_pre", b.linear("W_xz", "x", 0.0), b.linear("W_hz", tanh_h)))
    r = _gate(b, "r", "sigmoid")
    w_hh = b.linear("W_hh", b.mul("r_h", r, "h"))
    _mut_output(b, b.add("candidate_pre", w_hh, b.linear("W_xh", "x", 0.0)), z)
    return b.build()


_ZOO: dict[str, Callable[[], nx.DiGraph]] = {
    "tanh": tanh,
    "lstm": lambda: _lstm("lstm"),
    "lstm_f": lambda: _lstm("lstm_f", forget=False),
    "lstm_i": lambda: _lstm("lstm_i", input_gate=False),
    "lstm_o": lambda: _lstm("lstm_o", output_gate=False),
    "lstm_b": lambda: _lstm("lstm_b", forget_bias=1.0),
    "gru": gru,
    "mut1": mut1,
    "mut2": mut2,
    "mut3": mut3,
}


def names() -> list[str]:
    """The zoo's cell names, in the paper's order."""
    return list(_ZOO)


def get(name: str) -> nx.DiGraph:
    """Returns a fresh copy of the zoo cell `name`.

    Raises:
        UnknownNameError: `name` is not in the zoo (the message lists the known names).
    """
    if name not in _ZOO:
        raise UnknownNameError(f"unknown architecture {name!r}; known: {', '.join(_ZOO)}")
    return _ZOO[name]()


def resolve(spec: str | os.PathLike) -> nx.DiGraph:
    """A cell from a zoo name or the path of a cell `.json` file.

    Raises:
        UnknownNameError: neither a zoo name nor an existing file (lists what is accepted).
        CellFormatError, InvalidCellError: the file is not a valid cell.
    """
    from evo_rnn.cells import file_format

    text = os.fspath(spec)
    if text in _ZOO:
        return get(text)
    if Path(text).is_file():
        return file_format.load(text)
    raise UnknownNameError(f"{text!r} is neither a zoo cell ({', '.join(_ZOO)}) nor an existing cell .json file")
