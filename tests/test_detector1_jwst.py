"""Native detector1 against jwst 3.0.0 on the same raw exposure and CRDS cache (needs jwst: ``-m jwst``)."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = pytest.mark.jwst

SIZE = 64


@pytest.fixture(scope="module", params=["niriss", "nircam"])
def calibrated(request, tmp_path_factory):
    """(native rate, native rateints, jwst folder, root) for one instrument."""
    pytest.importorskip("jwst")
    from stdatamodels.jwst import datamodels

    from asnflow.calib.detector1 import run_detector1
    from asnflow.calib.refs import CrdsRefs

    from detector1_data import FRAME_TIME_FULL, Detector, Exposure, make_ramp, write_cache

    instrument = request.param
    folder = tmp_path_factory.mktemp(instrument)
    detector = Detector(instrument)
    parameters = {"pars-chargemigrationstep": {"skip": False}} if instrument == "niriss" else None
    cache = write_cache(
        folder / "crds", detector, region=(SIZE, SIZE), dark_groups=20, ipc=instrument == "niriss", parameters=parameters
    )
    exposure = Exposure(instrument, shape=(SIZE, SIZE), ngroups=6, nframes=2, nints=2, frame_time=FRAME_TIME_FULL)
    ramp = make_ramp(exposure, detector)
    uncal = folder / ramp.meta.filename
    ramp.save(str(uncal))

    saved = {name: os.environ.get(name) for name in ("CRDS_PATH", "CRDS_SERVER_URL", "CRDS_MODE")}
    os.environ.update(CRDS_PATH=str(cache), CRDS_SERVER_URL="https://jwst-serverless-mode.stsci.edu", CRDS_MODE="local")
    try:
        from crds.core import utils as crds_utils
        from jwst.pipeline import Detector1Pipeline

        crds_utils.clear_function_caches()  # crds keeps the previous cache's answers otherwise

        Detector1Pipeline.call(str(uncal), output_dir=str(folder), save_results=True)
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    with datamodels.RampModel(str(uncal)) as raw:
        rate, rateints = run_detector1(raw, CrdsRefs(cache), {})
    yield rate, rateints, folder, uncal.name[: -len("_uncal.fits")]
    rate.close()
    rateints.close()


@pytest.mark.parametrize("suffix", ["rate", "rateints"])
def test_products_are_bit_identical_to_jwst(calibrated, suffix):
    from stdatamodels.jwst import datamodels

    rate, rateints, folder, root = calibrated
    ours = rate if suffix == "rate" else rateints
    with datamodels.open(str(folder / f"{root}_{suffix}.fits")) as theirs:
        for name in ("data", "err", "var_poisson", "var_rnoise", "dq"):
            np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=f"{suffix} {name}")
        assert ours.meta.cal_step.instance == theirs.meta.cal_step.instance
        for reftype, entry in theirs.meta.ref_file.instance.items():
            if reftype != "crds":
                assert ours.meta.ref_file.instance[reftype]["name"] == entry["name"]
