"""The synthetic NIRISS imaging program ``asnflow demo`` writes.

One observation (``o001``) of a small star field with NIRISS imaging
(``NIS_IMAGE``, SUB64, 64×64 pixels) in two filters, three dithers each. The
raw ramps hold stars (Gaussian PSFs), one star bright enough to saturate,
one bright enough for charge migration, sky, Poisson and read noise, a few
cosmic rays (for jump detection) and a few pixels bright in one exposure
only (for image3's outlier detection). Everything is drawn from fixed seeds, so every run writes
the same bytes.

What is simplified: no bias, dark, non-linearity or distortion; the ramps
are what a real exposure looks like after superbias and reference-pixel
correction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PROGRAM = "09999"
OBSERVATION = "001"
VISIT = "001"
TARGET_RA = 53.162500  # degrees
TARGET_DEC = -27.791400
TARGET_NAME = "ASNFLOW-DEMO-FIELD"
PIXEL_SCALE = 0.0656 / 3600.0  # degrees per pixel (NIRISS imaging)
SHAPE = (64, 64)  # (ny, nx)
NGROUPS = 8
NINTS = 1
FRAME_TIME = 10.737  # seconds (NIRISS full-frame TFRAME; kept for realistic exposure times)
GAIN = 1.6  # e-/DN
READ_NOISE = 5.0  # DN per read
SATURATION = 60_000.0  # DN
SKY_RATE = 1.5  # DN/s per pixel
PSF_SIGMA = 1.1  # pixels
V3YANGLE = -0.5674
ROLL_REF = 30.0  # degrees, position angle of the detector y axis east of north
OBSERVATION_DATE = "2024-07-01"
FILE_DATE = "2024-07-01T12:00:00.000"  # DATE of every file the demo writes (reproducible bytes)
SEED = 20240701


@dataclass(frozen=True)
class Star:
    east: float  # arcsec east of the target
    north: float  # arcsec north of the target
    peak_rate: float  # DN/s in the central pixel of an undithered exposure

    @property
    def total_rate(self) -> float:
        return self.peak_rate * 2.0 * math.pi * PSF_SIGMA**2


# A saturated star (peak 2,000 DN/s reaches 60,000 DN by the third group and
# 25,000 DN in the second), a charge-migration star (400 DN/s: crosses
# 25,000 DN in the sixth group, never saturates) and faint stars.
STARS: tuple[Star, ...] = (
    Star(-0.55, 0.62, 2000.0),
    Star(0.95, -0.80, 400.0),
    Star(0.10, 0.05, 60.0),
    Star(-1.20, -0.95, 35.0),
    Star(1.35, 1.10, 25.0),
    Star(0.60, 1.55, 18.0),
    Star(-1.55, 0.20, 15.0),
    Star(1.60, -0.10, 12.0),
    Star(-0.30, -1.60, 10.0),
)


@dataclass(frozen=True)
class Exposure:
    """One raw exposure of the demo program."""

    activity: str  # "01" (F150W) or "02" (F200W)
    number: int  # exposure (dither) number within the activity
    pupil: str  # NIRISS imaging filters sit in the pupil wheel
    dither: tuple[float, float]  # pointing offset in pixels (x, y)
    index: int  # position in the observing sequence

    @property
    def root(self) -> str:
        return f"jw{PROGRAM}{OBSERVATION}{VISIT}_021{self.activity}_{self.number:05d}_nis"

    @property
    def uncal_name(self) -> str:
        return f"{self.root}_uncal.fits"

    @property
    def start_mjd(self) -> float:
        return 60492.5 + self.index * 200.0 / 86400.0


DITHERS: tuple[tuple[float, float], ...] = ((0.0, 0.0), (2.35, 1.60), (-1.45, 2.85))
FILTERS: tuple[tuple[str, str], ...] = (("01", "F150W"), ("02", "F200W"))
PHOTMJSR = {"F150W": 0.245, "F200W": 0.198}  # MJy/sr per DN/s
PIXEL_AREA_SR = (0.0656 / 206264.806) ** 2


def exposures() -> list[Exposure]:
    out = []
    for activity, pupil in FILTERS:
        for number, dither in enumerate(DITHERS, start=1):
            out.append(Exposure(activity, number, pupil, dither, len(out)))
    return out


# --------------------------------------------------------------------------- geometry


def _pc_matrix() -> np.ndarray:
    """PC matrix for the demo roll, with RA increasing to the left (east)."""
    angle = math.radians(ROLL_REF)
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def wcs_keywords(exposure: Exposure) -> dict[str, float]:
    """The exposure's FITS WCS: the target sits at the detector centre shifted by the dither."""
    ny, nx = SHAPE
    crpix1 = (nx + 1) / 2.0 + exposure.dither[0]
    crpix2 = (ny + 1) / 2.0 + exposure.dither[1]
    pc = _pc_matrix()
    return {
        "crpix1": crpix1,
        "crpix2": crpix2,
        "crval1": TARGET_RA,
        "crval2": TARGET_DEC,
        "cdelt1": -PIXEL_SCALE,
        "cdelt2": PIXEL_SCALE,
        "pc1_1": float(pc[0, 0]),
        "pc1_2": float(pc[0, 1]),
        "pc2_1": float(pc[1, 0]),
        "pc2_2": float(pc[1, 1]),
    }


