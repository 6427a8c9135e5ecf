"""Native image2/image3 products carry what jwst writes: photometric keywords, pixel areas,
the imaging WCS from distortion references, and an ``_i2d`` FITS WCS equal to its gwcs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.modeling import models
from astropy.wcs import WCS
from stdatamodels.jwst import datamodels

from asnflow.calib import image2
from asnflow.calib.base import RunContext
from asnflow.calib.refs import ArrayRefs
from asnflow.errors import CalibrationError

from test_calib_image import (
    SHAPE,
    image2_node,
    image3_node,
    run_image3,
    write_cals,
    write_rate,
)

RATE = "jw09999001001_02101_00001_nis_rate.fits"
CAL = "jw09999001001_02101_00001_nis_cal.fits"
V2_REF, V3_REF, ROLL_REF, RA_REF, DEC_REF = -290.1, -697.5, 37.0, 80.5, -69.4
SCALE_ARCSEC = 0.0656


@dataclass(frozen=True)
class RefsWithFiles(ArrayRefs):
    """In-memory arrays plus reference files a module takes only when present."""

    files: dict | None = None

    def optional_path(self, model, reftype):
        return (self.files or {}).get(reftype)


def keywords(path: Path) -> dict:
    """Primary and SCI header keywords of a product, as one mapping."""
    with fits.open(path) as hdus:
        return {**dict(hdus[0].header), **dict(hdus["SCI"].header)}


def run_image2(folder: Path, refs) -> Path:
    node = image2_node(folder, [(RATE, "science")])
    (folder / "work").mkdir(exist_ok=True)
    image2.MODULE.run(node, RunContext(folder, folder / "work", refs, {}))
    return folder / "work" / CAL


# --------------------------------------------------------------------------- photometry keywords


def test_photuja2_is_photmjsr_in_microjansky_per_square_arcsec_and_pixar_comes_from_photom(tmp_path):
    write_rate(tmp_path, RATE, np.full(SHAPE, 3.0, np.float32))
    refs = ArrayRefs.from_values(photmjsr=0.245, pixelarea_sr=1.0e-13, pixelarea_a2=0.004254)
    header = keywords(run_image2(tmp_path, refs))
    to_uja2 = (1 * u.MJy / u.sr).to_value(u.uJy / u.arcsec**2)
    assert header["PHOTMJSR"] == pytest.approx(0.245, rel=1e-12)
    assert header["PHOTUJA2"] == pytest.approx(0.245 * to_uja2, rel=1e-7)  # float32, as jwst's
    assert header["PHOTUJA2"] == pytest.approx(5.7586, rel=1e-4)  # not a per-pixel value
    # both areas as the reference states them, not one derived from the other
    assert header["PIXAR_SR"] == pytest.approx(1.0e-13, rel=1e-12)
    assert header["PIXAR_A2"] == pytest.approx(0.004254, rel=1e-12)


def test_a_photom_reference_without_pixel_areas_leaves_them_unset_with_a_warning(tmp_path, caplog):
    write_rate(tmp_path, RATE, np.full(SHAPE, 3.0, np.float32))
    refs = ArrayRefs.from_values(photmjsr=0.2, pixelarea_sr=None)
    with caplog.at_level(logging.WARNING, logger="asnflow.calib.image2"):
        header = keywords(run_image2(tmp_path, refs))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "The PIXAR_SR keyword is missing from array:photom",
        "The PIXAR_A2 keyword is missing from array:photom",
    ]
    assert "PIXAR_SR" not in header and "PIXAR_A2" not in header
    assert header["PHOTMJSR"] == pytest.approx(0.2)


def test_an_area_reference_gives_the_pixel_areas_and_the_area_map(tmp_path):
    write_rate(tmp_path, RATE, np.full(SHAPE, 3.0, np.float32))
    full = np.linspace(0.97, 1.03, 80 * 80, dtype=np.float32).reshape(80, 80)
    area = datamodels.PixelAreaModel(data=full)
    area.meta.photometry.pixelarea_steradians = 1.1e-13
    area.meta.photometry.pixelarea_arcsecsq = 0.00468
    area.save(str(tmp_path / "area.fits"))
    refs = RefsWithFiles(ArrayRefs.from_values(photmjsr=0.2, pixelarea_sr=9.9e-14).references, files={"area": tmp_path / "area.fits"})
    with datamodels.open(str(tmp_path / RATE)) as rate:  # a 40x40 subarray at (11, 21)
        rate.meta.subarray.xstart, rate.meta.subarray.ystart = 11, 21
        rate.meta.subarray.xsize, rate.meta.subarray.ysize = 40, 40
        rate.save(str(tmp_path / RATE))
    with datamodels.open(str(run_image2(tmp_path, refs))) as cal:
        assert cal.meta.photometry.pixelarea_steradians == pytest.approx(1.1e-13)
        assert cal.meta.photometry.pixelarea_arcsecsq == pytest.approx(0.00468)
        np.testing.assert_array_equal(cal.area, full[20:60, 10:50])
        assert cal.meta.ref_file.area.name == "crds://area.fits"


def test_a_corrupt_area_reference_fails_the_node_naming_the_file(tmp_path):
    write_rate(tmp_path, RATE, np.full(SHAPE, 3.0, np.float32))
    (tmp_path / "area.fits").write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)
    refs = RefsWithFiles(ArrayRefs.from_values().references, files={"area": tmp_path / "area.fits"})
    with pytest.raises(CalibrationError, match=r"cannot read area reference .*area\.fits"):
        run_image2(tmp_path, refs)
    assert not (tmp_path / "work" / CAL).exists()


# --------------------------------------------------------------------------- WCS from the distortion reference


def distortion_model():
    """Full-frame pixels -> V2/V3 arcsec: a plate scale, a small rotation, and the aperture's V2/V3."""
    to_centre = models.Shift(-1023.5) & models.Shift(-1023.5)
    plate = models.Scale(SCALE_ARCSEC) & models.Scale(SCALE_ARCSEC)
    rotate = models.AffineTransformation2D(matrix=[[-0.999, 0.0447], [0.0447, 0.999]], translation=[V2_REF, V3_REF])
    return to_centre | plate | rotate


