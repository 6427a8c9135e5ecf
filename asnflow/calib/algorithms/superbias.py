"""Subtract the superbias (the detector's bias frame) from every group."""

from __future__ import annotations

import numpy as np


def subtract_superbias(
    data: np.ndarray,
    pixeldq: np.ndarray,
    bias: np.ndarray,
    bias_dq: np.ndarray | None,
    zeroframe: np.ndarray | None = None,
) -> None:
    """Subtract ``bias`` (ny, nx) from ``data`` (nints, ngroups, ny, nx) in place.

    NaN in the bias counts as zero; the bias DQ goes into ``pixeldq``. A zero
    frame is corrected too, except where it is exactly zero (not read).
    """
    bias = np.where(np.isnan(bias), np.zeros((), bias.dtype), bias)
    if bias_dq is not None:
        pixeldq |= bias_dq
    data -= bias
    if zeroframe is not None:
        unread = zeroframe == 0.0
        zeroframe -= bias
        zeroframe[unread] = 0.0
