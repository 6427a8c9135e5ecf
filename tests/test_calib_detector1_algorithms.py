"""The detector1 algorithms asnflow implements itself, on small arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from asnflow.calib.algorithms import dq_init, gain_scale, group_scale, ipc, refpix, superbias

FLAGS = {"DO_NOT_USE": 1, "REFERENCE_PIXEL": 2**31}


def full_frame_drifts(rng, *, nints=1, ngroups=2):
    """Full-frame ramps (detector orientation = science orientation) with amplifier, odd/even and row drifts."""
    data = rng.normal(1000.0, 1.0, (nints, ngroups, 2048, 2048)).astype(np.float32)
    offsets = rng.normal(0.0, 50.0, (4, 2))
    for amp in range(4):
        data[..., amp * 512 : (amp + 1) * 512 : 2] += offsets[amp, 0]
        data[..., amp * 512 + 1 : (amp + 1) * 512 : 2] += offsets[amp, 1]
    rows = np.cumsum(rng.normal(0.0, 2.0, 2048))
    data += rows[:, None].astype(np.float32)
    return data


def readout(**kwargs):
    values = dict(xstart=1, ystart=1, xsize=2048, ysize=2048, fastaxis=1, slowaxis=2, noutputs=4)
    values.update(kwargs)
    return refpix.Readout(**values)


def test_full_frame_reference_pixels_remove_amplifier_column_and_row_drifts():
    rng = np.random.default_rng(3)
    data = full_frame_drifts(rng)
    row_drift = np.std(np.median(data[0, 0, 4:-4, 4:-4], axis=1))
    assert refpix.correct_reference_pixels(data, np.zeros((2048, 2048), np.uint32), readout(), FLAGS)
    science = data[..., 4:-4, 4:-4]
    # what is left is the 1000 DN level (the reference pixels see it too) and noise
    assert abs(float(np.median(science))) < 1.0
    per_column = np.median(science[0, 0], axis=0)
    assert np.std(per_column) < 0.5  # odd/even and amplifier offsets gone
    per_row = np.median(science[0, 0], axis=1)
    assert np.std(per_row) < 0.1 * row_drift  # the row drift is gone but for what 11-row smoothing leaves


def test_reference_pixel_correction_works_in_readout_orientation():
    rng = np.random.default_rng(4)
    data = full_frame_drifts(rng, ngroups=1)
    transposed = np.ascontiguousarray(np.swapaxes(data, -2, -1)[..., ::-1, ::-1])  # as NIRISS (fast -2, slow -1)
    plain = data.copy()
    refpix.correct_reference_pixels(plain, np.zeros((2048, 2048), np.uint32), readout(), FLAGS)
    refpix.correct_reference_pixels(transposed, np.zeros((2048, 2048), np.uint32), readout(fastaxis=-2, slowaxis=-1), FLAGS)
    np.testing.assert_array_equal(np.swapaxes(transposed[..., ::-1, ::-1], -2, -1), plain)


def test_unusable_reference_pixels_are_left_out():
    rng = np.random.default_rng(5)
    data = full_frame_drifts(rng, ngroups=1)
    reference = data.copy()
    pixeldq = np.zeros((2048, 2048), np.uint32)
    data[0, 0, :4, 100] = 1e6  # a wild reference pixel in amplifier A
    pixeldq[:4, 100] = FLAGS["DO_NOT_USE"]
    for array in (data, reference):
        refpix.correct_reference_pixels(array, pixeldq, readout(), FLAGS)
    np.testing.assert_allclose(data[..., 4:, :], reference[..., 4:, :], atol=1e-3)


def test_one_amplifier_subarray_subtracts_its_reference_pixel_means():
    data = np.full((1, 1, 32, 32), 500.0, np.float32)
    data[..., 0::2] += 7.0
    pixeldq = np.zeros((32, 32), np.uint32)
    pixeldq[:4, :] = FLAGS["REFERENCE_PIXEL"]  # the subarray touches the detector's bottom edge
    zeroframe = np.full((1, 32, 32), 400.0, np.float32)  # corrected by its own reference pixels
    zeroframe[0, 6, 6] += 10.0
    zeroframe[0, 5, 5] = 0.0  # not read
    sub = readout(xsize=32, ysize=32, noutputs=1, xstart=101)
    assert refpix.correct_reference_pixels(data, pixeldq, sub, FLAGS, zeroframe=zeroframe)
    assert np.all(data == 0.0)
    assert zeroframe[0, 5, 5] == 0.0 and zeroframe[0, 6, 6] == 10.0 and zeroframe[0, 7, 7] == 0.0


def test_a_subarray_off_the_detector_is_skipped():
    data = np.ones((1, 1, 8, 8), np.float32)
    assert not refpix.correct_reference_pixels(data, np.zeros((8, 8), np.uint32), readout(xstart=2045, xsize=8, ysize=8, noutputs=1), FLAGS)
    assert np.all(data == 1.0)


def test_running_median_matches_a_window_by_window_median():
    rng = np.random.default_rng(6)
    columns = rng.normal(0, 10, (60, 4)).astype(np.float32)
    dq = np.zeros((60, 4), np.uint32)
    dq[rng.random((60, 4)) < 0.2] = 1
    dq[20:32, :] = 1  # a stretch with no usable pixel at all
    got = refpix.running_median(columns, dq, 11, 1)
    reflected = np.concatenate([columns[5:0:-1], columns, columns[-2:-7:-1]])
    reflected_dq = np.concatenate([dq[5:0:-1], dq, dq[-2:-7:-1]])
    for row in range(60):
        window, flags = reflected[row : row + 11], reflected_dq[row : row + 11]
        usable = window[flags == 0]
        if usable.size:
            assert got[row] == np.median(usable)
        else:
            assert np.isnan(got[row])


def test_ipc_kernel_with_unit_centre_changes_nothing_and_a_spike_spreads():
    data = np.zeros((1, 1, 16, 16), np.float32)
    data[0, 0, 8, 8] = 1000.0
    identity = np.zeros((3, 3), np.float32)
    identity[1, 1] = 1.0
    kept = data.copy()
    ipc.correct_ipc(kept, identity, ipc.reference_margins(1, 1, 16, 16))
    np.testing.assert_array_equal(kept, data)

    kernel = np.array([[0, -0.01, 0], [-0.02, 1.06, -0.02], [0, -0.01, 0]], np.float32)
    margins = ipc.reference_margins(1, 1, 16, 16)
    assert margins == ipc.ReferenceMargins(bottom=4, top=0, left=4, right=0)
    ipc.correct_ipc(data, kernel, margins)
    assert data[0, 0, 8, 8] == pytest.approx(1060.0)
    assert data[0, 0, 8, 7] == pytest.approx(-20.0) and data[0, 0, 8, 9] == pytest.approx(-20.0)
    assert data[0, 0, 7, 8] == pytest.approx(-10.0) and data[0, 0, 9, 8] == pytest.approx(-10.0)
    assert data.sum() == pytest.approx(1000.0, rel=1e-5)


def test_per_pixel_ipc_kernel_is_cut_to_the_subarray():
    kernel = np.zeros((3, 3, 2048, 2048), np.float32)
    kernel[1, 1] = 2.0
    cut = ipc.kernel_for(kernel, 101, 201, 16, 8)
    assert cut.shape == (3, 3, 8, 16)
    data = np.ones((1, 2, 8, 16), np.float32)
    ipc.correct_ipc(data, cut, ipc.reference_margins(101, 201, 16, 8))
    assert np.all(data == 2.0)


@pytest.mark.parametrize(("nframes", "divisor", "needed"), [(4, None, False), (5, None, True), (5, 4, True), (4, 4, False)])
def test_group_scale_only_when_the_divisor_is_not_nframes(nframes, divisor, needed):
    assert group_scale.needs_rescaling(nframes, divisor) is needed


def test_group_scale_rescales_by_divisor_over_nframes():
    data = np.full((1, 2, 2, 2), 100.0, np.float32)
    group_scale.rescale_groups(data, 5, 4)
    assert np.all(data == np.float32(80.0))


def test_dq_init_marks_do_not_use_pixels_in_every_group():
    pixeldq = np.zeros((2, 2), np.uint32)
    groupdq = np.zeros((1, 3, 2, 2), np.uint8)
    mask = np.array([[0, 1 | 2048], [2**31, 0]], np.uint32)
    dq_init.initialize_dq(pixeldq, groupdq, mask, 1)
    assert pixeldq.tolist() == mask.tolist()
    assert groupdq[0, :, 0, 1].tolist() == [1, 1, 1] and groupdq.sum() == 3


def test_superbias_ignores_nan_and_keeps_unread_zero_frame_pixels():
    data = np.full((1, 2, 2, 2), 100.0, np.float32)
    pixeldq = np.zeros((2, 2), np.uint32)
    bias = np.array([[10.0, np.nan], [20.0, 30.0]], np.float32)
    zeroframe = np.array([[[50.0, 0.0], [50.0, 50.0]]], np.float32)
    superbias.subtract_superbias(data, pixeldq, bias, np.array([[0, 0], [4, 0]], np.uint32), zeroframe)
    assert data[0, 0].tolist() == [[90.0, 100.0], [80.0, 70.0]]
    assert pixeldq[1, 0] == 4
    assert zeroframe[0].tolist() == [[40.0, 0.0], [30.0, 20.0]]


def test_gain_scale_scales_rates_and_variances():
    data, err = np.full(3, 2.0, np.float32), np.full(3, 1.0, np.float32)
    poisson, rnoise = np.full(3, 4.0, np.float32), np.full(3, 1.0, np.float32)
    gain_scale.scale_rates(data, err, poisson, rnoise, 2.0)
    assert (data[0], err[0], poisson[0], rnoise[0]) == (4.0, 2.0, 16.0, 4.0)