def star_pixels(exposure: Exposure) -> list[tuple[float, float, Star]]:
    """0-based (x, y) of every star in this exposure (TAN projection of the keywords)."""
    from astropy.wcs import WCS

    keywords = wcs_keywords(exposure)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crpix = [keywords["crpix1"], keywords["crpix2"]]
    wcs.wcs.crval = [keywords["crval1"], keywords["crval2"]]
    wcs.wcs.cdelt = [keywords["cdelt1"], keywords["cdelt2"]]
    wcs.wcs.pc = [[keywords["pc1_1"], keywords["pc1_2"]], [keywords["pc2_1"], keywords["pc2_2"]]]
    out = []
    cos_dec = math.cos(math.radians(TARGET_DEC))
    for star in STARS:
        ra = TARGET_RA + star.east / 3600.0 / cos_dec
        dec = TARGET_DEC + star.north / 3600.0
        x, y = wcs.all_world2pix([[ra, dec]], 0)[0]
        out.append((float(x), float(y), star))
    return out


# --------------------------------------------------------------------------- pixels


def flat_field(pupil: str) -> tuple[np.ndarray, np.ndarray]:
    """The demo's flat for one filter: ±3 % pixel response, two dead flat pixels, one unflattened."""
    rng = np.random.default_rng(SEED + (1 if pupil == "F150W" else 2))
    flat = (1.0 + 0.03 * rng.standard_normal(SHAPE)).astype(np.float32)
    dq = np.zeros(SHAPE, np.uint32)
    flat[12, 50] = np.nan
    flat[45, 7] = 0.0
    dq[30, 33] = 262144  # NO_FLAT_FIELD
    return flat, dq


def count_rate(exposure: Exposure) -> np.ndarray:
    """True count rate (DN/s) seen by the detector: sky + stars, times the flat."""
    ny, nx = SHAPE
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    rate = np.full(SHAPE, SKY_RATE, dtype=np.float64)
    for x, y, star in star_pixels(exposure):
        rate += star.peak_rate * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2.0 * PSF_SIGMA**2))
    flat, _ = flat_field(exposure.pupil)
    return rate * np.nan_to_num(flat, nan=1.0, posinf=1.0)


@dataclass(frozen=True)
class Artifacts:
    """What the demo injected into one exposure on top of the sky."""

    cosmic_rays: tuple[tuple[int, int, int, float], ...]  # (group, y, x, DN): jump detection finds these
    transients: tuple[tuple[int, int, float], ...]  # (y, x, DN/s): pixels bright in this exposure only,
    # invisible to detector1 (a steady excess rate) but outliers against the other dithers


