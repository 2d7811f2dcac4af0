"""The generated validation corpus: deterministic in its seed, every family exports to ONNX that
onnxruntime runs like torch and the estimator costs with no unmodeled op, sizes in budget, and
``tools/corpus.py`` lists, exports and measures."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from estimator.errors import InputError
from estimator.estimate import estimate, prepare
from estimator.frontends.torch_fx import from_torch
from estimator.zoo.corpus import (
    NORMAL,
    CorpusNet,
    draw_net,
    export_corpus,
    families,
    generate_corpus,
    manifest_nets,
    measure_size,
)
from estimator.zoo.corpus.families import FAMILIES
from estimator.zoo.corpus.generate import _generate

#: Tiny members drawn per family; the test exports one per (family, variant) among them.
TINY_DRAWS = 6


def _tiny_members() -> list[CorpusNet]:
    """One tiny network per family and architecture variant (RepVGG/MobileOne, Mixer/PoolFormer,
    MobileViT/LeViT-like), so each code path is exported once."""
    seen: dict[tuple[str, str], CorpusNet] = {}
    for net in generate_corpus(TINY_DRAWS, 0, tiny=True):
        seen.setdefault((net.family, str(net.hparams.get("variant", ""))), net)
    return list(seen.values())


TINY = _tiny_members()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("corpus")
    paths = export_corpus(TINY, folder)
    return {net.name: path for net, path in zip(TINY, paths, strict=True)}


@pytest.fixture(scope="module")
def tool(repo_root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_tool", repo_root / "tools/corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus_tool"] = module
    spec.loader.exec_module(module)
    return module


def test_families() -> None:
    names = families()
    assert len(names) >= 11 and len(set(names)) == len(names)
    assert names == tuple(FAMILIES)
    variants = {(n.family, n.hparams.get("variant")) for n in TINY}
    assert {f for f, _ in variants} == set(names)
    for family, both in (
        ("repvgg", {"repvgg", "mobileone"}),
        ("mixer", {"mixer", "poolformer"}),
        ("hybrid", {"mobilevit", "levit"}),
    ):
        assert {v for f, v in variants if f == family} == both


def test_same_seed_same_corpus_other_seed_differs() -> None:
    _generate.cache_clear()
    a = generate_corpus(3, 0, tiny=True)
    _generate.cache_clear()
    b = generate_corpus(3, 0, tiny=True)
    assert [n.name for n in a] == [n.name for n in b]
    assert [n.hparams for n in a] == [n.hparams for n in b]
    assert [n.seed for n in a] == [n.seed for n in b]
    assert [n.size for n in a] == [n.size for n in b]
    c = generate_corpus(3, 1, tiny=True)
    assert not {n.name for n in a} & {n.name for n in c}
    assert sum(x.hparams != y.hparams for x, y in zip(a, c, strict=True)) >= len(a) // 2
    # a member depends only on (seed, family, index): the same with fewer members or families
    assert draw_net("vit", 2, 0, tiny=True) == a[29]
    assert generate_corpus(1, 0, tiny=True, families=["vit"])[0] == a[27]
    # names carry the family, the index and a hash of hyper-parameters and seed
    assert a[0].name.startswith("corpus-tiny/bottleneck/000-")


def test_same_seed_same_weights_and_onnx(tmp_path: Path, exported: dict[str, Path]) -> None:
    net = TINY[0]
    first = net.build().state_dict()
    again = net.build().state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    export_corpus([net], tmp_path)
    assert (tmp_path / net.relpath).read_bytes() == exported[net.name].read_bytes()
    other = generate_corpus(TINY_DRAWS, 1, tiny=True)[0]
    assert other.seed != net.seed


def _initializer_digest(path: Path) -> str:
    model = onnx.load(str(path))
    h = hashlib.sha256()
    for init in sorted(model.graph.initializer, key=lambda t: t.name):
        h.update(init.name.encode() + init.raw_data)
    return h.hexdigest()


def test_different_seed_different_weights(tmp_path: Path) -> None:
    a = generate_corpus(1, 0, tiny=True, families=["bottleneck"])[0]
    b = CorpusNet(a.name, a.family, a.index, a.seed + 1, a.hparams, a.input_shape, a.size)
    pa, pb = tmp_path / "a", tmp_path / "b"
    export_corpus([a], pa)
    export_corpus([b], pb)
    assert _initializer_digest(pa / a.relpath) != _initializer_digest(pb / b.relpath)


@pytest.mark.parametrize(
    "net", TINY, ids=[f"{n.family}-{n.hparams.get('variant', '')}" for n in TINY]
)
def test_tiny_member_exports_runs_and_costs(net: CorpusNet, exported: dict[str, Path]) -> None:
    path = exported[net.name]
    module, x = net.build(), net.example_input()
    with torch.no_grad():
        ref = module(x).numpy()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x.numpy()})
    assert out.shape == ref.shape == (1, net.hparams["classes"])
    np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-4 * max(1.0, float(np.abs(ref).max())))
    prep = prepare(path)
    assert prep.cost.unmodeled == {}, f"{net.name}: unmodeled ops {prep.cost.unmodeled}"
    assert prep.cost.macs == net.size.macs
    assert len(prep.plan.kernels) > 0


def test_full_corpus_sizes_in_budget() -> None:
    nets = generate_corpus(20, 0)
    assert len(nets) >= 220
    assert len({n.family for n in nets}) >= 11
    assert len({n.name for n in nets}) == len(nets)
    for n in nets:
        assert NORMAL.admits(n.size), n.name
    resolutions = {n.input_shape[-1] for n in nets}
    assert min(resolutions) <= 64 and max(resolutions) >= 224
    assert max(n.size.weight_bytes for n in nets if n.family == "vgg") > 100e6

    # The project's cost model on the smallest and largest member of each family: the same MACs
    # as the generator counted, nothing unmodeled, and an estimated single-thread latency on a
    # calibrated 2-core server VM inside (a margin around) 0.5-40 ms.
    picks: list[CorpusNet] = []
    for family in families():
        members = sorted((n for n in nets if n.family == family), key=lambda n: n.size.rough_ms)
        picks += [members[0], members[-1]]
    for net in picks:
        with torch.device("meta"):
            graph = from_torch(net.build(), torch.empty(net.input_shape), name=net.name)
        prep = prepare(graph)
        assert prep.cost.macs == net.size.macs, net.name
        assert prep.cost.unmodeled == {}, f"{net.name}: unmodeled ops {prep.cost.unmodeled}"
        try:
            ms = estimate(prep, hw="epyc-genoa-vm-2vcpu", threads=1).latency_ms
        except InputError as exc:  # the device left the registry: the size checks above stand
            pytest.skip(f"no calibrated reference device: {exc}")
        assert 0.2 <= ms <= 60.0, f"{net.name}: estimated {ms:.2f} ms"


def test_measure_size_counts_attention() -> None:
    net = generate_corpus(1, 0, families=["vit"])[0]
    with torch.device("meta"):
        size = measure_size(net.build(), net.input_shape)
    assert size == net.size and size.attention_macs > 0


def test_export_resumes_and_manifest(tmp_path: Path) -> None:
    nets = TINY[:2]
    done: list[bool] = []
    export_corpus(nets, tmp_path, on_done=lambda n, p, fresh: done.append(fresh))
    mtimes = [(tmp_path / n.relpath).stat().st_mtime_ns for n in nets]
    export_corpus(nets, tmp_path, on_done=lambda n, p, fresh: done.append(fresh))
    assert done == [True, True, False, False]
    assert [(tmp_path / n.relpath).stat().st_mtime_ns for n in nets] == mtimes
    listed = manifest_nets(tmp_path)
    assert [n for n, _ in listed] == sorted(nets, key=lambda n: n.name)
    assert not list(tmp_path.rglob("*.tmp"))


def test_tool_list_subprocess(repo_root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "tools/corpus.py", "list", "--per-family", "1", "--tiny"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == f"{len(families())} networks"
    assert sum(line.startswith("corpus-tiny/") for line in lines) == len(families())


def test_tool_measure_records_and_skips(tool: ModuleType, tmp_path: Path) -> None:
    out, db = tmp_path / "corpus", tmp_path / "results.sqlite"
    args = ["--out", str(out), "--quiet"]
    assert tool.main(["export", *args, "--tiny", "--per-family", "1", "--families", "vgg,vit"]) == 0
    measure = ["measure", *args, "--threads", "1", "--repeats", "15", "--warmup", "2"]
    assert tool.main([*measure, "--db", str(db)]) == 0
    with (out / "measurements.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["family"] for r in rows] == ["vgg", "vit"]
    assert all(int(r["runs"]) == 15 and float(r["median_ms"]) > 0 for r in rows)
    assert all(float(r["p10_ms"]) <= float(r["median_ms"]) <= float(r["p90_ms"]) for r in rows)
    from estimator.measure import ResultsStore

    with ResultsStore(db) as store:
        assert sorted(r.model_name for r in store.runs()) == [r["name"] for r in rows]
    assert tool.main([*measure, "--db", str(db)]) == 0  # everything stored: nothing re-measured
    with ResultsStore(db) as store:
        assert len(store.runs()) == 2
    assert tool.main([*measure, "--db", str(db), "--repeats", "5"]) == 2


def test_tool_profile_then_repeat_retimes_stored_networks(tool: ModuleType, tmp_path: Path) -> None:
    out, db = tmp_path / "corpus", tmp_path / "calib.sqlite"
    assert tool.main(["export", "--out", str(out), "--quiet", "--tiny", "--per-family", "1",
                      "--families", "vgg"]) == 0  # fmt: skip
    assert tool.main(["profile", "--out", str(out), "--threads", "1", "--repeats", "15",
                      "--db", str(db)]) == 0  # fmt: skip
    report = tmp_path / "repeat.json"
    argv = ["repeat", "--db", str(db), "--threads", "1", "-n", "1", "--sessions", "2",
            "--repeats", "15", "--json", str(report)]  # fmt: skip
    assert tool.main(argv) == 0
    doc = json.loads(report.read_text())
    (net,) = doc["threads"]["1"]["networks"]
    assert net["name"].startswith("corpus-vgg-")
    assert len(net["session_ms"]) == 2 and all(t > 0 for t in net["session_ms"])
    assert doc["threads"]["1"]["n"] == 1
    assert tool.main(["repeat", "--db", str(tmp_path / "empty.sqlite"), "--threads", "1"]) == 2
