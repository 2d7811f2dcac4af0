"""Property-based fuzzing of latency CSVs (issue 15): the long layout of ``--from-latencies``
and the wide NAS-Bench-201 table.

Headers and cells are drawn from plausible and hostile pieces (a byte-order mark, quotes, NUL
bytes, bytes that are not UTF-8, nan/inf/negative latencies, 400-digit batches, arch strings with
a wrong op). Each file must read into rows with finite positive latencies, or be refused with a
one-line InputError naming the file.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from estimator.transfer import load_latency_table, read_measurements
from tests.fuzz._outcome import check, fuzz_settings

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" + (
    "skip_connect~2|"
)
_CELLS = st.sampled_from(
    [
        ARCH,
        ARCH,
        ARCH.replace("nor", "bad"),
        "resnet18",
        "",
        '"',
        '"a,b"',
        "\x00",
        "5.0",
        "0.25",
        "1e3",
        "nan",
        "inf",
        "-1",
        "0",
        "1e309",
        "9" * 400,
        "2",
        "x",
        "\u00e9",
    ]
)
_HEADERS = st.sampled_from(
    [
        ["model", "latency_ms"],
        ["model", "latency_ms", "batch"],
        ["arch_str", "dev_a", "dev_b"],
        ["arch_str", "dev_a"],
        ["ref", "latency_ms"],
        ["latency_ms"],
        ["arch_str"],
        [],
    ]
)


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    header = draw(_HEADERS)
    rows = draw(st.lists(st.lists(_CELLS, min_size=0, max_size=4), max_size=6))
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    data = text.encode()
    for change in draw(st.lists(st.sampled_from(["bom", "latin-1", "cut", "crlf"]), max_size=2)):
        if change == "bom":
            data = b"\xef\xbb\xbf" + data
        elif change == "latin-1":
            data = data + b"\xe9\n"
        elif change == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        else:
            data = data.replace(b"\n", b"\r\n")
    return data


def _long(path: Path) -> int:
    rows = read_measurements(path)
    assert all(math.isfinite(r.latency_ms) and r.latency_ms > 0 and r.batch >= 1 for r in rows)
    return len(rows)


def _wide(path: Path) -> int:
    table = load_latency_table(path)
    for col in table.columns.values():
        assert all(math.isfinite(v) and v > 0 for v in col), table.path
    return len(table.archs)


@fuzz_settings(200, 0.15)
@given(data=csv_bytes(), wide=st.booleans())
def test_latency_csv_reads_or_is_refused_in_one_line(data: bytes, wide: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lat.csv"
        path.write_bytes(data)
        check("csv", lambda: (_wide if wide else _long)(path), what=repr(data[:300]))


def test_a_well_formed_csv_with_a_bom_reads() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lat.csv"
        path.write_bytes(b"\xef\xbb\xbfmodel,latency_ms\n" + ARCH.encode() + b",5.0\n")
        assert _long(path) == 1
