"""Initialise data quality from the bad-pixel mask.

Every flag of the mask goes into the pixel DQ; pixels the mask marks
DO_NOT_USE are also DO_NOT_USE in every group, so no later step uses them.
"""

from __future__ import annotations

import numpy as np


def initialize_dq(pixeldq: np.ndarray, groupdq: np.ndarray, mask_dq: np.ndarray, do_not_use: int) -> None:
    """OR the mask into ``pixeldq`` (ny, nx) and its DO_NOT_USE bit into ``groupdq`` (..., ny, nx), in place."""
    pixeldq |= mask_dq
    groupdq |= (mask_dq & do_not_use).astype(groupdq.dtype)
