"""Flat-field division with the build-10.0 invalid-pixel rule.

Pixels whose flat value is NaN or zero, or whose flat DQ says NO_FLAT_FIELD,
are not corrected (flat taken as 1.0) and are flagged DO_NOT_USE and
NO_FLAT_FIELD. After the division every pixel flagged DO_NOT_USE becomes NaN
in the data, error and variance arrays, and every NaN is flagged DO_NOT_USE,
so the two markings of "invalid" always agree (jwst #7979, build 10.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CalibratedArrays:
    """The science arrays of one image (or cube) after a calibration step."""

    data: np.ndarray
    dq: np.ndarray
    err: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    var_flat: np.ndarray


def flat_field(
    data: np.ndarray,
    dq: np.ndarray,
    var_poisson: np.ndarray,
    var_rnoise: np.ndarray,
    flat: np.ndarray,
    flat_dq: np.ndarray,
    flat_err: np.ndarray,
    *,
    do_not_use: int,
    no_flat_field: int,
) -> CalibratedArrays:
    """Divide by ``flat`` (broadcast over leading axes) and propagate variances.

    Inputs are not modified. ``var_flat`` is data² · flat_err² / flat²,
    computed from the corrected data as jwst does.
    """
    flat = np.array(flat, dtype=np.float32)
    flat_dq = np.array(flat_dq, dtype=np.uint32)
    bad = np.isnan(flat) | (flat == 0.0)
    flat_dq[bad] |= np.uint32(do_not_use | no_flat_field)
    flat_dq[(flat_dq & no_flat_field) != 0] |= np.uint32(do_not_use)
    flat[(flat_dq & do_not_use) != 0] = 1.0
    flat_squared = flat * flat

    with np.errstate(invalid="ignore", over="ignore"):
        corrected = data / flat
        var_flat = corrected**2 / flat_squared * np.asarray(flat_err, dtype=np.float32) ** 2
        var_poisson = var_poisson / flat_squared
        var_rnoise = var_rnoise / flat_squared
        err = np.sqrt(var_poisson + var_rnoise + var_flat)
    arrays = CalibratedArrays(
        data=corrected.astype(np.float32),
        dq=(dq | flat_dq).astype(np.uint32),
        err=err.astype(np.float32),
        var_poisson=var_poisson.astype(np.float32),
        var_rnoise=var_rnoise.astype(np.float32),
        var_flat=var_flat.astype(np.float32),
    )
    return match_nans_and_flags(arrays, do_not_use=do_not_use)


def match_nans_and_flags(arrays: CalibratedArrays, *, do_not_use: int) -> CalibratedArrays:
    """Make NaN and DO_NOT_USE mark the same pixels in every array."""
    values = (arrays.data, arrays.err, arrays.var_poisson, arrays.var_rnoise, arrays.var_flat)
    invalid = (arrays.dq & do_not_use) != 0
    for array in values:
        invalid |= np.isnan(array)
    nan = np.float32(np.nan)
    return CalibratedArrays(
        data=np.where(invalid, nan, arrays.data),
        dq=np.where(invalid, arrays.dq | np.uint32(do_not_use), arrays.dq).astype(np.uint32),
        err=np.where(invalid, nan, arrays.err),
        var_poisson=np.where(invalid, nan, arrays.var_poisson),
        var_rnoise=np.where(invalid, nan, arrays.var_rnoise),
        var_flat=np.where(invalid, nan, arrays.var_flat),
    )


def photometric_conversion(arrays: CalibratedArrays, conversion: float) -> CalibratedArrays:
    """Scale count rates (DN/s) to surface brightness with one factor (e.g. MJy/sr per DN/s)."""
    factor = np.float32(conversion)
    square = factor * factor
    return CalibratedArrays(
        data=arrays.data * factor,
        dq=arrays.dq,
        err=arrays.err * factor,
        var_poisson=arrays.var_poisson * square,
        var_rnoise=arrays.var_rnoise * square,
        var_flat=arrays.var_flat * square,
    )
