"""A model of a JWST near-infrared detector, and raw ramps read out through it.

The truth behind every synthetic reference file and raw exposure: per-pixel
bias, gain, read noise, dark current (hot pixels included), dead pixels,
non-linearity, full well, inter-pixel capacitance and reference-pixel drifts.
:func:`read_ramp` turns a count-rate image (what the sky delivers, DN/s)
into the ``_uncal`` integers a real exposure holds, frame by frame:

    charge (Poisson, dark, cosmic rays, capped at full well)
      -> non-linear response -> IPC -> + bias, drifts, read noise
      -> frames averaged into groups (NFRAMES, GROUPGAP) -> 16-bit A/D

Geometry follows the detector's readout: amplifiers are 512-column stripes
along the fast axis, "odd/even columns" alternate along it, and the
outermost 4 pixels of the full frame are reference pixels (bias and
drifts, no signal). A subarray is a cut of the full frame at
(``xstart``, ``ystart``), so a small frame and a full frame of the same
detector agree where they overlap.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

FULL = 2048
REFERENCE_BORDER = 4
AMPLIFIER_WIDTH = 512
ATOD_MAX = 65535


@dataclass(frozen=True)
class Layout:
    """Where the science array sits on the detector and how it is read out."""

    instrument: str  # "NIRCAM" or "NIRISS"
    detector: str  # "NRCB1", "NIS", ...
    subarray: str  # SUBARRAY keyword ("FULL", "SUB64", ...)
    xstart: int  # SUBSTRT1, 1-based, DMS orientation
    ystart: int
    xsize: int
    ysize: int
    fastaxis: int  # FASTAXIS/SLOWAXIS as in the raw headers
    slowaxis: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.ysize, self.xsize

    @property
    def noutputs(self) -> int:
        """Full-frame readouts use the 4 amplifiers; subarrays here use one."""
        return 4 if (self.xsize, self.ysize) == (FULL, FULL) else 1

    def full_frame_coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """0-based full-frame (y, x) of every science pixel, DMS orientation."""
        y = np.arange(self.ystart - 1, self.ystart - 1 + self.ysize)
        x = np.arange(self.xstart - 1, self.xstart - 1 + self.xsize)
        return np.meshgrid(y, x, indexing="ij")

    def readout_coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """(slow, fast) readout index of every science pixel (jwst's DMS -> detector flips)."""
        y, x = self.full_frame_coordinates()
        if abs(self.fastaxis) == 1:
            fast = x if self.fastaxis > 0 else FULL - 1 - x
            slow = y if self.slowaxis > 0 else FULL - 1 - y
        else:
            fast = y if self.fastaxis > 0 else FULL - 1 - y
            slow = x if self.slowaxis > 0 else FULL - 1 - x
        return slow, fast

    def describe(self, meta) -> None:
        """Write the SUBARRAY keywords (name, SUBSTRT/SUBSIZE, FASTAXIS/SLOWAXIS) into a model's meta."""
        meta.subarray.name = self.subarray
        meta.subarray.xstart = self.xstart
        meta.subarray.ystart = self.ystart
        meta.subarray.xsize = self.xsize
        meta.subarray.ysize = self.ysize
        meta.subarray.fastaxis = self.fastaxis
        meta.subarray.slowaxis = self.slowaxis

    def reference_pixels(self) -> np.ndarray:
        y, x = self.full_frame_coordinates()
        low, high = REFERENCE_BORDER, FULL - REFERENCE_BORDER
        return (x < low) | (x >= high) | (y < low) | (y >= high)

    def amplifier(self) -> np.ndarray:
        _, fast = self.readout_coordinates()
        if self.noutputs == 1:
            return np.zeros(self.shape, dtype=np.intp)
        return fast // AMPLIFIER_WIDTH


@dataclass(frozen=True)
class Readout:
    """The read pattern: frames averaged per group, frames dropped between groups."""

    pattern: str  # READPATT
    nframes: int
    groupgap: int
    ngroups: int
    nints: int
    frame_time: float  # seconds (TFRAME)

    @property
    def group_time(self) -> float:
        return (self.nframes + self.groupgap) * self.frame_time

    @property
    def frames_read(self) -> int:
        """Frames from reset to the last read of the last group."""
        return self.ngroups * (self.nframes + self.groupgap) - self.groupgap

    def frame_groups(self) -> np.ndarray:
        """For every frame after reset, the group it is averaged into (-1: dropped)."""
        out = np.full(self.frames_read, -1, dtype=np.intp)
        for group in range(self.ngroups):
            first = group * (self.nframes + self.groupgap)
            out[first : first + self.nframes] = group
        return out

    @property
    def integration_time(self) -> float:
        """EFFINTTM as jwst's ramp fit sees it: first to last group."""
        return (self.ngroups - 1) * self.group_time


def _seed(*parts: object) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode("utf-8"))