def ramp(exposure: Exposure) -> tuple[np.ndarray, Artifacts]:
    """(nints, ngroups, ny, nx) DN, and the artifacts injected into it."""
    rng = np.random.default_rng(SEED + 100 + exposure.index)
    ny, nx = SHAPE
    rate = count_rate(exposure)
    stars = [(x, y) for x, y, _ in star_pixels(exposure)]
    transients = []
    while len(transients) < 2:  # on empty sky, at least 5 pixels from every star
        y, x = int(rng.integers(6, ny - 6)), int(rng.integers(6, nx - 6))
        if min((x - sx) ** 2 + (y - sy) ** 2 for sx, sy in stars) < 25.0:
            continue
        excess = float(rng.uniform(30.0, 60.0))
        rate[y, x] += excess
        transients.append((y, x, excess))
    electrons = np.zeros((NINTS, NGROUPS, ny, nx))
    for integration in range(NINTS):
        accumulated = np.zeros(SHAPE)
        for group in range(NGROUPS):
            accumulated = accumulated + rng.poisson(rate * FRAME_TIME * GAIN)
            electrons[integration, group] = accumulated
    data = electrons / GAIN + rng.normal(0.0, READ_NOISE, electrons.shape)
    cosmic_rays = []
    for _ in range(4):
        group = int(rng.integers(1, NGROUPS))
        y, x = int(rng.integers(4, ny - 4)), int(rng.integers(4, nx - 4))
        amplitude = float(rng.uniform(800.0, 3000.0))
        data[:, group:, y, x] += amplitude
        cosmic_rays.append((group, y, x, amplitude))
    data = np.clip(data, 0.0, 65535.0)  # the A/D converter range
    return data.astype(np.float32), Artifacts(tuple(cosmic_rays), tuple(transients))


# --------------------------------------------------------------------------- files


def _set_common_meta(model: Any, exposure: Exposure) -> None:
    meta = model.meta
    meta.telescope = "JWST"
    meta.instrument.name = "NIRISS"
    meta.instrument.detector = "NIS"
    meta.instrument.filter = "CLEAR"
    meta.instrument.pupil = exposure.pupil
    meta.observation.date = OBSERVATION_DATE
    meta.observation.time = "12:00:00"
    meta.subarray.name = "SUB64"
    meta.subarray.xstart = 1
    meta.subarray.ystart = 1
    meta.subarray.xsize = SHAPE[1]
    meta.subarray.ysize = SHAPE[0]
    meta.subarray.fastaxis = -2
    meta.subarray.slowaxis = -1


def raw_model(exposure: Exposure) -> Any:
    """The exposure's level-1b RampModel (``_uncal``)."""
    from stdatamodels.jwst import datamodels

    data, _ = ramp(exposure)
    model = datamodels.RampModel(data=data)
    model.groupdq = np.zeros(data.shape, np.uint8)
    model.pixeldq = np.zeros(SHAPE, np.uint32)
    _set_common_meta(model, exposure)
    meta = model.meta
    meta.filename = exposure.uncal_name
    meta.exposure.type = "NIS_IMAGE"
    meta.exposure.readpatt = "NIS"
    meta.exposure.nints = NINTS
    meta.exposure.ngroups = NGROUPS
    meta.exposure.nframes = 1
    meta.exposure.groupgap = 0
    meta.exposure.frame_time = FRAME_TIME
    meta.exposure.group_time = FRAME_TIME
    meta.exposure.integration_time = FRAME_TIME * (NGROUPS - 1)
    meta.exposure.exposure_time = FRAME_TIME * (NGROUPS - 1) * NINTS
    meta.exposure.effective_exposure_time = meta.exposure.exposure_time
    meta.exposure.measurement_time = meta.exposure.exposure_time
    meta.exposure.duration = FRAME_TIME * (NGROUPS + 1) * NINTS
    meta.exposure.elapsed_exposure_time = meta.exposure.duration
    meta.exposure.start_time = exposure.start_mjd
    meta.exposure.end_time = exposure.start_mjd + meta.exposure.duration / 86400.0
    meta.exposure.mid_time = (meta.exposure.start_time + meta.exposure.end_time) / 2.0
    meta.observation.program_number = PROGRAM
    meta.observation.observation_number = OBSERVATION
    meta.observation.visit_number = VISIT
    meta.observation.visit_group = "02"
    meta.observation.sequence_id = "1"
    meta.observation.activity_id = exposure.activity
    meta.observation.exposure_number = f"{exposure.number:05d}"
    meta.observation.visit_id = f"{PROGRAM}{OBSERVATION}{VISIT}"
    meta.observation.obs_id = f"V{PROGRAM}{OBSERVATION}{VISIT}P00000000021{exposure.activity}"
    meta.target.catalog_name = TARGET_NAME
    meta.target.ra = TARGET_RA
    meta.target.dec = TARGET_DEC
    meta.dither.primary_type = "NONE"
    meta.dither.total_points = len(DITHERS)
    meta.dither.position_number = exposure.number
    meta.dither.x_offset = exposure.dither[0] * PIXEL_SCALE * 3600.0
    meta.dither.y_offset = exposure.dither[1] * PIXEL_SCALE * 3600.0
    wcsinfo = meta.wcsinfo
    for key, value in wcs_keywords(exposure).items():
        setattr(wcsinfo, key, value)
    wcsinfo.wcsaxes = 2
    wcsinfo.ctype1 = "RA---TAN"
    wcsinfo.ctype2 = "DEC--TAN"
    wcsinfo.cunit1 = "deg"
    wcsinfo.cunit2 = "deg"
    wcsinfo.ra_ref = TARGET_RA
    wcsinfo.dec_ref = TARGET_DEC
    wcsinfo.roll_ref = ROLL_REF
    wcsinfo.v3yangle = V3YANGLE
    wcsinfo.vparity = -1
    wcsinfo.v2_ref = -0.3
    wcsinfo.v3_ref = -693.0
    return model


