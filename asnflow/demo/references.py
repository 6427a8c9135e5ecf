"""Every reference file jwst 3.0.0 selects for the synthetic programs, from the detector truth.

:func:`cache_references` returns, for one instrument set-up and frame size,
the references ``calwebb_detector1``, ``calwebb_image2`` and
``calwebb_image3`` use (MASK, SATURATION, SUPERBIAS, IPC, LINEARITY, DARK,
GAIN, READNOISE, FLAT, PHOTOM, AREA, DISTORTION, FILTEROFFSET, APCORR,
ABVEGAOFFSET), the step-parameter (``pars-*``) references operations keeps
for these modes, and the reference types CRDS answers N/A for. Models are
stdatamodels reference models (their schemas validate); selection uses the
header keywords of jwst's CRDS rules.

NIRCam and NIRISS imaging have all of them. FGS imaging has no filter wheel:
one flat, a one-row photom table, an APCORR table without filter columns,
ABVEGAOFFSET per detector, and FILTEROFFSET N/A. NIRSpec imaging (NRS_IMAGE)
gets the detector1 references only (its darks are ``DarkNirspecModel``):
its stage 2 and 3 are not native and have no associations.

What operations' ``pars-*`` files set and these model: NIRISS imaging runs
charge_migration (its ``pars-chargemigrationstep`` turns the step on);
NIRCam and NIRISS flag snowballs and the groups after large jumps
(``pars-jumpstep``). Other ``pars-*`` types answer N/A, so jwst's code
defaults apply (FGS and NIRSpec run jump with jwst's defaults).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from asnflow.calib.crds_cache import CacheReference
from asnflow.demo.detector import Detector, Layout, Readout, pixel_field
from asnflow.demo.instruments import Setup

USEAFTER = "2014-01-01T00:00:00"
FILE_DATE = "2024-07-01T12:00:00.000"

DETECTOR = "META.INSTRUMENT.DETECTOR"
SUBARRAY = "META.SUBARRAY.NAME"
EXP_TYPE = "META.EXPOSURE.TYPE"
FILTER = "META.INSTRUMENT.FILTER"
PUPIL = "META.INSTRUMENT.PUPIL"
ANY = "N/A"  # CRDS's "any value" in a match

# Types detector1, image2 and image3 ask CRDS for that do not apply to NIR imaging
NOT_APPLICABLE = (
    # detector1: MIRI- or NIRSpec-only corrections; IRS2 refpix; the SIRS kernel (median refpix is the default);
    # SOSS traces
    "emicorr", "rscd", "reset", "pictureframe", "refpix", "sirskernel", "pastasoss",
    # image2: spectroscopy and NIRSpec optics
    "bkg", "wavelengthrange", "specwcs", "regions", "camera", "chromcorr", "collimator", "disperser",
    "fore", "fpa", "msa", "ote", "ifupost", "ifufore", "ifuslicer", "fflat", "sflat", "dflat",
)  # fmt: skip

# Types N/A for one instrument only: FGS has no filter wheel; NIRSpec imaging here is detector1 only
INSTRUMENT_NOT_APPLICABLE = {
    "FGS": ("filteroffset",),
    "NIRSPEC": ("flat", "photom", "area", "distortion", "filteroffset", "apcorr", "abvegaoffset"),
}

# pars-* types CRDS knows for each instrument that answer N/A for imaging here
PARAMETERS_NOT_APPLICABLE = {
    "NIRCAM": (
        "pars-backgroundstep", "pars-darkcurrentstep", "pars-darkpipeline", "pars-detector1pipeline",
        "pars-image2pipeline", "pars-outlierdetectionstep", "pars-rampfitstep", "pars-resamplestep",
        "pars-sourcecatalogstep", "pars-spec2pipeline", "pars-tsophotometrystep", "pars-tweakregstep",
        "pars-wfsscontamstep", "pars-whitelightstep",
    ),
    "NIRISS": (
        "pars-backgroundstep", "pars-cleanflickernoisestep", "pars-darkcurrentstep", "pars-darkpipeline",
        "pars-detector1pipeline", "pars-image2pipeline", "pars-outlierdetectionstep", "pars-rampfitstep",
        "pars-resamplestep", "pars-sourcecatalogstep", "pars-spec2pipeline", "pars-tweakregstep",
        "pars-undersamplecorrectionstep", "pars-wfsscontamstep", "pars-whitelightstep",
    ),
    "FGS": (
        "pars-detector1pipeline", "pars-image2pipeline", "pars-jumpstep", "pars-outlierdetectionstep",
        "pars-resamplestep", "pars-sourcecatalogstep", "pars-tweakregstep",
    ),
    "NIRSPEC": (
        "pars-cleanflickernoisestep", "pars-darkpipeline", "pars-detector1pipeline", "pars-jumpstep",
        "pars-rampfitstep",
    ),
}  # fmt: skip

# Operations-like step parameters (the jump and charge-migration choices of build 10+)
JUMP_PARAMETERS = {
    "expand_large_events": True,
    "min_sat_area": 15.0,
    "min_jump_area": 15.0,
    "expand_factor": 2.0,
    "sat_required_snowball": True,
    "use_ellipses": False,
    "after_jump_flag_dn1": 1000.0,
    "after_jump_flag_time1": 90.0,
    "after_jump_flag_dn2": 20000.0,
    "after_jump_flag_time2": 1000.0,
}
CHARGE_MIGRATION_PARAMETERS = {"skip": False, "signal_threshold": 25000.0}

STEP_CLASSES = {
    "pars-jumpstep": ("jwst.jump.jump_step.JumpStep", "jump"),
    "pars-chargemigrationstep": ("jwst.charge_migration.charge_migration_step.ChargeMigrationStep", "charge_migration"),
}


def _describe(model: Any, setup: Setup, reftype: str, *, subarray: Layout | None = None) -> Any:
    meta = model.meta
    meta.telescope = "JWST"
    meta.instrument.name = setup.instrument
    meta.instrument.detector = setup.detector
    if setup.channel:
        meta.instrument.channel = setup.channel
        meta.instrument.module = setup.module
    meta.reftype = reftype.upper()
    meta.description = f"asnflow synthetic {reftype} reference"
    meta.author = "asnflow"
    meta.pedigree = "DUMMY"
    meta.useafter = USEAFTER
    meta.date = FILE_DATE
    if subarray is not None and "subarray" in _schema_meta(model):
        subarray.describe(meta)
    return model


def _schema_meta(model) -> set[str]:
    """The meta entries a model's schema defines (reference schemas differ: PixelAreaModel has no subarray)."""
    try:
        return set(model.schema["allOf"][0]["properties"]["meta"]["properties"]) | _nested_meta(model.schema)
    except (KeyError, IndexError, TypeError):
        return _nested_meta(model.schema)


