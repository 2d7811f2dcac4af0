"""CSV input: every user mistake is one InputError line naming the file, line and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from estimator.errors import InputError
from estimator.transfer import load_latency_table, quantum_of, read_measurements

ARCH = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
ARCH2 = "|skip_connect~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "lat.csv"
    p.write_text(text, encoding="utf-8")
    return p


def _one_line(exc: pytest.ExceptionInfo[InputError]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_long_layout_reads_rows(tmp_path: Path) -> None:
    p = _write(tmp_path, f"model,latency_ms,batch\n{ARCH},12.5,\n{ARCH2},3,8\nresnet18,20.0,1\n")
    rows = read_measurements(p)
    assert [(r.ref, r.latency_ms, r.batch, r.line) for r in rows] == [
        (ARCH, 12.5, 1, 2),
        (ARCH2, 3.0, 8, 3),
        ("resnet18", 20.0, 1, 4),
    ]


def test_unknown_arch_names_the_line(tmp_path: Path) -> None:
    bad = ARCH.replace("nor_conv_3x3", "conv_5x5")
    p = _write(tmp_path, f"model,latency_ms\n{ARCH},1.0\n{bad},2.0\n")
    with pytest.raises(InputError) as exc:
        read_measurements(p)
    msg = _one_line(exc)
    assert f"{p}: line 3:" in msg and "conv_5x5" in msg


def test_non_numeric_latency_names_line_and_column(tmp_path: Path) -> None:
    p = _write(tmp_path, f"arch_str,latency_ms\n{ARCH},1.0\n{ARCH2},1.0\n{ARCH},fast\n")
    with pytest.raises(InputError) as exc:
        read_measurements(p)
    msg = _one_line(exc)
    assert "line 4" in msg and "latency_ms" in msg and "'fast'" in msg


@pytest.mark.parametrize("value", ["0", "-1.5", "nan", "inf"])
def test_non_positive_latency(tmp_path: Path, value: str) -> None:
    p = _write(tmp_path, f"model,latency_ms\n{ARCH},{value}\n")
    with pytest.raises(InputError, match="line 2"):
        read_measurements(p)


def test_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line 1: missing column 'latency_ms'"):
        read_measurements(_write(tmp_path, f"model,ms\n{ARCH},1.0\n"))
    with pytest.raises(InputError, match="line 1: missing column 'model'"):
        read_measurements(_write(tmp_path, "net,latency_ms\nx,1.0\n"))
    with pytest.raises(InputError, match="line 2: missing value for column 'latency_ms'"):
        read_measurements(_write(tmp_path, f"model,latency_ms\n{ARCH}\n"))


def test_bad_batch_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line 2: column 'batch'"):
        read_measurements(_write(tmp_path, f"model,latency_ms,batch\n{ARCH},1.0,two\n"))
    with pytest.raises(InputError, match="empty file"):
        read_measurements(_write(tmp_path, ""))
    with pytest.raises(InputError, match="no measurements"):
        read_measurements(_write(tmp_path, "model,latency_ms\n"))
    with pytest.raises(InputError, match="no such CSV file"):
        read_measurements(tmp_path / "absent.csv")


def test_wide_layout(tmp_path: Path) -> None:
    p = _write(tmp_path, f"nb201_index,arch_str,dev_a,dev_b\n0,{ARCH},1.5,3\n1,{ARCH2},2.25,4\n")
    t = load_latency_table(p)
    assert t.archs == [ARCH, ARCH2]
    assert list(t.columns) == ["dev_a", "dev_b"]
    np.testing.assert_array_equal(t.columns["dev_a"], [1.5, 2.25])
    assert quantum_of(t.columns["dev_b"]) == 1.0
    assert quantum_of(t.columns["dev_a"]) is None
    assert len(load_latency_table(p, rows=1).archs) == 1


def test_wide_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line 3: column 'dev_b'"):
        load_latency_table(_write(tmp_path, f"arch_str,dev_a,dev_b\n{ARCH},1,2\n{ARCH2},1,x\n"))
    with pytest.raises(InputError, match="line 2: NAS-Bench-201 arch"):
        load_latency_table(_write(tmp_path, "arch_str,dev_a\nnot-an-arch|,1\n"))
    with pytest.raises(InputError, match="missing column 'arch_str'"):
        load_latency_table(_write(tmp_path, "model,dev_a\nx,1\n"))


def test_byte_order_mark_and_not_utf8_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "excel.csv"
    p.write_bytes(b"\xef\xbb\xbfmodel,latency_ms\n" + f"{ARCH},2.5\n".encode())
    assert [m.latency_ms for m in read_measurements(p)] == [2.5]
    p.write_bytes(b"model,latency_ms\n" + f"{ARCH},2.5\n".encode() + b"caf\xe9,1\n")
    with pytest.raises(InputError) as exc:
        read_measurements(p)
    assert "line 3, byte 4: not UTF-8" in _one_line(exc)


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "lat.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is a FIFO"):
        read_measurements(fifo)


def test_many_rows_of_few_networks_share_their_reference_strings(tmp_path: Path) -> None:
    from estimator.transfer import read_measurement_columns

    p = _write(tmp_path, "model,latency_ms,batch\n" + f"{ARCH},1.5,2\n{ARCH2},3,\n" * 5000)
    cols = read_measurement_columns(p)
    assert len(cols) == 10_000 and len({id(r) for r in cols.refs}) == 2
    assert cols.latency_ms[:2].tolist() == [1.5, 3.0] and cols.batch[:2].tolist() == [2, 1]
    assert cols.line[-1] == 10_001


def test_a_fit_refuses_more_rows_than_it_can_use_unless_sampled() -> None:
    from estimator.transfer.api import MAX_FIT_MEASUREMENTS, fit_from_latencies

    n = MAX_FIT_MEASUREMENTS + 1
    with pytest.raises(InputError, match=f"{n} measurements; a fit uses at most"):
        fit_from_latencies("h100", [ARCH] * n, [1.0] * n, runtime="pytorch-eager")
