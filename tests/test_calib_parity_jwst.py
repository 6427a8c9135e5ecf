"""jwst 3.0.0 runs offline against the synthetic CRDS cache, on the realistic raw data (needs jwst)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from jwst_offline import pipeline_script

pytestmark = pytest.mark.jwst

SCRIPT = pipeline_script("Detector1Pipeline")


def test_jwst_detector1_runs_offline_on_the_realistic_data_with_every_reference_from_the_cache(tmp_path):
    pytest.importorskip("jwst")
    from stdatamodels.jwst import datamodels

    from asnflow.demo.inputs import write_program_inputs
    from asnflow.demo.instruments import niriss
    from asnflow.demo.raw import Program

    program = Program(niriss(), 64)
    made = write_program_inputs(tmp_path / "data", [program])
    uncal = made.raw[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRDS_")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(made.crds_cache), str(uncal), str(tmp_path)],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rate_path = Path(tmp_path) / uncal.name.replace("_uncal", "_rate")
    with datamodels.open(str(rate_path)) as rate:
        steps = rate.meta.cal_step
        for step in ("dq_init", "saturation", "ipc", "superbias", "refpix", "linearity", "dark_sub", "jump", "ramp_fit"):
            assert getattr(steps, step) == "COMPLETE", step
        assert steps.charge_migration == "COMPLETE"  # turned on by the cache's pars-chargemigrationstep
        for reftype in ("mask", "saturation", "superbias", "linearity", "dark", "gain", "readnoise"):
            assert getattr(rate.meta.ref_file, reftype).name.startswith(f"crds://jwst_niriss_{reftype}_")
        hot = program.detector.hot
        assert np.isnan(rate.data[hot]).all()  # MASK says DO_NOT_USE
