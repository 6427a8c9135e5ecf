"""Run jwst 3.0.0 on the parity data, offline against its CRDS cache. Runs in the jwst virtualenv.

    python jwst_side.py CRDS_CACHE OUT --uncal A_uncal.fits ... [--detector1-only B_uncal.fits ...]
        [--image3 X_asn.json ...] [--steps] [--maximum-cores 1]

Writes into OUT, per raw exposure, ``_rate``/``_rateints`` (Detector1Pipeline),
with ``--steps`` each detector1 step's ramp (``_<step>.fits``), then, except
for the ``--detector1-only`` exposures, ``_cal``/``_i2d`` (Image2Pipeline on
the ``_rate``); per image3 association
(copied into OUT, whose ``_cal`` members are there by then) ``_i2d``,
``_crf``, ``_cat``, ``_segm`` (Image3Pipeline), and the same again with
tweakreg skipped in ``OUT/tweakreg-off/`` (native image3 has no tweakreg;
on fields where jwst's tweakreg fits a correction the two differ). Prints
one line per run with its time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

TWEAKREG_OFF = "tweakreg-off"
RAMP_STEPS = ("dq_init", "saturation", "ipc", "superbias", "refpix", "linearity", "dark_current", "charge_migration", "jump")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("crds", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--uncal", nargs="*", type=Path, default=[])
    parser.add_argument("--detector1-only", nargs="*", type=Path, default=[], help="raw exposures with no image2")
    parser.add_argument("--image3", nargs="*", type=Path, default=[])
    parser.add_argument("--steps", action="store_true", help="save every detector1 step's ramp")
    parser.add_argument("--maximum-cores", default="1")
    args = parser.parse_args(argv)

    # offline: crds reads these when first imported
    os.environ["CRDS_PATH"] = str(args.crds.resolve())
    os.environ["CRDS_SERVER_URL"] = "https://jwst-serverless-mode.stsci.edu"
    os.environ["CRDS_MODE"] = "local"
    from jwst.pipeline import Detector1Pipeline, Image2Pipeline, Image3Pipeline

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    cores = args.maximum_cores
    detector1_only = {path.resolve() for path in args.detector1_only}
    for uncal in [*args.uncal, *args.detector1_only]:
        started = time.monotonic()
        steps = {"jump": {"maximum_cores": cores}, "ramp_fit": {"maximum_cores": cores}}
        if args.steps:
            for name in RAMP_STEPS:
                steps.setdefault(name, {})["save_results"] = True
        Detector1Pipeline.call(str(uncal), save_results=True, output_dir=str(out), steps=steps)
        rate = out / uncal.name.replace("_uncal.fits", "_rate.fits")
        print(f"jwst detector1 {uncal.name} {time.monotonic() - started:.1f} s", flush=True)
        if uncal.resolve() in detector1_only:
            continue
        started = time.monotonic()
        Image2Pipeline.call(str(rate), save_results=True, output_dir=str(out))
        print(f"jwst image2 {rate.name} {time.monotonic() - started:.1f} s", flush=True)
    for asn in args.image3:
        started = time.monotonic()
        local = out / asn.name
        shutil.copyfile(asn, local)
        Image3Pipeline.call(str(local), save_results=True, output_dir=str(out))
        print(f"jwst image3 {asn.name} {time.monotonic() - started:.1f} s", flush=True)
        # again without tweakreg (native image3 has none): OUT/tweakreg-off/
        started = time.monotonic()
        bare = out / TWEAKREG_OFF
        bare.mkdir(exist_ok=True)
        for cal in out.glob("*_cal.fits"):
            if not (bare / cal.name).exists():
                os.symlink(cal, bare / cal.name)
        shutil.copyfile(asn, bare / asn.name)
        Image3Pipeline.call(str(bare / asn.name), save_results=True, output_dir=str(bare), steps={"tweakreg": {"skip": True}})
        print(f"jwst image3 without tweakreg {asn.name} {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
