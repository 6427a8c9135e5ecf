"""Rescale groups averaged on board with a divisor other than the number of frames.

The flight software averages NFRAMES frames into a group by dividing by a
power of two (FRMDIVSR). When NFRAMES is not a power of two the groups are
off by FRMDIVSR/NFRAMES, which this undoes.
"""

from __future__ import annotations

import numpy as np


def needs_rescaling(nframes: int, frame_divisor: int | None) -> bool:
    """True when the groups were divided by something other than NFRAMES.

    Without FRMDIVSR, a power-of-two NFRAMES is taken to be its own divisor.
    """
    if frame_divisor is None:
        return nframes & (nframes - 1) != 0
    return nframes != frame_divisor


def rescale_groups(data: np.ndarray, nframes: int, frame_divisor: int) -> None:
    """Multiply ``data`` in place by FRMDIVSR/NFRAMES (in the data's precision)."""
    data *= float(frame_divisor) / nframes
