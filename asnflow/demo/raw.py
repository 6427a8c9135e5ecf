"""Realistic raw exposures (``_uncal``) of a small dithered imaging program.

A :class:`Program` is one observation of a star field with one instrument
set-up in its filters, a few dithers each. Every exposure is read out
through the same :class:`~asnflow.demo.detector.Detector`, so the raw files
and the synthetic CRDS cache (:mod:`asnflow.demo.references`) describe one
instrument. The field holds one saturated star, stars that pass 25,000 DN
(charge migration) without saturating, faint stars, sky with a gradient,
cosmic rays and (on frames of 160 pixels or more) a snowball. Everything is
drawn from fixed seeds: the same program writes the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from asnflow.demo import references
from asnflow.demo.detector import CosmicRay, Detector, Layout, cosmic_rays, read_ramp
from asnflow.demo.instruments import Filter, Setup
from asnflow.demo.sky import Frame, Pointing, Star, count_rate, dithered_pointing, star_field

TARGET = (53.1625, -27.7914)  # RA, Dec (degrees)
TARGET_NAME = "ASNFLOW-DEMO-FIELD"
ROLL_REF = 30.0
OBSERVATION_DATE = "2024-07-01"
DITHERS: tuple[tuple[float, float], ...] = ((0.0, 0.0), (2.35, 1.60), (-1.45, 2.85))


@dataclass(frozen=True)
class Exposure:
    """One raw exposure of a program."""

    program: str
    observation: str
    visit: str
    activity: str  # "01", "02": one per filter
    number: int  # dither number within the activity
    filter: Filter
    dither: tuple[float, float]  # pixels (x, y)
    index: int  # position in the observing sequence
    short_name: str  # detector part of the file name

    @property
    def root(self) -> str:
        return f"jw{self.program}{self.observation}{self.visit}_021{self.activity}_{self.number:05d}_{self.short_name}"

    @property
    def uncal_name(self) -> str:
        return f"{self.root}_uncal.fits"

    @property
    def start_mjd(self) -> float:
        return 60492.5 + self.index * 400.0 / 86400.0


@dataclass(frozen=True)
class Artifacts:
    """What one exposure holds besides the sky and the stars."""

    cosmic_rays: tuple[CosmicRay, ...]
    transients: tuple[tuple[int, int, float], ...]  # (y, x, DN/s) bright in this exposure only


@dataclass(frozen=True)
class Program:
    """A dithered imaging observation with one instrument set-up, at one frame size."""

    setup: Setup
    size: int = 64
    program: str = "09999"
    observation: str = "001"
    visit: str = "001"
    dithers: tuple[tuple[float, float], ...] = DITHERS
    seed: int = 20240701

    @cached_property
    def layout(self) -> Layout:
        return self.setup.layout(self.size)

    @cached_property
    def detector(self) -> Detector:
        return Detector(self.layout, self.setup.properties)

    def exposures(self) -> list[Exposure]:
        out: list[Exposure] = []
        for number_filter, item in enumerate(self.setup.filters, start=1):
            for number, dither in enumerate(self.dithers, start=1):
                out.append(
                    Exposure(
                        self.program,
                        self.observation,
                        self.visit,
                        f"{number_filter:02d}",
                        number,
                        item,
                        dither,
                        len(out),
                        self.setup.short_name,
                    )
                )
        return out

    def frame(self, exposure: Exposure) -> Frame:
        pointing = dithered_pointing(self.setup.optics, self.layout, TARGET, ROLL_REF, exposure.dither)
        return Frame(self.layout, self.setup.optics, pointing, exposure.filter.offset)

    @cached_property
    def stars(self) -> list[Star]:
        """A saturated star, two stars passing 25,000 DN, and faint ones (peak DN/s before the flat)."""
        readout = self.setup.filters[0].readout
        ramp_seconds = readout.ngroups * readout.group_time
        full_well = self.setup.properties.full_well
        peaks = [
            0.5 * full_well / readout.group_time,  # saturates in the third group
            30_000.0 / ramp_seconds,  # passes 25,000 DN late in the ramp
            38_000.0 / ramp_seconds,
        ]
        extent = 0.36 * self.size * self.setup.optics.scale_x  # arcsec: a circle inside the frame
        faint = max(6, int(8 * (self.size / 64) ** 2))
        rng = np.random.default_rng(self.seed)
        separation = 9.0 * self.setup.psf_sigma * self.setup.optics.scale_x
        return star_field(TARGET, extent, rng, peaks, min(faint, 400), separation)

    def count_rate(self, exposure: Exposure) -> np.ndarray:
        """What reaches the detector (DN/s): sky, stars and this exposure's transients, through the flat."""
        flat, _ = references.flat_field(self.setup, self.detector, exposure.filter.element)
        sky = 0.4 if self.setup.instrument == "NIRCAM" else 1.2
        rate = count_rate(self.frame(exposure), self.stars, sky, self.setup.psf_sigma)
        for y, x, excess in self.artifacts(exposure).transients:
            rate[y, x] += excess
        return rate * np.nan_to_num(flat, nan=1.0)

    def artifacts(self, exposure: Exposure) -> Artifacts:
        """The cosmic rays and transients of one exposure (the same on every call)."""
        rng = np.random.default_rng(self.seed + 1000 + exposure.index)
        readout = exposure.filter.readout
        snowballs = 0 if self.size < 160 else max(1, self.size // 512)
        hits = cosmic_rays(self.layout, readout, rng, snowballs=snowballs)
        # pixels bright in this exposure only (a steady excess, so detector1 sees nothing odd):
        # image3's outlier detection finds them against the other dithers
        ny, nx = self.layout.shape
        xs, ys = self.frame(exposure).sky_to_science_pixel(
            np.array([s.ra for s in self.stars]), np.array([s.dec for s in self.stars])
        )
        usable = ~(self.detector.reference | self.detector.hot | self.detector.dead | self.detector.warm)
        transients: list[tuple[int, int, float]] = []
        while len(transients) < 2:
            y, x = int(rng.integers(6, ny - 6)), int(rng.integers(6, nx - 6))
            if not usable[y, x] or np.min((xs - x) ** 2 + (ys - y) ** 2) < 36.0:
                continue
            transients.append((y, x, float(rng.uniform(30.0, 60.0))))
        return Artifacts(tuple(hits), tuple(transients))

    def ramp(self, exposure: Exposure) -> np.ndarray:
        rng = np.random.default_rng(self.seed + 2000 + exposure.index)
        return read_ramp(
            self.detector,
            exposure.filter.readout,
            self.count_rate(exposure),
            rng,
            hits=list(self.artifacts(exposure).cosmic_rays),
        )

    def raw_model(self, exposure: Exposure):
        """The exposure's level-1b model (``_uncal``), 16-bit DN."""
        from stdatamodels.jwst import datamodels

        model = datamodels.Level1bModel(data=self.ramp(exposure))
        _set_meta(model, self, exposure)
        return model

    def cache_references(self):
        return references.cache_references(self.setup, self.detector)


def _set_meta(model, program: Program, exposure: Exposure) -> None:
    setup, layout, readout = program.setup, program.layout, exposure.filter.readout
    frame = program.frame(exposure)
    meta = model.meta
    meta.filename = exposure.uncal_name
    meta.telescope = "JWST"
    meta.instrument.name = setup.instrument
    meta.instrument.detector = setup.detector
    if exposure.filter.filter:  # FGS has no filter wheel: no FILTER/PUPIL keywords
        meta.instrument.filter = exposure.filter.filter
    if exposure.filter.pupil:
        meta.instrument.pupil = exposure.filter.pupil
    if setup.grating:
        meta.instrument.grating = setup.grating
    if setup.channel:
        meta.instrument.channel = setup.channel
        meta.instrument.module = setup.module
    meta.observation.date = OBSERVATION_DATE
    meta.observation.time = "12:00:00"
    meta.observation.program_number = program.program
    meta.observation.observation_number = program.observation
    meta.observation.visit_number = program.visit
    meta.observation.visit_group = "02"
    meta.observation.sequence_id = "1"
    meta.observation.activity_id = exposure.activity
    meta.observation.exposure_number = f"{exposure.number:05d}"
    meta.observation.visit_id = f"{program.program}{program.observation}{program.visit}"
    meta.observation.obs_id = f"V{program.program}{program.observation}{program.visit}P00000000021{exposure.activity}"
    meta.visit.type = "PRIME_TARGETED_FIXED"
    meta.visit.tsovisit = False
    layout.describe(meta)
    exp = meta.exposure
    exp.type = setup.exp_type
    exp.readpatt = readout.pattern
    exp.noutputs = layout.noutputs
    exp.nints = readout.nints
    exp.ngroups = readout.ngroups
    exp.nframes = readout.nframes
    exp.groupgap = readout.groupgap
    exp.frame_divisor = readout.nframes
    exp.nresets_at_start = 1
    exp.nresets_between_ints = 1
    exp.drop_frames1 = 0
    exp.drop_frames3 = 0
    exp.zero_frame = False
    exp.sample_time = 10
    exp.frame_time = readout.frame_time
    exp.group_time = readout.group_time
    exp.integration_time = readout.integration_time
    exp.exposure_time = readout.integration_time * readout.nints
    exp.effective_exposure_time = exp.exposure_time
    exp.measurement_time = exp.exposure_time
    exp.duration = readout.frame_time * (readout.frames_read + 1) * readout.nints
    exp.elapsed_exposure_time = exp.duration
    exp.start_time = exposure.start_mjd
    exp.end_time = exposure.start_mjd + exp.duration / 86400.0
    exp.mid_time = (exp.start_time + exp.end_time) / 2.0
    meta.target.catalog_name = TARGET_NAME
    meta.target.ra = TARGET[0]
    meta.target.dec = TARGET[1]
    meta.dither.primary_type = "NONE"
    meta.dither.total_points = len(program.dithers)
    meta.dither.position_number = exposure.number
    meta.dither.x_offset = exposure.dither[0] * setup.optics.scale_x
    meta.dither.y_offset = exposure.dither[1] * setup.optics.scale_y
    meta.velocity_aberration.scale_factor = 1.0
    _set_pointing(meta.wcsinfo, frame, setup)


def _set_pointing(wcsinfo, frame: Frame, setup: Setup) -> None:
    pointing: Pointing = frame.pointing
    for key, value in frame.fits_keywords().items():
        setattr(wcsinfo, key, value)
    wcsinfo.wcsaxes = 2
    wcsinfo.ctype1 = "RA---TAN"
    wcsinfo.ctype2 = "DEC--TAN"
    wcsinfo.cunit1 = "deg"
    wcsinfo.cunit2 = "deg"
    wcsinfo.ra_ref = pointing.ra_ref
    wcsinfo.dec_ref = pointing.dec_ref
    wcsinfo.roll_ref = pointing.roll_ref
    wcsinfo.v2_ref = pointing.v2_ref
    wcsinfo.v3_ref = pointing.v3_ref
    wcsinfo.v3yangle = setup.optics.v3yangle
    wcsinfo.vparity = setup.optics.vparity
    wcsinfo.s_region = _s_region(frame)


def _s_region(frame: Frame) -> str:
    ny, nx = frame.layout.shape
    xs = np.array([-0.5, nx - 0.5, nx - 0.5, -0.5])
    ys = np.array([-0.5, -0.5, ny - 0.5, ny - 0.5])
    ra, dec = frame.science_pixel_to_sky(xs, ys)
    return "POLYGON ICRS " + " ".join(f"{a:.9f} {d:.9f}" for a, d in zip(ra, dec, strict=True))


# --------------------------------------------------------------------------- the association pool

POOL_COLUMNS: tuple[str, ...] = (
    "filename", "obs_id", "program", "obs_num", "visit", "visit_id", "visitgrp", "visitype", "seq_id",
    "act_id", "exposure", "exp_type", "nexposur", "expcount", "instrume", "detector", "channel",
    "targetid", "targprop", "targname", "targtype", "template", "pntgtype", "pntg_seq", "targordn",
    "expspcin", "dithptin", "mostilno", "module", "filter", "pupil", "ditherid", "patttype",
    "pattstrt", "numdthpt", "pattsize", "subpxpns", "patt_num", "subpxnum", "subpixel", "apername",
    "sdp_ver", "subarray", "grating", "fxd_slit", "band", "asn_candidate", "exposerr", "is_psf",
    "is_imprt", "bkgdtarg", "tsovisit",
)  # fmt: skip


def pool_rows(program: Program) -> list[dict[str, str]]:
    """One pool row per exposure, as the operations pool lists them."""
    items = program.exposures()
    setup = program.setup
    rows = []
    for sequence, exposure in enumerate(items, start=1):
        rows.append(
            {
                "filename": exposure.uncal_name,
                "obs_id": f"V{program.program}{program.observation}{program.visit}P00000000021{exposure.activity}",
                "program": program.program,
                "obs_num": program.observation,
                "visit": program.visit,
                "visit_id": f"{program.program}{program.observation}{program.visit}",
                "visitgrp": "02",
                "visitype": "PRIME_TARGETED_FIXED",
                "seq_id": "1",
                "act_id": exposure.activity,
                "exposure": str(exposure.number),
                "exp_type": setup.exp_type,
                "nexposur": str(len(items)),
                "expcount": str(sequence),
                "instrume": setup.instrument,
                "detector": setup.detector,
                "channel": setup.channel or "NULL",
                "targetid": "1",
                "targprop": TARGET_NAME,
                "targname": "NULL",
                "targtype": "FIXED",
                "template": setup.template,
                "pntgtype": "SCIENCE",
                "pntg_seq": str(sequence),
                "targordn": "1",
                "expspcin": str(exposure.number),
                "dithptin": str(exposure.number),
                "mostilno": "1",
                "module": setup.module or "NULL",
                "filter": exposure.filter.filter or "NULL",
                "pupil": exposure.filter.pupil or "NULL",
                "ditherid": "NULL",
                "patttype": "NONE",
                "pattstrt": "NULL",
                "numdthpt": str(len(program.dithers)),
                "pattsize": "NULL",
                "subpxpns": "NULL",
                "patt_num": str(exposure.number),
                "subpxnum": "NULL",
                "subpixel": "NULL",
                "apername": f"{setup.detector}_{program.layout.subarray}",
                "sdp_ver": "2024_2",
                "subarray": program.layout.subarray,
                "grating": setup.grating or "NULL",
                "fxd_slit": "NULL",
                "band": "NULL",
                "asn_candidate": f"[('o{program.observation}', 'observation')]",
                "exposerr": "NULL",
                "is_psf": "NULL",
                "is_imprt": "NULL",
                "bkgdtarg": "F",
                "tsovisit": "F",
            }
        )
    return rows


def pool_text(program: Program) -> str:
    lines = ["|".join(POOL_COLUMNS)]
    lines += ["|".join(row[column] for column in POOL_COLUMNS) for row in pool_rows(program)]
    return "\n".join(lines) + "\n"


def pool_name(program: Program) -> str:
    return f"jw{program.program}_20240701t120000_pool.csv"
