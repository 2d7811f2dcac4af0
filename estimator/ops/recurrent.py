"""LSTM, GRU and RNN layers (one node per layer, ONNX operand layout).

Per time step, per direction, per batch row (docs/design/cost_model.md):

* MACs = G*H*(input + H): the input and recurrent matrix-vector products of the G gates
  (G = 4 LSTM, 3 GRU, 1 RNN); summing the two products is part of the accumulation.
* Elementwise FLOPs, each elementary function counted 1 and sigmoid 4 as in elementwise.py:
  LSTM 18H (3 sigmoids 12H, tanh(g) H, c = f*c + i*g 3H, tanh(c) H, h = o*tanh(c) H);
  GRU 15H (2 sigmoids 8H, r*(Rh) H, add H, tanh H, h = (1-z)*n + z*h 4H);
  RNN H (the activation).
* Bias (when present): 2*G*H adds (ONNX keeps separate input and recurrent biases).

Totals multiply by sequence length, batch and number of directions.
"""

from __future__ import annotations

from estimator.ir.graph import Node
from estimator.ir.ops import OpType
from estimator.ir.tensor import TensorInfo
from estimator.ops._common import make
from estimator.ops.cost import OpCost, register
from estimator.ops.params import count, register_params

GATES: dict[str, int] = {OpType.LSTM: 4, OpType.GRU: 3, OpType.RNN: 1}
#: Elementwise FLOPs per hidden unit per step (derivations in the module docstring).
CELL_FLOPS: dict[str, int] = {OpType.LSTM: 18, OpType.GRU: 15, OpType.RNN: 1}


def _bias(node: Node) -> TensorInfo | None:
    """The B operand, found by shape: absent optional operands are dropped from ``inputs``."""
    w = node.inputs[1]
    want = (w.shape[0], 2 * w.shape[1])
    for t in node.inputs[3:]:
        if t.shape == want and t.dtype.is_float:
            return t
    return None


@register_params(OpType.LSTM, OpType.GRU, OpType.RNN)
def _rnn_params(node: Node) -> tuple[TensorInfo, ...]:
    """W, R and B; initial states and sequence lengths are inputs, not parameters."""
    b = _bias(node)
    tensors = (node.inputs[1], node.inputs[2]) + ((b,) if b is not None else ())
    return tuple(t for t in tensors if t.is_const)


@register(OpType.LSTM, OpType.GRU, OpType.RNN)
def recurrent(node: Node) -> OpCost:
    x, w = node.inputs[0], node.inputs[1]
    dirs, gh, n_in = w.shape[0], w.shape[1], w.shape[2]
    g = GATES[node.op]
    h = gh // g
    steps = x.numel // n_in if n_in else 0  # seq * batch, whatever the layout
    per_step = g * h * (n_in + h)
    macs = steps * dirs * per_step
    cell = CELL_FLOPS[node.op] * h
    if _bias(node) is not None:
        cell += 2 * g * h
    flops = 2 * macs + steps * dirs * cell
    return make(node, flops, macs, count(_rnn_params(node)))