def _nested_meta(schema) -> set[str]:
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            meta = node.get("properties", {}).get("meta")
            if isinstance(meta, dict):
                names.update(meta.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return names


def _pars_tree(setup: Setup, reftype: str, parameters: dict) -> dict:
    class_name, name = STEP_CLASSES[reftype]
    return {
        "class": class_name,
        "name": name,
        "parameters": dict(parameters),
        "meta": {
            "author": "asnflow",
            "date": FILE_DATE,
            "description": f"asnflow synthetic {reftype} parameters",
            "instrument": {"name": setup.instrument},
            "origin": "asnflow",
            "pedigree": "DUMMY",
            "reftype": reftype,
            "telescope": "JWST",
            "useafter": USEAFTER,
        },
    }


def flat_field(setup: Setup, detector: Detector, element: str) -> tuple[np.ndarray, np.ndarray]:
    """Flat (the sky sees it) and its DQ: ±2 % pixels, a vignetting-like gradient, a few unusable pixels."""
    from stdatamodels.jwst.datamodels import dqflags

    layout = detector.layout
    y, x = layout.full_frame_coordinates()
    scatter = pixel_field(layout, (setup.detector, element, "flat"), "normal")
    r2 = ((x - 1023.5) ** 2 + (y - 1023.5) ** 2) / 1024.0**2
    flat = (1.0 - 0.04 * r2) * (1.0 + 0.02 * scatter)
    dq = np.zeros(layout.shape, np.uint32)
    bad = pixel_field(layout, (setup.detector, element, "bad-flat"), "uniform") < 0.0004
    flat[bad] = np.nan
    dq[bad] = dqflags.pixel["NO_FLAT_FIELD"] | dqflags.pixel["DO_NOT_USE"]
    flat[detector.reference] = 1.0
    return flat.astype(np.float32), dq


def pixel_area(setup: Setup, detector: Detector) -> np.ndarray:
    """Relative pixel area: 1 at the detector centre, a few per cent off at the corners."""
    y, x = detector.layout.full_frame_coordinates()
    return (1.0 + 0.015 * (x - 1023.5) / 1024.0 - 0.01 * (y - 1023.5) / 1024.0).astype(np.float32)


def nominal_pixel_area_sr(setup: Setup) -> float:
    arcsec = setup.optics.scale_x * setup.optics.scale_y
    return arcsec / 206264.80624709636**2


def _dark_model(setup: Setup, detector: Detector, frames: int):
    from stdatamodels.jwst import datamodels
    from stdatamodels.jwst.datamodels import dqflags

    ny, nx = detector.layout.shape
    times = (np.arange(frames) + 1.0)[:, None, None]
    frame_time = setup.filters[0].readout.frame_time
    data = (detector.dark_rate[None] * frame_time * times).astype(np.float32)
    dq = np.zeros((ny, nx), np.uint32)
    dq[detector.hot] = dqflags.pixel["HOT"]
    # jwst opens NIRSpec darks as DarkNirspecModel, the others as DarkModel
    model_class = datamodels.DarkNirspecModel if setup.instrument == "NIRSPEC" else datamodels.DarkModel
    model = model_class(data=data, dq=dq, err=np.full(data.shape, 0.01, np.float32))
    _describe(model, setup, "dark", subarray=detector.layout)
    model.meta.exposure.nframes = 1
    model.meta.exposure.groupgap = 0
    model.meta.exposure.ngroups = frames
    model.meta.exposure.nints = 1
    model.meta.exposure.frame_time = frame_time
    model.meta.exposure.group_time = frame_time
    model.meta.exposure.readpatt = "ANY"
    return model


def detector1_references(setup: Setup, detector: Detector, readouts: Iterable[Readout]) -> list[CacheReference]:
    from stdatamodels.jwst import datamodels
    from stdatamodels.jwst.datamodels import dqflags

    layout = detector.layout
    shape = layout.shape
    pixel = dqflags.pixel
    by_detector = {DETECTOR: setup.detector, SUBARRAY: layout.subarray}
    out: list[CacheReference] = []

    def add(reftype: str, model, match=by_detector) -> None:
        out.append(CacheReference(reftype, dict(match), model, setup.instrument))

    mask = np.zeros(shape, np.uint32)
    mask[detector.hot] = pixel["HOT"] | pixel["DO_NOT_USE"]
    mask[detector.warm] = pixel["WARM"]
    mask[detector.dead] = pixel["DEAD"] | pixel["DO_NOT_USE"]
    mask[detector.low_qe] = pixel["LOW_QE"]
    mask[detector.reference] = pixel["REFERENCE_PIXEL"] | pixel["DO_NOT_USE"]
    add("mask", _describe(datamodels.MaskModel(dq=mask), setup, "mask", subarray=layout))

    saturation = detector.saturation.astype(np.float32)
    saturation_dq = np.zeros(shape, np.uint32)
    saturation[detector.no_saturation_check] = np.nan
    saturation_dq[detector.no_saturation_check] = pixel["NO_SAT_CHECK"]
    add(
        "saturation",
        _describe(datamodels.SaturationModel(data=saturation, dq=saturation_dq), setup, "saturation", subarray=layout),
    )

    bias_dq = np.zeros(shape, np.uint32)
    bias_dq[detector.dead] = pixel["UNRELIABLE_BIAS"]
    superbias = datamodels.SuperBiasModel(
        data=detector.superbias.astype(np.float32), dq=bias_dq, err=np.full(shape, 3.0, np.float32)
    )
    add("superbias", _describe(superbias, setup, "superbias", subarray=layout))

    ipc = datamodels.IPCModel(data=detector.ipc_kernel.astype(np.float32))
    add("ipc", _describe(ipc, setup, "ipc"), {DETECTOR: setup.detector})

    lin_dq = np.zeros(shape, np.uint32)
    lin_dq[detector.dead] = pixel["NO_LIN_CORR"]
    linearity = datamodels.LinearityModel(coeffs=detector.linearity_coefficients.astype(np.float32), dq=lin_dq)
    add("linearity", _describe(linearity, setup, "linearity", subarray=layout))

    frames = max(readout.frames_read for readout in readouts)
    add("dark", _dark_model(setup, detector, frames))

    add("gain", _describe(datamodels.GainModel(data=detector.gain.astype(np.float32)), setup, "gain", subarray=layout))
    readnoise = datamodels.ReadnoiseModel(data=detector.read_noise.astype(np.float32))
    add("readnoise", _describe(readnoise, setup, "readnoise", subarray=layout))
    return out


def image_references(setup: Setup, detector: Detector) -> list[CacheReference]:
    from astropy import units as u
    from stdatamodels.jwst import datamodels

    layout = detector.layout
    out: list[CacheReference] = []
    ins = setup.instrument
    if ins == "NIRSPEC":
        return out  # NIRSpec's stage 2 is spectroscopic and runs in jwst
    by_mode = {DETECTOR: setup.detector, EXP_TYPE: setup.exp_type}

    for item in _distinct_elements(setup):
        flat, dq = flat_field(setup, detector, item.element)
        model = datamodels.FlatModel(data=flat, dq=dq, err=np.full(flat.shape, 0.004, np.float32))
        _describe(model, setup, "flat", subarray=layout)
        if item.filter:
            model.meta.instrument.filter = item.filter
            model.meta.instrument.pupil = item.pupil
            match = {DETECTOR: setup.detector, FILTER: item.filter, PUPIL: item.pupil}
        else:
            match = by_mode
        out.append(CacheReference("flat", match, model, ins))

    area_sr = nominal_pixel_area_sr(setup)
    photom = _describe(_photom(setup), setup, "photom")
    photom.meta.photometry.pixelarea_steradians = area_sr
    photom.meta.photometry.pixelarea_arcsecsq = area_sr * 206264.80624709636**2
    out.append(CacheReference("photom", by_mode, photom, ins))

    area = _describe(datamodels.PixelAreaModel(data=pixel_area(setup, detector)), setup, "area", subarray=layout)
    area.meta.photometry.pixelarea_steradians = area_sr
    area.meta.photometry.pixelarea_arcsecsq = area_sr * 206264.80624709636**2
    out.append(CacheReference("area", by_mode, area, ins))

    distortion = datamodels.DistortionModel()
    distortion.model = setup.optics.distortion_model()
    distortion.meta.input_units = u.pix
    distortion.meta.output_units = u.arcsec
    _describe(distortion, setup, "distortion")
    pupils = sorted({f.pupil for f in setup.filters if f.pupil})
    if pupils:
        distortion.meta.instrument.p_pupil = "|".join(pupils) + "|"
    distortion.meta.exposure.type = setup.exp_type
    distortion.meta.exposure.p_exptype = f"{setup.exp_type}|"
    out.append(CacheReference("distortion", by_mode, distortion, ins))

    if ins != "FGS":  # no filter wheel, no filter offsets (CRDS answers N/A)
        offsets = [
            {"filter": f.filter, "pupil": f.pupil, "column_offset": f.offset[0], "row_offset": f.offset[1]}
            for f in setup.filters
        ]
        filteroffset = _describe(
            datamodels.FilteroffsetModel(filters=offsets, instrument=setup.instrument),
            setup,
            "filteroffset",
        )
        out.append(CacheReference("filteroffset", by_mode, filteroffset, ins))

    out.append(CacheReference("apcorr", {EXP_TYPE: setup.exp_type}, _apcorr(setup), ins))
    out.append(CacheReference("abvegaoffset", {DETECTOR: setup.detector}, _abvega(setup), ins))
    return out


def _distinct_elements(setup: Setup) -> list:
    """One filter per optical element (FGS's read patterns share its one element)."""
    seen: dict[str, object] = {}
    for item in setup.filters:
        seen.setdefault(item.element, item)
    return list(seen.values())


def _photom(setup: Setup):
    """The imaging photom table: per filter and pupil, or FGS's single row."""
    from stdatamodels.jwst import datamodels

    if setup.instrument == "FGS":
        first = setup.filters[0]
        table = np.array(
            [(first.photmjsr, 0.01 * first.photmjsr)], dtype=[("photmjsr", "<f4"), ("uncertainty", "<f4")]
        )
        return datamodels.FgsImgPhotomModel(phot_table=table)
    rows = [(f.filter, f.pupil, f.photmjsr, 0.01 * f.photmjsr) for f in setup.filters]
    table = np.array(rows, dtype=[("filter", "S12"), ("pupil", "S15"), ("photmjsr", "<f4"), ("uncertainty", "<f4")])
    photom_class = datamodels.NrcImgPhotomModel if setup.instrument == "NIRCAM" else datamodels.NisImgPhotomModel
    return photom_class(phot_table=table)


def _apcorr(setup: Setup):
    from stdatamodels.jwst import datamodels

    rows = []
    sigma_arcsec = setup.psf_sigma * setup.optics.scale_x
    fgs = setup.instrument == "FGS"  # one table for the one element, no filter columns
    for f in _distinct_elements(setup):
        for ee in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            # encircled energy of a Gaussian PSF: radius where it reaches ee
            radius_pix = setup.psf_sigma * np.sqrt(-2.0 * np.log(1.0 - ee))
            sky_in, sky_out = (width * sigma_arcsec / setup.optics.scale_x for width in (8.0, 12.0))
            values = (ee, radius_pix, 1.0 / ee, sky_in, sky_out)
            rows.append(values if fgs else (f.filter, f.pupil, *values))
    columns = [("eefraction", "<f4"), ("radius", "<f4"), ("apcorr", "<f4"), ("skyin", "<f4"), ("skyout", "<f4")]
    if not fgs:
        columns = [("filter", "S12"), ("pupil", "S15"), *columns]
    table = np.array(rows, dtype=columns)
    model_class = {
        "NIRCAM": datamodels.NrcImgApcorrModel,
        "NIRISS": datamodels.NisImgApcorrModel,
        "FGS": datamodels.FgsImgApcorrModel,
    }[setup.instrument]
    model = _describe(model_class(apcorr_table=table), setup, "apcorr")
    model.meta.exposure.type = setup.exp_type
    return model


def _abvega(setup: Setup):
    from astropy.table import Table
    from stdatamodels.jwst import datamodels

    if setup.instrument == "FGS":  # jwst's source catalog selects FGS offsets by detector
        columns = {"detector": [setup.detector], "abvega_offset": np.array([setup.filters[0].abvega], np.float32)}
    else:
        columns = {
            "filter": [f.filter for f in setup.filters],
            "pupil": [f.pupil for f in setup.filters],
            "abvega_offset": np.array([f.abvega for f in setup.filters], dtype=np.float32),
        }
    table = Table(columns)
    model = datamodels.ABVegaOffsetModel()
    model.abvega_offset = table  # a Table attribute: the constructor keyword would wrap it as a node
    return _describe(model, setup, "abvegaoffset")


def parameter_references(setup: Setup) -> list[CacheReference]:
    ins = setup.instrument
    out = []
    if ins == "NIRISS":
        match = {"META.INSTRUMENT.EXP_TYPE": ANY, FILTER: ANY, PUPIL: ANY}
        tree = _pars_tree(setup, "pars-chargemigrationstep", CHARGE_MIGRATION_PARAMETERS)
        out.append(CacheReference("pars-chargemigrationstep", match, tree, ins))
        out.append(
            CacheReference(
                "pars-jumpstep", {FILTER: ANY, PUPIL: ANY}, _pars_tree(setup, "pars-jumpstep", JUMP_PARAMETERS), ins
            )
        )
    elif ins == "NIRCAM":
        out.append(
            CacheReference("pars-jumpstep", {EXP_TYPE: ANY}, _pars_tree(setup, "pars-jumpstep", JUMP_PARAMETERS), ins)
        )
    return out


def cache_references(
    setup: Setup, detector: Detector, readouts: Sequence[Readout] | None = None
) -> list[CacheReference]:
    """Every reference (and pars-* file) of one set-up, at the detector's layout."""
    readouts = list(readouts) if readouts is not None else [f.readout for f in setup.filters]
    return [
        *detector1_references(setup, detector, readouts),
        *image_references(setup, detector),
        *parameter_references(setup),
    ]


def not_applicable(setups: Iterable[Setup]) -> dict[str, tuple[str, ...]]:
    """Instrument -> reference types its imap answers N/A for."""
    return {
        s.instrument: NOT_APPLICABLE + INSTRUMENT_NOT_APPLICABLE.get(s.instrument, ())
        + PARAMETERS_NOT_APPLICABLE[s.instrument]
        for s in setups
    }