TILE = 128


def pixel_field(layout: Layout, key: tuple[object, ...], kind: str) -> np.ndarray:
    """Random values per full-frame pixel, drawn in 128x128 tiles seeded by their position.

    Only the tiles under the science window are drawn, and a subarray gets
    the same values as the full frame at the same pixels.
    """
    y0, x0 = layout.ystart - 1, layout.xstart - 1
    y1, x1 = y0 + layout.ysize, x0 + layout.xsize
    out = np.empty(layout.shape)
    for ty in range(y0 // TILE, (y1 - 1) // TILE + 1):
        for tx in range(x0 // TILE, (x1 - 1) // TILE + 1):
            rng = np.random.default_rng(_seed(*key, ty, tx))
            tile = rng.standard_normal((TILE, TILE)) if kind == "normal" else rng.random((TILE, TILE))
            ya, yb = max(y0, ty * TILE), min(y1, (ty + 1) * TILE)
            xa, xb = max(x0, tx * TILE), min(x1, (tx + 1) * TILE)
            out[ya - y0 : yb - y0, xa - x0 : xb - x0] = tile[
                ya - ty * TILE : yb - ty * TILE, xa - tx * TILE : xb - tx * TILE
            ]
    return out


@dataclass(frozen=True)
class DetectorProperties:
    """Typical values for one detector family (DN unless noted)."""

    bias_level: float = 12_000.0
    gain: float = 1.8  # e-/DN
    read_noise: float = 6.5  # per frame
    dark_rate: float = 0.004  # DN/s
    hot_fraction: float = 0.004
    warm_fraction: float = 0.004
    dead_fraction: float = 0.0015
    low_qe_fraction: float = 0.002
    full_well: float = 48_000.0  # measured (bias-subtracted) DN where the response flattens
    linearity_c2: float = 2.6e-6  # correction coefficients: true = m + c2 m^2 + c3 m^3
    linearity_c3: float = 1.5e-11
    ipc_side: float = 0.0058  # fraction of a pixel's charge seen by each of its 4 neighbours
    ipc_corner: float = 0.0006


@dataclass(frozen=True)
class Detector:
    """The per-pixel truth of one detector over one layout, drawn from a fixed seed."""

    layout: Layout
    properties: DetectorProperties = field(default_factory=DetectorProperties)

    # Truth maps are generated lazily on the full-frame coordinates of the
    # science pixels, so that any subarray of the detector agrees with the full frame.

    def _rng(self, what: str) -> np.random.Generator:
        return np.random.default_rng(_seed(self.layout.instrument, self.layout.detector, what))

    def _pixel_noise(self, what: str) -> np.ndarray:
        """Per-pixel N(0, 1) that depends only on the full-frame position."""
        return pixel_field(self.layout, (self.layout.instrument, self.layout.detector, what), "normal")

    def _pixel_uniform(self, what: str) -> np.ndarray:
        """Per-pixel U(0, 1) that depends only on the full-frame position."""
        return pixel_field(self.layout, (self.layout.instrument, self.layout.detector, what), "uniform")

    @cached_property
    def reference(self) -> np.ndarray:
        return self.layout.reference_pixels()

    @cached_property
    def superbias(self) -> np.ndarray:
        """Bias with amplifier offsets, column structure, a slow gradient and pixel scatter."""
        p = self.properties
        slow, fast = self.layout.readout_coordinates()
        rng = self._rng("bias-structure")
        amp_offsets = rng.normal(0.0, 400.0, 4)
        columns = rng.normal(0.0, 25.0, FULL)
        amp = fast // AMPLIFIER_WIDTH
        bias = (
            p.bias_level
            + amp_offsets[amp]
            + columns[fast]
            + 150.0 * np.sin(slow / FULL * np.pi)
            + 12.0 * self._pixel_noise("bias")
        )
        return bias

    @cached_property
    def gain(self) -> np.ndarray:
        return self.properties.gain * (1.0 + 0.03 * self._pixel_noise("gain"))

    @cached_property
    def read_noise(self) -> np.ndarray:
        return self.properties.read_noise * (1.0 + 0.08 * self._pixel_noise("readnoise"))

    @cached_property
    def _class(self) -> np.ndarray:
        """0 normal, 1 hot, 2 warm, 3 dead, 4 low QE (reference pixels are normal)."""
        p = self.properties
        u = self._pixel_uniform("pixel-class")
        out = np.zeros(u.shape, dtype=np.int8)
        edges = np.cumsum([p.hot_fraction, p.warm_fraction, p.dead_fraction, p.low_qe_fraction])
        out[u < edges[3]] = 4
        out[u < edges[2]] = 3
        out[u < edges[1]] = 2
        out[u < edges[0]] = 1
        out[self.reference] = 0
        return out

    @property
    def hot(self) -> np.ndarray:
        return self._class == 1

    @property
    def warm(self) -> np.ndarray:
        return self._class == 2

    @property
    def dead(self) -> np.ndarray:
        return self._class == 3

    @property
    def low_qe(self) -> np.ndarray:
        return self._class == 4

    @cached_property
    def dark_rate(self) -> np.ndarray:
        """DN/s: a low floor with scatter, warm pixels at ~0.3 DN/s and hot ones at 5-80 DN/s."""
        p = self.properties
        rate = p.dark_rate * (1.0 + 0.3 * self._pixel_noise("dark"))
        strength = self._pixel_uniform("dark-strength")
        rate = np.where(self.warm, 0.15 + 0.3 * strength, rate)
        rate = np.where(self.hot, 5.0 + 75.0 * strength, rate)
        rate = np.where(self.dead | self.reference, 0.0, rate)
        return np.clip(rate, 0.0, None)

    @cached_property
    def response(self) -> np.ndarray:
        """Relative quantum efficiency (the flat field's truth is separate: the sky sees both)."""
        qe = np.ones(self.layout.shape)
        qe[self.low_qe] = 0.4
        qe[self.dead | self.reference] = 0.0
        return qe

    @cached_property
    def linearity_coefficients(self) -> np.ndarray:
        """(5, ny, nx) correction polynomial: true = sum c_k m^k (m bias-subtracted DN)."""
        p = self.properties
        coeffs = np.zeros((5, *self.layout.shape))
        coeffs[1] = 1.0
        coeffs[2] = p.linearity_c2 * (1.0 + 0.05 * self._pixel_noise("lin2"))
        coeffs[3] = p.linearity_c3 * (1.0 + 0.1 * self._pixel_noise("lin3"))
        return coeffs

    @cached_property
    def full_well(self) -> np.ndarray:
        """Measured (bias-subtracted) DN at which the response goes flat."""
        return self.properties.full_well * (1.0 + 0.02 * self._pixel_noise("well"))

    @cached_property
    def saturation(self) -> np.ndarray:
        """SATURATION reference values: raw DN (bias included) a little below the plateau."""
        return self.superbias + 0.97 * self.full_well

    @cached_property
    def no_saturation_check(self) -> np.ndarray:
        """A few pixels whose saturation level is unknown (NaN in the reference)."""
        return (self._pixel_uniform("no-sat-check") < 0.0005) & ~self.reference

    @property
    def ipc_kernel(self) -> np.ndarray:
        p = self.properties
        kernel = np.array(
            [
                [p.ipc_corner, p.ipc_side, p.ipc_corner],
                [p.ipc_side, 0.0, p.ipc_side],
                [p.ipc_corner, p.ipc_side, p.ipc_corner],
            ]
        )
        kernel[1, 1] = 1.0 - kernel.sum()
        return kernel

    # ------------------------------------------------------------------ response

    def measured_signal(self, true_signal: np.ndarray) -> np.ndarray:
        """The non-linear response: the m whose correction polynomial gives ``true_signal``."""
        c = self.linearity_coefficients
        limit = self.full_well * 1.03
        m = np.minimum(np.asarray(true_signal, dtype=np.float64), limit)
        for _ in range(6):  # Newton on c1 m + c2 m^2 + c3 m^3 - t
            value = c[1] * m + c[2] * m**2 + c[3] * m**3 - true_signal
            slope = c[1] + 2.0 * c[2] * m + 3.0 * c[3] * m**2
            m = m - value / slope
        return np.clip(m, 0.0, limit)  # the well is full: the signal stops rising


def apply_ipc(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve with a 3x3 IPC kernel (charge conserved; edges reflect)."""
    padded = np.pad(image, 1, mode="reflect")
    out = np.zeros_like(image, dtype=np.float64)
    ny, nx = image.shape
    for dy in range(3):
        for dx in range(3):
            out += kernel[dy, dx] * padded[dy : dy + ny, dx : dx + nx]
    return out


@dataclass(frozen=True)
class CosmicRay:
    frame: int  # first frame (after reset) that holds the charge
    y: int
    x: int
    dn: float  # charge deposited in the central pixel (true DN)
    radius: float = 0.0  # > 0: a snowball, a disc of that radius with a saturated core


def cosmic_rays(layout: Layout, readout: Readout, rng: np.random.Generator, *, snowballs: int) -> list[CosmicRay]:
    """Hits at a realistic-ish rate (~5 per 10^4 pixels per 100 s), plus ``snowballs`` large events."""
    ny, nx = layout.shape
    seconds = readout.frames_read * readout.frame_time
    count = rng.poisson(5e-4 * ny * nx * seconds / 100.0 + 2.0)
    hits = []
    for _ in range(count):
        hits.append(
            CosmicRay(
                frame=int(rng.integers(1, readout.frames_read)),
                y=int(rng.integers(0, ny)),
                x=int(rng.integers(0, nx)),
                dn=float(rng.lognormal(np.log(600.0), 0.9)),
            )
        )
    for _ in range(snowballs):
        hits.append(
            CosmicRay(
                frame=int(rng.integers(readout.frames_read // 3, readout.frames_read)),
                y=int(rng.integers(8, max(9, ny - 8))),
                x=int(rng.integers(8, max(9, nx - 8))),
                dn=60_000.0,
                radius=float(rng.uniform(3.0, 5.0)),
            )
        )
    return hits


def _cosmic_ray_image(hits: list[CosmicRay], frame: int, shape: tuple[int, int]) -> np.ndarray:
    image = np.zeros(shape)
    ny, nx = shape
    for hit in hits:
        if hit.frame != frame:
            continue
        if hit.radius > 0:
            yy, xx = np.ogrid[:ny, :nx]
            r2 = (yy - hit.y) ** 2 + (xx - hit.x) ** 2
            image += np.where(r2 <= hit.radius**2, hit.dn * np.exp(-r2 / (2.0 * hit.radius**2)) * 2.0, 0.0)
        else:
            image[hit.y, hit.x] += hit.dn
            for dy, dx, share in ((0, 1, 0.08), (1, 0, 0.05)):  # a short track
                if hit.y + dy < ny and hit.x + dx < nx:
                    image[hit.y + dy, hit.x + dx] += share * hit.dn
    return image


def read_ramp(
    detector: Detector,
    readout: Readout,
    rate: np.ndarray,
    rng: np.random.Generator,
    *,
    hits: list[CosmicRay] | None = None,
) -> np.ndarray:
    """(nints, ngroups, ny, nx) uint16 raw DN for a sky count rate ``rate`` (DN/s, flat applied).

    ``hits`` are the cosmic rays of every integration (the same list is used
    for each; integrations differ by their noise).
    """
    layout = detector.layout
    shape = layout.shape
    kernel = detector.ipc_kernel
    signal_rate = np.clip(rate, 0.0, None) * detector.response + detector.dark_rate
    electrons_per_frame = signal_rate * detector.gain * readout.frame_time
    slow, fast = layout.readout_coordinates()
    amplifier = layout.amplifier()
    parity = fast % 2
    frame_groups = readout.frame_groups()
    out = np.zeros((readout.nints, readout.ngroups, *shape), dtype=np.uint16)
    for integration in range(readout.nints):
        # per-integration reset level (kTC) on top of the superbias
        reset = detector.superbias + rng.normal(0.0, 8.0, shape)
        # reference-pixel drifts: a random walk per amplifier and odd/even column,
        # and a row-correlated (1/f-like) offset common to all amplifiers
        walk = np.cumsum(rng.normal(0.0, 1.5, (readout.frames_read, 4, 2)), axis=0)
        charge = np.zeros(shape)
        sums = np.zeros((readout.ngroups, *shape))
        for frame in range(readout.frames_read):
            charge += rng.poisson(electrons_per_frame) / detector.gain
            if hits:
                charge += _cosmic_ray_image(hits, frame + 1, shape) * detector.response
            group = frame_groups[frame]
            if group < 0:
                continue  # a dropped frame: charge accumulates, nothing is read
            measured = apply_ipc(detector.measured_signal(charge), kernel)
            rows = np.convolve(rng.normal(0.0, 2.0, FULL + 40), np.ones(20) / np.sqrt(20.0), mode="same")[20:-20]
            drift = walk[frame][amplifier, parity] + rows[slow]
            noise = rng.normal(0.0, 1.0, shape) * detector.read_noise
            sums[group] += reset + measured + drift + noise
        groups = np.rint(sums / readout.nframes)
        out[integration] = np.clip(groups, 0, ATOD_MAX).astype(np.uint16)
    return out
