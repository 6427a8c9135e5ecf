"""Realistic raw near-infrared ramps and the CRDS cache that calibrates them.

A small stand-in for a real exposure: bias with structure, reference-pixel
drifts (per amplifier, odd/even columns, 1/f along the slow axis), IPC,
non-linearity, dark current, hot and dead pixels, cosmic rays, a saturated
star and stars above 25,000 DN, frame-averaged groups (NFRAMES > 1), a zero
frame. The references (mask, saturation, superbias, IPC, linearity, dark,
gain, read noise, and optionally ``pars-*`` step parameters) describe the
same detector, so calibration should undo what was put in.

Used by the detector1 tests (small subarrays) and by the benchmarks (full
frames, compared with jwst).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stdatamodels.jwst import datamodels

from asnflow.calib.algorithms.refpix import to_science_frame
from asnflow.calib.crds_cache import CacheReference, write_crds_cache

DETECTORS = {  # instrument, detector, exposure type, fastaxis, slowaxis, filter, pupil
    "nircam": ("NIRCAM", "NRCA1", "NRC_IMAGE", -1, 2, "F150W", "CLEAR"),
    "niriss": ("NIRISS", "NIS", "NIS_IMAGE", -2, -1, "CLEAR", "F150W"),
}
FULL = 2048
BIAS_LEVEL = 12_000.0
SATURATION = 58_000.0
NONLINEARITY = 2.0e-6  # measured = true * (1 - NONLINEARITY * true), true above bias
FRAME_TIME_FULL = 10.73677
DQ = {"DO_NOT_USE": 1, "DEAD": 1024, "HOT": 2048, "REFERENCE_PIXEL": 2**31, "NO_SAT_CHECK": 2**21}


@dataclass
class Exposure:
    """Settings for one synthetic exposure."""

    instrument: str = "niriss"
    shape: tuple[int, int] = (FULL, FULL)  # (ny, nx)
    corner: tuple[int, int] = (1, 1)  # 1-based (xstart, ystart)
    nints: int = 1
    ngroups: int = 6
    nframes: int = 2
    groupgap: int = 0
    noutputs: int | None = None
    zero_frame: bool = True
    seed: int = 1
    subarray_name: str | None = None
    frame_time: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def full_frame(self) -> bool:
        return self.shape == (FULL, FULL)

    @property
    def readpatt(self) -> str:
        return {1: "RAPID", 2: "BRIGHT2", 4: "MEDIUM8"}.get(self.nframes, "NISRAPID")


class Detector:
    """Per-pixel properties of one synthetic detector (full frame), fixed by a seed."""

    def __init__(self, instrument: str, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.instrument = instrument
        y, x = np.mgrid[0:FULL, 0:FULL].astype(np.float32)
        columns = rng.normal(0.0, 30.0, FULL).astype(np.float32)
        self.bias = (BIAS_LEVEL + 200.0 * (x / FULL) + 150.0 * (y / FULL) ** 2 + columns[None, :]).astype(np.float32)
        self.bias += rng.normal(0.0, 15.0, (FULL, FULL)).astype(np.float32)
        self.gain = rng.normal(2.0, 0.05, (FULL, FULL)).astype(np.float32)
        self.readnoise = rng.normal(9.0, 0.5, (FULL, FULL)).astype(np.float32)
        self.dark_rate = np.abs(rng.normal(0.01, 0.003, (FULL, FULL))).astype(np.float32)
        self.mask = np.zeros((FULL, FULL), np.uint32)
        self.mask[:4, :] = self.mask[-4:, :] = self.mask[:, :4] = self.mask[:, -4:] = DQ["REFERENCE_PIXEL"]
        interior = rng.integers(8, FULL - 8, size=(2, 400))
        hot, dead = interior[:, :200], interior[:, 200:]
        self.dark_rate[hot[0], hot[1]] = 50.0
        self.mask[hot[0], hot[1]] |= DQ["HOT"] | DQ["DO_NOT_USE"]
        self.mask[dead[0], dead[1]] |= DQ["DEAD"] | DQ["DO_NOT_USE"]
        self.dead = dead
        self.saturation = np.full((FULL, FULL), SATURATION, np.float32)
        self.saturation[10, 10] = np.nan  # a pixel without a threshold: NO_SAT_CHECK
        self.saturation_dq = np.zeros((FULL, FULL), np.uint32)


def linearity_coefficients(ncoeffs: int = 4) -> np.ndarray:
    """Polynomial (in measured DN above bias) giving the linear signal, fitted to the model."""
    true = np.linspace(0.0, 60_000.0, 400)
    measured = true * (1.0 - NONLINEARITY * true / 2.0)
    keep = measured < 50_000.0
    coeffs = np.polynomial.polynomial.polyfit(measured[keep], true[keep], ncoeffs - 1)
    coeffs[0] = 0.0
    return coeffs.astype(np.float32)


def _describe(model: Any, reftype: str, instrument: str, detector: str, corner=(1, 1), shape=(FULL, FULL)) -> Any:
    model.meta.instrument.name = instrument
    model.meta.instrument.detector = detector
    model.meta.reftype = reftype.upper()
    model.meta.description = f"synthetic {reftype} reference"
    model.meta.author = "asnflow tests"
    model.meta.pedigree = "DUMMY"
    model.meta.useafter = "2014-01-01T00:00:00"
    model.meta.date = "2024-01-01T00:00:00.000"
    try:
        subarray = model.meta.subarray
    except AttributeError:  # e.g. an IPC kernel: not an image of the detector
        return model
    subarray.name = "FULL" if shape == (FULL, FULL) else "GENERIC"
    subarray.xstart, subarray.ystart = corner
    subarray.xsize, subarray.ysize = shape[1], shape[0]
    subarray.fastaxis, subarray.slowaxis = DETECTORS[instrument.lower()][3:5]
    return model


def reference_models(
    detector: Detector,
    *,
    ipc: bool = True,
    parameters: dict[str, dict[str, Any]] | None = None,
    dark_groups: int = 80,
    region: tuple[int, int] = (FULL, FULL),
) -> list[CacheReference]:
    """Every detector1 reference of one detector, for :func:`write_crds_cache`.

    ``region`` (ny, nx) cuts every reference to that corner of the detector
    (subarray references, as CRDS holds for subarray darks).
    """
    instrument, name = DETECTORS[detector.instrument][:2]
    match = {"META.INSTRUMENT.DETECTOR": name}
    ny, nx = region

    def ref(reftype: str, model: Any) -> CacheReference:
        for attribute in ("data", "dq", "err", "coeffs"):
            value = getattr(model, attribute, None) if model.hasattr(attribute) else None
            if value is not None and value.ndim >= 2 and reftype != "ipc":
                setattr(model, attribute, np.ascontiguousarray(value[..., :ny, :nx]))
        return CacheReference(reftype, match, _describe(model, reftype, instrument, name, shape=region))

    dark = datamodels.DarkModel(
        data=(detector.dark_rate[None] * FRAME_TIME_FULL * np.arange(1, dark_groups + 1)[:, None, None]).astype(
            np.float32
        ),
        dq=np.zeros((FULL, FULL), np.uint32),
    )
    dark.meta.exposure.nframes = 1
    dark.meta.exposure.ngroups = dark_groups
    dark.meta.exposure.groupgap = 0
    coeffs = np.broadcast_to(linearity_coefficients()[:, None, None], (4, FULL, FULL)).copy()
    refs = [
        ref("mask", datamodels.MaskModel(dq=detector.mask.copy())),
        ref("saturation", datamodels.SaturationModel(data=detector.saturation, dq=detector.saturation_dq)),
        ref(
            "superbias",
            datamodels.SuperBiasModel(
                data=detector.bias, dq=np.zeros((FULL, FULL), np.uint32), err=np.zeros((FULL, FULL), np.float32)
            ),
        ),
        ref("linearity", datamodels.LinearityModel(coeffs=coeffs, dq=np.zeros((FULL, FULL), np.uint32))),
        ref("dark", dark),
        ref("gain", datamodels.GainModel(data=detector.gain)),
        ref("readnoise", datamodels.ReadnoiseModel(data=detector.readnoise)),
    ]
    if ipc:
        kernel = np.array([[0.0, -0.007, 0.0], [-0.007, 1.028, -0.007], [0.0, -0.007, 0.0]], np.float32)
        refs.append(ref("ipc", datamodels.IPCModel(data=kernel)))
    else:
        refs.append(CacheReference("ipc", match, None))
    # types jwst's detector1 looks up for every exposure although near-infrared
    # traditional readouts do not use them: the rules answer N/A, as CRDS does
    refs += [CacheReference(reftype, match, None) for reftype in ("refpix", "sirskernel", "reset", "rscd")]
    for reftype, values in (parameters or {}).items():
        step = reftype[len("pars-") :]
        tree = {"class": f"jwst.{step}", "name": step, "parameters": dict(values), "steps": []}
        refs.append(CacheReference(reftype, {"META.INSTRUMENT.NAME": instrument}, tree))
    return refs


def write_cache(folder: Path, detector: Detector, **kwargs: Any) -> Path:
    return write_crds_cache(folder, DETECTORS[detector.instrument][0].lower(), reference_models(detector, **kwargs))


def make_ramp(exposure: Exposure, detector: Detector) -> datamodels.RampModel:
    """A raw ramp (uint16 values as float32) with every effect the references describe."""
    instrument, det, exp_type, fast, slow, filt, pupil = DETECTORS[exposure.instrument]
    rng = np.random.default_rng(exposure.seed)
    ny, nx = exposure.shape
    x0, y0 = exposure.corner[0] - 1, exposure.corner[1] - 1
    cut = (slice(y0, y0 + ny), slice(x0, x0 + nx))
    frame_time = exposure.frame_time or (FRAME_TIME_FULL if exposure.full_frame else 0.05 + ny * nx * 1e-5 * 2)
    nframes, ngroups, gap = exposure.nframes, exposure.ngroups, exposure.groupgap
    nframes_total = ngroups * nframes + (ngroups - 1) * gap

    # a sky, faint and bright stars (some above 25,000 DN, one saturating)
    flux = np.full((ny, nx), 2.0, np.float32)  # e-/s sky
    yy, xx = np.mgrid[0:ny, 0:nx]
    stars = [(ny * 0.3, nx * 0.4, 4.0e3), (ny * 0.6, nx * 0.7, 1.5e4), (ny * 0.5, nx * 0.25, 3.0e5)]
    stars += [(rng.uniform(5, ny - 5), rng.uniform(5, nx - 5), rng.uniform(50, 3000)) for _ in range(max(3, nx * ny // 20000))]
    for cy, cx, total in stars:
        flux += (total / (2 * np.pi * 1.2**2) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.2**2))).astype(
            np.float32
        )
    gain = detector.gain[cut]
    rate_dn = flux / gain + detector.dark_rate[cut]
    rate_dn[detector.mask[cut] & DQ["DEAD"] != 0] = 0.0
    reference = (detector.mask[cut] & DQ["REFERENCE_PIXEL"]) != 0
    rate_dn[reference] = 0.0

    data = np.zeros((exposure.nints, ngroups, ny, nx), np.float32)
    zeroframe = np.zeros((exposure.nints, ny, nx), np.float32)
    for integration in range(exposure.nints):
        accumulated = np.zeros((ny, nx), np.float64)
        cosmic = rng.random((nframes_total, ny, nx)) < 2e-4
        frames = []
        for frame in range(nframes_total):
            electrons = rng.poisson(np.maximum(rate_dn * gain * frame_time, 0.0)) / gain
            accumulated += electrons + cosmic[frame] * rng.uniform(200, 3000, (ny, nx))
            measured = accumulated * (1.0 - NONLINEARITY * accumulated / 2.0)
            frames.append(measured)
            if frame == 0:
                zeroframe[integration] = _read(measured, detector, cut, exposure, rng, frame)
        for group in range(ngroups):
            first = group * (nframes + gap)
            reads = [_read(frames[first + k], detector, cut, exposure, rng, first + k) for k in range(nframes)]
            data[integration, group] = np.mean(reads, axis=0)
    data = np.clip(np.round(data), 0, 65535).astype(np.float32)

    ramp = datamodels.RampModel(data=data)
    ramp.groupdq = np.zeros(data.shape, np.uint8)
    ramp.pixeldq = np.zeros((ny, nx), np.uint32)
    if exposure.zero_frame:
        ramp.zeroframe = np.clip(np.round(zeroframe), 0, 65535).astype(np.float32)
    meta = ramp.meta
    meta.filename = f"jw01234001001_01101_00001_{det.lower()}_uncal.fits"
    meta.instrument.name, meta.instrument.detector = instrument, det
    meta.instrument.filter, meta.instrument.pupil = filt, pupil
    if instrument == "NIRCAM":
        meta.instrument.channel, meta.instrument.module = "SHORT", "A"
    meta.exposure.type = exp_type
    meta.exposure.readpatt = exposure.readpatt
    meta.exposure.nints, meta.exposure.ngroups = exposure.nints, ngroups
    meta.exposure.nframes, meta.exposure.groupgap = nframes, gap
    meta.exposure.frame_divisor = nframes
    meta.exposure.frame_time = frame_time
    meta.exposure.group_time = frame_time * (nframes + gap)
    meta.exposure.integration_time = meta.exposure.group_time * ngroups
    meta.exposure.exposure_time = meta.exposure.integration_time * exposure.nints
    meta.exposure.zero_frame = exposure.zero_frame
    meta.exposure.noutputs = exposure.noutputs or (4 if exposure.full_frame else 1)
    meta.exposure.start_time = 60310.0
    meta.exposure.mid_time = 60310.001
    meta.exposure.end_time = 60310.002
    meta.observation.date, meta.observation.time = "2024-01-01", "00:00:00"
    meta.subarray.name = exposure.subarray_name or ("FULL" if exposure.full_frame else "SUB64")
    meta.subarray.xstart, meta.subarray.ystart = exposure.corner
    meta.subarray.xsize, meta.subarray.ysize = nx, ny
    meta.subarray.fastaxis, meta.subarray.slowaxis = fast, slow
    meta.telescope = "JWST"
    meta.date = "2024-01-02T00:00:00.000"
    for key, value in exposure.extra.items():
        group, attribute = key.split(".")
        setattr(getattr(meta, group), attribute, value)
    return ramp


def _read(signal: np.ndarray, detector: Detector, cut, exposure: Exposure, rng, frame: int) -> np.ndarray:
    """One non-destructive read: bias + signal + read noise + reference-pixel drifts."""
    ny, nx = signal.shape
    noise = rng.normal(0.0, 1.0, (ny, nx)) * detector.readnoise[cut]
    # drifts made in readout orientation (amplifier stripes along the fast axis, 1/f along the slow one)
    fast, slow = DETECTORS[exposure.instrument][3:5]
    drift = np.zeros((FULL, FULL), np.float32)
    amplifiers = rng.normal(0.0, 8.0, (4, 2)).astype(np.float32)
    for amp in range(4):
        drift[:, amp * 512 : (amp + 1) * 512 : 2] += amplifiers[amp, 0]
        drift[:, amp * 512 + 1 : (amp + 1) * 512 : 2] += amplifiers[amp, 1]
    drift += np.cumsum(rng.normal(0.0, 0.4, FULL)).astype(np.float32)[:, None]
    drift = to_science_frame(drift, fast, slow)[cut]
    return detector.bias[cut] + signal + noise + drift
