"""Hostile inputs for the console scripts, built at test time (nothing broken is committed).

:func:`build` writes broken models, registry folders, a FIFO and CSVs under one folder and
returns the table of cases: the script, its arguments, and a word the one-line error must hold.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CPU = REPO / "hardware_registry" / "cpu" / "i7-12700K" / "hardware.json"
SHIPPED_CURVES = REPO / "hardware_registry" / "cpu" / "xeon-6-vm-2vcpu" / "efficiency_curves.json"
NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" + (
    "skip_connect~2|"
)


@dataclass(frozen=True)
class Case:
    id: str
    script: str
    args: tuple[str, ...]
    #: Text the single stderr line must contain (the problem, named).
    needle: str


def _conv(path: Path, *, cin: int = 3, w_shape: tuple[int, ...] = (8, 3, 3, 3), **attrs: object):
    w = numpy_helper.from_array(np.zeros(w_shape, np.float32), "w")
    attrs = {"group": 1, "pads": [1, 1, 1, 1], **attrs}
    if "auto_pad" in attrs:
        attrs.pop("pads")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", **attrs)  # type: ignore[arg-type]
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, path)
    return model


def _registry(root: Path, name: str, doc: dict | None = None, raw: bytes | None = None) -> str:
    folder = root / "reg" / name / "cpu" / "testdev"
    folder.mkdir(parents=True)
    text = raw if raw is not None else json.dumps(doc).encode()
    (folder / "hardware.json").write_bytes(text)
    return str(root / "reg" / name)


def build(root: Path) -> list[Case]:
    m = root
    ok = m / "ok.onnx"
    model = _conv(ok)
    cases: list[Case] = []

    def est(case_id: str, needle: str, *args: str) -> None:
        cases.append(Case(case_id, "estimate-latency", args, needle))

    # ---- files that are not files
    os.mkfifo(m / "pipe.onnx")
    (m / "folder.onnx").mkdir()
    est("fifo-model", "FIFO", str(m / "pipe.onnx"))
    est("dev-zero-model", "character device", "/dev/zero")
    est("folder-model", "directory", str(m / "folder.onnx"))
    est("name-too-long", "File name too long", "a" * 300 + ".onnx")
    est("arch-too-long", "NAS-Bench-201", "|" + "x" * 300 + "~0|")

    # ---- broken tensors
    bad = copy.deepcopy(model)
    del bad.graph.initializer[0].dims[:]
    bad.graph.initializer[0].dims.extend([8, 3, 3, 4])
    onnx.save(bad, m / "size.onnx")
    est("init-size-mismatch", "initializer 'w' stores", str(m / "size.onnx"))
    bad = copy.deepcopy(model)
    bad.graph.initializer[0].dims[1] = -3
    onnx.save(bad, m / "negdim.onnx")
    est("init-negative-dim", "negative dim", str(m / "negdim.onnx"))
    bad = copy.deepcopy(model)
    bad.graph.initializer[0].raw_data = b"\0" * 7
    onnx.save(bad, m / "raw.onnx")
    est("init-raw-odd-bytes", "stores 7 bytes", str(m / "raw.onnx"))
    data = model.SerializeToString().replace(b"\x05conv0", b"\x05\xffonv0")
    (m / "utf8.onnx").write_bytes(data)
    est("node-name-not-utf8", "not valid UTF-8", str(m / "utf8.onnx"), "--format", "json")

    # ---- invalid Conv graphs (were costed as valid)
    for case_id, needle, kw in (
        ("conv-channels", "channels", {"cin": 4}),
        ("conv-group-0", "group 0", {"group": 0}),
        ("conv-group-neg", "group -1", {"group": -1}),
        ("conv-group-not-divisor", "group 3", {"group": 3}),
        ("conv-auto-pad", "auto_pad 'BOGUS'", {"auto_pad": "BOGUS"}),
        ("conv-pads-2^40", "pads", {"pads": [2**40] * 4}),
        ("conv-zero-out-channels", "zero channels", {"w_shape": (0, 3, 3, 3)}),
        ("conv-kernel-shape", "kernel_shape", {"kernel_shape": [5, 5]}),
    ):
        path = m / f"{case_id}.onnx"
        _conv(path, **kw)  # type: ignore[arg-type]
        est(case_id, needle, str(path), "--format", "json")

    # ---- arguments
    est("batch-400-digits", "--batch", str(ok), "--batch", "9" * 400)
    est("top-negative", "--top", str(ok), "--top", "-1")
    est("hw-empty", "--hw", str(ok), "--hw", "")
    est("runtime-empty", "--runtime", str(ok), "--hw", "i7-12700K", "--runtime", "")
    est("nb201-input-shape", "--input-shape", NB201, "--input-shape", "x=1x3x64x64")
    est("unknown-flag", "--help", str(ok), "--no-such-flag")

    # ---- registry files
    base = json.loads(SHIPPED_CPU.read_text())
    base.update(id="testdev", aliases=[])
    text = json.dumps(base)

    def reg(case_id: str, needle: str, doc: dict | None = None, raw: bytes | None = None) -> None:
        folder = _registry(root, case_id, doc, raw)
        est(f"registry-{case_id}", needle, str(ok), "--hw", "testdev", "--registry", folder)

    def mutated(**top: object) -> dict:
        return {**copy.deepcopy(base), **top}

    reg("not-utf8", "not a UTF-8", raw=text.replace("Intel", "Int\u00e9l").encode("latin-1"))
    reg(
        "nested-1000",
        "nested too deeply",
        raw=(text[:-1] + ', "notes": ' + "[" * 1000 + "]" * 1000 + "}").encode(),
    )
    reg("infinity", "Infinity", raw=text.replace('"gflops": 1433.6', '"gflops": Infinity').encode())
    reg("1e309", "1e309", raw=text.replace('"gflops": 1433.6', '"gflops": 1e309').encode())
    reg("string-number", "cores", mutated(cores="12"))
    reg("bool-number", "cores", mutated(cores=True))
    reg("cores-2^63", "out of range", mutated(cores=2**63))
    reg(
        "no-schema-version",
        "schema_version",
        {k: v for k, v in base.items() if k != "schema_version"},
    )
    reg("schema-version-2", "schema_version", mutated(schema_version=2))
    tiny = copy.deepcopy(base)
    tiny["peak_gflops"]["fp32"]["gflops"] = 1e-300
    reg("peak-1e-300", "overflows", tiny)
    dup = _registry(root, "dup", base)
    (Path(dup) / "cpu" / "testdev2").mkdir()
    (Path(dup) / "cpu" / "testdev2" / "hardware.json").write_text(text)
    est("registry-duplicate-id", "names 2 devices", str(ok), "--hw", "testdev", "--registry", dup)
    other = _registry(root, "other-curves", base)
    (Path(other) / "cpu" / "testdev" / "efficiency_curves.json").write_bytes(
        SHIPPED_CURVES.read_bytes()
    )
    est(
        "registry-curves-other-device",
        "field 'device'",
        str(ok),
        "--hw",
        "testdev",
        "--registry",
        other,
    )
    fifo = root / "reg" / "fifo" / "cpu" / "testdev"
    fifo.mkdir(parents=True)
    os.mkfifo(fifo / "hardware.json")
    est(
        "registry-fifo",
        "FIFO",
        str(ok),
        "--hw",
        "testdev",
        "--registry",
        str(root / "reg" / "fifo"),
    )
    zero = root / "reg" / "zero" / "cpu" / "testdev"
    zero.mkdir(parents=True)
    os.symlink("/dev/zero", zero / "hardware.json")
    est(
        "registry-dev-zero",
        "character device",
        str(ok),
        "--hw",
        "testdev",
        "--registry",
        str(root / "reg" / "zero"),
    )

    # ---- measure-latency
    def meas(case_id: str, needle: str, *args: str) -> None:
        cases.append(Case(case_id, "measure-latency", args, needle))

    store = str(root / "store.sqlite")
    meas("min-time-nan", "--min-time", str(ok), "--min-time", "nan", "--no-store")
    meas("min-time-inf", "--min-time", str(ok), "--min-time", "inf", "--no-store")
    meas("warmup-negative", "--warmup", str(ok), "--warmup", "-1", "--no-store")
    meas("fifo-model", "FIFO", str(m / "pipe.onnx"), "--no-store")
    meas("dev-zero-model", "character device", "/dev/zero", "--no-store")
    meas("export-to-folder", "--export", "--export", str(m / "folder.onnx"), "--db", store)
    meas("export-under-proc", "/proc/", "--export", "/proc/no/runs.csv", "--db", store)
    meas(
        "ort-refuses",
        "onnxruntime cannot",
        str(m / "conv-channels.onnx"),
        "--no-store",
        "--repeats",
        "1",
        "--warmup",
        "0",
    )
    dyn = helper.make_model(
        helper.make_graph(
            [helper.make_node("Relu", ["x"], ["y"], name="r")],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    dyn.ir_version = 9
    onnx.save(dyn, m / "dyn.onnx")
    meas(
        "input-too-large",
        "too large",
        str(m / "dyn.onnx"),
        "--batch",
        str(2**31 - 1),
        "--no-store",
        "--repeats",
        "1",
    )

    # ---- calibrate-hardware and the calibration scripts
    def cal(script: str, case_id: str, needle: str, *args: str) -> None:
        cases.append(Case(case_id, script, args, needle))

    csv = root / "lat.csv"
    csv.write_text(f"model,latency_ms\n{NB201},5.0\n")
    afile = root / "a-file"
    afile.write_text("x")
    os.mkfifo(root / "pipe.csv")
    cal(
        "calibrate-hardware",
        "from-latencies-fifo",
        "FIFO",
        "--hw",
        "i7-12700K",
        "--from-latencies",
        str(root / "pipe.csv"),
    )
    cal(
        "calibrate-hardware",
        "out-is-a-file",
        "--out",
        "--hw",
        "i7-12700K",
        "--from-latencies",
        str(csv),
        "--out",
        str(afile),
    )
    cal(
        "calibrate-hardware",
        "out-under-a-file",
        "a-file",
        "--hw",
        "i7-12700K",
        "--from-latencies",
        str(csv),
        "--out",
        str(afile / "sub"),
    )
    cal(
        "calibrate-hardware",
        "shots-negative",
        "--shots",
        "--hw",
        "i7-12700K",
        "--from-latencies",
        str(csv),
        "--shots",
        "-1",
    )
    cal(
        "calibrate-hardware",
        "sample-budget-nan",
        "--sample-budget",
        "--hw",
        "i7-12700K",
        "--sample-budget",
        "nan",
    )
    cal("calibrate-hardware", "hw-empty", "--hw", "--hw", "", "--from-latencies", str(csv))
    cal("measure-efficiency", "min-time-inf", "--min-time", "--min-time", "inf")
    cal("measure-efficiency", "passes-0", "--passes", "--passes", "0")
    cal("aggregate-efficiency", "step-nan", "--step", "--hw", "i7-12700K", "--step", "nan")
    cal(
        "analyze-efficiency-distribution", "alpha-2", "--alpha", "--hw", "i7-12700K", "--alpha", "2"
    )
    cal(
        "validate-calibration",
        "max-mape-nan",
        "--max-mape",
        "--hw",
        "i7-12700K",
        "--max-mape",
        "nan",
    )
    cal("visualize-efficiency", "hw-empty", "--hw", "--hw", "", "--out", str(root / "plots"))
    cal("audit-calibration", "fifo-file", "FIFO", str(root / "pipe.csv"), str(csv))
    cal(
        "audit-calibration",
        "threshold-inf",
        "--threshold",
        str(csv),
        str(csv),
        "--threshold",
        "inf",
    )
    return cases
