"""The tidy table: wide and long CSVs, bad rows named by line, the tidy CSV round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from estimator.analysis.efficiency import Row, from_rows, read_csv
from estimator.analysis.efficiency.table import to_csv_text, with_model_csv
from estimator.errors import InputError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "t.csv"
    p.write_text(text)
    return p


def test_wide_and_long_give_the_same_table(tmp_path: Path) -> None:
    wide = read_csv(write(tmp_path, "model,gpu,cpu\na,1,10\nb,2,30\n"))
    assert wide.models == ("a", "b") and wide.devices == ("gpu", "cpu")
    np.testing.assert_array_equal(wide.latency_ms, [[1, 10], [2, 30]])
    long_text = "model,device,latency_ms,flops,accuracy\na,gpu,1,5,70\na,cpu,10,5,70\n"
    long_text += "b,gpu,2,9,75\nb,cpu,30,9,75\n"
    long = read_csv(write(tmp_path, long_text))
    np.testing.assert_array_equal(long.latency_ms, wide.latency_ms)
    np.testing.assert_array_equal(long.column("flops"), [5, 9])
    np.testing.assert_array_equal(long.column("accuracy"), [70, 75])
    again = read_csv(write(tmp_path, to_csv_text(long)))
    np.testing.assert_array_equal(again.latency_ms, long.latency_ms)
    np.testing.assert_array_equal(again.column("flops"), [5, 9])


def test_missing_pair_is_nan_and_complete_drops_the_model(tmp_path: Path) -> None:
    t = read_csv(write(tmp_path, "model,device,latency_ms\na,x,1\na,y,2\nb,x,3\n"))
    assert np.isnan(t.latency_ms[1, 1])
    full, dropped = t.complete()
    assert full.models == ("a",) and dropped == ("b",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,gpu\na,1\n", "line 1: missing column 'model'"),
        ("model,device,ms\na,x,1\n", "line 1: missing column 'latency_ms'"),
        ("model,gpu\na,1\nb,nan\n", "line 3: column 'gpu': nan is not finite"),
        ("model,gpu\na,1\nb,0\n", "line 3: column 'gpu': must be > 0"),
        ("model,gpu\na,-2\n", "line 2: column 'gpu': must be > 0"),
        ("model,gpu\na,fast\n", "line 2: column 'gpu': 'fast' is not a number"),
        ("model,gpu\na,\n", "line 2: missing value for column 'gpu'"),
        (
            "model,device,latency_ms\na,x,1\nb,x,2\na,x,3\n",
            "line 4: duplicate row for model 'a' on device 'x' (first at line 2)",
        ),
        (
            "model,device,latency_ms,flops\na,x,1,5\na,y,2,6\n",
            "line 3: column 'flops' of model 'a' is 6, but 5 at line 2",
        ),
        (
            "model,device,latency_ms,memory_mb\na,x,1,-1\n",
            "line 2: column 'memory_mb': must be >= 0",
        ),
        ("model,gpu,gpu\na,1,2\n", "line 1: column 'gpu' appears twice"),
        ("", "empty file"),
        (
            "model,gpu\na,1\na,2\n",
            "line 3: duplicate row for model 'a' on device 'gpu' (first at line 2)",
        ),
    ],
)
def test_bad_tables_are_one_line_naming_the_row(tmp_path: Path, text: str, message: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        read_csv(p)
    assert message in str(exc.value) and str(p) in str(exc.value)
    assert "\n" not in str(exc.value)


def test_rows_round_trip_and_select() -> None:
    t = from_rows([Row("a", "x", 1.0, flops=3.0), Row("b", "x", 2.0, flops=4.0)])
    assert [r.model for r in t.rows()] == ["a", "b"]
    s = t.select(models=[1])
    assert s.models == ("b",) and s.column("flops").tolist() == [4.0]
    with pytest.raises(InputError, match="no device 'y'"):
        t.select_devices(["y"])


def test_per_model_column_from_its_own_csv(tmp_path: Path) -> None:
    t = from_rows([Row("a", "x", 1.0), Row("b", "x", 2.0)])
    acc = tmp_path / "acc.csv"
    acc.write_text("model,accuracy,source\na,71.5,paper\n")
    out = with_model_csv(t, acc, "accuracy")
    assert out.column("accuracy")[0] == 71.5 and np.isnan(out.column("accuracy")[1])
    acc.write_text("model,accuracy\na,1\na,2\n")
    with pytest.raises(InputError, match="line 3: model 'a' again"):
        with_model_csv(t, acc, "accuracy")
