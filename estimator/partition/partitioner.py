"""Group the IR nodes of a graph into the kernels a runtime launches.

Three passes over the topologically ordered nodes, all driven by the runtime's fusion rules
(:mod:`estimator.partition.rules`):

1. views (and the runtime's ``no_kernel_ops``) run no kernel; their outputs alias their inputs;
2. patterns: decomposed ops the runtime recognises (LayerNorm, GELU, attention) become one kernel
   when the matched nodes' intermediate tensors are used nowhere else;
3. anchors absorb followers (BatchNorm folded into a conv, bias/residual/activation epilogues,
   elementwise chains) while the tensor between them has a single consumer.

A kernel's bytes are its members' costed traffic minus the tensors that never leave the kernel,
so fusion saves exactly the intermediate writes and reads it removes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from estimator.gcpause import with_gc_paused
from estimator.ir.graph import Graph, Node
from estimator.ir.tensor import TensorInfo
from estimator.ops.cost import OpCost
from estimator.partition.categories import classify
from estimator.partition.kernel import Kernel, KernelPlan
from estimator.partition.nchwc import NchwcRules, reorders
from estimator.partition.rules import FusionRules, Pattern, load_rules
from estimator.registry.models import KernelCategory


@dataclass(slots=True)
class _Group:
    members: list[int]
    #: Member index -> "anchor" | "epilogue" | "fold" | "pattern" | "chain".
    modes: dict[int, str]
    category: KernelCategory | None = None
    fusion: list[str] = field(default_factory=list)


class _Graph:
    """Index of the live (kernel-running) nodes with view aliases resolved."""

    def __init__(self, graph: Graph, rules: FusionRules) -> None:
        self.alias: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.const: set[str] = set()
        self.nodes: list[Node] = []
        for n in graph.nodes:
            for t in n.inputs:
                if t.is_const:
                    self.const.add(t.name)
            if n.is_view or n.op in rules.no_kernel_ops:
                self.skipped[n.name] = n.op
                if n.inputs:
                    src = self.res(n.inputs[0].name)
                    for o in n.outputs:
                        self.alias[o.name] = src
                        if src in self.const:
                            self.const.add(o.name)
                continue
            self.nodes.append(n)
        self.consumers: dict[str, list[int]] = {}
        self.producer: dict[str, int] = {}
        for i, n in enumerate(self.nodes):
            for name in dict.fromkeys(self.res(t.name) for t in n.inputs):
                self.consumers.setdefault(name, []).append(i)
            for t in n.outputs:
                self.producer[self.res(t.name)] = i
        self.graph_out = {self.res(t.name) for t in graph.outputs}
        #: Tensors in the runtime's blocked layout, node by node (rules with anchor_blocked).
        self.blocked: set[str] = set()

    def res(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def is_const(self, name: str) -> bool:
        return name in self.const or self.res(name) in self.const


@with_gc_paused
def partition(
    graph: Graph,
    runtime: str = "onnxruntime-cpu",
    *,
    costs: Mapping[str, OpCost] | None = None,
    nchwc_block: int | None = None,
) -> KernelPlan:
    """Kernels of ``graph`` as ``runtime`` would run them.

    ``costs`` maps node name -> :class:`OpCost` (e.g. from ``analyze_graph``); missing entries
    are computed with ``estimator.ops.cost_of``. ``nchwc_block``: the blocked-layout block of
    the device (``DeviceContext.nchwc_block``); the runtime's layout reorders then become
    kernels (:mod:`estimator.partition.nchwc`). None: no blocked layout.
    """
    rules = load_rules(runtime)
    g = _Graph(graph, rules)
    cost = _costs(g.nodes, costs)
    layout = rules.nchwc(nchwc_block)
    if layout is not None and any(r.anchor_blocked for r in rules.absorb):
        g.blocked = _blocked_tensors(g, layout)
    assigned = [-1] * len(g.nodes)
    groups: list[_Group] = []

    def claim(group: _Group) -> None:
        for m in group.members:
            assigned[m] = len(groups)
        groups.append(group)

    for pat in rules.patterns:
        for i, n in enumerate(g.nodes):
            if assigned[i] < 0 and n.op in pat.steps[0].ops and cost[n.name].modeled:
                matched = _match(g, pat, i, assigned)
                if matched is not None:
                    claim(
                        _Group(
                            matched,
                            dict.fromkeys(matched, "pattern"),
                            category=pat.category,
                            fusion=[pat.name],
                        )
                    )
    for i in range(len(g.nodes)):
        if assigned[i] < 0:
            claim(_grow(g, rules, i, assigned, cost))

    groups.sort(key=lambda grp: min(grp.members))
    kernels = [_kernel(g, grp, cost) for grp in groups]
    if rules.elementary_work:
        kernels = [
            _with_work(k, g, grp, rules.elementary_work)
            for k, grp in zip(kernels, groups, strict=True)
        ]
    extra: dict[str, Node] = {}
    if layout is not None:
        kernels, extra = _with_reorders(g, groups, kernels, layout)
    # Shape features (groups, channels, kernel, M/N/K, ...) travel with the plan, so a device's
    # learned shape correction can be applied wherever the plan goes (estimates, sets, fits).
    from estimator.kernelmodel.features import kernel_features

    feats = kernel_features(graph, kernels, extra, layout)
    return KernelPlan(
        graph.name,
        rules.runtime,
        kernels,
        skipped=g.skipped,
        features=feats,
        nchwc_block=None if layout is None else layout.block,
    )


def _with_reorders(
    g: _Graph, groups: list[_Group], kernels: list[Kernel], layout: NchwcRules
) -> tuple[list[Kernel], dict[str, Node]]:
    """``kernels`` with the layout reorders the runtime inserts, each before the kernel it
    feeds, and the nodes standing for them (for their shape features)."""
    anchors, ins, outs, tensors = _layout_edges(g, [grp.members for grp in groups])
    found = reorders(anchors, ins, outs, set(g.graph_out), tensors, layout)
    extra: dict[str, Node] = {}
    before: dict[int, list[Kernel]] = {}
    for ro in found:
        name = f"{ro.op}:{ro.tensor.name}"
        out = TensorInfo(f"{ro.tensor.name}.{ro.op}", ro.tensor.shape, ro.tensor.dtype)
        extra[name] = Node(name, ro.op, (ro.tensor,), (out,), {}, "", ro.op)
        moved = 2 * ro.tensor.nbytes  # read one layout, write the other
        k = Kernel(
            name=name,
            category=KernelCategory.DATA_MOVEMENT,
            ops=(ro.op,),
            nodes=(name,),
            sources=(),
            flops=0,
            macs=0,
            bytes=moved,
            working_set_bytes=moved,
            dtype=ro.tensor.dtype,
            fusion="nchwc",
        )
        before.setdefault(ro.before, []).append(k)
    out_kernels: list[Kernel] = []
    for i, k in enumerate(kernels):
        out_kernels.extend(before.get(i, ()))
        out_kernels.append(k)
    out_kernels.extend(before.get(len(kernels), ()))
    return out_kernels, extra


def _with_work(k: Kernel, g: _Graph, grp: _Group, table: Mapping[str, float]) -> Kernel:
    """``k`` with the runtime's measured work when it is a lone elementary function or one of
    the patterns the table names (the scope the figures were measured in; an activation inside
    a conv epilogue keeps the FLOP convention)."""
    last = g.nodes[grp.members[-1]]
    if all(mode == "pattern" for mode in grp.modes.values()) and grp.fusion:
        op = grp.fusion[0]
    elif len(grp.members) == 1:
        op = last.op
    else:
        return k
    per = table.get(op)
    elements = last.outputs[0].numel if last.outputs else 0
    if per is None or elements <= 0:
        return k
    return replace(k, work=max(round(per * elements), k.flops), elementary=op, elements=elements)


def _costs(nodes: list[Node], given: Mapping[str, OpCost] | None) -> dict[str, OpCost]:
    out: dict[str, OpCost] = {}
    missing = [n for n in nodes if given is None or n.name not in given]
    if missing:
        from estimator.ops import cost_of

        for n in missing:
            out[n.name] = cost_of(n)
    if given is not None:
        out.update({n.name: given[n.name] for n in nodes if n.name in given})
    return out


def _match(g: _Graph, pat: Pattern, start: int, assigned: list[int]) -> list[int] | None:
    """Greedy match of ``pat`` starting at node ``start``; None unless every step matches and
    the intermediate tensors stay inside the match."""
    matched = [start]
    produced = {g.res(t.name) for t in g.nodes[start].outputs}
    for step in pat.steps[1:]:
        cands = sorted(
            {
                c
                for t in produced
                for c in g.consumers.get(t, ())
                if assigned[c] < 0 and c not in matched and g.nodes[c].op in step.ops
            }
        )
        if not cands:
            if step.optional:
                continue
            return None
        matched.append(cands[0])
        produced |= {g.res(t.name) for t in g.nodes[cands[0]].outputs}
    inside = set(matched)
    for m in matched[:-1]:
        for t in g.nodes[m].outputs:
            r = g.res(t.name)
            if r in g.graph_out or any(c not in inside for c in g.consumers.get(r, ())):
                return None
    if pat.max_inputs is not None and len(_outside_inputs(g, matched)) > pat.max_inputs:
        return None
    return matched


def _outside_inputs(g: _Graph, members: list[int]) -> set[str]:
    """Non-constant tensors the nodes ``members`` read that none of them produce."""
    produced = {g.res(t.name) for m in members for t in g.nodes[m].outputs}
    return {
        r
        for m in members
        for t in g.nodes[m].inputs
        if (r := g.res(t.name)) not in produced and not g.is_const(t.name)
    }


def _when_ok(g: _Graph, when: str, follower: Node, t: str, anchor: int) -> bool:
    others = [x for x in follower.inputs if g.res(x.name) != t]
    if when == "const_operand":
        return all(g.is_const(x.name) for x in others)
    if when == "residual":
        if len(others) != 1 or len(follower.inputs) != 2 or g.is_const(others[0].name):
            return False
        other = others[0]
        if other.shape != follower.outputs[0].shape:
            return False
        # The add fuses into the kernel that runs last: its other operand must already exist.
        return g.producer.get(g.res(other.name), -1) < anchor
    return True


def _reads_blocked(g: _Graph, node: Node) -> bool:
    first = next((t for t in node.inputs if not g.is_const(t.name)), None)
    return first is not None and g.res(first.name) in g.blocked


def _blocked_tensors(g: _Graph, layout: NchwcRules) -> set[str]:
    """The tensors the layout pass leaves blocked when every live node is its own kernel: what
    a rule conditioned on the layout (``anchor_blocked``) may rely on before kernels exist."""
    anchors, ins, outs, tensors = _layout_edges(g, [[i] for i in range(len(g.nodes))])
    out: set[str] = set()
    reorders(anchors, ins, outs, set(g.graph_out), tensors, layout, blocked_out=out)
    return out


def _layout_edges(
    g: _Graph, groups: list[list[int]]
) -> tuple[list[Node], list[list[str]], list[list[str]], dict[str, TensorInfo]]:
    """What :func:`reorders` reads of kernels made of the node index lists ``groups``: each
    one's anchor, activation inputs from outside it and outputs (resolved names), and the
    tensors by name."""
    tensors: dict[str, TensorInfo] = {}
    anchors: list[Node] = []
    ins: list[list[str]] = []
    outs: list[list[str]] = []
    for group in groups:
        members = [g.nodes[m] for m in group]
        produced = {g.res(o.name) for n in members for o in n.outputs}
        entering: list[str] = []
        for n in members:
            for t in n.inputs:
                r = g.res(t.name)
                if not g.is_const(t.name) and r not in produced and r not in entering:
                    entering.append(r)
                    tensors.setdefault(r, t)
        for n in members:
            for o in n.outputs:
                tensors.setdefault(g.res(o.name), o)
        anchors.append(members[0])
        ins.append(entering)
        outs.append(sorted(produced))
    return anchors, ins, outs, tensors


def _grow(
    g: _Graph, rules: FusionRules, i: int, assigned: list[int], cost: Mapping[str, OpCost]
) -> _Group:
    node = g.nodes[i]
    group = _Group([i], {i: "anchor"})
    if not cost[node.name].modeled:
        return group
    anchor_op = node.op
    last_rule = -1
    chain = rules.elementwise_chains and node.op in rules.chain_ops
    current = node
    while len(current.outputs) == 1:
        t = g.res(current.outputs[0].name)
        cons = g.consumers.get(t, [])
        if t in g.graph_out or len(cons) != 1 or assigned[cons[0]] >= 0:
            break
        c = cons[0]
        f = g.nodes[c]
        if not cost[f.name].modeled:
            break
        hit = -1
        for ri, r in enumerate(rules.absorb):
            if ri < last_rule or (ri == last_rule and not r.repeat):
                continue
            if (
                anchor_op in r.anchor
                and f.op in r.follow
                and _when_ok(g, r.when, f, t, i)
                and (not r.anchor_blocked or _reads_blocked(g, node))
            ):
                hit = ri
                break
        if hit >= 0:
            rule = rules.absorb[hit]
            group.members.append(c)
            group.modes[c] = rule.mode
            if rule.name not in group.fusion:
                group.fusion.append(rule.name)
            anchor_op = rule.becomes or anchor_op
            last_rule = hit
        elif chain and f.op in rules.chain_ops:
            group.members.append(c)
            group.modes[c] = "chain"
            if "elementwise_chain" not in group.fusion:
                group.fusion.append("elementwise_chain")
        else:
            break
        assigned[c] = -2  # provisional: claimed by the group being grown
        current = f
    return group


def _single(node: Node, category: KernelCategory, c: OpCost) -> Kernel:
    """A lone node: its costed traffic is the kernel's (the common, fast case)."""
    ws = sum({x.name: x.nbytes for x in node.inputs}.values()) + sum(o.nbytes for o in node.outputs)
    first = next((t for t in node.inputs if not t.is_const), None)  # the first activation
    return Kernel(
        name=node.name,
        category=category,
        ops=(node.op,),
        nodes=(node.name,),
        sources=(node.source,) if node.source else (),
        flops=c.flops,
        macs=c.macs,
        bytes=c.bytes_total,
        working_set_bytes=ws,
        dtype=(node.outputs[0] if first is None else first).dtype,
        modeled=c.modeled,
    )


