"""measure-latency never opens an external-data file outside the model's folder.

A model names its external weights by location; ``../secret.bin``, an absolute path, or a link
that points out of the folder must be refused before a byte of the file is read. The proof is an
audit hook (``sys.addaudithook``) in a fresh interpreter that records every path Python opens while
the console script's ``main`` runs on each hostile model: the secret file never appears.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

SECRET = b"SECRET-" * 8

#: Runs in the child: hook first, then the CLI on every model, then the log of opened paths.
_CHILD = textwrap.dedent(
    """
    import io, json, os, sys
    from contextlib import redirect_stderr, redirect_stdout
    opened = []

    def hook(event, args):
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)
    from estimator.cli.measure_latency import main

    cases = json.loads(sys.argv[1])
    out = []
    for model in cases:
        err = io.StringIO()
        with redirect_stderr(err), redirect_stdout(io.StringIO()):
            rc = main([model, "--no-store", "--quiet", "--repeats", "1", "--warmup", "0"])
        out.append({"model": model, "rc": rc, "stderr": err.getvalue()})
    with open(sys.argv[2], "w") as fh:
        json.dump({"results": out, "opened": opened}, fh)
    """
)


def _external_model(path: Path, location: str, *, weights: np.ndarray | None = None) -> None:
    """x[1,4] + w[4], with w stored at ``location`` (relative to the model's folder)."""
    w = numpy_helper.from_array(np.ones(4, np.float32) if weights is None else weights, "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path.write_bytes(model.SerializeToString())


def test_no_file_outside_the_model_folder_is_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(SECRET)
    folder = tmp_path / "models"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(np.ones(4, np.float32).tobytes())
    os.symlink(secret, folder / "link.bin")  # a link that points out of the folder
    os.symlink("../secret.bin", folder / "sub" / "rel.bin")  # relative, climbs out
    os.mkfifo(folder / "pipe.bin")  # would block open() forever
    hostile = {
        "up.onnx": "../secret.bin",
        "abs.onnx": str(secret),
        "link.onnx": "link.bin",
        "sublink.onnx": "sub/rel.bin",
        "dots.onnx": "sub/../../secret.bin",
        "fifo.onnx": "pipe.bin",
        "folder.onnx": "sub",
        "missing.onnx": "absent.bin",
    }
    for name, location in hostile.items():
        _external_model(folder / name, location)
    _external_model(folder / "good.onnx", "weights.bin")
    models = [str(folder / n) for n in [*hostile, "good.onnx"]]

    log = tmp_path / "log.json"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(models), str(log)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(log.read_text())
    by_model = {Path(r["model"]).name: r for r in report["results"]}

    opened = [Path(p) for p in report["opened"]]
    resolved = {p.resolve() for p in opened if p.is_absolute() or (tmp_path in p.parents)}
    assert secret.resolve() not in resolved
    assert not any(p.name == "secret.bin" for p in opened)
    assert not any(p.name == "pipe.bin" for p in opened)
    # the hook does see reads: the good model's weights were opened (hashed) inside the folder
    assert (folder / "weights.bin").resolve() in resolved

    for name, location in hostile.items():
        r = by_model[name]
        lines = r["stderr"].strip().splitlines()
        assert r["rc"] == 2, (name, r["stderr"])
        assert len(lines) == 1 and "Traceback" not in r["stderr"], (name, r["stderr"])
        assert "external data of tensor 'w'" in lines[0] and repr(location) in lines[0], lines[0]
    assert "outside the model's folder" in by_model["up.onnx"]["stderr"]
    assert "is absolute" in by_model["abs.onnx"]["stderr"]
    assert "FIFO" in by_model["fifo.onnx"]["stderr"]
    assert "directory" in by_model["folder.onnx"]["stderr"]
    assert by_model["good.onnx"]["rc"] == 0, by_model["good.onnx"]["stderr"]
