"""The probe's numba kernels: a register-resident FMA loop and a STREAM-like triad.

Both release the GIL (``nogil``), so the worker runs one per Python thread, each pinned to its
own core. Imported only by :mod:`estimator.probe.worker`, in a process whose numba target was set
before numba loaded (LLVM otherwise prefers 256-bit vectors on AVX-512 parts, and the FMA loop
would measure half the machine).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Independent accumulator chains per kernel: 12 vector registers of chains cover an FMA latency
#: of 4-6 cycles on two to three pipes (x86, Arm) and still fit the 16 registers of AVX2.
CHAINS = 12


@njit(fastmath=True, nogil=True, cache=True)
def fma_192(iters: int, x: np.float32, y: np.float32) -> float:
    """12 chains of 16 fp32 lanes (AVX-512): ``acc = acc * y + x``, 2 FLOP per element and
    iteration. The constant trip count lets LLVM unroll the inner loop and keep ``acc`` in
    registers; no load or store runs inside the outer loop."""
    acc = np.empty(192, np.float32)
    for j in range(192):
        acc[j] = x + np.float32(j) * np.float32(1e-7)
    for _ in range(iters):
        for j in range(192):
            acc[j] = acc[j] * y + x
    return float(acc.sum())


@njit(fastmath=True, nogil=True, cache=True)
def fma_96(iters: int, x: np.float32, y: np.float32) -> float:
    """12 chains of 8 fp32 lanes (AVX2, 256-bit SVE) or 24 chains of 4 (NEON): as
    :func:`fma_192`."""
    acc = np.empty(96, np.float32)
    for j in range(96):
        acc[j] = x + np.float32(j) * np.float32(1e-7)
    for _ in range(iters):
        for j in range(96):
            acc[j] = acc[j] * y + x
    return float(acc.sum())


@njit(fastmath=True, nogil=True, cache=True)
def fill(a: np.ndarray, value: np.float32) -> None:
    """First touch of an array by the thread that will stream it (its pages land on that
    thread's NUMA node)."""
    for i in range(a.size):
        a[i] = value + np.float32(i & 7)


@njit(fastmath=True, nogil=True, cache=True)
def triad(a: np.ndarray, b: np.ndarray, c: np.ndarray, s: np.float32, reps: int) -> float:
    """STREAM triad ``a = b + s * c`` ``reps`` times over float32 arrays: 12 bytes moved per
    element and pass (two loads, one store; write-allocate traffic not counted, as in STREAM).
    The scalar changes every pass, so no pass can be skipped."""
    n = a.size
    for r in range(reps):
        q = s + np.float32(r) * np.float32(1e-9)
        for i in range(n):
            a[i] = b[i] + q * c[i]
    return float(a[0])
