"""The full near-infrared detector1 chain on a realistic raw subarray with a CRDS cache (no jwst)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from asnflow.calib.base import Node, RunContext
from asnflow.calib.detector1 import MODULE, run_detector1
from asnflow.calib.refs import CrdsRefs
from asnflow.errors import CalibrationError

from detector1_data import DQ, FRAME_TIME_FULL, Detector, Exposure, make_ramp, reference_models, write_cache

SIZE = 48
STEPS = ("dq_init", "saturation", "ipc", "superbias", "refpix", "linearity", "dark_sub", "jump", "ramp_fit")


@pytest.fixture(scope="module")
def niriss(tmp_path_factory):
    """A NIRISS subarray at the detector corner (reference pixels on two sides) and its cache."""
    folder = tmp_path_factory.mktemp("niriss")
    detector = Detector("niriss")
    cache = write_cache(
        folder / "crds",
        detector,
        region=(SIZE, SIZE),
        dark_groups=20,
        parameters={"pars-chargemigrationstep": {"skip": False}, "pars-jumpstep": {"rejection_threshold": 5.0}},
    )
    exposure = Exposure("niriss", shape=(SIZE, SIZE), ngroups=6, nframes=2, nints=2, frame_time=FRAME_TIME_FULL)
    ramp = make_ramp(exposure, detector)
    ramp.save(str(folder / ramp.meta.filename))
    return folder, cache, ramp.meta.filename, detector


def calibrate(folder: Path, cache: Path, name: str, outputs=("rate", "rateints"), **options) -> Path:
    workdir = folder / "work"
    workdir.mkdir(exist_ok=True)
    stem = name[: -len(".fits")]
    root = stem[: -len("_uncal")]
    node = Node(f"detector1:{stem}", "exposure", "detector1", folder / name, None, tuple(f"{root}_{o}.fits" for o in outputs))
    MODULE.run(node, RunContext(folder, workdir, CrdsRefs(cache), {"maximum_cores": "1", **options}))
    return workdir / f"{root}_rate.fits"


def test_every_step_runs_and_is_recorded(niriss):
    folder, cache, name, _ = niriss
    with datamodels.ImageModel(str(calibrate(folder, cache, name))) as rate:
        steps = rate.meta.cal_step
        assert all(getattr(steps, step) == "COMPLETE" for step in STEPS)
        assert steps.charge_migration == "COMPLETE"  # turned on by the cache's pars-chargemigrationstep
        assert (steps.group_scale, steps.gain_scale, steps.persistence) == ("SKIPPED", "SKIPPED", "SKIPPED")
        refs = rate.meta.ref_file
        for reftype in ("mask", "saturation", "superbias", "ipc", "linearity", "dark", "gain", "readnoise"):
            assert getattr(refs, reftype).name == f"crds://jwst_niriss_{reftype}_0001.fits"
        assert rate.meta.bunit_data == "DN/s"


def test_the_rates_are_the_sky_and_stars_put_in(niriss):
    folder, cache, name, detector = niriss
    with datamodels.ImageModel(str(calibrate(folder, cache, name))) as rate:
        usable = (rate.dq & DQ["DO_NOT_USE"]) == 0
        # most pixels see only the sky, 2 e-/s at a gain of 2: bias, reference drifts,
        # non-linearity and dark (0.01 DN/s) are gone
        assert np.median(rate.data[usable]) == pytest.approx(1.0, abs=0.1)
        # pixels the mask calls DO_NOT_USE (hot, dead, reference) have no rate
        mask = detector.mask[:SIZE, :SIZE]
        assert np.all(np.isnan(rate.data[(mask & DQ["DO_NOT_USE"]) != 0]))
        assert np.all(rate.dq[(mask & DQ["REFERENCE_PIXEL"]) != 0] & DQ["REFERENCE_PIXEL"])
        # the pixel without a saturation threshold is flagged NO_SAT_CHECK
        assert rate.dq[10, 10] & DQ["NO_SAT_CHECK"]


def test_step_parameters_from_the_cache_change_the_result(niriss):
    folder, cache, name, _ = niriss
    with datamodels.RampModel(str(folder / name)) as ramp:
        seen = []
        run_detector1(ramp, CrdsRefs(cache), {"steps": {"jump": {"rejection_threshold": 1000.0}}}, on_step=lambda s, r: seen.append(s))
        assert ramp.meta.cal_step.jump == "COMPLETE"
        assert not np.any(ramp.groupdq & 4)  # no jump is 1000 sigma
    assert seen[:3] == ["group_scale", "dq_init", "saturation"] and seen[-2:] == ["ramp_fit", "gain_scale"]
    with pytest.raises(CalibrationError, match="unknown jump parameter"):
        with datamodels.RampModel(str(folder / name)) as ramp:
            run_detector1(ramp, CrdsRefs(cache), {"steps": {"jump": {"rejection_treshold": 3.0}}})


def test_a_missing_reference_type_fails_in_one_line_and_writes_nothing(tmp_path, niriss):
    from asnflow.calib.crds_cache import write_crds_cache

    folder, _, name, detector = niriss
    refs = [ref for ref in reference_models(detector, region=(SIZE, SIZE), dark_groups=20) if ref.reftype != "mask"]
    cache = write_crds_cache(tmp_path / "crds", "niriss", refs)
    work = tmp_path / "work"
    work.mkdir()
    node = Node(f"detector1:{name[:-5]}", "exposure", "detector1", folder / name, None, ("x_rate.fits",))
    with pytest.raises(CalibrationError) as failure:
        MODULE.run(node, RunContext(folder, work, CrdsRefs(cache), {}))
    message = str(failure.value)
    assert "mask" in message and str(cache) in message and "\n" not in message
    assert os.listdir(work) == []


def test_a_corrupt_reference_file_is_named(tmp_path, niriss):
    folder, cache, name, _ = niriss
    copy = tmp_path / "crds"
    import shutil

    shutil.copytree(cache, copy)
    linearity = copy / "references" / "jwst" / "niriss" / "jwst_niriss_linearity_0001.fits"
    linearity.write_bytes(linearity.read_bytes()[:5000])
    with datamodels.RampModel(str(folder / name)) as ramp:
        with pytest.raises(CalibrationError, match=r"cannot read linearity reference jwst_niriss_linearity_0001\.fits"):
            run_detector1(ramp, CrdsRefs(copy), {})


@pytest.mark.parametrize(("attribute", "keyword"), [("exposure.nframes", "NFRAMES"), ("subarray.fastaxis", "FASTAXIS")])
def test_a_raw_file_without_a_needed_keyword_is_refused(tmp_path, niriss, attribute, keyword):
    folder, cache, name, _ = niriss
    with datamodels.RampModel(str(folder / name)) as ramp:
        group, key = attribute.split(".")
        setattr(getattr(ramp.meta, group), key, None)
        ramp.save(str(tmp_path / name))
    work = tmp_path / "work"
    work.mkdir()
    node = Node(f"detector1:{name[:-5]}", "exposure", "detector1", tmp_path / name, None, ("x_rate.fits",))
    with pytest.raises(CalibrationError, match=f"{name} lacks header keyword.*{keyword}") as failure:
        MODULE.run(node, RunContext(tmp_path, work, CrdsRefs(cache), {}))
    assert "\n" not in str(failure.value)
    assert os.listdir(work) == []


def test_irs2_and_mid_infrared_exposures_are_left_to_jwst(niriss):
    folder, cache, name, _ = niriss
    with datamodels.RampModel(str(folder / name)) as ramp:
        ramp.meta.exposure.readpatt = "NRSIRS2RAPID"
        with pytest.raises(CalibrationError, match="traditional readouts only"):
            run_detector1(ramp, CrdsRefs(cache), {})
        ramp.meta.exposure.readpatt = "NISRAPID"
        ramp.meta.instrument.name = "MIRI"
        with pytest.raises(CalibrationError, match="MIRI exposure"):
            run_detector1(ramp, CrdsRefs(cache), {})
