"""Inter-pixel capacitance (IPC) correction: convolve each group with a deconvolution kernel.

The kernel is small (e.g. 3x3) and either one 2-D kernel for every pixel or
a 4-D array holding a kernel per pixel (ky, kx, ny, nx). Reference pixels are
left alone and contribute nothing: the light-sensitive area is convolved as
if surrounded by zeros. Terms are accumulated kernel position by kernel
position with the central term added last, in the data's precision, so the
roundings are those of jwst's IPC step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FULL = 2048
BORDER = 4


@dataclass(frozen=True)
class ReferenceMargins:
    """Rows/columns of reference pixels on each edge of the science array."""

    bottom: int
    top: int
    left: int
    right: int


def reference_margins(xstart: int, ystart: int, xsize: int, ysize: int) -> ReferenceMargins:
    """Reference-pixel margins of a near-infrared (sub)array at 1-based (xstart, ystart)."""
    x0, y0 = xstart - 1, ystart - 1
    return ReferenceMargins(
        bottom=max(0, BORDER - y0),
        top=max(0, y0 + ysize - (FULL - BORDER)),
        left=max(0, BORDER - x0),
        right=max(0, x0 + xsize - (FULL - BORDER)),
    )


def kernel_for(kernel: np.ndarray, xstart: int, ystart: int, xsize: int, ysize: int) -> np.ndarray:
    """A 2-D kernel as is; a per-pixel 4-D kernel cut to the science subarray."""
    if kernel.ndim == 2 or (xsize >= FULL and ysize >= FULL):
        return kernel
    x0, y0 = xstart - 1, ystart - 1
    return kernel[:, :, y0 : y0 + ysize, x0 : x0 + xsize]


def _offsets(kshape: tuple[int, ...]):
    """Kernel positions (j, i) in accumulation order: all but the centre, then the centre."""
    centre = (kshape[0] // 2, kshape[1] // 2)
    order = [(j, i) for j in range(kshape[0]) for i in range(kshape[1]) if (j, i) != centre]
    return order + [centre]


def convolve_plane(plane: np.ndarray, kernel: np.ndarray, margins: ReferenceMargins) -> None:
    """Apply the IPC kernel to one 2-D plane in place (reference pixels untouched)."""
    ky, kx = kernel.shape[:2]
    below, left = ky // 2, kx // 2
    above, right = ky - below - 1, kx - left - 1
    ny = plane.shape[0] - (margins.bottom + margins.top)
    nx = plane.shape[1] - (margins.left + margins.right)
    area = (slice(margins.bottom, margins.bottom + ny), slice(margins.left, margins.left + nx))
    padded = np.zeros((ny + below + above, nx + left + right), dtype=plane.dtype)
    padded[below : below + ny, left : left + nx] = plane[area]
    if kernel.ndim == 4:
        kernel = kernel[:, :, area[0], area[1]]
    plane[area] = 0.0
    out = plane[area]
    for j, i in _offsets(kernel.shape):
        # the kernel element (j, i) takes light from the pixel displaced by (below - j, left - i)
        jj, ii = ky - j - 1, kx - i - 1
        shifted = padded[jj : jj + ny, ii : ii + nx]
        out += kernel[j, i] * shifted


def correct_ipc(data: np.ndarray, kernel: np.ndarray, margins: ReferenceMargins) -> None:
    """Apply the IPC kernel to every group of ``data`` (nints, ngroups, ny, nx) in place."""
    for plane in data.reshape(-1, *data.shape[-2:]):
        convolve_plane(plane, kernel, margins)
