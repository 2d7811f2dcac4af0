"""The public names of ``estimator`` are the documented callables in any import order.

``estimator.estimate``, ``estimator.measure`` and ``estimator.partition`` are also submodules; the
import system sets a submodule as an attribute of its package once it is imported, which used to
shadow the function of the same name. Each order runs in a fresh interpreter, since the outcome
depends on what was imported before.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "examples" / "tiny_convnet.onnx"

PUBLIC = "estimate, estimate_many, measure, partition, load_model, analyze_graph, ResultsStore"

# What is imported before `from estimator import ...`: every way a submodule gets loaded first.
ORDERS = {
    "fresh": "",
    "import_estimate_module": "import estimator.estimate",
    "from_estimate_module": "from estimator.estimate import Estimate, estimate_many",
    "import_estimate_as": "import estimator.estimate as est_mod",
    "from_partition_package": "from estimator.partition import partition as p, load_rules",
    "import_partition_submodule": "import estimator.partition.rules",
    "import_measure_store": "import estimator.measure.store",
    "import_measure_package": "import estimator.measure\nfrom estimator.measure import measure",
    "attribute_first": "import estimator\nestimator.estimate, estimator.partition",
    "cli_modules": "import estimator.cli.estimate_latency, estimator.cli.measure_latency",
    "everything": "import estimator.estimate, estimator.partition, estimator.measure.api\n"
    "import estimator.loading, estimator.analysis, estimator.registry",
    "star": "from estimator import *",
}

CHECK = f"""
import inspect
import sys

import estimator

def check(where):
    from estimator import {PUBLIC}

    for f in ({PUBLIC.replace(", ResultsStore", "")}):
        assert inspect.isfunction(f), (where, f)
    assert inspect.isclass(ResultsStore), (where, ResultsStore)
    assert estimate is sys.modules["estimator.estimate"].estimate, where
    assert estimate_many is sys.modules["estimator.estimate"].estimate_many, where
    assert partition is sys.modules["estimator.partition"].partition, where
    assert measure is sys.modules["estimator.measure"].measure, where
    assert ResultsStore is sys.modules["estimator.measure.store"].ResultsStore, where
    for name in ("estimate", "measure", "partition"):
        assert inspect.isfunction(getattr(estimator, name)), (where, name)
        assert inspect.ismodule(sys.modules["estimator." + name]), (where, name)

check("first")
# Loading the submodules afterwards changes nothing, and they stay importable by name.
import estimator.estimate, estimator.partition.partitioner, estimator.measure.store
from estimator.estimate import Estimate, estimate as est_fn, estimate_many
from estimator.partition import KernelPlan, load_rules, partition as part_fn
from estimator.measure import Measurement, ResultsStore as Store, measure as measure_fn
from estimator.measure.store import ResultsStore as Store2
assert Store is Store2 and inspect.isfunction(est_fn) and inspect.isfunction(part_fn)
check("after")
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("order", list(ORDERS))
def test_public_names_in_any_import_order(order: str) -> None:
    proc = _run(ORDERS[order] + "\n" + textwrap.dedent(CHECK))
    assert proc.returncode == 0, proc.stderr


def test_import_estimate_as_gives_the_function() -> None:
    # Documented consequence: the attribute wins, so `import ... as` binds the function.
    proc = _run(
        "import inspect, sys\n"
        "import estimator.estimate as m\n"
        "assert inspect.isfunction(m) and m is sys.modules['estimator.estimate'].estimate"
    )
    assert proc.returncode == 0, proc.stderr


def test_import_estimator_stays_cheap() -> None:
    proc = _run(
        "import sys\n"
        "import estimator\n"
        "heavy = {'numba', 'onnx', 'onnxruntime', 'torch', 'scipy', 'numpy'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not loaded, loaded\n"
        "lazy = {'estimator.estimate', 'estimator.partition', 'estimator.measure'}\n"
        "assert not lazy & set(sys.modules), lazy & set(sys.modules)\n"
        "assert {'estimate', 'measure', 'partition'} <= set(dir(estimator))"
    )
    assert proc.returncode == 0, proc.stderr


def test_estimate_runs_after_its_module_was_imported() -> None:
    proc = _run(
        "import estimator.estimate, estimator.partition, estimator.measure.store\n"
        "from estimator import estimate\n"
        f"est = estimate({str(TINY)!r}, hw='i7-12700K', threads=8)\n"
        "assert est.latency_ms > 0, est.latency_ms\n"
        "assert est.ci95_low_ms <= est.latency_ms <= est.ci95_high_ms, est\n"
        "print(est.latency_ms)"
    )
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.split()[-1]) > 0
