"""Reference-pixel correction for near-infrared detectors read out traditionally.

A 2048x2048 HxRG detector carries four rows of reference pixels at the top
and bottom and four columns at each side; they see the same bias drifts as
the light-sensitive pixels but no light. Each group is corrected in the
detector's own orientation (readout along the fast axis), per amplifier
(four 512-column stripes):

1. top/bottom: the sigma-clipped mean of the reference rows, separately for
   odd and even columns, is subtracted from the amplifier's columns;
2. side: a running median (over ``side_smoothing_length`` rows) of the left
   and right reference columns, averaged, is subtracted from every row
   (the 1/f drift along the slow axis).

Subarrays read through four amplifiers are padded into a full frame and
treated the same way; one-amplifier subarrays subtract one clipped mean of
their reference pixels (odd and even columns apart). Only the "median" side
algorithm is provided; IRS2 readouts are out of scope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

FULL = 2048
BORDER = 4
AMPLIFIER_WIDTH = 512
# NIRSpec subarrays that hold no reference pixels: their four outer columns stand in
EDGELESS_SUBARRAYS = frozenset({"SUB512", "SUB512S", "SUB32"})


@dataclass(frozen=True)
class RefpixSettings:
    odd_even_columns: bool = True
    use_side_ref_pixels: bool = True
    side_smoothing_length: int = 11
    side_gain: float = 1.0
    siglimit: float = 3.0


@dataclass(frozen=True)
class Readout:
    """Where the science array sits on the detector and how it was read."""

    xstart: int  # 1-based, SUBSTRT1
    ystart: int  # 1-based, SUBSTRT2
    xsize: int
    ysize: int
    fastaxis: int
    slowaxis: int
    noutputs: int
    subarray_name: str = ""


def to_detector_frame(array: np.ndarray, fastaxis: int, slowaxis: int) -> np.ndarray:
    """A view of a (..., y, x) science-oriented array in readout orientation."""
    if abs(fastaxis) == 1:
        return array[..., :: int(np.sign(slowaxis)), :: int(np.sign(fastaxis))]
    return np.swapaxes(array[..., :: int(np.sign(fastaxis)), :: int(np.sign(slowaxis))], -2, -1)


def to_science_frame(array: np.ndarray, fastaxis: int, slowaxis: int) -> np.ndarray:
    """The inverse of :func:`to_detector_frame` (also a view)."""
    if abs(fastaxis) == 1:
        return array[..., :: int(np.sign(slowaxis)), :: int(np.sign(fastaxis))]
    return np.swapaxes(array, -2, -1)[..., :: int(np.sign(fastaxis)), :: int(np.sign(slowaxis))]


def clipped_mean(values: np.ndarray, dq: np.ndarray, siglimit: float, do_not_use: int):
    """Sigma-clipped mean of the values whose DQ lacks DO_NOT_USE; None when none is left.

    The mean keeps the values' precision (a float32 mean of float32 values),
    except for constant values, whose mean is taken in float64: the result's
    type matters, because subtracting a float64 scalar from float32 data
    rounds differently than subtracting a float32 one.
    """
    good = values[(dq & do_not_use) == 0]
    if good.size == 0:
        return None
    if np.std(good, dtype=np.float64) != 0.0:
        kept = stats.sigmaclip(good, siglimit, siglimit)[0]
        return kept.mean()
    return good.mean(dtype=np.float64)


def _average(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return 0.5 * (a + b)


def running_median(columns: np.ndarray, dq: np.ndarray, length: int, do_not_use: int) -> np.ndarray:
    """Median over a window of ``length`` rows (all columns) centred on each row, as float64.

    The ends are reflected (without repeating the edge row); pixels flagged
    DO_NOT_USE are left out; a window with no usable pixel gives NaN. The
    median of an even count is the mean of the two middle values in the
    data's own precision.
    """
    if length % 2 == 0:
        length += 1
    half = length // 2
    nrows = columns.shape[0]

    def reflect(array: np.ndarray) -> np.ndarray:
        out = np.zeros((nrows + length - 1, array.shape[1]), dtype=array.dtype)
        out[half : half + nrows] = array
        out[:half] = array[half:0:-1]
        out[-half:] = array[-2 : -(half + 2) : -1]
        return out

    values = sliding_window_view(reflect(columns), length, axis=0).reshape(nrows, -1)
    flags = sliding_window_view(reflect(dq), length, axis=0).reshape(nrows, -1)
    usable = (flags & do_not_use) == 0
    count = usable.sum(axis=1)
    ordered = np.sort(np.where(usable, values, np.inf), axis=1)
    rows = np.arange(nrows)
    upper = ordered[rows, np.maximum(count // 2, 0)]
    lower = ordered[rows, np.maximum((count - 1) // 2, 0)]
    even = count % 2 == 0
    median = np.where(even, (lower + upper) / values.dtype.type(2), upper).astype(np.float64)
    has_nan = np.any(np.isnan(values) & usable, axis=1)
    median[has_nan | (count == 0)] = np.nan
    return median


def _side_signal(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Average of the two side signals, using whichever one is defined (0 when neither is)."""
    out = np.zeros(len(left), dtype=left.dtype)
    left_ok, right_ok = ~np.isnan(left), ~np.isnan(right)
    out[~left_ok & right_ok] = right[~left_ok & right_ok]
    out[left_ok & ~right_ok] = left[left_ok & ~right_ok]
    both = left_ok & right_ok
    out[both] = 0.5 * (left[both] + right[both])
    return out


