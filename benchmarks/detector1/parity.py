"""Native detector1 against jwst's calwebb_detector1, step by step, on the same inputs and references.

Run it with the Python of an environment where jwst is installed and asnflow
is importable (``pip install -e .[jwst]``, or ``PYTHONPATH=.``):

    python benchmarks/detector1/parity.py --work parity-out                 # NIRCam and NIRISS, full frame
    python benchmarks/detector1/parity.py --instrument niriss --size 256    # a 256x256 subarray at the corner

It writes a synthetic raw exposure and a CRDS cache (tests/detector1_data.py)
per instrument, runs jwst's Detector1Pipeline with every step's result saved,
runs native detector1 with the same cache, and prints a table per step and
per product: bit-identical fraction, fraction within 1e-5 relative,
worst and 99.9th-percentile relative difference, NaN and DQ agreement.
Exit status 1 when a product misses the goal (SCI within 1e-5 on >= 99.9 %
of pixels, DQ and NaN positions identical, ERR/VAR_* within 1e-5).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(Path(__file__).resolve().parent)]

from compare import HEADER, compare_flags, compare_values  # noqa: E402

# jwst's file suffix for each step's saved result
JWST_SUFFIX = {
    "group_scale": "group_scale",
    "dq_init": "dq_init",
    "saturation": "saturation",
    "ipc": "ipc",
    "superbias": "superbias",
    "refpix": "refpix",
    "linearity": "linearity",
    "dark_current": "dark_current",
    "charge_migration": "charge_migration",
    "jump": "jump",
}
PRODUCT_ARRAYS = ("data", "err", "var_poisson", "var_rnoise")


def offline_crds(cache: Path) -> None:
    os.environ["CRDS_PATH"] = str(cache)
    os.environ["CRDS_SERVER_URL"] = "https://jwst-serverless-mode.stsci.edu"
    os.environ["CRDS_MODE"] = "local"
    from crds.core import utils as crds_utils

    crds_utils.clear_function_caches()  # both caches name their context jwst_0001.pmap


def make_inputs(folder: Path, instrument: str, size: int, ngroups: int, nframes: int, nints: int) -> Path:
    """Write the raw exposure and its cache (once); return the raw file."""
    from detector1_data import DETECTORS, Detector, Exposure, make_ramp, write_cache

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"jw01234001001_01101_00001_{DETECTORS[instrument][1].lower()}_uncal.fits"
    if path.exists() and (folder / "crds").exists():
        return path
    detector = Detector(instrument)
    cache = folder / "crds"
    if not cache.exists():
        parameters = {"pars-chargemigrationstep": {"skip": False}} if instrument == "niriss" else None
        write_cache(
            cache,
            detector,
            ipc=instrument == "niriss",
            parameters=parameters,
            dark_groups=ngroups * nframes + 2,
            region=(size, size),
        )
    exposure = Exposure(instrument=instrument, shape=(size, size), ngroups=ngroups, nframes=nframes, nints=nints)
    make_ramp(exposure, detector).save(str(path))
    return path


def run_jwst(uncal: Path, out: Path, cores: str) -> None:
    from jwst.pipeline import Detector1Pipeline

    out.mkdir(parents=True, exist_ok=True)
    steps = {step: {"save_results": True} for step in JWST_SUFFIX}
    steps["jump"]["maximum_cores"] = cores
    steps["ramp_fit"] = {"maximum_cores": cores}
    Detector1Pipeline.call(str(uncal), output_dir=str(out), save_results=True, steps=steps)


def run_native_and_compare(uncal: Path, cache: Path, jwst_out: Path, cores: str) -> tuple[list, list[str]]:
    from stdatamodels.jwst import datamodels

    from asnflow.calib.detector1 import run_detector1
    from asnflow.calib.refs import CrdsRefs

    root = uncal.name[: -len("_uncal.fits")]
    rows: list = []
    failures: list[str] = []

    def on_step(step: str, result) -> None:
        if step in ("ramp_fit", "gain_scale"):
            return
        path = jwst_out / f"{root}_{JWST_SUFFIX[step]}.fits"
        if not path.exists():
            rows.append(f"| {step} | (jwst saved no result: {path.name}) | | | | | |")
            return
        with datamodels.RampModel(str(path)) as theirs:
            rows.append(compare_values(step, "SCI", result.data, theirs.data))
            rows.append(compare_flags(step, "GROUPDQ", result.groupdq, theirs.groupdq))
            rows.append(compare_flags(step, "PIXELDQ", result.pixeldq, theirs.pixeldq))
            ours_status = getattr(result.meta.cal_step, "dark_sub" if step == "dark_current" else step)
            theirs_status = getattr(theirs.meta.cal_step, "dark_sub" if step == "dark_current" else step)
            if ours_status != theirs_status:
                failures.append(f"{step}: status {ours_status} vs jwst {theirs_status}")

    with datamodels.RampModel(str(uncal)) as ramp:
        rate, rateints = run_detector1(ramp, CrdsRefs(cache), {"maximum_cores": cores}, on_step=on_step)
    for suffix, ours in (("rate", rate), ("rateints", rateints)):
        with datamodels.open(str(jwst_out / f"{root}_{suffix}.fits")) as theirs:
            for name in PRODUCT_ARRAYS:
                row = compare_values(f"_{suffix}", name.upper(), getattr(ours, name), getattr(theirs, name))
                rows.append(row)
                wanted = 0.999 if name == "data" else 1.0
                if row.within < wanted or not row.nan_agree:
                    failures.append(f"_{suffix} {name}: {row.within:.6f} within 1e-5, NaN agree {row.nan_agree}")
            dq = compare_flags(f"_{suffix}", "DQ", ours.dq, theirs.dq)
            rows.append(dq)
            if dq.differing:
                failures.append(f"_{suffix} DQ: {dq.differing} pixels differ")
            for step, status in theirs.meta.cal_step.instance.items():
                if ours.meta.cal_step.instance.get(step) != status:
                    failures.append(f"_{suffix} S_ {step}: {ours.meta.cal_step.instance.get(step)} vs jwst {status}")
            for reftype, entry in theirs.meta.ref_file.instance.items():
                if reftype == "crds":
                    continue
                ours_name = ours.meta.ref_file.instance.get(reftype, {}).get("name")
                if ours_name != entry.get("name"):
                    failures.append(f"_{suffix} R_ {reftype}: {ours_name} vs jwst {entry.get('name')}")
    return rows, failures


def compare_and_print(title: str, uncal: Path, cache: Path, jwst_out: Path, cores: str) -> bool:
    """Run native detector1 on ``uncal``, print its table against jwst's products; True if a check missed."""
    rows, failures = run_native_and_compare(uncal, cache, jwst_out, cores)
    print(f"\n### {title}\n")
    print(HEADER)
    for row in rows:
        print(row if isinstance(row, str) else row.row())
    for failure in failures:
        print(f"MISS: {failure}")
    return bool(failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("detector1-parity"), help="folder for inputs and outputs")
    parser.add_argument("--instrument", choices=("nircam", "niriss", "both"), default="both")
    parser.add_argument("--size", type=int, default=2048, help="square size in pixels (2048: full frame)")
    parser.add_argument("--ngroups", type=int, default=6)
    parser.add_argument("--nframes", type=int, default=2)
    parser.add_argument("--nints", type=int, default=2)
    parser.add_argument("--maximum-cores", default="1")
    parser.add_argument("--uncal", type=Path, nargs="*", help="compare on these raw files instead (with --cache)")
    parser.add_argument("--cache", type=Path, help="the CRDS cache for --uncal")
    args = parser.parse_args(argv)

    status = 0
    if args.uncal:
        if args.cache is None:
            parser.error("--uncal needs --cache")
        offline_crds(args.cache.resolve())
        for uncal in args.uncal:
            jwst_out = args.work / uncal.name.replace("_uncal.fits", "")
            if not (jwst_out / uncal.name.replace("_uncal", "_rate")).exists():
                run_jwst(uncal, jwst_out, args.maximum_cores)
            status |= compare_and_print(uncal.name, uncal, args.cache.resolve(), jwst_out, args.maximum_cores)
        return int(status)

    instruments = ("nircam", "niriss") if args.instrument == "both" else (args.instrument,)
    for instrument in instruments:
        folder = args.work / f"{instrument}-{args.size}"
        uncal = make_inputs(folder, instrument, args.size, args.ngroups, args.nframes, args.nints)
        offline_crds(folder / "crds")
        jwst_out = folder / "jwst"
        if not (jwst_out / uncal.name.replace("_uncal", "_rate")).exists():
            run_jwst(uncal, jwst_out, args.maximum_cores)
        title = f"{instrument.upper()} {args.size}x{args.size}, {args.nints} int x {args.ngroups} groups x {args.nframes} frames"
        status |= compare_and_print(title, uncal, folder / "crds", jwst_out, args.maximum_cores)
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
