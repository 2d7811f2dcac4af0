"""Binding the symbolic dimensions of ONNX graph inputs to user-given sizes.

The IR only has static shapes, so every dynamic input dimension must be bound before anything
else happens. A dimension symbol (``dim_param``) bound once is bound everywhere it appears: giving
``input_ids=1x128`` also fixes ``attention_mask``'s ``[batch, seq]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import onnx

from estimator.errors import InputError, UnboundDimError


@dataclass(frozen=True, slots=True)
class _Dim:
    value: int | None
    symbol: str | None


def _declared(vi: onnx.ValueInfoProto) -> list[_Dim] | None:
    """Declared dims of a graph input, or None when its rank is unknown."""
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
        return None
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(_Dim(int(d.dim_value), None))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(_Dim(None, d.dim_param))
        elif d.HasField("dim_value") and d.dim_value == 0:
            dims.append(_Dim(0, None))
        else:
            dims.append(_Dim(None, None))
    return dims


def _check_user_dims(label: str, name: str, given: Sequence[int]) -> tuple[int, ...]:
    out = []
    for d in given:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise InputError(
                f"{label}: input shape for {name!r} must be positive integers, got "
                f"{'x'.join(str(v) for v in given)}"
            )
        out.append(int(d))
    return tuple(out)


def _bind_symbol(label: str, symbols: dict[str, int], sym: str, value: int, what: str) -> None:
    old = symbols.setdefault(sym, value)
    if old != value:
        raise InputError(f"{label}: dim {sym!r} bound to both {old} and {value} ({what})")


def bind_inputs(
    inputs: Sequence[onnx.ValueInfoProto],
    input_shapes: Mapping[str, Sequence[int]] | None,
    batch: int | None,
    label: str,
) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """Static shape of every graph input, plus the symbol table the binding produced.

    Raises ``InputError`` for a user shape that contradicts the model and ``UnboundDimError``
    listing every dimension still unbound.
    """
    given = dict(input_shapes or {})
    names = [vi.name for vi in inputs]
    for key in given:
        if key not in names:
            raise InputError(
                f"{label}: input shape given for unknown input {key!r} "
                f"(model inputs: {', '.join(names) or 'none'})"
            )
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise InputError(f"{label}: batch must be a positive integer, got {batch!r}")

    declared = {vi.name: _declared(vi) for vi in inputs}
    symbols: dict[str, int] = {}
    user: dict[str, tuple[int, ...]] = {}
    for name, shape in given.items():
        dims = _check_user_dims(label, name, shape)
        decl = declared[name]
        if decl is not None and len(decl) != len(dims):
            raise InputError(
                f"{label}: input {name!r} has rank {len(decl)}, the given shape "
                f"{'x'.join(map(str, dims))} has {len(dims)} dims"
            )
        for i, (d, v) in enumerate(zip(decl or [], dims, strict=False)):
            if d.value is not None and d.value != v:
                raise InputError(
                    f"{label}: input {name!r} dim {i} is {d.value} in the model, the given "
                    f"shape says {v}"
                )
            if d.symbol is not None:
                _bind_symbol(label, symbols, d.symbol, v, f"input {name!r}")
        user[name] = dims
    if batch is not None:
        for name, decl in declared.items():
            if name in user or not decl or decl[0].value is not None:
                continue
            if decl[0].symbol is not None:
                _bind_symbol(label, symbols, decl[0].symbol, batch, "--batch")

    shapes: dict[str, tuple[int, ...]] = {}
    unbound: list[tuple[str, int | None, str | None]] = []
    for name, decl in declared.items():
        if name in user:
            shapes[name] = user[name]
            continue
        if decl is None:
            unbound.append((name, None, None))
            continue
        dims_out: list[int] = []
        for i, d in enumerate(decl):
            if d.value is not None:
                dims_out.append(d.value)
            elif d.symbol is not None and d.symbol in symbols:
                dims_out.append(symbols[d.symbol])
            elif i == 0 and batch is not None:
                dims_out.append(batch)
            else:
                unbound.append((name, i, d.symbol))
                dims_out.append(1)
        shapes[name] = tuple(dims_out)
    if unbound:
        raise UnboundDimError(_unbound_message(label, unbound, declared, shapes))
    return shapes, symbols


def _unbound_message(
    label: str,
    unbound: list[tuple[str, int | None, str | None]],
    declared: Mapping[str, list[_Dim] | None],
    placeholder: Mapping[str, tuple[int, ...]],
) -> str:
    parts = []
    for name, i, sym in unbound:
        if i is None:
            parts.append(f"input {name!r} (rank unknown)")
        else:
            parts.append(f"input {name!r} dim {i} ({sym!r})" if sym else f"input {name!r} dim {i}")
    examples = []
    for name in dict.fromkeys(u[0] for u in unbound):
        shape = placeholder.get(name)
        text = "x".join(map(str, shape)) if shape else "1x..."
        examples.append(f"--input-shape {name}={text}")
    hint = " ".join(examples)
    if all(i == 0 for _, i, _ in unbound):
        hint += " or --batch N"
    return f"{label}: unbound dynamic dims: {', '.join(parts)}; pass {hint}"


def resolve_declared(tp: onnx.TypeProto, symbols: Mapping[str, int]) -> tuple[int, ...] | None:
    """A declared (value_info) shape with bound symbols substituted, if that makes it static."""
    if not tp.HasField("tensor_type") or not tp.tensor_type.HasField("shape"):
        return None
    out = []
    for d in tp.tensor_type.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0:
            out.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param in symbols:
            out.append(symbols[d.dim_param])
        else:
            return None
    return tuple(out)
