"""The pure array functions behind the native calibration modules."""

from __future__ import annotations

import numpy as np
import pytest

from asnflow.calib.algorithms.charge_migration import flag_charge_migration
from asnflow.calib.algorithms.exposure_times import ExposureTimes, combine_exposure_times
from asnflow.calib.algorithms.flat_field import (
    CalibratedArrays,
    flat_field,
    match_nans_and_flags,
    photometric_conversion,
)
from asnflow.calib.algorithms.imaging_wcs import WcsKeywords, imaging_wcs
from asnflow.calib.algorithms.sources import (
    estimate_background,
    label_regions,
    measure_sources,
    segment_sources,
)

DNU, SATURATED, CHARGELOSS, NO_FLAT_FIELD = 1, 2, 128, 262144


# --------------------------------------------------------------------------- charge migration


def charge_migration_by_loop(data, gdq, threshold):
    """jwst's documented rule, pixel by pixel: the oracle for the vectorised version."""
    out = gdq.copy()
    nints, ngroups, ny, nx = data.shape
    for i in range(nints):
        for g in range(ngroups):
            for y in range(ny):
                for x in range(nx):
                    if data[i, g, y, x] > threshold and gdq[i, g, y, x] != DNU:
                        for yy, xx in ((y, x), (y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                            if 0 <= yy < ny and 0 <= xx < nx:
                                out[i, g:, yy, xx] |= CHARGELOSS | DNU
    return out


def test_charge_migration_flags_the_pixel_and_four_neighbours_from_the_crossing_group_on():
    data = np.zeros((1, 5, 6, 6), np.float32)
    data[0, :, 2, 3] = [10_000, 20_000, 30_000, 40_000, 50_000]  # crosses 25,000 in group 2
    gdq = np.zeros(data.shape, np.uint8)
    out = flag_charge_migration(data, gdq, 25_000.0, do_not_use=DNU, chargeloss=CHARGELOSS)

    flagged = {(y, x) for y, x in zip(*np.nonzero(out[0, 4]), strict=True)}
    assert flagged == {(2, 3), (1, 3), (3, 3), (2, 2), (2, 4)}  # the pixel and N/S/E/W, no diagonals
    for y, x in flagged:
        assert list(out[0, :, y, x]) == [0, 0, CHARGELOSS | DNU, CHARGELOSS | DNU, CHARGELOSS | DNU]
    assert not out[0, :2].any()  # earlier groups untouched
    assert not gdq.any()  # the input is not modified


def test_charge_migration_threshold_is_strict_and_configurable():
    data = np.full((1, 3, 3, 3), 25_000.0, np.float32)
    gdq = np.zeros(data.shape, np.uint8)
    assert not flag_charge_migration(data, gdq, 25_000.0, do_not_use=DNU, chargeloss=CHARGELOSS).any()
    lowered = flag_charge_migration(data, gdq, 24_999.0, do_not_use=DNU, chargeloss=CHARGELOSS)
    assert (lowered == CHARGELOSS | DNU).all()


def test_charge_migration_at_the_edge_and_the_do_not_use_quirk():
    data = np.zeros((1, 3, 4, 4), np.float32)
    data[0, 1:, 0, 0] = 30_000  # corner: only two neighbours exist
    data[0, :, 3, 3] = 30_000  # but exactly DO_NOT_USE in group 0 and 1: only group 2 triggers
    data[0, :, 0, 3] = 30_000  # DO_NOT_USE together with SATURATED still triggers (jwst tests gdq != DNU)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, :2, 3, 3] = DNU
    gdq[0, :, 0, 3] = DNU | SATURATED
    out = flag_charge_migration(data, gdq, 25_000.0, do_not_use=DNU, chargeloss=CHARGELOSS)
    assert out[0, 1, 0, 0] & CHARGELOSS and out[0, 1, 1, 0] & CHARGELOSS and out[0, 1, 0, 1] & CHARGELOSS
    assert not out[0, 0, 0, 0] & CHARGELOSS
    assert not out[0, 1, 3, 3] & CHARGELOSS and out[0, 2, 3, 3] & CHARGELOSS
    assert out[0, 0, 0, 3] & CHARGELOSS


def test_charge_migration_matches_the_pixel_loop_on_random_ramps():
    rng = np.random.default_rng(7)
    for _ in range(5):
        data = rng.uniform(0, 40_000, (2, 4, 7, 9)).astype(np.float32)
        gdq = rng.choice(np.array([0, DNU, SATURATED, DNU | SATURATED], np.uint8), size=data.shape, p=[0.7, 0.1, 0.1, 0.1])
        fast = flag_charge_migration(data, gdq, 25_000.0, do_not_use=DNU, chargeloss=CHARGELOSS)
        np.testing.assert_array_equal(fast, charge_migration_by_loop(data, gdq, 25_000.0))


def test_charge_migration_refuses_mismatched_arrays():
    with pytest.raises(ValueError):
        flag_charge_migration(np.zeros((1, 3, 2, 2)), np.zeros((1, 3, 2, 3), np.uint8), 1.0, do_not_use=1, chargeloss=128)


# --------------------------------------------------------------------------- flat field and photom


def test_flat_field_divides_and_turns_unusable_flat_pixels_into_nan():
    data = np.full((3, 3), 10.0, np.float32)
    dq = np.zeros((3, 3), np.uint32)
    dq[0, 0] = DNU  # already unusable in the science data
    flat = np.full((3, 3), 2.0, np.float32)
    flat[0, 1] = np.nan
    flat[0, 2] = 0.0
    flat_dq = np.zeros((3, 3), np.uint32)
    flat_dq[1, 0] = NO_FLAT_FIELD
    ones = np.ones((3, 3), np.float32)
    out = flat_field(data, dq, ones * 4.0, ones, flat, flat_dq, ones * 0.1, do_not_use=DNU, no_flat_field=NO_FLAT_FIELD)

    bad = {(0, 0), (0, 1), (0, 2), (1, 0)}
    for y in range(3):
        for x in range(3):
            if (y, x) in bad:
                assert np.isnan(out.data[y, x]) and np.isnan(out.err[y, x]) and np.isnan(out.var_flat[y, x])
                assert out.dq[y, x] & DNU
            else:
                assert out.data[y, x] == pytest.approx(5.0)
                assert out.var_poisson[y, x] == pytest.approx(1.0)  # 4 / 2²
                assert out.var_rnoise[y, x] == pytest.approx(0.25)
                assert out.var_flat[y, x] == pytest.approx(25.0 / 4.0 * 0.01)
                assert out.err[y, x] == pytest.approx(np.sqrt(1.0 + 0.25 + 0.0625))
                assert out.dq[y, x] == 0
    for y, x in ((0, 1), (0, 2), (1, 0)):
        assert out.dq[y, x] & NO_FLAT_FIELD
    assert data[1, 1] == 10.0  # inputs untouched


def test_nan_in_any_array_becomes_do_not_use_everywhere():
    arrays = CalibratedArrays(
        data=np.array([[1.0, 2.0]], np.float32),
        dq=np.zeros((1, 2), np.uint32),
        err=np.array([[1.0, 1.0]], np.float32),
        var_poisson=np.array([[1.0, np.nan]], np.float32),
        var_rnoise=np.ones((1, 2), np.float32),
        var_flat=np.zeros((1, 2), np.float32),
    )
    out = match_nans_and_flags(arrays, do_not_use=DNU)
    assert out.dq.tolist() == [[0, DNU]]
    assert np.isnan(out.data[0, 1]) and out.data[0, 0] == 1.0


def test_photometric_conversion_scales_values_and_variances():
    ones = np.ones((2, 2), np.float32)
    arrays = CalibratedArrays(ones * 3.0, np.zeros((2, 2), np.uint32), ones, ones * 2.0, ones, ones * 0.5)
    out = photometric_conversion(arrays, 0.5)
    assert out.data[0, 0] == pytest.approx(1.5)
    assert out.err[0, 0] == pytest.approx(0.5)
    assert out.var_poisson[0, 0] == pytest.approx(0.5)
    assert out.var_flat[0, 0] == pytest.approx(0.125)


# --------------------------------------------------------------------------- exposure times


def test_exposure_times_count_each_exposure_once_across_detectors():
    images = [
        ExposureTimes("jw1_00001", 100.0, 120.0, 60000.0, 60000.001, 90.0),  # detector a
        ExposureTimes("jw1_00001", 100.0, 120.0, 60000.0, 60000.001, 90.0),  # detector b, same exposure
        ExposureTimes("jw1_00002", 50.0, 70.0, 60000.01, 60000.02, 45.0),
    ]
    combined = combine_exposure_times(images)
    assert combined.exposures == 2
    assert combined.xposure == combined.effexptm == 150.0
    assert combined.duration == combined.telapse == 190.0
    assert combined.measurement_time == 135.0
    assert combined.start_time == 60000.0 and combined.end_time == 60000.02


def test_exposure_times_without_measurement_time_leave_it_unset():
    combined = combine_exposure_times([ExposureTimes("a", 1.0, 2.0, 0.0, 1.0), ExposureTimes("b", 1.0, 2.0, 0.0, 1.0, 3.0)])
    assert combined.measurement_time is None
    with pytest.raises(ValueError):
        combine_exposure_times([])


# --------------------------------------------------------------------------- sources


def test_label_regions_numbers_eight_connected_regions_in_raster_order():
    mask = np.zeros((6, 7), bool)
    mask[4:6, 0:2] = True  # region found last in raster order
    mask[0, 5] = mask[1, 6] = True  # diagonal neighbours: one region
    mask[2, 1:4] = True
    labels, count = label_regions(mask)
    assert count == 3
    assert labels[0, 5] == labels[1, 6] == 1
    assert (labels[2, 1:4] == 2).all()
    assert (labels[4:6, 0:2] == 3).all()
    assert (labels[~mask] == 0).all()


def test_segmentation_and_photometry_find_gaussian_sources():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:48, 0:48]
    image = rng.normal(1.0, 0.05, (48, 48))
    truth = [(12.3, 30.6, 5.0), (35.0, 10.2, 2.0)]
    for x, y, peak in truth:
        image += peak * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.2**2))
    image[5, 5] = np.nan
    background = estimate_background(image)
    assert background.level == pytest.approx(1.0, abs=0.02)
    segmentation = segment_sources(image, background, nsigma=5.0, min_pixels=5)
    assert segmentation.max() == 2
    found = measure_sources(image, np.full(image.shape, 0.05), segmentation, background)
    measured = sorted(zip(found.xcentroid, found.ycentroid, found.flux, strict=True))
    for (x, y, flux), (tx, ty, peak) in zip(measured, sorted(truth), strict=True):
        assert x == pytest.approx(tx, abs=0.15) and y == pytest.approx(ty, abs=0.15)
        total = peak * 2 * np.pi * 1.2**2
        assert 0.8 * total < flux < 1.05 * total  # the isophote holds most of a Gaussian's flux
    assert (found.bbox_xmin <= found.xcentroid).all() and (found.xcentroid <= found.bbox_xmax).all()