def reference_models() -> list[tuple[str, dict[str, str], Any]]:
    """(reftype, CRDS selection parameters, model) for every reference the demo needs."""
    from stdatamodels.jwst import datamodels

    def described(model: Any, reftype: str) -> Any:
        model.meta.instrument.name = "NIRISS"
        model.meta.instrument.detector = "NIS"
        model.meta.reftype = reftype.upper()
        model.meta.description = f"asnflow demo {reftype} reference"
        model.meta.author = "asnflow demo"
        model.meta.pedigree = "DUMMY"
        model.meta.useafter = "2014-01-01T00:00:00"
        model.meta.date = FILE_DATE
        if getattr(model, "data", None) is not None:  # array references say which pixels they cover
            model.meta.subarray.name = "SUB64"
            model.meta.subarray.xstart = 1
            model.meta.subarray.ystart = 1
            model.meta.subarray.xsize = SHAPE[1]
            model.meta.subarray.ysize = SHAPE[0]
        return model

    detector = {"META.INSTRUMENT.DETECTOR": "NIS"}
    refs: list[tuple[str, dict[str, str], Any]] = [
        ("gain", detector, described(datamodels.GainModel(data=np.full(SHAPE, GAIN, np.float32)), "gain")),
        (
            "readnoise",
            detector,
            described(datamodels.ReadnoiseModel(data=np.full(SHAPE, READ_NOISE, np.float32)), "readnoise"),
        ),
        (
            "saturation",
            detector,
            described(
                datamodels.SaturationModel(data=np.full(SHAPE, SATURATION, np.float32), dq=np.zeros(SHAPE, np.uint32)),
                "saturation",
            ),
        ),
    ]
    for _, pupil in FILTERS:
        flat, dq = flat_field(pupil)
        model = described(
            datamodels.FlatModel(data=flat, dq=dq, err=np.full(SHAPE, 0.005, np.float32)), "flat"
        )
        model.meta.instrument.filter = "CLEAR"
        model.meta.instrument.pupil = pupil
        refs.append(("flat", {**detector, "META.INSTRUMENT.PUPIL": pupil}, model))
    table = np.array(
        [("CLEAR", pupil, PHOTMJSR[pupil], 0.01 * PHOTMJSR[pupil]) for _, pupil in FILTERS],
        dtype=[("filter", "S12"), ("pupil", "S12"), ("photmjsr", "<f4"), ("uncertainty", "<f4")],
    )
    photom = described(datamodels.NisImgPhotomModel(phot_table=table), "photom")
    photom.meta.photometry.pixelarea_steradians = PIXEL_AREA_SR
    photom.meta.photometry.pixelarea_arcsecsq = PIXEL_AREA_SR * (206264.806**2)
    refs.append(("photom", detector, photom))
    # the demo ramps are made as if bias, reference pixels, non-linearity and dark were
    # already removed: those detector1 references are not applicable (N/A) here
    refs += [(reftype, detector, None) for reftype in ("mask", "superbias", "ipc", "linearity", "dark")]
    refs += [(reftype, detector, None) for reftype in ("refpix", "sirskernel", "reset", "rscd")]
    # as CRDS does for NIRISS imaging, turn charge migration on
    charge_migration = {"class": "jwst.charge_migration.ChargeMigrationStep", "name": "charge_migration"}
    refs.append(("pars-chargemigrationstep", detector, {**charge_migration, "parameters": {"skip": False}}))
    return refs


