"""The curve fit recovers known efficiency curves and overheads from noisy synthetic kernels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from estimator.calibration.attribute import KernelPoint
from estimator.calibration.fit import FitOptions, fit_all, fit_category, hat, knots_for
from estimator.registry.models import KernelCategory

# A made-up device: 100 GFLOP/s, 20 GB/s; the true curves are smooth logistic shapes.
PEAK = 100e9
BW = 20e9
OVERHEAD = 5e-6


def e_c(x: np.ndarray) -> np.ndarray:
    return 0.05 + 0.6 / (1 + np.exp(-(x - 7)))


def e_m(x: np.ndarray) -> np.ndarray:
    return 0.2 + 0.5 / (1 + np.exp(-(x - 5)))


def synthetic(n: int, noise: float, seed: int = 0) -> list[KernelPoint]:
    rng = np.random.default_rng(seed)
    pts = []
    for i in range(n):
        lf = rng.uniform(4, 10)
        f = 10**lf
        b = f / 10 ** rng.uniform(-0.5, 2.5)
        tc = f / (PEAK * e_c(np.array(lf)))
        tm = b / (BW * e_m(np.array(np.log10(b))))
        t = (max(float(tc), float(tm)) + OVERHEAD) * float(np.exp(rng.normal(0, noise)))
        pts.append(KernelPoint("m", f"k{i}", KernelCategory.GEMM, f, b, b, t, f / PEAK, b / BW))
    return pts


def test_hat_basis_interpolates_linearly() -> None:
    knots = np.array([0.0, 1.0, 2.0])
    h = hat(np.array([0.25, 1.5, -3.0, 9.0]), knots)
    # 0.25 -> 0.75 of knot 0 + 0.25 of knot 1; 1.5 -> half/half; out of range -> end knot.
    want = np.array([[0.75, 0.25, 0], [0, 0.5, 0.5], [1, 0, 0], [0, 0, 1]], dtype=float)
    assert np.allclose(h, want)


def test_knots_span_the_data_on_the_step_grid() -> None:
    assert knots_for(np.array([3.2, 5.9]), 0.5).tolist() == [3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0]


def test_fit_recovers_known_curves() -> None:
    fit = fit_category(KernelCategory.GEMM, synthetic(300, noise=0.05))
    c, m = fit.profile.compute, fit.profile.memory
    for k, mean, n in zip(c.knots_log10, c.mean, c.n, strict=True):
        if n >= 5:  # knots backed by data: within 8% of the true curve
            assert mean == pytest.approx(float(e_c(np.array(k))), rel=0.08), k
    for k, mean, n in zip(m.knots_log10, m.mean, m.n, strict=True):
        if n >= 5:
            assert mean == pytest.approx(float(e_m(np.array(k))), rel=0.08), k
    # Overhead 5 us, recovered within 1.5 us.
    assert fit.profile.overhead_us.mean == pytest.approx(5.0, abs=1.5)
    # Predictive spread ~ the 5% lognormal noise: relative std at data-rich knots 3%..8%.
    rel = [s / mu for s, mu, n in zip(c.std, c.mean, c.n, strict=True) if n >= 10]
    assert rel and all(0.03 <= r <= 0.08 for r in rel)
    assert fit.r2 > 0.99
    assert fit.resid_std == pytest.approx(0.05, abs=0.015)


def test_fit_is_robust_to_a_few_preempted_kernels() -> None:
    pts = synthetic(200, noise=0.03, seed=1)
    # Ten kernels slowed 3x by another process: the robust loss must not follow them.
    slowed = [
        KernelPoint(
            p.model,
            p.kernel,
            p.category,
            p.flops,
            p.bytes,
            p.working_set,
            3 * p.t,
            p.t_compute,
            p.t_memory,
        )
        for p in pts[:10]
    ]
    fit = fit_category(KernelCategory.GEMM, slowed + pts[10:])
    c = fit.profile.compute
    for k, mean, n in zip(c.knots_log10, c.mean, c.n, strict=True):
        if n >= 8:
            assert mean == pytest.approx(float(e_c(np.array(k))), rel=0.12), k


def test_categories_with_too_few_points_are_left_out() -> None:
    pts = synthetic(50, 0.05)
    few = [
        KernelPoint(
            p.model,
            p.kernel,
            KernelCategory.POOLING,
            p.flops,
            p.bytes,
            p.working_set,
            p.t,
            p.t_compute,
            p.t_memory,
        )
        for p in pts[:2]
    ]
    fits = fit_all(pts + few, FitOptions(min_points=3))
    assert set(fits) == {KernelCategory.GEMM}


def test_the_fits_jacobian_is_the_residuals_derivative(monkeypatch: pytest.MonkeyPatch) -> None:
    """The analytic Jacobian given to least_squares equals central differences of the residuals
    at points around the start (a wrong Jacobian would still converge somewhere, silently)."""
    from scipy import optimize

    from estimator.calibration import fit as fit_module

    real = optimize.least_squares
    checked = []

    def spy(fun: Any, x0: Any, jac: Any = None, **kw: Any) -> Any:
        rng = np.random.default_rng(0)
        lo, hi = kw["bounds"]
        for _ in range(3):
            x = np.clip(x0 + rng.normal(0.0, 0.05, x0.size), lo, hi)
            step = np.eye(x.size) * 1e-7
            num = np.array([(fun(x + e) - fun(x - e)) / 2e-7 for e in step]).T
            an = jac(x)
            checked.append(float(np.abs(num - an).max() / np.abs(an).max()))
        return real(fun, x0, jac=jac, **kw)

    monkeypatch.setattr(fit_module.optimize, "least_squares", spy)
    fit_module.fit_category(KernelCategory.GEMM, synthetic(120, noise=0.05, seed=3))
    assert checked and max(checked) < 1e-5, checked