def test_segmentation_of_a_flat_image_is_empty():
    image = np.ones((10, 10))
    segmentation = segment_sources(image, estimate_background(image))
    assert segmentation.max() == 0
    assert measure_sources(image, image, segmentation, estimate_background(image)).label.size == 0


# --------------------------------------------------------------------------- WCS


def test_keyword_wcs_agrees_with_astropy_fits_wcs():
    from astropy.wcs import WCS

    angle = np.deg2rad(25.0)
    keywords = WcsKeywords(
        crpix1=33.2, crpix2=30.7, crval1=150.1, crval2=2.2, cdelt1=-2e-5, cdelt2=2e-5,
        pc1_1=np.cos(angle), pc1_2=-np.sin(angle), pc2_1=np.sin(angle), pc2_2=np.cos(angle),
    )  # fmt: skip
    gwcs = imaging_wcs(keywords, (64, 60))
    fits_wcs = WCS(naxis=2)
    fits_wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    fits_wcs.wcs.crpix = [keywords.crpix1, keywords.crpix2]
    fits_wcs.wcs.crval = [keywords.crval1, keywords.crval2]
    fits_wcs.wcs.cdelt = [keywords.cdelt1, keywords.cdelt2]
    fits_wcs.wcs.pc = [[keywords.pc1_1, keywords.pc1_2], [keywords.pc2_1, keywords.pc2_2]]
    for x, y in ((0.0, 0.0), (32.2, 29.7), (59.0, 63.0)):
        ra, dec = gwcs(x, y)
        expected = fits_wcs.all_pix2world([[x, y]], 0)[0]
        assert ra == pytest.approx(expected[0], abs=1e-9) and dec == pytest.approx(expected[1], abs=1e-9)
    assert gwcs.array_shape == (64, 60)
    assert tuple(gwcs.invert(*gwcs(10.5, 20.25))) == pytest.approx((10.5, 20.25), abs=1e-6)


def test_keyword_wcs_needs_the_basic_keywords():
    with pytest.raises(KeyError, match="CDELT1"):
        WcsKeywords.from_mapping({"crpix1": 1, "crpix2": 1, "crval1": 0, "crval2": 0, "cdelt2": 1})