def write_distortion_refs(folder: Path) -> dict:
    distortion = datamodels.DistortionModel()
    distortion.model = distortion_model()
    distortion.meta.input_units = u.pix
    distortion.meta.output_units = u.arcsec
    distortion.save(str(folder / "distortion.asdf"))
    offsets = datamodels.FilteroffsetModel()
    offsets.filters = [
        {"filter": "CLEAR", "pupil": "F150W", "column_offset": 1.5, "row_offset": -2.25},
        {"filter": "CLEAR", "pupil": "F200W", "column_offset": 9.0, "row_offset": 9.0},
    ]
    offsets.save(str(folder / "filteroffset.asdf"))
    return {"distortion": folder / "distortion.asdf", "filteroffset": folder / "filteroffset.asdf"}


def set_pointing(path: Path, *, xstart: int = 1, ystart: int = 1, va_scale: float | None = None) -> None:
    with datamodels.open(str(path)) as rate:
        w = rate.meta.wcsinfo
        w.v2_ref, w.v3_ref, w.roll_ref, w.ra_ref, w.dec_ref = V2_REF, V3_REF, ROLL_REF, RA_REF, DEC_REF
        rate.meta.subarray.xstart, rate.meta.subarray.ystart = xstart, ystart
        rate.meta.velocity_aberration.scale_factor = va_scale
        rate.save(str(path))


