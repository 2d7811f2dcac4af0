"""Tiny hand-built IR graphs for the partitioner tests."""

from __future__ import annotations

from typing import Any

from estimator.ir import DType, Graph, Node, TensorInfo


def t(name: str, *shape: int, const: bool = False, dtype: DType = DType.FLOAT32) -> TensorInfo:
    return TensorInfo(name, tuple(shape), dtype, is_const=const)


def node(name: str, op: str, ins: list[TensorInfo], outs: list[TensorInfo], **attrs: Any) -> Node:
    return Node(name, op, tuple(ins), tuple(outs), dict(attrs), source=f"src.{name}", source_op=op)


def conv(
    name: str, x: TensorInfo, cout: int, k: int, out: str, group: int = 1, bias: bool = False
) -> Node:
    cin = x.shape[1]
    w = t(f"{name}.W", cout, cin // group, k, k, const=True)
    ins = [x, w] + ([t(f"{name}.B", cout, const=True)] if bias else [])
    p = k // 2
    y = t(out, x.shape[0], cout, x.shape[2], x.shape[3])
    return node(
        name,
        "Conv",
        ins,
        [y],
        kernel_shape=(k, k),
        strides=(1, 1),
        pads=(p, p, p, p),
        dilations=(1, 1),
        group=group,
    )


def bn(name: str, x: TensorInfo, out: str) -> Node:
    c = x.shape[1]
    params = [t(f"{name}.{p}", c, const=True) for p in ("scale", "bias", "mean", "var")]
    return node(name, "BatchNormalization", [x, *params], [t(out, *x.shape)], epsilon=1e-5)


def unary(name: str, op: str, x: TensorInfo, out: str) -> Node:
    return node(name, op, [x], [t(out, *x.shape)])


def binary(name: str, op: str, a: TensorInfo, b: TensorInfo, out: str) -> Node:
    shape = a.shape if len(a.shape) >= len(b.shape) else b.shape
    return node(name, op, [a, b], [t(out, *shape)])


def graph(
    name: str, nodes: list[Node], inputs: list[TensorInfo], outputs: list[TensorInfo]
) -> Graph:
    g = Graph(name, nodes, inputs, outputs)
    g.validate()
    return g


def conv_bn_relu(c: int = 64, hw: int = 56) -> Graph:
    x = t("x", 1, c, hw, hw)
    n1 = conv("conv", x, c, 3, "c")
    n2 = bn("bn", n1.outputs[0], "b")
    n3 = unary("relu", "Relu", n2.outputs[0], "y")
    return graph("conv_bn_relu", [n1, n2, n3], [x], [n3.outputs[0]])


def layernorm(shape: tuple[int, ...] = (2, 4, 16)) -> Graph:
    d = shape[-1]
    x = t("x", *shape)
    red = (*shape[:-1], 1)
    two, eps = t("two", const=True), t("eps", const=True)
    g, b = t("gamma", d, const=True), t("beta", d, const=True)
    nodes = [
        node("mean", "ReduceMean", [x], [t("mu", *red)], axes=(len(shape) - 1,), keepdims=1),
        binary("sub", "Sub", x, t("mu", *red), "d"),
        binary("pow", "Pow", t("d", *shape), two, "p"),
        node(
            "var",
            "ReduceMean",
            [t("p", *shape)],
            [t("v", *red)],
            axes=(len(shape) - 1,),
            keepdims=1,
        ),
        binary("addeps", "Add", t("v", *red), eps, "ve"),
        unary("sqrt", "Sqrt", t("ve", *red), "sd"),
        binary("div", "Div", t("d", *shape), t("sd", *red), "n"),
        binary("mul", "Mul", t("n", *shape), g, "ng"),
        binary("add", "Add", t("ng", *shape), b, "y"),
    ]
    return graph("layernorm", nodes, [x], [t("y", *shape)])
