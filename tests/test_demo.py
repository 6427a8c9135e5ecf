"""``asnflow demo``: the synthetic NIRISS program from raw ramps to mosaics, resumable and reproducible."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.table import QTable
from stdatamodels.jwst import datamodels

from asnflow.demo import program, run_demo

REPO = Path(__file__).resolve().parent.parent
JWST_ASSOCIATIONS = Path(__file__).parent / "data" / "demo" / "jwst_associations"
RUN_LOG = "asnflow-run.jsonl"  # appended by every run; timestamps differ by design
REPORT = "asnflow-report.html"  # shows the last run's statuses, so it differs by design too
STORE = "asnflow-provenance.sqlite"  # the provenance store: run ids and times differ by design
NODES = 14  # 6 detector1, 6 image2, 2 image3
JUMP_DET, OUTLIER, DNU = 4, 16, 1


def run_quietly(folder: Path, executor: str = "process"):
    report = io.StringIO()
    result = run_demo(folder, executor=executor, quiet=True, out=report)
    return result, report.getvalue()


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes), except the run log and the provenance store."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in (RUN_LOG, REPORT) and not path.name.startswith(STORE)
    }


def leftovers(folder: Path) -> list[str]:
    """Hidden files or folders (scratch, staging, temporary names) anywhere under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "asnflow", "demo", *args]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted demo run with the default (process) executor."""
    # the README's folder name under a "main" folder: upper-cased, the path holds "N/A",
    # which CRDS also answers for a type that does not apply (a path must never be read as that)
    folder = tmp_path_factory.mktemp("reference") / "main" / "asnflow-demo"
    folder.parent.mkdir()
    result, report = run_quietly(folder)
    return folder, result, report, contents(folder)


def test_the_demo_runs_every_node_and_reports_where_the_products_are(reference):
    folder, result, report, files = reference
    assert result.exit_status == 0
    assert result.summary.succeeded == NODES and result.summary.failed == 0
    assert [p.name for p in result.products] == [
        f"jw09999-o001_t001_niriss_clear-{f}-sub64_{suffix}"
        for f in ("f150w", "f200w")
        for suffix in ("i2d.fits", "cat.ecsv", "segm.fits")
    ]
    assert f"products in {folder}:" in report
    assert "generation 2: image3 x2" in report  # the drawn graph
    assert f"{NODES} succeeded, 0 skipped, 0 failed" in report
    for path in result.pictures:
        assert path.read_bytes().startswith(b"\x89PNG")
    assert not leftovers(folder)
    assert len([n for n in files if n.endswith("_uncal.fits")]) == 6


def test_the_demo_writes_its_report_and_prints_the_path(reference):
    folder, result, report, _ = reference
    assert result.report == folder / REPORT
    assert f"report: {result.report}" in report.splitlines()
    text = result.report.read_text(encoding="utf-8")
    assert text.count('<a class="mono" href="#asn-') == len(result.associations)
    assert text.count('<tr><td class="mono">detector1:') == 6  # the run table: every node has a status
    assert "Every exposure of the pool is in an association." in text
    if result.pictures:  # with matplotlib: one preview per mosaic, inline
        assert text.count('src="data:image/png;base64,') == 2


def test_the_demo_associations_are_the_ones_jwst_makes_from_its_pool(reference):
    folder, result, _, _ = reference
    ours = {p.name: json.loads(p.read_text()) for p in result.associations}
    theirs = {p.name: json.loads(p.read_text()) for p in sorted(JWST_ASSOCIATIONS.glob("*.json"))}
    assert sorted(ours) == sorted(theirs)
    for name, expected in theirs.items():
        for key in ("code_version", "constraints"):  # who wrote it, and jwst's Python reprs
            expected.pop(key, None)
            ours[name].pop(key, None)
        assert ours[name] == expected, name


def detectable_cosmic_rays(exposure):
    """Single-pixel hits of at least 300 DN, landing after the first group on a good pixel, off the stars."""
    demo = program.DEMO
    detector = demo.detector
    readout = exposure.filter.readout
    groups = readout.frame_groups()
    good = ~(detector.reference | detector.hot | detector.dead | detector.warm | detector.low_qe)
    rate = demo.count_rate(exposure)
    out = []
    for hit in demo.artifacts(exposure).cosmic_rays:
        following = [g for g in groups[hit.frame - 1 :] if g >= 0]
        if hit.radius or hit.dn < 300 or not following or following[0] < 1 or following[0] >= readout.ngroups - 1:
            continue
        if good[hit.y, hit.x] and rate[hit.y, hit.x] < 20.0:
            out.append((hit.y, hit.x))
    return out


def test_detector1_saw_the_cosmic_rays_and_image3_the_transients(reference):
    folder, _, _, _ = reference
    seen = 0
    for exposure in program.exposures():
        with datamodels.open(str(folder / f"{exposure.root}_rate.fits")) as rate:
            for y, x in detectable_cosmic_rays(exposure):
                assert rate.dq[y, x] & JUMP_DET, (exposure.root, y, x)
                seen += 1
            assert rate.meta.cal_step.charge_migration == "COMPLETE"  # NIRISS: on through its pars reference
        with datamodels.open(str(folder / f"{exposure.root}_o001_crf.fits")) as crf:
            for y, x, _ in program.DEMO.artifacts(exposure).transients:
                assert crf.dq[y, x] & OUTLIER and np.isnan(crf.data[y, x]), (exposure.root, y, x)
            assert np.count_nonzero(crf.dq & OUTLIER) <= 20  # and a handful of noise or edge pixels at most
    assert seen >= 6


def test_the_mosaics_hold_the_stars_with_summed_exposure_times(reference):
    folder, _, _, _ = reference
    demo = program.DEMO
    scale = demo.setup.optics.scale_x / 3600.0
    for item in demo.setup.filters:
        readout = item.readout
        stem = f"jw09999-o001_t001_niriss_clear-{item.pupil.lower()}-sub64"
        with datamodels.open(str(folder / f"{stem}_i2d.fits")) as i2d:
            assert i2d.meta.exposure.effective_exposure_time == pytest.approx(3 * readout.integration_time)
            assert i2d.meta.exposure.elapsed_exposure_time == pytest.approx(
                3 * readout.frame_time * (readout.frames_read + 1)
            )
            assert i2d.meta.bunit_data == "MJy/sr"
        catalog = QTable.read(folder / f"{stem}_cat.ecsv", format="ascii.ecsv")
        found = np.array([[c.ra.deg, c.dec.deg] for c in catalog["sky_centroid"]])
        cos_dec = np.cos(np.radians(demo.stars[0].dec))
        for star in demo.stars:  # every star is in the catalog, where it was put
            distance = np.hypot((found[:, 0] - star.ra) * cos_dec, found[:, 1] - star.dec)
            assert distance.min() < scale, star
        brightest = catalog[np.argmin(catalog["isophotal_abmag"])]
        saturated = max(demo.stars, key=lambda s: s.peak_rate)
        assert brightest["sky_centroid"].ra.deg == pytest.approx(saturated.ra, abs=2 * scale / cos_dec)
        assert brightest["sky_centroid"].dec.deg == pytest.approx(saturated.dec, abs=2 * scale)


def test_asnflow_run_on_the_demo_folder_finds_the_crds_cache_beside_the_data(reference, tmp_path):
    folder, _, _, _ = reference
    copy = tmp_path / "again"
    shutil.copytree(folder, copy)
    for path in copy.glob("*_i2d.fits"):
        path.unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRDS_")}
    done = subprocess.run(
        [sys.executable, "-m", "asnflow", "run", "--data", str(copy), "--quiet", str(copy)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    remade = sorted(copy.glob("*_i2d.fits"))
    assert len(remade) == 2
    for path in remade:  # the same references, so the same bytes
        assert path.read_bytes() == (folder / path.name).read_bytes(), path.name


def test_a_second_run_skips_everything_and_changes_nothing(reference):
    folder, _, _, files = reference
    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("*.fits")}
    result, report = run_quietly(folder)
    assert result.summary.skipped == NODES
    assert all(r.reason == "up to date" for r in result.summary.results)
    assert "(all inputs already there)" in report
    assert {p: p.stat().st_mtime_ns for p in folder.glob("*.fits")} == stamps
    assert contents(folder) == files


@pytest.mark.parametrize("executor", ["serial", "dask"])
def test_every_executor_makes_the_same_bytes(reference, tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    _, _, _, expected = reference
    result, _ = run_quietly(tmp_path / "demo", executor)
    assert result.summary.succeeded == NODES
    got = contents(tmp_path / "demo")
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []


def test_a_run_killed_part_way_resumes_to_the_same_bytes(reference, tmp_path):
    _, _, _, expected = reference
    folder = tmp_path / "demo"
    process = subprocess.Popen(
        demo_command(str(folder), "--quiet"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill takes the workers too
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if folder.is_dir() and any(folder.glob("*_rate.fits")):
                break
            time.sleep(0.02)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        if process.stderr:
            process.stderr.close()
    finished = {p.name for p in folder.glob("*_rate.fits")}
    assert finished and not list(folder.glob("*_i2d.fits"))  # some, but not all, nodes had finished

    again = subprocess.run(demo_command(str(folder)), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    skipped = re.findall(r"skipped\s+(\S+)\s+.*up to date", again.stdout)
    assert {f"{name[: -len('_rate.fits')]}_uncal" for name in finished} <= {s.split(":", 1)[-1] for s in skipped}
    assert contents(folder) == expected
    assert not leftovers(folder)


def test_the_readme_command_runs_the_demo(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = [c.strip() for line in readme.splitlines() for c in line.split("&&") if c.strip().startswith("asnflow demo")]
    assert commands, "the README shows how to run the demo"
    arguments = shlex.split(commands[0])[2:]
    done = subprocess.run(
        demo_command(*arguments, "--quiet", "--no-pictures"), cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    folder = tmp_path / (arguments[0] if arguments else "asnflow-demo")
    assert len(list(folder.glob("*_i2d.fits"))) == 2
    assert f"{NODES} succeeded" in done.stdout
    assert len(done.stdout.splitlines()) == 1, done.stdout  # --quiet: the closing line only
    assert done.stdout.rstrip().endswith(f"; report {folder.resolve() / REPORT}")


def test_bad_demo_folders_are_refused_in_one_line(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    done = subprocess.run(demo_command(str(tmp_path / "file")), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not a folder" in done.stderr
    done = subprocess.run(demo_command(str(tmp_path / "x"), "--workers", "0"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "workers" in done.stderr and "Traceback" not in done.stderr


def test_inputs_from_another_demo_version_are_rewritten_not_reused(reference, tmp_path):
    """A folder an older asnflow filled (no manifest, a CRDS cache that answers N/A for gain) is brought up to date."""
    source, _, _, expected = reference
    folder = tmp_path / "demo"
    shutil.copytree(source, folder)
    (folder / "asnflow-demo-inputs.json").unlink()
    stale_rmap = folder / "crds" / "mappings" / "jwst" / "jwst_niriss_gain_0001.rmap"
    stale_rmap.write_text(stale_rmap.read_text().replace("'jwst_niriss_gain_0001.fits'", "'N/A'"))
    result, report = run_quietly(folder)
    assert "(all inputs already there)" not in report
    assert result.summary.failed == 0
    assert contents(folder) == expected
    assert not leftovers(folder)


def test_an_input_changed_since_it_was_written_is_rewritten(reference, tmp_path):
    source, _, _, expected = reference
    folder = tmp_path / "demo"
    shutil.copytree(source, folder)
    raw = sorted(folder.glob("*_uncal.fits"))[0]
    raw.write_bytes(raw.read_bytes()[:2880])  # truncated: the header block only
    result, _ = run_quietly(folder)
    assert result.summary.failed == 0 and result.summary.skipped == NODES  # same bytes again: nothing to redo
    assert contents(folder) == expected


def test_products_name_the_crds_context_their_references_came_from(reference):
    import importlib.metadata

    from astropy.io import fits

    folder, _, _, _ = reference
    products = [*folder.glob("*_rate.fits"), *folder.glob("*_cal.fits"), *folder.glob("*_crf.fits"), *folder.glob("*_i2d.fits")]
    assert len(products) == 6 + 6 + 6 + 2
    for path in products:
        header = fits.getheader(path, 0)
        assert header["CRDS_CTX"] == "jwst_0001.pmap", path.name  # the demo cache's only context
        assert header["CRDS_VER"] == importlib.metadata.version("crds"), path.name
