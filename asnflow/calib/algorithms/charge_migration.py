"""Charge migration flagging (jwst build 10.0, formerly undersampling_correction).

A pixel whose accumulated signal exceeds a threshold starts losing charge to
its neighbours, so from the first group above the threshold onwards the pixel
and its four immediate neighbours (north, south, east, west) are flagged
CHARGELOSS and DO_NOT_USE, in that group and every later group of the same
integration. Earlier groups are left alone: ramp fitting still uses them.
"""

from __future__ import annotations

import numpy as np

MINIMUM_GROUPS = 3  # with fewer groups the step is skipped, as in jwst


def flag_charge_migration(
    data: np.ndarray,
    groupdq: np.ndarray,
    signal_threshold: float,
    *,
    do_not_use: int,
    chargeloss: int,
) -> np.ndarray:
    """Return a copy of ``groupdq`` with charge-migration flags added.

    ``data`` and ``groupdq`` are (nints, ngroups, ny, nx). A group triggers
    when ``data > signal_threshold`` and its DQ is not exactly DO_NOT_USE: jwst
    tests ``gdq != DO_NOT_USE``, so a group flagged DO_NOT_USE together with
    another bit (e.g. SATURATED) still triggers. That quirk is kept so that
    the flags match jwst's pixel for pixel.
    """
    if data.shape != groupdq.shape or data.ndim != 4:
        raise ValueError(f"expected matching 4-D data and groupdq, got {data.shape} and {groupdq.shape}")
    trigger = (data > signal_threshold) & (groupdq != do_not_use)
    # once a pixel triggers in some group, it stays flagged in every later group
    flagged = np.logical_or.accumulate(trigger, axis=1)
    grown = flagged.copy()
    grown[..., 1:, :] |= flagged[..., :-1, :]  # the pixel below triggered: flag this one (north of it)
    grown[..., :-1, :] |= flagged[..., 1:, :]
    grown[..., :, 1:] |= flagged[..., :, :-1]
    grown[..., :, :-1] |= flagged[..., :, 1:]
    out = groupdq.copy()
    out[grown] |= np.asarray(chargeloss | do_not_use, dtype=groupdq.dtype)
    return out