POOL_COLUMNS: tuple[str, ...] = (
    "filename", "obs_id", "program", "obs_num", "visit", "visit_id", "visitgrp", "visitype", "seq_id",
    "act_id", "exposure", "exp_type", "nexposur", "expcount", "instrume", "detector", "channel",
    "targetid", "targprop", "targname", "targtype", "template", "pntgtype", "pntg_seq", "targordn",
    "expspcin", "dithptin", "mostilno", "module", "filter", "pupil", "ditherid", "patttype",
    "pattstrt", "numdthpt", "pattsize", "subpxpns", "patt_num", "subpxnum", "subpixel", "apername",
    "sdp_ver", "subarray", "grating", "fxd_slit", "band", "asn_candidate", "exposerr", "is_psf",
    "is_imprt", "bkgdtarg", "tsovisit",
)  # fmt: skip


def pool_rows(items: Sequence[Exposure]) -> list[dict[str, str]]:
    rows = []
    for sequence, exposure in enumerate(items, start=1):
        rows.append(
            {
                "filename": exposure.uncal_name,
                "obs_id": f"V{PROGRAM}{OBSERVATION}{VISIT}P00000000021{exposure.activity}",
                "program": PROGRAM,
                "obs_num": OBSERVATION,
                "visit": VISIT,
                "visit_id": f"{PROGRAM}{OBSERVATION}{VISIT}",
                "visitgrp": "02",
                "visitype": "PRIME_TARGETED_FIXED",
                "seq_id": "1",
                "act_id": exposure.activity,
                "exposure": str(exposure.number),
                "exp_type": "NIS_IMAGE",
                "nexposur": str(len(items)),
                "expcount": str(sequence),
                "instrume": "NIRISS",
                "detector": "NIS",
                "channel": "NULL",
                "targetid": "1",
                "targprop": TARGET_NAME,
                "targname": "NULL",
                "targtype": "FIXED",
                "template": "NIRISS Imaging",
                "pntgtype": "SCIENCE",
                "pntg_seq": str(sequence),
                "targordn": "1",
                "expspcin": str(exposure.number),
                "dithptin": str(exposure.number),
                "mostilno": "1",
                "module": "NULL",
                "filter": "CLEAR",
                "pupil": exposure.pupil,
                "ditherid": "NULL",
                "patttype": "NONE",
                "pattstrt": "NULL",
                "numdthpt": str(len(DITHERS)),
                "pattsize": "NULL",
                "subpxpns": "NULL",
                "patt_num": str(exposure.number),
                "subpxnum": "NULL",
                "subpixel": "NULL",
                "apername": "NIS_SUB64",
                "sdp_ver": "2024_2",
                "subarray": "SUB64",
                "grating": "NULL",
                "fxd_slit": "NULL",
                "band": "NULL",
                "asn_candidate": f"[('o{OBSERVATION}', 'observation')]",
                "exposerr": "NULL",
                "is_psf": "NULL",
                "is_imprt": "NULL",
                "bkgdtarg": "F",
                "tsovisit": "F",
            }
        )
    return rows


def pool_text(items: Sequence[Exposure]) -> str:
    lines = ["|".join(POOL_COLUMNS)]
    for row in pool_rows(items):
        lines.append("|".join(row[column] for column in POOL_COLUMNS))
    return "\n".join(lines) + "\n"


POOL_NAME = f"jw{PROGRAM}_20240701t120000_pool.csv"


def pool_path(folder: Path) -> Path:
    return folder / POOL_NAME
