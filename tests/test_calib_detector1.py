"""detector1 on small synthetic ramps: saturation, charge migration, jumps, ramp fitting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from asnflow.calib.base import Node, RunContext, module_for
from asnflow.calib.detector1 import MODULE, effective_maximum_cores, parse_maximum_cores
from asnflow.calib.refs import ArrayRefs
from asnflow.errors import CalibrationError

DNU, SATURATED, JUMP_DET, CHARGELOSS = 1, 2, 4, 128
GROUP_TIME = 10.0
REFS = ArrayRefs.from_values(gain=2.0, readnoise=5.0, saturation=60_000.0)
# as a CRDS cache whose pars-chargemigrationstep turns the step on (jwst 3.0.0 skips it by default)
REFS_CHARGE_MIGRATION = ArrayRefs(REFS.references, parameters={"pars-chargemigrationstep": {"skip": False}})


def write_ramp(folder: Path, data: np.ndarray, *, instrument: str = "NIRISS", name: str = "jw01_nis_uncal.fits") -> Node:
    ramp = datamodels.RampModel(data=data.astype(np.float32))
    ramp.groupdq = np.zeros(data.shape, np.uint8)
    ramp.pixeldq = np.zeros(data.shape[-2:], np.uint32)
    meta = ramp.meta
    meta.instrument.name = instrument
    meta.instrument.detector = "NIS" if instrument == "NIRISS" else "NRCA1"
    meta.exposure.type = "NIS_IMAGE" if instrument == "NIRISS" else "NRC_IMAGE"
    meta.exposure.nframes = 1
    meta.exposure.groupgap = 0
    meta.exposure.frame_time = GROUP_TIME
    meta.exposure.group_time = GROUP_TIME
    meta.exposure.ngroups = data.shape[1]
    meta.exposure.nints = data.shape[0]
    meta.observation.date = "2024-01-01"
    meta.observation.time = "00:00:00"
    meta.subarray.name = "SUB64" if instrument == "NIRISS" else "SUB64P"
    meta.subarray.xstart, meta.subarray.ystart = 100, 100  # away from the reference pixels
    meta.subarray.ysize, meta.subarray.xsize = data.shape[-2:]
    meta.subarray.fastaxis, meta.subarray.slowaxis = (-2, -1) if instrument == "NIRISS" else (-1, 2)
    meta.exposure.noutputs = 1
    ramp.save(str(folder / name))
    root = name[: -len("_uncal.fits")]
    return Node(f"detector1:{name[:-5]}", "exposure", "detector1", folder / name, None, (f"{root}_rate.fits",))


def noisy_ramp(shape: tuple[int, int, int, int], slope: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    times = GROUP_TIME * np.arange(1, shape[1] + 1)
    data = np.broadcast_to((slope * times)[None, :, None, None], shape).astype(np.float64)
    return data + rng.normal(0.0, 5.0, shape)


def run(node: Node, folder: Path, refs: ArrayRefs = REFS, **options) -> Path:
    workdir = folder / "work"
    workdir.mkdir(exist_ok=True)
    MODULE.run(node, RunContext(folder, workdir, refs, {"maximum_cores": "1", **options}))
    return workdir


@pytest.mark.parametrize("cores", ["1", "2"])
def test_ramp_fit_recovers_a_known_slope(tmp_path, cores):
    node = write_ramp(tmp_path, noisy_ramp((1, 10, 16, 16), slope=50.0))
    workdir = run(node, tmp_path, maximum_cores=cores)
    with datamodels.open(str(workdir / "jw01_nis_rate.fits")) as rate:
        assert rate.data.shape == (16, 16)
        assert np.median(rate.data) == pytest.approx(50.0, abs=0.05)
        assert np.all(np.abs(rate.data - 50.0) < 1.0)
        assert rate.meta.bunit_data == "DN/s"
        assert rate.meta.cal_step.ramp_fit == "COMPLETE"
        assert rate.meta.ref_file.gain.name == "array:gain"


def test_same_slopes_with_one_and_two_cores(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
        write_ramp(folder, noisy_ramp((1, 6, 12, 12), slope=20.0, seed=5))
    node = Node("detector1:jw01_nis_uncal", "exposure", "detector1", None, None, ("jw01_nis_rate.fits",))
    run(node, one, maximum_cores="1")
    run(node, two, maximum_cores="2")
    with datamodels.open(str(one / "work/jw01_nis_rate.fits")) as a, datamodels.open(str(two / "work/jw01_nis_rate.fits")) as b:
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6)


def test_a_cosmic_ray_is_flagged_and_left_out_of_the_slope(tmp_path):
    data = noisy_ramp((1, 8, 12, 12), slope=30.0)
    data[0, 4:, 6, 7] += 2500.0
    workdir = run(write_ramp(tmp_path, data), tmp_path)
    with datamodels.open(str(workdir / "jw01_nis_rate.fits")) as rate:
        assert rate.dq[6, 7] & JUMP_DET
        assert rate.data[6, 7] == pytest.approx(30.0, abs=1.0)
        assert not rate.dq[2, 2] & JUMP_DET


def test_saturated_pixel_is_flagged(tmp_path):
    data = noisy_ramp((1, 6, 8, 8), slope=10.0)
    data[0, :, 4, 4] = np.linspace(70_000, 80_000, 6)  # saturated from the first group: no slope
    workdir = run(write_ramp(tmp_path, data), tmp_path, charge_migration="off")
    with datamodels.open(str(workdir / "jw01_nis_rate.fits")) as rate:
        assert rate.dq[4, 4] & SATURATED and rate.dq[4, 4] & DNU
        assert np.isnan(rate.data[4, 4])


def charge_migration_ramp() -> np.ndarray:
    """A 400 DN/s pixel at (5, 5): 24,000 DN in group 5, 28,000 DN in group 6 (crosses 25,000)."""
    data = noisy_ramp((1, 8, 10, 10), slope=10.0)
    data[0, :, 5, 5] = 400.0 * GROUP_TIME * np.arange(1, 9)
    return data


def fitted_time(rate: datamodels.ImageModel, y: int, x: int, gain: float = 2.0) -> float:
    """The ramp length a pixel's fit used: Poisson variance = slope / (gain · time), within noise."""
    return float(rate.data[y, x] / (gain * rate.var_poisson[y, x]))


