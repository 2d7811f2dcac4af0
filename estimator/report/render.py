"""The rich plumbing every text report shares: an off-screen console and column-declared tables.

Reports render to a string (not straight to the terminal) so the CLI, tests and a future service
all get the same text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Literal, TypeVar

from rich.console import Console
from rich.table import Table

Justify = Literal["left", "right"]
Row = TypeVar("Row")


def console(width: int) -> Console:
    """A recording console of fixed width; ``console.export_text()`` returns what was printed."""
    return Console(width=width, record=True, file=io.StringIO(), highlight=False)


def table(columns: Sequence[tuple[str, Justify]], title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left") if title is not None else Table()
    for name, justify in columns:
        t.add_column(name, justify=justify)
    return t


def top_rows(rows: Sequence[Row], top: int, what: str) -> tuple[Sequence[Row], str]:
    """The first ``top`` rows (all when ``top <= 0``) and a title that says when some are cut."""
    shown = rows if top <= 0 else rows[:top]
    return shown, what + ("" if len(shown) == len(rows) else f" (top {len(shown)})")
