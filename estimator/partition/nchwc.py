"""onnxruntime's NCHWc layout on x86 CPUs: which tensors it reorders, as kernels of their own.

onnxruntime rewrites convolutions (and pools) whose channel counts are multiples of the SIMD block
(16 fp32 lanes with AVX-512, 8 with AVX2) to a blocked layout, NCHWc, and inserts ``ReorderInput``
where an NCHW tensor enters such a region and ``ReorderOutput`` where an NCHWc tensor leaves it
(to an op that has no NCHWc form, or a graph output). Ops of the rules' ``propagate`` list keep
the blocked layout when every activation input has it. A reorder reads and writes the whole
tensor, so in concat/split-heavy or reshape-heavy networks it is a real share of the run (13% of
the profiled time of the zoo networks at one thread on the Xeon VM).

Which ops enter or propagate is the runtime's behaviour, so it is data (``nchwc`` in the
runtime's fusion rules); the channel conditions in :func:`conv_takes_nchwc` were probed on
onnxruntime 1.32 (the transformer pads dense convs' channels; older releases required aligned
ones). The walk is over kernels: a fused kernel takes the layout of its anchor. The
partitioner's reorder
counts are checked against onnxruntime's optimized graph (tests/partition/test_ort_agreement.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from estimator.ir.graph import Node
from estimator.ir.tensor import TensorInfo

REORDER_INPUT = "ReorderInput"
REORDER_OUTPUT = "ReorderOutput"


@dataclass(frozen=True, slots=True)
class NchwcRules:
    """``nchwc`` of a runtime's fusion rules, with the device's block size resolved."""

    block: int
    #: Ops that start an NCHWc region when their channel counts allow it.
    entry_ops: frozenset[str]
    #: Ops that keep the NCHWc layout when all their activation inputs have it.
    propagate_ops: frozenset[str]
    #: Channel multiple a depthwise conv needs for the NCHWc form.
    depthwise_multiple: int = 1


@dataclass(frozen=True, slots=True)
class Reorder:
    """A reorder the runtime inserts: which tensor, which way, and before which kernel."""

    op: str
    tensor: TensorInfo
    #: Index of the kernel (in plan order) whose input or output it converts.
    before: int


def conv_takes_nchwc(node: Node, rules: NchwcRules) -> tuple[bool, bool]:
    """(takes the NCHWc form, needs its input reordered) for a Conv, as onnxruntime decides:
    a dense conv always (padding channels to the block; fewer input channels than a block are
    read from the NCHW tensor directly), a depthwise one when its channels are a multiple of
    ``depthwise_multiple``, a grouped one when each group's input and output channels are
    multiples of the block."""
    if len(node.inputs) < 2 or not node.inputs[1].is_const or node.inputs[1].rank != 4:
        return False, False
    w = node.inputs[1].shape
    cout, cin_per_group = int(w[0]), int(w[1])
    group = int(node.attrs.get("group", 1))
    block = rules.block
    if group > 1:
        if cin_per_group == 1 and cout == group:
            ok = cout % rules.depthwise_multiple == 0
            return ok, ok
        ok = cin_per_group % block == 0 and cout % group == 0 and (cout // group) % block == 0
        return ok, ok
    if cin_per_group < block:
        return True, False
    return True, True


def _pool_ok(node: Node, block: int, blocked_input: bool) -> bool:
    x = node.activations[0] if node.activations else None
    if x is None or x.rank != 4:
        return False
    return blocked_input or int(x.shape[1]) % block == 0


def reorders(
    anchors: Sequence[Node],
    inputs: Sequence[Sequence[str]],
    outputs: Sequence[Sequence[str]],
    graph_outputs: set[str],
    tensors: dict[str, TensorInfo],
    rules: NchwcRules,
    blocked_out: set[str] | None = None,
) -> list[Reorder]:
    """The reorders of a plan whose kernel i has anchor node ``anchors[i]``, activation inputs
    ``inputs[i]`` and outputs ``outputs[i]`` (resolved tensor names; ``tensors`` maps them to
    the IR tensors); ``blocked_out`` receives the tensors left in the blocked layout."""
    blocked: set[str] = set()
    reordered_in: set[str] = set()
    reordered_out: set[str] = set()
    out: list[Reorder] = []

    def leave(name: str, i: int) -> None:
        if name in blocked and name not in reordered_out:
            reordered_out.add(name)
            out.append(Reorder(REORDER_OUTPUT, tensors[name], i))

    for i, (node, ins, outs) in enumerate(zip(anchors, inputs, outputs, strict=True)):
        op = node.op
        takes = False
        if op in rules.entry_ops and op == "Conv":
            takes, reorder_input = conv_takes_nchwc(node, rules)
            if takes and not reorder_input and ins:
                leave(ins[0], i)  # a conv of few input channels reads the NCHW tensor
            if takes and reorder_input and ins:
                x = ins[0]
                if x not in blocked and x not in reordered_in:
                    reordered_in.add(x)
                    out.append(Reorder(REORDER_INPUT, tensors[x], i))
            if takes and any(x not in blocked for x in ins[1:]):
                # A residual operand in NCHW: onnxruntime does not fuse the sum into the blocked
                # conv; the conv's output is reordered back and the sum runs in NCHW.
                takes = False
                final = outs[-1] if outs else None
                if final is not None:
                    out.append(Reorder(REORDER_OUTPUT, tensors[final], i))
                for x in ins[1:]:
                    leave(x, i)
                continue
        elif op in rules.entry_ops:
            first_blocked = bool(ins) and ins[0] in blocked
            takes = _pool_ok(node, rules.block, first_blocked)
            if takes and ins and not first_blocked and ins[0] not in reordered_in:
                reordered_in.add(ins[0])
                out.append(Reorder(REORDER_INPUT, tensors[ins[0]], i))
        elif op in rules.propagate_ops and ins and all(x in blocked for x in ins):
            shapes = [tensors[x].shape for x in ins]
            if op == "Concat":
                takes = all(len(sh) == 4 and int(sh[1]) % rules.block == 0 for sh in shapes)
            elif len(ins) > 1:
                takes = all(sh == shapes[0] for sh in shapes)  # no broadcasting in NCHWc
            else:
                takes = True
        if takes:
            blocked.update(outs)
        else:
            for x in ins:
                leave(x, i)
    for name in sorted(graph_outputs & blocked):
        leave(name, len(anchors))
    if blocked_out is not None:
        blocked_out.update(blocked)
    return out
