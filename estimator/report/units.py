"""Human-readable numbers for reports (SI prefixes for counts, binary prefixes for bytes)."""

from __future__ import annotations

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))
_BIN = ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))


def si(value: float, unit: str = "") -> str:
    """``4.09e9 -> '4.09 G'``: three significant digits, enough to compare with published tables."""
    for scale, prefix in _SI:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def nbytes(value: float) -> str:
    for scale, prefix in _BIN:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}"
    return f"{int(value)} B"


def ms(value: float) -> str:
    """Milliseconds with a precision that suits the magnitude (us for tiny kernels)."""
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 1:
        return f"{value:.3g} ms"
    return f"{value * 1e3:.3g} us"
