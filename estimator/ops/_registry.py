"""One op-type -> function table per concern (cost rules, parameter selectors), filled by
decorators; registering an op twice is a programming error caught at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def registrar(table: dict[str, F], what: str) -> Callable[..., Callable[[F], F]]:
    """``@registrar(table, what)(*ops)``: store the decorated function under each op type."""

    def register(*ops: str) -> Callable[[F], F]:
        def deco(fn: F) -> F:
            for op in ops:
                if op in table:
                    raise ValueError(f"{what} for {op!r} registered twice")
                table[op] = fn
            return fn

        return deco

    return register