CROSSING = (5, 5)
NEIGHBOURS = ((4, 5), (6, 5), (5, 4), (5, 6))
DIAGONALS = ((4, 4), (4, 6), (6, 4), (6, 6))


@pytest.mark.parametrize(
    ("instrument", "pars", "setting", "expected"),
    [
        ("NIRISS", True, "auto", True),
        ("NIRISS", False, "auto", False),
        ("NIRCAM", False, "on", True),
        ("NIRISS", True, "off", False),
    ],
)
def test_charge_migration_drops_later_groups_of_the_pixel_and_its_four_neighbours(
    tmp_path, instrument, pars, setting, expected
):
    refs = REFS_CHARGE_MIGRATION if pars else REFS
    ramp = write_ramp(tmp_path, charge_migration_ramp(), instrument=instrument)
    workdir = run(ramp, tmp_path, refs, charge_migration=setting)
    with datamodels.open(str(workdir / "jw01_nis_rate.fits")) as rate:
        assert rate.meta.cal_step.charge_migration == ("COMPLETE" if expected else "SKIPPED")
        assert rate.data[CROSSING] == pytest.approx(400.0, rel=0.001)
        # with charge migration, groups 6 and 7 are CHARGELOSS|DO_NOT_USE: the fit spans groups 0-5
        flagged_span = GROUP_TIME * 5 if expected else GROUP_TIME * 7
        for y, x in (CROSSING, *NEIGHBOURS):
            assert fitted_time(rate, y, x) == pytest.approx(flagged_span, rel=0.1)
        for y, x in DIAGONALS:  # diagonal pixels are never flagged
            assert fitted_time(rate, y, x) == pytest.approx(GROUP_TIME * 7, rel=0.1)