def test_image2_builds_its_wcs_through_v2v3_from_the_distortion_reference(tmp_path):
    write_rate(tmp_path, RATE, np.full(SHAPE, 3.0, np.float32))
    set_pointing(tmp_path / RATE, xstart=1005, ystart=1001)
    files = write_distortion_refs(tmp_path)
    refs = RefsWithFiles(ArrayRefs.from_values().references, files=files)
    with datamodels.open(str(run_image2(tmp_path, refs))) as cal:
        wcs = cal.meta.wcs
        assert list(wcs.available_frames) == ["detector", "v2v3", "v2v3vacorr", "world"]
        assert cal.meta.ref_file.distortion.name == "crds://distortion.asdf"
        assert cal.meta.ref_file.filteroffset.name == "crds://filteroffset.asdf"
        # the pixel the distortion sends to (V2_REF, V3_REF): subarray start and F150W offset undone
        x0, y0 = 1023.5 - 1004 - 1.5, 1023.5 - 1000 + 2.25
        v2, v3 = wcs.get_transform("detector", "v2v3")(x0, y0)
        assert (v2, v3) == pytest.approx((V2_REF, V3_REF), abs=1e-9)
        centre = SkyCoord(*wcs(x0, y0), unit="deg")
        assert centre.separation(SkyCoord(RA_REF, DEC_REF, unit="deg")).arcsec < 1e-7
        # ROLL_REF is the position angle of +V3 at the reference point
        to_sky = wcs.get_transform("v2v3vacorr", "world")
        up_v3 = SkyCoord(*to_sky(V2_REF, V3_REF + 10.0), unit="deg")
        assert centre.position_angle(up_v3).deg == pytest.approx(ROLL_REF, abs=1e-6)
        assert centre.separation(up_v3).arcsec == pytest.approx(10.0, rel=1e-9)
        # the footprint follows the WCS, not the keywords
        assert cal.meta.wcsinfo.s_region.startswith("POLYGON ICRS")


def test_velocity_aberration_scales_about_the_reference_point(tmp_path):
    write_rate(tmp_path, RATE, np.full(SHAPE, 3.0, np.float32))
    set_pointing(tmp_path / RATE, va_scale=1.0001)
    refs = RefsWithFiles(ArrayRefs.from_values().references, files=write_distortion_refs(tmp_path))
    with datamodels.open(str(run_image2(tmp_path, refs))) as cal:
        correct = cal.meta.wcs.get_transform("v2v3", "v2v3vacorr")
        assert correct(V2_REF, V3_REF) == pytest.approx((V2_REF, V3_REF), abs=1e-9)
        assert correct(V2_REF + 100.0, V3_REF) == pytest.approx((V2_REF + 100.01, V3_REF), abs=1e-9)


def test_without_distortion_references_the_wcs_comes_from_the_keywords(tmp_path):
    write_rate(tmp_path, RATE, np.full(SHAPE, 3.0, np.float32))
    with datamodels.open(str(run_image2(tmp_path, ArrayRefs.from_values()))) as cal:
        assert list(cal.meta.wcs.available_frames) == ["detector", "world"]


# --------------------------------------------------------------------------- the i2d header WCS


def test_the_i2d_fits_wcs_equals_its_gwcs_everywhere_on_the_frame(tmp_path):
    node = image3_node(tmp_path, write_cals(tmp_path))
    workdir = run_image3(tmp_path, node)
    path = workdir / "jw09999-o001_t001_niriss_clear-f150w_i2d.fits"
    with fits.open(path) as hdus:
        header = hdus["SCI"].header
        ny, nx = hdus["SCI"].data.shape
        fits_wcs = WCS(header)
        assert not any(key.startswith(("A_", "B_", "AP_", "BP_", "CD1_", "CD2_")) for key in header)
    with datamodels.open(str(path)) as i2d:
        gwcs = i2d.meta.wcs
    assert (header["CRPIX1"], header["CRPIX2"]) != (20.5, 20.5)  # not the first member's keywords
    # every pixel centre and the outer corners of the frame
    yy, xx = np.mgrid[-0.5 : ny : 0.5, -0.5 : nx : 0.5]
    x, y = xx.ravel(), yy.ravel()
    ra_g, dec_g = gwcs(x, y, with_bounding_box=False)
    ra_f, dec_f = fits_wcs.pixel_to_world_values(x, y)
    separation = SkyCoord(ra_g, dec_g, unit="deg").separation(SkyCoord(ra_f, dec_f, unit="deg")).arcsec
    assert separation.max() < 1e-6