def _kernel(g: _Graph, grp: _Group, cost: Mapping[str, OpCost]) -> Kernel:
    members = grp.members
    if len(members) == 1:
        node = g.nodes[members[0]]
        return _single(node, grp.category or classify(node), cost[node.name])
    inside = set(members)
    anchor = g.nodes[members[0]]
    nodes = [g.nodes[m] for m in members]
    category = grp.category or classify(anchor)
    dtype = (anchor.activations[0] if anchor.activations else anchor.outputs[0]).dtype
    modeled = all(cost[n.name].modeled for n in nodes)
    sources = tuple(dict.fromkeys(n.source for n in nodes if n.source))
    ops = tuple(n.op for n in nodes)
    compute = [n for m, n in zip(members, nodes, strict=True) if grp.modes[m] != "fold"]
    flops = sum(cost[n.name].flops for n in compute)
    macs = sum(cost[n.name].macs for n in compute)

    # A folded node's output is its input under a new name (the anchor writes it directly).
    rename: dict[str, str] = {}
    for m, n in zip(members, nodes, strict=True):
        if grp.modes[m] == "fold":
            src = next(g.res(x.name) for x in n.inputs if not g.is_const(x.name))
            for o in n.outputs:
                rename[g.res(o.name)] = rename.get(src, src)

    def key(t: TensorInfo) -> str:
        r = g.res(t.name)
        return rename.get(r, r)

    escaping: set[str] = set()
    for n in nodes:
        for o in n.outputs:
            r = g.res(o.name)
            if r in g.graph_out or any(c not in inside for c in g.consumers.get(r, ())):
                escaping.add(key(o))
    produced = {key(o) for n in compute for o in n.outputs}

    total = sum(cost[n.name].bytes_total for n in compute)
    seen: dict[str, int] = {}
    for n in compute:
        for x in dict.fromkeys(n.inputs):
            k = key(x)
            if k in produced or k in seen:
                total -= x.nbytes
            else:
                seen[k] = x.nbytes
        for o in n.outputs:
            if key(o) not in escaping:
                total -= o.nbytes
    written = {key(o): o.nbytes for n in compute for o in n.outputs if key(o) in escaping}
    working_set = sum(seen.values()) + sum(written.values())
    return Kernel(
        name=anchor.name,
        category=category,
        ops=ops,
        nodes=tuple(n.name for n in nodes),
        sources=sources,
        flops=flops,
        macs=macs,
        bytes=max(total, 0),
        working_set_bytes=working_set,
        dtype=dtype,
        modeled=modeled,
        fusion="+".join(grp.fusion),
    )
