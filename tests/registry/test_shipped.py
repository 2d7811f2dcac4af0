"""Every shipped registry file validates, and shipped peaks agree with published figures."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from estimator.registry import (
    KernelCategory,
    list_hardware,
    load_hardware,
    load_priors,
    read_hardware_file,
    read_priors_file,
)
from estimator.registry.loader import fingerprint_matches
from estimator.registry.models import json_schemas

REPO = Path(__file__).resolve().parents[2]
BUILTIN = REPO / "hardware_registry"
HW_FILES = sorted(BUILTIN.glob("*/*/hardware.json"))
PRIORS = sorted((BUILTIN / "priors").glob("*.json"))
NB201_CSV = REPO.parent / "shared" / "data" / "nasbench201" / "latency_ms.csv"

EXPECTED_IDS = {
    "i7-12700K", "i7-12700H", "xeon-gold-6240", "xeon-silver-4114", "xeon-silver-4210r",
    "epyc-milan-vm-2vcpu", "raspberry-pi-4", "pixel-3", "samsung-a50", "samsung-s7",
    "essential-ph-1", "jetson-orin-agx-50w", "gtx-1080-ti", "titan-x-pascal", "a100", "h100",
    "rtx-4090",
}  # fmt: skip


def test_all_expected_devices_ship() -> None:
    assert set(list_hardware()) >= EXPECTED_IDS


@pytest.mark.parametrize("path", HW_FILES, ids=lambda p: p.parent.name)
def test_shipped_hardware_validates_and_documents_numbers(path: Path) -> None:
    hw = read_hardware_file(path)
    assert hw.id == path.parent.name
    assert path.parent.parent.name in ("cpu", "gpu", "mobile", "accelerator")
    assert hw.sources and all(s.strip() for s in hw.sources)
    assert "fp32" in hw.peak_gflops
    assert len(hw.memory.derivation) > 20
    for c in hw.caches:
        assert c.derivation.strip()
    for dtype, spec in hw.peak_gflops.items():
        assert len(spec.derivation) > 20, dtype
        # Where the derivation ends in "= X GFLOP/s" (or GOP/s), X must be the stored number.
        m = re.search(r"= ([\d.]+) G(?:FLOP|OP)/s", spec.derivation)
        if m:
            assert float(m.group(1)) == pytest.approx(spec.gflops), dtype
    assert hw.boost_clock_ghz >= hw.base_clock_ghz


def test_template_validates() -> None:
    hw = read_hardware_file(BUILTIN / "template" / "hardware.json")
    assert hw.id == "my-device"
    assert "my-device" not in list_hardware()  # the template is not a device


@pytest.mark.parametrize("path", PRIORS, ids=lambda p: p.stem)
def test_priors_validate_and_are_wide(path: Path) -> None:
    prior = read_priors_file(path)
    assert prior.device_type == path.stem
    prof = prior.profile
    assert not prof.calibrated
    assert set(prof.categories) == set(KernelCategory)
    assert "seeds" in prof.provenance.source
    for cat, cp in prof.categories.items():
        for curve in (cp.compute, cp.memory):
            for m, s in zip(curve.mean, curve.std, strict=True):
                assert s >= 0.3 * m, cat  # honest priors: at least 30% relative sd
        assert cp.overhead_us.std > 0


def test_priors_encode_known_shapes() -> None:
    # seeds/000-002: depthwise far below dense conv; big GEMMs beat small ones.
    for kind in ("cpu", "gpu", "mobile"):
        p = load_priors(kind)
        big = 9.0
        dense = p.category("conv_dense").compute.evaluate(big)[0]
        dw = p.category("conv_depthwise").compute.evaluate(big)[0]
        assert dw < 0.5 * dense
        gemm = p.category("gemm").compute
        assert gemm.evaluate(4.0)[0] < 0.25 * gemm.evaluate(10.0)[0]
    # GPU launches cost more than an onnxruntime CPU kernel dispatch, phones more still.
    oh = {
        k: load_priors(k).category("elementwise").overhead_us.mean for k in ("cpu", "gpu", "mobile")
    }
    assert oh["cpu"] < oh["gpu"] < oh["mobile"]


def test_shipped_schemas_match_models() -> None:
    for name, schema in json_schemas().items():
        shipped = json.loads((BUILTIN / "schema" / name).read_text())
        assert shipped == schema, f"regenerate hardware_registry/schema/{name}"


# Published vendor figures (independent of our derivations), in GFLOP/s or GB/s.
PUBLISHED = [
    ("a100", "fp32", 19_500, 0.005),  # NVIDIA A100 datasheet: 19.5 TFLOPS
    ("a100", "fp16", 312_000, 0.005),  # 312 TFLOPS dense tensor
    ("a100", "bf16", 312_000, 0.005),
    ("a100", "int8", 624_000, 0.005),  # 624 TOPS dense
    ("a100", "tf32", 156_000, 0.005),  # 156 TFLOPS dense
    ("h100", "fp32", 67_000, 0.005),  # H100 SXM datasheet: 67 TFLOPS
    ("h100", "fp16", 989_400, 0.001),
    ("h100", "int8", 1_978_900, 0.001),
    ("rtx-4090", "fp32", 82_600, 0.005),  # Ada whitepaper: 82.6 TFLOPS
    ("rtx-4090", "fp16", 165_200, 0.005),  # 165.2 TFLOPS fp16 w/ fp32 accumulate
    ("gtx-1080-ti", "fp32", 11_340, 0.005),  # NVIDIA: 11.34 TFLOPS (3584 x 2 x 1.582)
    ("titan-x-pascal", "fp32", 10_970, 0.005),  # NVIDIA: ~11 TFLOPS at 1531 MHz
]


@pytest.mark.parametrize(("name", "dtype", "gflops", "rtol"), PUBLISHED)
def test_gpu_peaks_match_published(name: str, dtype: str, gflops: float, rtol: float) -> None:
    assert load_hardware(name).peak_flops(dtype) == pytest.approx(gflops * 1e9, rel=rtol)


@pytest.mark.parametrize(
    ("name", "gbs"),
    [("a100", 2039), ("h100", 3350), ("rtx-4090", 1008), ("gtx-1080-ti", 484),
     ("i7-12700K", 76.8), ("xeon-gold-6240", 140.8), ("jetson-orin-agx-50w", 204.8)],
)  # fmt: skip
def test_dram_bandwidth_matches_datasheets(name: str, gbs: float) -> None:
    # A100 2039, H100 3350 GB/s (NVIDIA datasheets); 4090: 21 Gbps x 384 / 8 = 1008;
    # 1080 Ti: 11 Gbps x 352 / 8 = 484; ARK 12700K 76.8; 6240: 6 x 8 B x 2933 = 140.8;
    # Orin: 256-bit x 6400 MT/s / 8 = 204.8.
    assert load_hardware(name).dram_bandwidth() == pytest.approx(gbs * 1e9, rel=1e-3)


def test_i7_12700k_peak_hand_computed() -> None:
    hw = load_hardware("i7-12700K")
    # P-cores: 8 x (2 FMA ports x 8 fp32 lanes x 2 FLOP = 32) x 4.7 GHz = 1203.2
    # E-cores: 4 x (2 x 4 lanes x 2 = 16) x 3.6 GHz = 230.4  -> 1433.6 GFLOP/s over 12 cores
    assert hw.peak_flops("fp32") == pytest.approx(1433.6e9)
    assert hw.peak_flops("fp32", threads=6) == pytest.approx(1433.6e9 / 2)


def test_nb201_columns_resolve_to_devices() -> None:
    columns = ["1080ti_1", "1080ti_32", "1080ti_256", "silver_4114", "silver_4210r",
               "samsung_a50", "pixel3", "essential_ph_1", "samsung_s7", "titanx_1",
               "titanx_32", "titanx_256", "gold_6240"]  # fmt: skip
    if NB201_CSV.is_file():
        with NB201_CSV.open() as fh:
            columns = next(csv.reader(fh))[2:]
    for col in columns:
        name = re.sub(r"^(1080ti|titanx)_(1|32|256)$", r"\1", col)  # GPU batch-size suffix
        assert load_hardware(name).id in EXPECTED_IDS, col


@pytest.mark.parametrize(
    ("model_name", "expected"),
    [
        ("12th Gen Intel(R) Core(TM) i7-12700K", "i7-12700K"),
        ("12th Gen Intel(R) Core(TM) i7-12700H", "i7-12700H"),
        ("Intel(R) Xeon(R) Gold 6240 CPU @ 2.60GHz", "xeon-gold-6240"),
        ("Intel(R) Xeon(R) Silver 4114 CPU @ 2.20GHz", "xeon-silver-4114"),
        ("Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz", "xeon-silver-4210r"),
    ],
)
def test_cpu_fingerprints_match_their_model_strings(model_name: str, expected: str) -> None:
    hits = [
        hw_id
        for hw_id in list_hardware()
        if (fp := load_hardware(hw_id).fingerprint) is not None
        and fingerprint_matches(fp, model_name, {})
    ]
    assert hits == [expected]


def test_vm_fingerprint_needs_family_and_cpu_count() -> None:
    fp = load_hardware("epyc-milan-vm-2vcpu").fingerprint
    assert fp is not None
    info = {"cpu_family": "25", "model": "1", "logical_cpus": 2}
    assert fingerprint_matches(fp, "AMD EPYC", info)
    assert not fingerprint_matches(fp, "AMD EPYC", {**info, "logical_cpus": 8})
    assert not fingerprint_matches(fp, "AMD EPYC 7763 64-Core Processor", info)


@pytest.mark.parametrize(
    "path",
    HW_FILES
    + sorted(BUILTIN.glob("*/*/efficiency_curves.json"))
    + sorted(BUILTIN.glob("*/*/elementary_work.json")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_shipped_files_pass_json_schema(path: Path) -> None:
    # the loader words errors with jsonschema but accepts valid files through pydantic alone;
    # this keeps every shipped file honest against the published schema
    import json

    import jsonschema

    name = path.name.removesuffix(".json")
    schema = json.loads((BUILTIN / "schema" / f"{name}.schema.json").read_text())
    jsonschema.validate(json.loads(path.read_text()), schema)
