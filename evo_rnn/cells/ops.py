"""The closed registry of operations a cell graph node may carry."""

from __future__ import annotations

import dataclasses
import enum

__all__ = ["ACTIVATIONS", "ELEMENTWISE", "LEAKY_RELU_SLOPE", "OPS", "OpKind", "OpSpec", "op_spec"]


class OpKind(str, enum.Enum):  # noqa: UP042 (a StrEnum would change what str() of a member prints)
    """What role an op plays in a cell."""

    INPUT = "input"  # x_t, the cell's input at step t
    STATE = "state"  # the previous value of one recurrent state
    CONST = "const"  # a fixed scalar, broadcast to the cell width
    LINEAR = "linear"  # W a (+ b), with weights of its own
    ACTIVATION = "activation"  # element-wise non-linearity of one operand
    ELEMENTWISE = "elementwise"  # element-wise binary op of two operands
    OUTPUT = "output"  # the next value of one recurrent state


@dataclasses.dataclass(frozen=True)
class OpSpec:
    """Everything the package knows about one op.

    Attributes:
        name: the value of a node's `op` attribute.
        kind: the role of the op.
        arity: the exact number of incoming edges.
        attributes: the node attributes the op takes (besides `op`), all required.
        keras_op: name of the `keras.ops` function computing it, or None when
            the op is computed by other means (sources, linear maps, identity,
            outputs).
        symbol: the short label used in diagrams.
    """

    name: str
    kind: OpKind
    arity: int
    attributes: tuple[str, ...] = ()
    keras_op: str | None = None
    symbol: str = ""


OPS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        OpSpec("x", OpKind.INPUT, 0, symbol="x[t]"),
        OpSpec("state", OpKind.STATE, 0, ("state",)),
        OpSpec("const", OpKind.CONST, 0, ("value",)),
        OpSpec("linear", OpKind.LINEAR, 1, ("bias_init",)),
        OpSpec("tanh", OpKind.ACTIVATION, 1, keras_op="tanh", symbol="tanh"),
        OpSpec("sigmoid", OpKind.ACTIVATION, 1, keras_op="sigmoid", symbol="σ"),
        OpSpec("relu", OpKind.ACTIVATION, 1, keras_op="relu", symbol="relu"),
        # max(v, LEAKY_RELU_SLOPE * v): NAS-Bench-NLP's cells use it (`evo_rnn.interop.nasbench_nlp`);
        # the mutations choose among the paper's activations only (`mutate.ACTIVATION_CHOICES`).
        OpSpec("leaky_relu", OpKind.ACTIVATION, 1, keras_op="leaky_relu", symbol="lrelu"),
        OpSpec("identity", OpKind.ACTIVATION, 1, symbol="id"),
        OpSpec("add", OpKind.ELEMENTWISE, 2, keras_op="add", symbol="+"),
        OpSpec("mul", OpKind.ELEMENTWISE, 2, keras_op="multiply", symbol="×"),
        OpSpec("sub", OpKind.ELEMENTWISE, 2, keras_op="subtract", symbol="−"),
        OpSpec("output", OpKind.OUTPUT, 1, ("state",)),
    )
}

ACTIVATIONS: tuple[str, ...] = tuple(n for n, s in OPS.items() if s.kind is OpKind.ACTIVATION)
ELEMENTWISE: tuple[str, ...] = tuple(n for n, s in OPS.items() if s.kind is OpKind.ELEMENTWISE)

LEAKY_RELU_SLOPE = 0.01  # PyTorch's default, which NAS-Bench-NLP trained with (Keras' default is 0.2)

# Element-wise ops whose operand order matters; their in-edges carry `operand` 0 or 1.
ORDERED_OPS: frozenset[str] = frozenset({"sub"})


def op_spec(op: object) -> OpSpec | None:
    """Returns the spec of `op`, or None when it is not a registered op name."""
    return OPS.get(op) if isinstance(op, str) else None
