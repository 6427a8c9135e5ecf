"""Native calibration against jwst 3.0.0 on realistic FGS and NIRSpec raw data (needs jwst: ``-m jwst``).

One exposure of each, read with a frame-averaging pattern (FGS: FGS, NIRSpec:
NRS, NFRAMES 4): native detector1 gives jwst's ``_rate`` and ``_rateints``
bit for bit, and for FGS ``asnflow run`` on the image2 association gives
jwst's ``_cal``. (``benchmarks/calib_parity`` measures every exposure, step
and product, image3 included.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from jwst_offline import pipeline_script

pytestmark = pytest.mark.jwst

ARRAYS = ("data", "dq", "err", "var_poisson", "var_rnoise")


def run_jwst(pipeline: str, cache: Path, path: Path, out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRDS_")}
    done = subprocess.run(
        [sys.executable, "-c", pipeline_script(pipeline), str(cache), str(path), str(out)],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    pytest.importorskip("jwst")
    from asnflow.demo.inputs import write_program_inputs
    from asnflow.demo.instruments import fgs, nirspec
    from asnflow.demo.raw import Program

    folder = tmp_path_factory.mktemp("fgs-nirspec")
    programs = {"fgs": Program(fgs(6), 32, program="09997"), "nirspec": Program(nirspec(6), 32, program="09996")}
    inputs = write_program_inputs(folder / "data", list(programs.values()))
    return folder, programs, inputs.crds_cache


@pytest.mark.parametrize("name", ["fgs", "nirspec"])
def test_native_detector1_is_bit_identical_to_jwst(made, name):
    from stdatamodels.jwst import datamodels

    from asnflow.calib.detector1 import run_detector1
    from asnflow.calib.refs import CrdsRefs

    folder, programs, cache = made
    exposure = programs[name].exposures()[-1]
    uncal = folder / "data" / exposure.uncal_name
    out = folder / f"jwst-{name}"
    out.mkdir()
    run_jwst("Detector1Pipeline", cache, uncal, out)
    with datamodels.RampModel(str(uncal)) as ramp:
        assert ramp.meta.exposure.nframes == 4
        rate, rateints = run_detector1(ramp, CrdsRefs(cache), {})
    with rate, rateints:
        for suffix, ours in (("rate", rate), ("rateints", rateints)):
            with datamodels.open(str(out / f"{exposure.root}_{suffix}.fits")) as theirs:
                for array in ARRAYS:
                    np.testing.assert_array_equal(getattr(ours, array), getattr(theirs, array), f"{suffix} {array}")
                assert ours.meta.cal_step.instance == theirs.meta.cal_step.instance
                assert theirs.meta.cal_step.refpix == "COMPLETE"


def test_fgs_image2_through_asnflow_run_gives_jwsts_cal(made):
    from stdatamodels.jwst import datamodels

    import asnflow
    from asnflow.asnfile.files import dumps
    from asnflow.demo.raw import pool_name

    folder, programs, cache = made
    program = programs["fgs"]
    exposure = program.exposures()[0]
    out = folder / "jwst-fgs-image2"
    out.mkdir()
    run_jwst("Detector1Pipeline", cache, folder / "data" / exposure.uncal_name, out)
    run_jwst("Image2Pipeline", cache, out / f"{exposure.root}_rate.fits", out)

    native = folder / "native"
    native.mkdir()
    os.link(folder / "data" / exposure.uncal_name, native / exposure.uncal_name)
    (document,) = [
        d
        for d in asnflow.generate(folder / "data" / pool_name(program))
        if d["asn_type"] == "image2" and d["products"][0]["name"] == exposure.root
    ]
    asn = native / "image2_asn.json"
    asn.write_text(dumps(document, "json"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "asnflow", "run", "--crds-cache", str(cache), "--quiet", str(asn)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    name = f"{exposure.root}_cal.fits"
    with datamodels.open(str(native / name)) as ours, datamodels.open(str(out / name)) as theirs:
        for array in (*ARRAYS, "var_flat"):
            np.testing.assert_array_equal(getattr(ours, array), getattr(theirs, array), array)
        assert ours.meta.photometry.conversion_megajanskys == theirs.meta.photometry.conversion_megajanskys
        assert ours.meta.photometry.pixelarea_steradians == theirs.meta.photometry.pixelarea_steradians