def test_charge_migration_threshold_option(tmp_path):
    # a 25,000 DN crossing in group 6 is ignored with a 30,000 DN threshold (the ramp ends at 32,000)
    workdir = run(
        write_ramp(tmp_path, charge_migration_ramp()), tmp_path, REFS_CHARGE_MIGRATION, charge_migration_threshold=30_000.0
    )
    with datamodels.open(str(workdir / "jw01_nis_rate.fits")) as rate:
        assert fitted_time(rate, *CROSSING) == pytest.approx(GROUP_TIME * 6, rel=0.02)  # 32,000 DN in group 7 only
    with pytest.raises(CalibrationError, match="signal_threshold"):
        run(write_ramp(tmp_path, charge_migration_ramp()), tmp_path, charge_migration_threshold="high")


@pytest.mark.parametrize("value", ["none", "one", "quarter", "half", "all", "1", "3", 2, "ALL"])
def test_maximum_cores_accepts_what_stcal_takes(value):
    parsed = parse_maximum_cores(value)
    assert parsed == str(value).lower()


@pytest.mark.parametrize("value", ["0", "-1", "many", "1.5", ""])
def test_maximum_cores_refuses_other_values(value):
    with pytest.raises(CalibrationError, match="maximum_cores"):
        parse_maximum_cores(value)


def test_more_cores_fall_back_to_one_only_in_daemonic_workers():
    import multiprocessing

    assert not multiprocessing.current_process().daemon
    assert effective_maximum_cores("all") == "all"
    assert effective_maximum_cores("one") == "one"


def test_rateints_is_written_when_a_consumer_lists_it(tmp_path):
    write_ramp(tmp_path, noisy_ramp((3, 5, 8, 8), slope=12.0))
    node = Node(
        "detector1:jw01_nis_uncal", "exposure", "detector1", None, None, ("jw01_nis_rate.fits", "jw01_nis_rateints.fits")
    )
    workdir = run(node, tmp_path)
    with datamodels.open(str(workdir / "jw01_nis_rateints.fits")) as ints, datamodels.open(
        str(workdir / "jw01_nis_rate.fits")
    ) as rate:
        assert ints.data.shape == (3, 8, 8)
        assert np.median(ints.data) == pytest.approx(12.0, abs=0.3)
        assert rate.data.shape == (8, 8)


def test_outputs_default_to_rate_and_the_module_is_found_by_asn_type():
    node = Node("detector1:jw01_nis_uncal", "exposure", "detector1", None, None)
    assert module_for("detector1") is MODULE
    assert MODULE.outputs(node) == ["jw01_nis_rate.fits"]
    assert MODULE.inputs(node) == ["jw01_nis_uncal.fits"]


def test_bad_inputs_fail_the_node_with_one_line(tmp_path):
    node = Node("detector1:jw02_nis_uncal", "exposure", "detector1", None, None, ("jw02_nis_rate.fits",))
    with pytest.raises(CalibrationError, match="jw02_nis_uncal.fits is missing") as missing:
        run(node, tmp_path)
    assert "\n" not in str(missing.value)

    (tmp_path / "jw02_nis_uncal.fits").write_text("not a FITS file")
    with pytest.raises(CalibrationError, match="cannot read jw02_nis_uncal.fits"):
        run(node, tmp_path)

    image = datamodels.ImageModel(np.zeros((4, 4), np.float32))
    image.save(str(tmp_path / "jw02_nis_uncal.fits"))
    with pytest.raises(CalibrationError):
        run(node, tmp_path)

    write_ramp(tmp_path, noisy_ramp((1, 4, 4, 4), 1.0))
    good = Node("detector1:jw01_nis_uncal", "exposure", "detector1", None, None, ("jw01_nis_rate.fits",))
    with pytest.raises(CalibrationError, match="charge_migration must be"):
        run(good, tmp_path, charge_migration="sometimes")


def test_without_a_reference_provider_the_node_fails(tmp_path):
    node = write_ramp(tmp_path, noisy_ramp((1, 4, 4, 4), 1.0))
    (tmp_path / "w").mkdir()
    with pytest.raises(CalibrationError, match="needs reference data"):
        MODULE.run(node, RunContext(tmp_path, tmp_path / "w", None, {}))


def test_products_are_byte_identical_when_run_twice(tmp_path):
    node = write_ramp(tmp_path, noisy_ramp((1, 5, 8, 8), slope=3.0))
    first = (run(node, tmp_path) / "jw01_nis_rate.fits").read_bytes()
    second = (run(node, tmp_path) / "jw01_nis_rate.fits").read_bytes()
    assert first == second
