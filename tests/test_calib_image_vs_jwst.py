"""Native image2 against jwst 3.0.0's own steps on the same rate file and the same reference files.

Marked ``jwst`` (run by the CI's jwst job: ``pytest -m jwst``); skipped where jwst is not
installed. jwst's steps are given every reference with ``override_<reftype>``;
the native module reads the same files through :class:`FileRefs`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.modeling import models
from stdatamodels.jwst import datamodels

from asnflow.calib import image2
from asnflow.calib.base import RunContext
from asnflow.calib.refs import Reference, ReferenceProvider, _check_reftypes, _reference_from_model

from test_calib_image import image2_node

pytestmark = [
    pytest.mark.jwst,
    pytest.mark.skipif(importlib.util.find_spec("jwst") is None, reason="needs jwst (pip install '.[jwst,test]')"),
]

RATE = "jw01234001001_02101_00001_nis_rate.fits"
CAL = "jw01234001001_02101_00001_nis_cal.fits"
SHAPE = (64, 80)  # a subarray of (ny, nx)
XSTART, YSTART = 1001, 1201
POINTING = {"v2_ref": -290.1, "v3_ref": -697.5, "roll_ref": 111.3, "ra_ref": 80.5, "dec_ref": -69.4}


class FileRefs(ReferenceProvider):
    """Reference files given by path, as jwst's ``override_<reftype>`` gives them."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def optional_path(self, model, reftype):
        return self.files.get(reftype)

    def fetch(self, model, reftypes) -> dict[str, Reference]:
        out = {}
        for name in _check_reftypes(reftypes):
            with datamodels.open(str(self.files[name])) as ref_model:
                out[name] = _reference_from_model(name, self.files[name], ref_model, model)
        return out


def describe(model, reftype: str):
    meta = model.meta
    meta.instrument.name, meta.instrument.detector = "NIRISS", "NIS"
    meta.reftype, meta.description, meta.author, meta.pedigree = reftype.upper(), "test", "asnflow tests", "DUMMY"
    meta.useafter = "2014-01-01T00:00:00"
    return model


def write_references(folder: Path, *, with_area: bool) -> dict[str, Path]:
    rng = np.random.default_rng(5)
    files = {}
    distortion = describe(datamodels.DistortionModel(), "distortion")
    distortion.model = (
        (models.Shift(-1023.5) & models.Shift(-1023.5))
        | models.Mapping((0, 1, 0, 1))
        | (models.Polynomial2D(2, c0_0=0.0, c1_0=-0.06551, c0_1=0.0021, c2_0=3e-8, c1_1=-2e-8, c0_2=1e-8)
           & models.Polynomial2D(2, c0_0=0.0, c1_0=0.0022, c0_1=0.06562, c2_0=-1e-8, c1_1=2e-8, c0_2=3e-8))
        | (models.Shift(POINTING["v2_ref"]) & models.Shift(POINTING["v3_ref"]))
    )
    distortion.meta.input_units, distortion.meta.output_units = u.pix, u.arcsec
    distortion.meta.exposure.type = "NIS_IMAGE"
    distortion.save(str(folder / "distortion.asdf"))
    files["distortion"] = folder / "distortion.asdf"
    offsets = describe(datamodels.FilteroffsetModel(), "filteroffset")
    offsets.filters = [{"filter": "CLEAR", "pupil": "F150W", "column_offset": 0.7, "row_offset": -1.3}]
    offsets.save(str(folder / "filteroffset.asdf"))
    files["filteroffset"] = folder / "filteroffset.asdf"
    flat = describe(datamodels.FlatModel(data=rng.uniform(0.9, 1.1, (2048, 2048)).astype(np.float32)), "flat")
    flat.dq = np.zeros((2048, 2048), np.uint32)
    flat.err = np.full((2048, 2048), 0.01, np.float32)
    flat.meta.instrument.filter, flat.meta.instrument.pupil = "CLEAR", "F150W"
    flat.meta.subarray.name, flat.meta.subarray.xstart, flat.meta.subarray.ystart = "FULL", 1, 1
    flat.meta.subarray.xsize, flat.meta.subarray.ysize = 2048, 2048
    flat.save(str(folder / "flat.fits"))
    files["flat"] = folder / "flat.fits"
    photom = describe(datamodels.NisImgPhotomModel(), "photom")
    photom.phot_table = np.array(
        [("CLEAR", "F150W", 0.2431, 0.0012), ("CLEAR", "F200W", 0.1987, 0.001)],
        dtype=[("filter", "S12"), ("pupil", "S15"), ("photmjsr", "<f4"), ("uncertainty", "<f4")],
    )
    photom.meta.photometry.pixelarea_steradians = 1.0113e-13
    photom.meta.photometry.pixelarea_arcsecsq = 0.0043026
    photom.save(str(folder / "photom.fits"))
    files["photom"] = folder / "photom.fits"
    if with_area:
        area = describe(datamodels.PixelAreaModel(data=rng.uniform(0.98, 1.02, (2048, 2048)).astype(np.float32)), "area")
        area.meta.photometry.pixelarea_steradians = 1.0219e-13
        area.meta.photometry.pixelarea_arcsecsq = 0.0043478
        area.save(str(folder / "area.fits"))
        files["area"] = folder / "area.fits"
    return files


