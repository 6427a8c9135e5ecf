"""Comparing one native array (or product) with jwst's: the numbers the parity table prints."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TINY = 1e-30


@dataclass(frozen=True)
class Difference:
    """native vs jwst over one array: relative differences where both are finite, flag and NaN agreement."""

    worst: float  # max relative difference (see relative()) over pixels finite in both
    p999: float  # its 99.9th percentile
    within: float  # fraction of those pixels within 1e-5 relative
    nan_agree: float  # fraction of pixels NaN in both or in neither
    dq_agree: float | None = None  # fraction of pixels with equal DQ (None: no DQ compared)
    pixels: int = 0

    def merge(self, other: Difference) -> Difference:
        """The worse of two (for a row that aggregates several exposures)."""

        def low(a: float | None, b: float | None) -> float | None:
            values = [v for v in (a, b) if v is not None]
            return min(values) if values else None

        return Difference(
            max(self.worst, other.worst),
            max(self.p999, other.p999),
            min(self.within, other.within),
            min(self.nan_agree, other.nan_agree),
            low(self.dq_agree, other.dq_agree),
            self.pixels + other.pixels,
        )


def relative(native: np.ndarray, jwst: np.ndarray) -> np.ndarray:
    """|native - jwst| / max(|native|, |jwst|) on pixels finite in both (0 where both are equal).

    Symmetric, so a value one side leaves at 0 counts as a difference of 1
    (100 %) instead of dividing by zero.
    """
    a = np.asarray(native, dtype=np.float64)
    b = np.asarray(jwst, dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(a[both] - b[both])
    scale = np.maximum(np.abs(a[both]), np.abs(b[both]))
    return np.where(diff == 0, 0.0, diff / np.maximum(scale, TINY))


def compare_arrays(native: np.ndarray, jwst: np.ndarray, native_dq=None, jwst_dq=None) -> Difference:
    if np.shape(native) != np.shape(jwst):
        raise ValueError(f"shapes differ: native {np.shape(native)}, jwst {np.shape(jwst)}")
    rel = relative(native, jwst)
    nan_agree = float(np.mean(np.isnan(native) == np.isnan(jwst))) if np.size(jwst) else 1.0
    dq = None
    if native_dq is not None and jwst_dq is not None:
        dq = float(np.mean(np.asarray(native_dq) == np.asarray(jwst_dq)))
    if rel.size == 0:
        return Difference(0.0, 0.0, 1.0, nan_agree, dq, 0)
    return Difference(
        float(rel.max()),
        float(np.percentile(rel, 99.9)),
        float(np.mean(rel <= 1e-5)),
        nan_agree,
        dq,
        int(rel.size),
    )


def regrid_nearest(native_sci: np.ndarray, native_wcs, jwst_shape: tuple[int, int], jwst_wcs) -> np.ndarray:
    """The native mosaic sampled at the sky position of every jwst mosaic pixel (nearest pixel; NaN outside)."""
    ny, nx = jwst_shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    ra, dec = jwst_wcs(xx.astype(float), yy.astype(float))
    x, y = native_wcs.invert(ra, dec)
    xi = np.rint(np.nan_to_num(x, nan=-1)).astype(int)
    yi = np.rint(np.nan_to_num(y, nan=-1)).astype(int)
    inside = (xi >= 0) & (yi >= 0) & (yi < native_sci.shape[0]) & (xi < native_sci.shape[1])
    out = np.full(jwst_shape, np.nan)
    out[inside] = native_sci[yi[inside], xi[inside]]
    return out


def total_flux_difference(native_sci: np.ndarray, native_area_sr: float, jwst_sci: np.ndarray, jwst_area_sr: float) -> float:
    """Relative difference of the summed flux (surface brightness × pixel solid angle) of two mosaics."""
    native_total = float(np.nansum(native_sci)) * native_area_sr
    jwst_total = float(np.nansum(jwst_sci)) * jwst_area_sr
    if jwst_total == 0 or not math.isfinite(jwst_total):
        return math.inf
    return abs(native_total - jwst_total) / abs(jwst_total)
