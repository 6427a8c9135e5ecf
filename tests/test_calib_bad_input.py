"""Bad calibration input through ``asnflow run``: one line naming the file and what is missing,
that node failed, its descendants skipped with the reason, no traceback, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst import datamodels

from asnflow.calib.crds_cache import CacheReference, write_crds_cache
from asnflow.cli import main
from asnflow.workflow.dispatch import FAILED, SCRATCH_DIR, SKIPPED, SUCCEEDED, read_run_log

from test_calib_image import DITHERS, SHAPE, write_rate

ROOTS = [f"jw09999001001_02101_{n:05d}_nis" for n in range(1, len(DITHERS) + 1)]
IMAGE3 = "jw09999-o001_image3_00001_asn"
MOSAIC = "jw09999-o001_t001_niriss_clear-f150w"


def reference(model, reftype: str):
    meta = model.meta
    meta.instrument.name, meta.instrument.detector = "NIRISS", "NIS"
    meta.reftype, meta.description, meta.author, meta.pedigree = reftype.upper(), "test", "asnflow tests", "DUMMY"
    meta.useafter, meta.date = "2014-01-01T00:00:00", "2024-07-01T00:00:00"
    return model


def write_cache(folder: Path, reftypes=("flat", "photom")) -> Path:
    references = []
    if "flat" in reftypes:
        flat = reference(datamodels.FlatModel(data=np.full(SHAPE, 1.1, np.float32)), "flat")
        flat.dq, flat.err = np.zeros(SHAPE, np.uint32), np.zeros(SHAPE, np.float32)
        references.append(CacheReference("flat", {"META.INSTRUMENT.DETECTOR": "NIS"}, flat))
    if "photom" in reftypes:
        photom = reference(datamodels.NisImgPhotomModel(), "photom")
        photom.phot_table = np.array(
            [("CLEAR", "F150W", 0.245, 0.001)],
            dtype=[("filter", "S12"), ("pupil", "S15"), ("photmjsr", "<f4"), ("uncertainty", "<f4")],
        )
        photom.meta.photometry.pixelarea_steradians = 1.0e-13
        photom.meta.photometry.pixelarea_arcsecsq = 0.004254
        references.append(CacheReference("photom", {"META.INSTRUMENT.DETECTOR": "NIS"}, photom))
    return write_crds_cache(folder, "niriss", references)


def write_program(tmp_path: Path, reftypes=("flat", "photom")) -> tuple[Path, Path, Path]:
    """Three dithered rate files, their image2 associations and the image3 one, and a CRDS cache."""
    data, asns = tmp_path / "data", tmp_path / "asn"
    data.mkdir()
    asns.mkdir()
    rng = np.random.default_rng(3)
    for number, (root, dither) in enumerate(zip(ROOTS, DITHERS, strict=True), start=1):
        write_rate(data, f"{root}_rate.fits", rng.uniform(1, 2, SHAPE).astype(np.float32), exposure=number, dither=dither)
        association = {
            "asn_type": "image2", "asn_id": "o001", "asn_pool": "pool.csv",
            "products": [{"name": root, "members": [{"expname": f"{root}_rate.fits", "exptype": "science"}]}],
        }
        (asns / f"jw09999-o001_image2_{number:05d}_asn.json").write_text(json.dumps(association))
    association = {
        "asn_type": "image3", "asn_id": "o001", "asn_pool": "pool.csv",
        "products": [{"name": MOSAIC, "members": [{"expname": f"{r}_cal.fits", "exptype": "science"} for r in ROOTS]}],
    }
    (asns / f"{IMAGE3}.json").write_text(json.dumps(association))
    return asns, data, write_cache(tmp_path / "crds", reftypes)


def run(asns: Path, data: Path, cache: Path, capsys) -> tuple[int, str, str]:
    status = main(["run", str(asns), "--data", str(data), "--crds-cache", str(cache), "--no-exposures",
                   "--executor", "serial", "-q"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def statuses(data: Path) -> dict[str, tuple[str, str]]:
    return {node: (entry.status, entry.reason) for node, entry in read_run_log(data).items()}


def assert_failed_cleanly(data: Path, failed: str, reason_parts: list[str], out: str) -> None:
    logged = statuses(data)
    status, reason = logged[failed]
    assert status == FAILED
    assert "\n" not in reason and all(part in reason for part in reason_parts), reason
    assert logged[IMAGE3] == (SKIPPED, f"upstream {failed} failed")
    assert reason in out and f"upstream {failed} failed" in out
    log_lines = [json.loads(line) for line in (data / "asnflow-run.jsonl").read_text().splitlines()]
    assert not any("traceback" in line for line in log_lines)  # an expected failure, not a bug
    assert not (data / SCRATCH_DIR).exists()
    assert not list(data.glob(f"{MOSAIC}*"))  # nothing downstream was written


def test_the_program_calibrates_when_nothing_is_wrong(tmp_path, capsys):
    asns, data, cache = write_program(tmp_path)
    status, out, _ = run(asns, data, cache, capsys)
    assert status == 0, out
    assert {s for s, _ in statuses(data).values()} == {SUCCEEDED}
    assert (data / f"{MOSAIC}_i2d.fits").is_file()


def test_a_reference_type_missing_from_the_cache(tmp_path, capsys):
    asns, data, cache = write_program(tmp_path, reftypes=("flat",))
    status, out, _ = run(asns, data, cache, capsys)
    assert status == 1
    for number, root in enumerate(ROOTS, start=1):
        node = f"jw09999-o001_image2_{number:05d}_asn"
        assert statuses(data)[node][0] == FAILED
        assert not (data / f"{root}_cal.fits").exists()
    assert_failed_cleanly(data, "jw09999-o001_image2_00001_asn", [f"{ROOTS[0]}_rate.fits", "no photom reference", str(cache)], out)


def test_a_corrupt_reference_file(tmp_path, capsys):
    asns, data, cache = write_program(tmp_path)
    photom = next(cache.rglob("*photom*.fits"))
    photom.write_bytes(photom.read_bytes()[:4000])  # truncated mid-file
    status, out, _ = run(asns, data, cache, capsys)
    assert status == 1
    assert_failed_cleanly(data, "jw09999-o001_image2_00001_asn", [f"{ROOTS[0]}_rate.fits", "photom reference", str(photom)], out)
    assert not list(data.glob("*_cal.fits"))


@pytest.mark.parametrize("keyword", ["crval1", "cdelt2"])
def test_an_input_lacking_a_header_keyword_a_step_needs(tmp_path, capsys, keyword):
    asns, data, cache = write_program(tmp_path)
    rate = data / f"{ROOTS[1]}_rate.fits"
    with datamodels.open(str(rate)) as model:
        setattr(model.meta.wcsinfo, keyword, None)
        model.save(str(rate))
    status, out, _ = run(asns, data, cache, capsys)
    assert status == 1
    failed = "jw09999-o001_image2_00002_asn"
    assert_failed_cleanly(data, failed, [rate.name, keyword.upper(), "WCS"], out)
    assert not (data / f"{ROOTS[1]}_cal.fits").exists()
    # the other exposures are independent of it and were calibrated
    assert (data / f"{ROOTS[0]}_cal.fits").is_file() and (data / f"{ROOTS[2]}_cal.fits").is_file()
