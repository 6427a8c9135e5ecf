"""image2 and image3 on small synthetic images with real WCS keywords."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from astropy.table import QTable
from stdatamodels.jwst import datamodels

from asnflow.calib import image2, image3
from asnflow.calib.base import Node, RunContext, conventional_outputs
from asnflow.calib.refs import ArrayRefs
from asnflow.errors import CalibrationError

DNU, OUTLIER, NO_FLAT_FIELD = 1, 16, 262144
SHAPE = (40, 40)
SCALE = 0.0656 / 3600.0
RA, DEC = 10.0, -30.0
STARS = ((14.3, 22.8, 40.0), (27.6, 12.1, 25.0), (25.0, 30.0, 15.0))  # x, y at the undithered pointing, peak DN/s


def set_meta(model, *, exposure: int, dither: tuple[float, float], detector: str = "NIS") -> None:
    meta = model.meta
    meta.instrument.name = "NIRISS" if detector == "NIS" else "NIRCAM"
    meta.instrument.detector = detector
    meta.instrument.filter = "CLEAR"
    meta.instrument.pupil = "F150W"
    meta.exposure.type = "NIS_IMAGE"
    meta.exposure.exposure_time = 100.0
    meta.exposure.duration = 120.0
    meta.exposure.measurement_time = 90.0
    meta.exposure.start_time = 60000.0 + exposure * 0.01
    meta.exposure.end_time = 60000.0 + exposure * 0.01 + 120.0 / 86400.0
    meta.observation.date = "2024-07-01"
    meta.observation.time = "00:00:00"
    obs = meta.observation
    obs.program_number, obs.observation_number, obs.visit_number = "09999", "001", "001"
    obs.visit_group, obs.sequence_id, obs.activity_id, obs.exposure_number = "02", "1", "01", f"{exposure:05d}"
    w = meta.wcsinfo
    w.crpix1, w.crpix2 = 20.5 + dither[0], 20.5 + dither[1]
    w.crval1, w.crval2 = RA, DEC
    w.cdelt1, w.cdelt2 = -SCALE, SCALE
    w.pc1_1, w.pc1_2, w.pc2_1, w.pc2_2 = 1.0, 0.0, 0.0, 1.0
    w.ra_ref, w.dec_ref, w.roll_ref, w.v3yangle, w.vparity = RA, DEC, 0.0, 0.0, -1


def scene(dither: tuple[float, float], rng: np.random.Generator, sky: float = 1.0) -> np.ndarray:
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    image = np.full(SHAPE, sky) + rng.normal(0.0, 0.02, SHAPE)
    for x, y, peak in STARS:
        image += peak * np.exp(-((xx - x - dither[0]) ** 2 + (yy - y - dither[1]) ** 2) / (2 * 1.3**2))
    return image.astype(np.float32)


# --------------------------------------------------------------------------- image2


def write_rate(folder: Path, name: str, data: np.ndarray, *, exposure: int = 1, dither=(0.0, 0.0), dq=None) -> None:
    rate = datamodels.ImageModel(data=data)
    rate.dq = np.zeros(data.shape, np.uint32) if dq is None else dq
    rate.err = np.full(data.shape, 0.1, np.float32)
    rate.var_poisson = np.full(data.shape, 0.008, np.float32)
    rate.var_rnoise = np.full(data.shape, 0.002, np.float32)
    set_meta(rate, exposure=exposure, dither=dither)
    rate.meta.bunit_data = "DN/s"
    rate.save(str(folder / name))


def image2_node(folder: Path, members: list[tuple[str, str]], product: str = "jw09999001001_02101_00001_nis") -> Node:
    association = {
        "asn_type": "image2",
        "asn_id": "o001",
        "asn_pool": "pool.csv",
        "products": [{"name": product, "members": [{"expname": e, "exptype": t} for e, t in members]}],
    }
    path = folder / "jw09999-o001_image2_00001_asn.json"
    path.write_text(json.dumps(association))
    return Node(path.stem, "association", "image2", path, association)


def test_image2_flat_fields_converts_and_attaches_a_wcs(tmp_path):
    data = np.full(SHAPE, 8.0, np.float32)
    dq = np.zeros(SHAPE, np.uint32)
    dq[3, 3] = DNU
    write_rate(tmp_path, "jw09999001001_02101_00001_nis_rate.fits", data, dq=dq)
    flat = np.full(SHAPE, 2.0, np.float32)
    flat[5, 6] = 0.0
    flat_dq = np.zeros(SHAPE, np.uint32)
    flat_dq[7, 8] = NO_FLAT_FIELD
    refs = ArrayRefs.from_values(flat=flat, flat_dq=flat_dq, flat_err=0.01, photmjsr=0.25, pixelarea_sr=2.0e-13)
    node = image2_node(tmp_path, [("jw09999001001_02101_00001_nis_rate.fits", "science")])
    assert image2.MODULE.outputs(node) == ["jw09999001001_02101_00001_nis_cal.fits"] == conventional_outputs(node)
    (tmp_path / "work").mkdir()
    image2.MODULE.run(node, RunContext(tmp_path, tmp_path / "work", refs, {}))

    with datamodels.open(str(tmp_path / "work/jw09999001001_02101_00001_nis_cal.fits")) as cal:
        assert cal.data[0, 0] == pytest.approx(8.0 / 2.0 * 0.25)
        assert cal.var_poisson[0, 0] == pytest.approx(0.008 / 4.0 * 0.0625)
        for y, x in ((3, 3), (5, 6), (7, 8)):  # DO_NOT_USE in the science, a zero flat, NO_FLAT_FIELD
            assert np.isnan(cal.data[y, x]) and np.isnan(cal.err[y, x])
            assert cal.dq[y, x] & DNU
        assert np.isnan(cal.data).sum() == 3
        assert cal.meta.bunit_data == "MJy/sr"
        assert cal.meta.photometry.pixelarea_steradians == pytest.approx(2.0e-13)
        assert cal.meta.cal_step.flat_field == cal.meta.cal_step.photom == "COMPLETE"
        assert cal.meta.ref_file.flat.name == "array:flat"
        ra, dec = cal.meta.wcs(19.5, 19.5)  # CRPIX 20.5 (1-based) is pixel 19.5 (0-based)
        assert ra == pytest.approx(RA) and dec == pytest.approx(DEC)
        assert cal.meta.wcsinfo.s_region.startswith("POLYGON ICRS")


def test_image2_subtracts_the_mean_background_member(tmp_path):
    write_rate(tmp_path, "jw09999001001_02101_00001_nis_rate.fits", np.full(SHAPE, 8.0, np.float32))
    write_rate(tmp_path, "jw09999001001_02101_00002_nis_rate.fits", np.full(SHAPE, 1.0, np.float32), exposure=2)
    write_rate(tmp_path, "jw09999001001_02101_00003_nis_rate.fits", np.full(SHAPE, 3.0, np.float32), exposure=3)
    node = image2_node(
        tmp_path,
        [
            ("jw09999001001_02101_00001_nis_rate.fits", "science"),
            ("jw09999001001_02101_00002_nis_rate.fits", "background"),
            ("jw09999001001_02101_00003_nis_rate.fits", "background"),
        ],
    )
    (tmp_path / "work").mkdir()
    image2.MODULE.run(node, RunContext(tmp_path, tmp_path / "work", ArrayRefs.from_values(), {}))
    with datamodels.open(str(tmp_path / "work/jw09999001001_02101_00001_nis_cal.fits")) as cal:
        assert np.nanmedian(cal.data) == pytest.approx(6.0)
        assert cal.meta.cal_step.bkg_subtract == "COMPLETE"


def test_image2_without_wcs_keywords_fails_with_one_line(tmp_path):
    rate = datamodels.ImageModel(data=np.ones(SHAPE, np.float32))
    rate.meta.instrument.name = "NIRISS"
    rate.save(str(tmp_path / "jw09999001001_02101_00001_nis_rate.fits"))
    node = image2_node(tmp_path, [("jw09999001001_02101_00001_nis_rate.fits", "science")])
    (tmp_path / "work").mkdir()
    with pytest.raises(CalibrationError, match="has no usable WCS: missing WCS keywords: CRPIX1"):
        image2.MODULE.run(node, RunContext(tmp_path, tmp_path / "work", ArrayRefs.from_values(), {}))


# --------------------------------------------------------------------------- image3

DITHERS = ((0.0, 0.0), (2.4, 1.7), (-1.6, 2.9))


def write_cals(
    folder: Path,
    *,
    outlier: tuple[int, int] | None = (9, 30),
    extra_detector: bool = False,
    skies: tuple[float, ...] = (1.0, 1.0, 1.0),
) -> list[str]:
    """Three dithered calibrated images (one with an injected outlier, each with its sky), optionally a second detector."""
    rng = np.random.default_rng(11)
    names = []
    detector = "NRCA1" if extra_detector else "NIS"
    plan = [(n, d, detector) for n, d in enumerate(DITHERS, start=1)]
    if extra_detector:
        plan.append((1, DITHERS[0], "NRCA2"))  # the first exposure read out by a second detector
    for number, dither, detector in plan:
        data = scene(dither, rng, sky=skies[number - 1])
        if outlier is not None and number == 2 and detector != "NRCA2":
            data[outlier] += 30.0
        cal = datamodels.ImageModel(data=data)
        cal.dq = np.zeros(SHAPE, np.uint32)
        cal.err = np.full(SHAPE, 0.03, np.float32) + np.sqrt(np.clip(data, 0, None)) * 0.01
        cal.var_rnoise = (cal.err**2 / 2).astype(np.float32)
        cal.var_poisson = (cal.err**2 / 2).astype(np.float32)
        cal.var_flat = np.zeros(SHAPE, np.float32)
        set_meta(cal, exposure=number, dither=dither, detector=detector)
        cal.meta.photometry.pixelarea_steradians = 1.0e-13
        image2.attach_imaging_wcs(cal, "test")
        name = f"jw09999001001_02101_{number:05d}_{detector.lower()}_cal.fits"
        cal.save(str(folder / name))
        names.append(name)
    return names


def image3_node(folder: Path, members: list[str]) -> Node:
    association = {
        "asn_type": "image3",
        "asn_id": "o001",
        "asn_pool": "pool.csv",
        "products": [
            {"name": "jw09999-o001_t001_niriss_clear-f150w", "members": [{"expname": m, "exptype": "science"} for m in members]}
        ],
    }
    path = folder / "jw09999-o001_image3_00001_asn.json"
    path.write_text(json.dumps(association))
    return Node(path.stem, "association", "image3", path, association)


def run_image3(folder: Path, node: Node) -> Path:
    workdir = folder / "work"
    workdir.mkdir(exist_ok=True)
    image3.MODULE.run(node, RunContext(folder, workdir, None, {}))
    return workdir


def test_image3_writes_every_declared_output(tmp_path):
    node = image3_node(tmp_path, write_cals(tmp_path))
    workdir = run_image3(tmp_path, node)
    assert sorted(p.name for p in workdir.iterdir()) == sorted(image3.MODULE.outputs(node))
    assert "jw09999001001_02101_00002_nis_o001_crf.fits" in image3.MODULE.outputs(node)


def test_image3_flags_the_injected_outlier_and_not_the_stars(tmp_path):
    node = image3_node(tmp_path, write_cals(tmp_path, outlier=(9, 30)))
    workdir = run_image3(tmp_path, node)
    flagged = {}
    for number in (1, 2, 3):
        with datamodels.open(str(workdir / f"jw09999001001_02101_{number:05d}_nis_o001_crf.fits")) as crf:
            flagged[number] = {(int(y), int(x)) for y, x in zip(*np.nonzero(crf.dq & OUTLIER), strict=True)}
            assert all(np.isnan(crf.data[p]) and crf.dq[p] & DNU for p in flagged[number])
            assert crf.meta.cal_step.outlier_detection == "COMPLETE"
    assert (9, 30) in flagged[2]
    star_pixels = {(round(y + d[1]), round(x + d[0])) for x, y, _ in STARS for d in DITHERS}
    assert not (set().union(*flagged.values()) & star_pixels)
    assert sum(len(f) for f in flagged.values()) <= 4  # the outlier, and at most a few noise pixels


def test_image3_mosaic_covers_the_dithers_and_sums_exposure_times(tmp_path):
    node = image3_node(tmp_path, write_cals(tmp_path, outlier=None))
    workdir = run_image3(tmp_path, node)
    with datamodels.open(str(workdir / "jw09999-o001_t001_niriss_clear-f150w_i2d.fits")) as i2d:
        ny, nx = i2d.data.shape
        assert ny > SHAPE[0] and nx > SHAPE[1]  # the union of dithered footprints
        assert np.nanmedian(i2d.data) == pytest.approx(1.0, abs=0.02)
        assert i2d.meta.exposure.effective_exposure_time == pytest.approx(300.0)  # XPOSURE
        assert i2d.meta.exposure.exposure_time == pytest.approx(300.0)  # EFFEXPTM
        assert i2d.meta.exposure.duration == pytest.approx(360.0)  # DURATION
        assert i2d.meta.exposure.elapsed_exposure_time == pytest.approx(360.0)  # TELAPSE
        assert i2d.meta.exposure.measurement_time == pytest.approx(270.0)
        assert i2d.meta.resample.pointings == 3
        assert i2d.wht.shape == i2d.data.shape and i2d.con.shape[-2:] == i2d.data.shape
        # a star lands where the WCS says it is
        ra, dec = i2d.meta.wcs(*np.unravel_index(np.nanargmax(i2d.data), i2d.data.shape)[::-1])
        x, y = STARS[0][0], STARS[0][1]
        expected_ra = RA - (x - 19.5) * SCALE / math.cos(math.radians(DEC))
        expected_dec = DEC + (y - 19.5) * SCALE
        assert ra == pytest.approx(expected_ra, abs=1.5 * SCALE) and dec == pytest.approx(expected_dec, abs=1.5 * SCALE)


def test_an_exposure_on_two_detectors_counts_once(tmp_path):
    node = image3_node(tmp_path, write_cals(tmp_path, outlier=None, extra_detector=True))
    workdir = run_image3(tmp_path, node)
    with datamodels.open(str(workdir / "jw09999-o001_t001_niriss_clear-f150w_i2d.fits")) as i2d:
        assert i2d.meta.exposure.effective_exposure_time == pytest.approx(300.0)  # not 400
        assert i2d.meta.exposure.elapsed_exposure_time == pytest.approx(360.0)  # not 480
        assert i2d.meta.resample.pointings == 3


def test_image3_catalog_and_segmentation_map(tmp_path):
    node = image3_node(tmp_path, write_cals(tmp_path, outlier=None))
    workdir = run_image3(tmp_path, node)
    table = QTable.read(workdir / "jw09999-o001_t001_niriss_clear-f150w_cat.ecsv", format="ascii.ecsv")
    assert len(table) == len(STARS)
    for column in ("label", "xcentroid", "ycentroid", "sky_centroid", "isophotal_abmag", "isophotal_abmag_err",
                   "sky_bbox_ll", "sky_bbox_lr", "sky_bbox_ul", "sky_bbox_ur", "is_extended"):  # fmt: skip
        assert column in table.colnames  # what jwst's WFSS spec2 reads
    brightest = table[np.argmin(table["isophotal_abmag"])]
    expected_ra = RA - (STARS[0][0] - 19.5) * SCALE / math.cos(math.radians(DEC))
    assert brightest["sky_centroid"].ra.deg == pytest.approx(expected_ra, abs=0.5 * SCALE)
    with datamodels.open(str(workdir / "jw09999-o001_t001_niriss_clear-f150w_segm.fits")) as segm:
        assert segm.data.max() == len(STARS)
        labels = set(np.unique(segm.data)) - {0}
        assert labels == set(int(label) for label in table["label"])
        x, y = round(float(brightest["xcentroid"].value)), round(float(brightest["ycentroid"].value))
        assert segm.data[y, x] == brightest["label"]


def test_image3_without_science_members_or_asn_id_fails(tmp_path):
    node = image3_node(tmp_path, [])
    with pytest.raises(CalibrationError, match="no science members"):
        run_image3(tmp_path, node)
    no_id = Node("x", "association", "image3", None, {"asn_type": "image3", "products": []})
    with pytest.raises(CalibrationError, match="asn_id"):
        run_image3(tmp_path, no_id)


def test_image3_products_are_byte_identical_when_run_twice(tmp_path):
    node = image3_node(tmp_path, write_cals(tmp_path))
    workdir = run_image3(tmp_path, node)
    first = {p.name: p.read_bytes() for p in workdir.iterdir()}
    for path in workdir.iterdir():
        path.unlink()
    workdir = run_image3(tmp_path, node)
    assert {p.name: p.read_bytes() for p in workdir.iterdir()} == first


def test_image3_matches_the_sky_of_the_members_and_drizzles_them_at_the_lowest(tmp_path):
    skies = (1.3, 1.0, 1.8)
    node = image3_node(tmp_path, write_cals(tmp_path, outlier=None, skies=skies))
    workdir = run_image3(tmp_path, node)
    for number, sky in enumerate(skies, start=1):
        with datamodels.open(str(workdir / f"jw09999001001_02101_{number:05d}_nis_o001_crf.fits")) as crf:
            assert crf.meta.cal_step.skymatch == "COMPLETE"
            assert crf.meta.background.method == "match" and crf.meta.background.subtracted is False
            # matched down: the faintest sky is the zero point; the data keep their own sky (jwst subtracts on the fly)
            assert crf.meta.background.level == pytest.approx(sky - min(skies), abs=0.01)
            assert np.nanmedian(crf.data) == pytest.approx(sky, abs=0.02)
    with datamodels.open(str(workdir / "jw09999-o001_t001_niriss_clear-f150w_i2d.fits")) as i2d:
        assert np.nanmedian(i2d.data) == pytest.approx(min(skies), abs=0.02)  # not the mean of the skies (1.37)
        assert i2d.meta.cal_step.skymatch == "COMPLETE"
