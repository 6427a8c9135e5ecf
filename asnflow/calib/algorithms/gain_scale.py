"""Rescale count rates taken with a non-standard detector gain setting (GAINFACT)."""

from __future__ import annotations

import numpy as np


def scale_rates(
    data: np.ndarray,
    err: np.ndarray,
    var_poisson: np.ndarray | None,
    var_rnoise: np.ndarray | None,
    gain_factor: float,
) -> None:
    """Multiply rates and errors by ``gain_factor`` and variances by its square, in place."""
    data *= gain_factor
    err *= gain_factor
    for variance in (var_poisson, var_rnoise):
        if variance is not None and np.size(variance) > 0:
            variance *= gain_factor**2
