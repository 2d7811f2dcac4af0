"""A synthetic device and profile whose right answers can be worked out by hand."""

from __future__ import annotations

from estimator.registry.models import (
    CacheLevel,
    CategoryProfile,
    EfficiencyCurve,
    EfficiencyProfile,
    Hardware,
    KernelCategory,
    MeanStd,
    MemorySpec,
    PeakSpec,
    Provenance,
)


def hardware(cores: int = 1, gflops: float = 100.0, dram_gbs: float = 10.0) -> Hardware:
    """100 GFLOP/s fp32, 10 GB/s DRAM, L1 32 KiB/core at 100 GB/s, L2 1 MiB shared at 50 GB/s."""
    return Hardware(
        id="synthetic",
        vendor="test",
        model="synthetic",
        type="cpu",
        cores=cores,
        threads=cores,
        base_clock_ghz=1.0,
        boost_clock_ghz=1.0,
        peak_gflops={"fp32": PeakSpec(gflops=gflops, derivation="test value")},
        memory=MemorySpec(dram_bandwidth_gbs=dram_gbs, derivation="test value"),
        caches=[
            CacheLevel(level=1, size_kib=32, shared=False, bandwidth_gbs=100.0, derivation="t"),
            CacheLevel(level=2, size_kib=1024, shared=True, bandwidth_gbs=50.0, derivation="t"),
        ],
        sources=["test"],
    )


def flat_curve(mean: float = 1.0, std: float = 0.0) -> EfficiencyCurve:
    return EfficiencyCurve(knots_log10=[0.0, 12.0], mean=[mean, mean], std=[std, std])


def category(
    compute: EfficiencyCurve | None = None,
    memory: EfficiencyCurve | None = None,
    overhead_us: float = 0.0,
    overhead_std_us: float = 0.0,
) -> CategoryProfile:
    return CategoryProfile(
        compute=compute or flat_curve(),
        memory=memory or flat_curve(),
        overhead_us=MeanStd(mean=overhead_us, std=overhead_std_us, n=0),
    )


def profile(
    device_sigma: float = 0.0,
    overrides: dict[KernelCategory, CategoryProfile] | None = None,
    runtime: str = "onnxruntime-cpu",
    threads: int | None = 1,
) -> EfficiencyProfile:
    cats = {c: category() for c in KernelCategory}
    cats.update(overrides or {})
    return EfficiencyProfile(
        runtime=runtime,
        dtype="fp32",
        threads=threads,
        calibrated=True,
        device_sigma=device_sigma,
        categories=cats,
        provenance=Provenance(date="2026-11-23", tool_version="test", source="synthetic test"),
    )
