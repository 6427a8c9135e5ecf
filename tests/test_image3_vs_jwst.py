"""Native image3 against jwst 3.0.0's Image3Pipeline on the same ``_cal`` members (needs jwst).

The members come from the native chain on the realistic NIRISS program (its
``_cal`` files match jwst's bit for bit, see the harness in
``benchmarks/calib_parity``); both routes then build the mosaic from the very
same files with the same CRDS cache. jwst's tweakreg finds too few matches
on a 64x64 field and leaves the WCS alone, so the comparison covers
skymatch, outlier detection and resample.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from jwst_offline import pipeline_script

pytestmark = pytest.mark.jwst

JWST_IMAGE3 = pipeline_script("Image3Pipeline")


def run(command: list[str], **kwargs) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRDS_")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, **kwargs)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


@pytest.fixture(scope="module")
def mosaics(tmp_path_factory):
    pytest.importorskip("jwst")
    from asnflow.demo.inputs import write_program_inputs
    from asnflow.demo.instruments import niriss
    from asnflow.demo.raw import Program

    base = tmp_path_factory.mktemp("image3")
    data = base / "data"
    made = write_program_inputs(data, [Program(niriss(), 64)])
    run([sys.executable, "-m", "asnflow", "generate", str(made.pool), "-p", str(data), "-q"])
    associations = sorted(data.glob("*_image3_*_asn.json"))
    assert associations
    run([sys.executable, "-m", "asnflow", "run", "--data", str(data), "-q", *map(str, sorted(data.glob("*_asn.json")))])

    jwst_dir = base / "jwst"
    jwst_dir.mkdir()
    for path in data.glob("*_cal.fits"):
        shutil.copyfile(path, jwst_dir / path.name)
    association = jwst_dir / associations[0].name
    shutil.copyfile(associations[0], association)
    run([sys.executable, "-c", JWST_IMAGE3, str(made.crds_cache), str(association), str(jwst_dir)])
    return data, jwst_dir


def products(folder: Path, suffix: str) -> dict[str, Path]:
    return {p.name: p for p in folder.glob(f"*{suffix}")}


def test_outlier_flags_sky_levels_and_crf_data_are_jwst_s(mosaics):
    from stdatamodels.jwst import datamodels

    native_dir, jwst_dir = mosaics
    theirs = products(jwst_dir, "_crf.fits")
    assert theirs
    for name, path in theirs.items():
        with datamodels.open(str(native_dir / name)) as ours, datamodels.open(str(path)) as expected:
            assert np.array_equal(ours.dq & 16, expected.dq & 16), name  # OUTLIER
            assert np.array_equal(ours.data, expected.data, equal_nan=True), name
            assert ours.meta.background.level == pytest.approx(expected.meta.background.level, rel=1e-9, abs=1e-12)
            assert ours.meta.background.subtracted is expected.meta.background.subtracted is False


def test_the_mosaic_is_jwst_s_bit_for_bit(mosaics):
    """Same grid, same sky levels, same outliers, same drizzle calls: the same numbers."""
    from stdatamodels.jwst import datamodels

    native_dir, jwst_dir = mosaics
    theirs = products(jwst_dir, "_i2d.fits")
    assert len(theirs) == 1
    name, path = next(iter(theirs.items()))
    with datamodels.open(str(native_dir / name)) as ours, datamodels.open(str(path)) as expected:
        assert ours.data.shape == expected.data.shape
        ny, nx = expected.data.shape
        corners = (np.array([0, nx - 1, 0, nx - 1]), np.array([0, 0, ny - 1, ny - 1]))
        assert np.allclose(ours.meta.wcs(*corners), expected.meta.wcs(*corners), rtol=0, atol=1e-12)  # one grid
        for field in ("pixelarea_steradians", "pixelarea_arcsecsq"):  # the mosaic pixel's, for fluxes
            assert getattr(ours.meta.photometry, field) == getattr(expected.meta.photometry, field), field
        for array in ("data", "err", "wht", "con", "var_rnoise", "var_poisson", "var_flat"):
            assert np.array_equal(getattr(ours, array), getattr(expected, array), equal_nan=True), array