def full_frame_pixeldq(pixeldq: np.ndarray, readout: Readout, flags: dict[str, int]) -> np.ndarray:
    """The pixel DQ of a subarray placed in a full frame whose borders are unusable reference pixels."""
    refpix_dnu = flags["DO_NOT_USE"] | flags["REFERENCE_PIXEL"]
    full = np.zeros((FULL, FULL), dtype=pixeldq.dtype)
    full[:BORDER, :] = refpix_dnu
    full[FULL - BORDER :, :] = refpix_dnu
    full[BORDER : FULL - BORDER, :BORDER] = refpix_dnu
    full[BORDER : FULL - BORDER, FULL - BORDER :] = refpix_dnu
    r0, c0 = readout.ystart - 1, readout.xstart - 1
    r1, c1 = r0 + readout.ysize, c0 + readout.xsize
    full[r0:r1, c0:c1] = pixeldq
    if readout.subarray_name in EDGELESS_SUBARRAYS:
        full[r0:r1, c0 : c0 + 4] |= flags["REFERENCE_PIXEL"]
        full[r0:r1, c1 - 4 : c1] |= flags["REFERENCE_PIXEL"]
    return full


class _Corrector:
    """Corrects one group at a time, keeping jwst's working buffer semantics.

    The working frame is allocated once in the data's precision. Once a side
    correction has run, the corrected frame (float64) becomes the working
    buffer, so every later group - including those of later integrations
    and of the zero frame - is corrected in float64. That changes roundings
    of the clipped means and is reproduced on purpose.
    """

    def __init__(self, readout: Readout, settings: RefpixSettings, flags: dict[str, int], dtype: np.dtype):
        self.readout = readout
        self.settings = settings
        self.flags = flags
        self.subarray = readout.xsize < FULL or readout.ysize < FULL
        self.rows = slice(readout.ystart - 1, readout.ystart - 1 + readout.ysize)
        self.cols = slice(readout.xstart - 1, readout.xstart - 1 + readout.xsize)
        self.frame = np.zeros((FULL, FULL) if self.subarray else (readout.ysize, readout.xsize), dtype=dtype)

    def _detector(self, array: np.ndarray) -> np.ndarray:
        return to_detector_frame(array, self.readout.fastaxis, self.readout.slowaxis)

    def _science(self, array: np.ndarray) -> np.ndarray:
        return to_science_frame(array, self.readout.fastaxis, self.readout.slowaxis)

    def load(self, plane: np.ndarray) -> np.ndarray:
        if self.subarray:
            self.frame[self.rows, self.cols] = plane
        else:
            self.frame[:, :] = plane
        return self._detector(self.frame)

    def store(self, detector_frame: np.ndarray, plane: np.ndarray) -> None:
        self.frame = self._science(detector_frame)
        plane[...] = self.frame[self.rows, self.cols] if self.subarray else self.frame

    # -- four-amplifier readouts (full frame, or a subarray as wide as the detector)

    def amplifier_correction(self, group: np.ndarray, dq: np.ndarray) -> np.ndarray:
        s, dnu = self.settings, self.flags["DO_NOT_USE"]
        top, bottom = slice(FULL - BORDER, FULL), slice(0, BORDER)
        signals = []
        for amp in range(4):
            c0, c1 = amp * AMPLIFIER_WIDTH, (amp + 1) * AMPLIFIER_WIDTH
            if s.odd_even_columns:
                parity = []
                for start in (c0, c0 + 1):  # 1-based odd columns first, then even
                    ends = [
                        clipped_mean(group[rows, start:c1:2], dq[rows, start:c1:2], s.siglimit, dnu)
                        for rows in (top, bottom)
                    ]
                    parity.append(_average(*ends))
                signals.append(parity)
            else:
                ends = [clipped_mean(group[rows, c0:c1], dq[rows, c0:c1], s.siglimit, dnu) for rows in (top, bottom)]
                signals.append(_average(*ends))
        for amp, signal in enumerate(signals):
            c0, c1 = amp * AMPLIFIER_WIDTH, (amp + 1) * AMPLIFIER_WIDTH
            if s.odd_even_columns:
                odd, even = signal
                if odd is not None and even is not None:
                    group[:, c0:c1:2] = group[:, c0:c1:2] - odd
                    group[:, c0 + 1 : c1 : 2] = group[:, c0 + 1 : c1 : 2] - even
            elif signal is not None:
                group[:, c0:c1] = group[:, c0:c1] - signal
        if not s.use_side_ref_pixels:
            return group
        length = s.side_smoothing_length
        left = running_median(group[:, 0:BORDER], dq[:, 0:BORDER], length, dnu)
        right = running_median(group[:, FULL - BORDER :], dq[:, FULL - BORDER :], length, dnu)
        side = np.repeat(_side_signal(left, right)[:, None], FULL, axis=1)
        return group - s.side_gain * side

    # -- one-amplifier subarrays

    def single_amplifier_indices(self, dq: np.ndarray):
        refdq, dnu = self.flags["REFERENCE_PIXEL"], self.flags["DO_NOT_USE"]
        rows, cols = np.nonzero(((dq & refdq) == refdq) & ((dq & dnu) != dnu))
        if rows.size == 0:
            return None
        if not self.settings.odd_even_columns:
            return (rows, cols)
        even = cols % 2 == 0
        return (rows[even], cols[even]), (rows[~even], cols[~even])

    def single_amplifier_correction(self, group: np.ndarray, dq: np.ndarray, indices) -> np.ndarray:
        s, dnu = self.settings, self.flags["DO_NOT_USE"]
        if s.odd_even_columns:
            even, odd = indices
            even_value = clipped_mean(group[even], dq[even], s.siglimit, dnu)
            odd_value = clipped_mean(group[odd], dq[odd], s.siglimit, dnu)
            if even_value is not None:
                group[:, 0::2] -= even_value
            if odd_value is not None:
                group[:, 1::2] -= odd_value
        else:
            value = clipped_mean(group[indices], dq[indices], s.siglimit, dnu)
            if value is not None:
                group -= value
        return group

    def correct(self, data: np.ndarray, pixeldq: np.ndarray) -> None:
        """Correct every group of ``data`` (nints, ngroups, ny, nx) in place."""
        full_dq = full_frame_pixeldq(pixeldq, self.readout, self.flags) if self.subarray else pixeldq
        dq = self._detector(full_dq)
        if self.subarray and self.readout.noutputs != 4:
            indices = self.single_amplifier_indices(dq)
            if indices is None:
                return  # no usable reference pixel: nothing to subtract
            for plane in data.reshape(-1, *data.shape[-2:]):
                self.store(self.single_amplifier_correction(self.load(plane), dq, indices), plane)
            return
        for plane in data.reshape(-1, *data.shape[-2:]):
            self.store(self.amplifier_correction(self.load(plane), dq), plane)


def correct_reference_pixels(
    data: np.ndarray,
    pixeldq: np.ndarray,
    readout: Readout,
    flags: dict[str, int],
    settings: RefpixSettings = RefpixSettings(),
    zeroframe: np.ndarray | None = None,
) -> bool:
    """Subtract the reference-pixel signal from ``data`` (and ``zeroframe``) in place.

    ``data`` is (nints, ngroups, ny, nx) in science orientation. Returns False
    (nothing done) when the subarray does not fit on the detector.
    """
    r0, c0 = readout.ystart - 1, readout.xstart - 1
    if r0 < 0 or c0 < 0 or r0 + readout.ysize > FULL or c0 + readout.xsize > FULL:
        return False
    corrector = _Corrector(readout, settings, flags, data.dtype)
    corrector.correct(data, pixeldq)
    if zeroframe is not None:
        unread = zeroframe == 0.0
        corrector.correct(zeroframe[:, None], pixeldq)
        zeroframe[unread] = 0.0  # zero means "not read"; keep it
    return True