def write_rate(folder: Path) -> Path:
    rng = np.random.default_rng(7)
    rate = datamodels.ImageModel(data=rng.uniform(0.5, 20.0, SHAPE).astype(np.float32))
    rate.dq = np.zeros(SHAPE, np.uint32)
    rate.err = np.full(SHAPE, 0.1, np.float32)
    rate.var_poisson = np.full(SHAPE, 0.008, np.float32)
    rate.var_rnoise = np.full(SHAPE, 0.002, np.float32)
    meta = rate.meta
    meta.instrument.name, meta.instrument.detector = "NIRISS", "NIS"
    meta.instrument.filter, meta.instrument.pupil = "CLEAR", "F150W"
    meta.exposure.type, meta.exposure.mid_time = "NIS_IMAGE", 60500.0
    meta.exposure.start_time, meta.exposure.end_time = 60499.999, 60500.001
    meta.observation.date, meta.observation.time = "2024-07-01", "00:00:00"
    meta.subarray.name, meta.subarray.xstart, meta.subarray.ystart = "SUBTEST", XSTART, YSTART
    meta.subarray.ysize, meta.subarray.xsize = SHAPE
    meta.velocity_aberration.scale_factor = 1.0000372
    for key, value in POINTING.items():
        setattr(meta.wcsinfo, key, value)
    meta.wcsinfo.v3yangle, meta.wcsinfo.vparity = -0.57, -1
    meta.wcsinfo.crpix1, meta.wcsinfo.crpix2, meta.wcsinfo.crval1, meta.wcsinfo.crval2 = 40.5, 32.5, 80.5, -69.4
    meta.wcsinfo.cdelt1, meta.wcsinfo.cdelt2 = -1.8e-5, 1.8e-5
    meta.bunit_data = "DN/s"
    rate.save(str(folder / RATE))
    return folder / RATE


def run_jwst(rate_path: Path, files: dict[str, Path]):
    from jwst.assign_wcs import AssignWcsStep
    from jwst.flatfield import FlatFieldStep
    from jwst.photom import PhotomStep

    os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "True"

    def overrides(step) -> dict[str, str]:
        """Every reference the step asks for: our file, or N/A (what CRDS answers for imaging)."""
        return {f"override_{t}": str(files.get(t, "N/A")) for t in step.reference_file_types}

    model = AssignWcsStep.call(str(rate_path), sip_approx=False, **overrides(AssignWcsStep))
    model = FlatFieldStep.call(model, **overrides(FlatFieldStep))
    return PhotomStep.call(model, **overrides(PhotomStep))


@pytest.fixture
def offline_crds(tmp_path, monkeypatch):
    """jwst's steps look up the CRDS context even with every reference overridden: an empty cache."""
    from asnflow.calib.crds_cache import CacheReference, write_crds_cache
    from asnflow.calib.refs import offline_crds_environment

    gain = describe(datamodels.GainModel(data=np.ones((8, 8), np.float32)), "gain")
    cache = write_crds_cache(tmp_path / "crds", "niriss", [CacheReference("gain", {"META.INSTRUMENT.DETECTOR": "NIS"}, gain)])
    with offline_crds_environment(cache):
        yield


@pytest.mark.parametrize("with_area", [True, False])
def test_native_image2_matches_jwst_steps(tmp_path, offline_crds, with_area):
    files = write_references(tmp_path, with_area=with_area)
    rate = write_rate(tmp_path)
    expected = run_jwst(rate, files)

    node = image2_node(tmp_path, [(RATE, "science")], product=CAL.removesuffix("_cal.fits"))
    (tmp_path / "work").mkdir()
    image2.MODULE.run(node, RunContext(tmp_path, tmp_path / "work", FileRefs(files), {}))
    with datamodels.open(str(tmp_path / "work" / CAL)) as native:
        numbers = {}
        for field in ("conversion_megajanskys", "conversion_microjanskys", "pixelarea_steradians", "pixelarea_arcsecsq"):
            ours, theirs = getattr(native.meta.photometry, field), getattr(expected.meta.photometry, field)
            numbers[field] = abs(ours - theirs) / abs(theirs)
            assert ours == theirs, (field, ours, theirs)
        if with_area:
            np.testing.assert_array_equal(native.area, expected.area)
        good = np.isfinite(expected.data)
        np.testing.assert_array_equal(np.isfinite(native.data), good)
        numbers["cal SCI max rel"] = float(np.max(np.abs(native.data[good] / expected.data[good] - 1)))
        assert numbers["cal SCI max rel"] < 1e-6

        # the WCS: every pixel centre and the frame's corners
        yy, xx = np.mgrid[-0.5 : SHAPE[0] : 0.5, -0.5 : SHAPE[1] : 0.5]
        ours = SkyCoord(*native.meta.wcs(xx.ravel(), yy.ravel(), with_bounding_box=False), unit="deg")
        theirs = SkyCoord(*expected.meta.wcs(xx.ravel(), yy.ravel(), with_bounding_box=False), unit="deg")
        numbers["WCS max separation arcsec"] = float(ours.separation(theirs).arcsec.max())
        assert numbers["WCS max separation arcsec"] < 1e-6
        v2v3 = native.meta.wcs.get_transform("detector", "v2v3")(xx.ravel(), yy.ravel())
        v2v3_jwst = expected.meta.wcs.get_transform("detector", "v2v3")(xx.ravel(), yy.ravel())
        numbers["V2V3 max diff arcsec"] = float(np.max(np.abs(np.subtract(v2v3, v2v3_jwst))))
        assert numbers["V2V3 max diff arcsec"] < 1e-9
        # image3 builds its grid from the members' S_REGION: it must be jwst's to the digit
        assert native.meta.wcsinfo.s_region == expected.meta.wcsinfo.s_region
        print(f"\nimage2 native vs jwst (area reference: {with_area}):", numbers)
