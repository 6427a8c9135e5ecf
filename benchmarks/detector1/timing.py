"""Time native detector1 against jwst's calwebb_detector1 on a full-frame exposure.

Run it with the Python of an environment where jwst is installed and asnflow
is importable (``pip install -e .[jwst]``, or ``PYTHONPATH=.``):

    python benchmarks/detector1/timing.py --work timing-out            # 2048x2048, 10 groups, 3 runs
    python benchmarks/detector1/timing.py --cores 1,2 --runs 3 --instrument niriss

Every run is a fresh process that reads the raw file and writes ``_rate`` and
``_rateints``; the time measured is that of the calibration call (from the
raw file on disk to the products on disk), not the Python start-up. The
table gives the median of the runs for each ``maximum_cores``. Nothing is
asserted: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

NATIVE = """
import json, sys, time
from pathlib import Path
sys.path[:0] = {paths!r}
from asnflow.calib.base import Node, RunContext
from asnflow.calib.detector1 import MODULE
from asnflow.calib.refs import CrdsRefs
uncal, cache, out, cores = Path({uncal!r}), Path({cache!r}), Path({out!r}), {cores!r}
root = uncal.name[: -len("_uncal.fits")]
node = Node("detector1:" + uncal.stem, "exposure", "detector1", uncal, None, (root + "_rate.fits", root + "_rateints.fits"))
start = time.perf_counter()
MODULE.run(node, RunContext(uncal.parent, out, CrdsRefs(cache), {{"maximum_cores": cores}}))
print(json.dumps(time.perf_counter() - start))
"""

JWST = """
import json, logging, os, sys, time
os.environ.update(CRDS_PATH={cache!r}, CRDS_SERVER_URL="https://jwst-serverless-mode.stsci.edu", CRDS_MODE="local")
from jwst.pipeline import Detector1Pipeline
logging.disable(logging.INFO)
start = time.perf_counter()
Detector1Pipeline.call({uncal!r}, output_dir={out!r}, save_results=True,
                       steps={{"jump": {{"maximum_cores": {cores!r}}}, "ramp_fit": {{"maximum_cores": {cores!r}}}}})
print(json.dumps(time.perf_counter() - start))
"""


def run_once(template: str, **values: str) -> float:
    code = template.format(paths=[str(ROOT), str(ROOT / "tests")], **values)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"run failed:\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("detector1-timing"))
    parser.add_argument("--instrument", choices=("nircam", "niriss"), default="nircam")
    parser.add_argument("--ngroups", type=int, default=10)
    parser.add_argument("--nframes", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cores", default="1,2", help="maximum_cores values, comma-separated")
    parser.add_argument("--only", choices=("native", "jwst", "both"), default="both")
    args = parser.parse_args(argv)

    sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(HERE)]
    from parity import make_inputs

    folder = args.work / f"{args.instrument}-2048-{args.ngroups}"
    uncal = make_inputs(folder, args.instrument, 2048, args.ngroups, args.nframes, 1)
    cache = folder / "crds"
    results: dict[str, dict[str, list[float]]] = {}
    routes = [(name, template) for name, template in (("native", NATIVE), ("jwst", JWST)) if args.only in (name, "both")]
    for cores in args.cores.split(","):
        # the routes take turns, so a change in the machine's load falls on both alike
        for run in range(args.runs):
            for name, template in routes:
                out = folder / f"{name}-{cores}-{run}"
                out.mkdir(exist_ok=True)
                took = run_once(template, uncal=str(uncal), cache=str(cache), out=str(out), cores=cores)
                results.setdefault(cores, {}).setdefault(name, []).append(took)
                print(f"{name} maximum_cores={cores} run {run + 1}: {took:.1f} s", file=sys.stderr)
    print(f"\n{args.instrument.upper()} 2048x2048, 1 integration x {args.ngroups} groups x {args.nframes} frames; "
          f"median of {args.runs} runs ({time.strftime('%Y-%m-%d %H:%M')})\n")
    print("| maximum_cores | native (s) | jwst 3.0.0 (s) | jwst / native |")
    print("|---|---|---|---|")
    for cores, by_name in results.items():
        native = statistics.median(by_name["native"]) if "native" in by_name else float("nan")
        jwst = statistics.median(by_name["jwst"]) if "jwst" in by_name else float("nan")
        print(f"| {cores} | {native:.1f} | {jwst:.1f} | {jwst / native:.2f} |")
    print(json.dumps(results), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
