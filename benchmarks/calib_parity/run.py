"""Native calibration against jwst 3.0.0 on realistic raw data: a table per step and per product.

    python benchmarks/calib_parity/run.py WORK [--jwst-python PYTHON] [--instruments nircam niriss fgs nirspec]
        [--size N] [--ngroups 8] [--maximum-cores 1] [--no-steps] [--reuse-jwst]

1. writes the data into WORK/data (see make_data.py; kept when already there);
2. generates the associations from the pools with asnflow (WORK/asn);
3. runs jwst 3.0.0 (Detector1Pipeline per exposure, saving each step's ramp,
   Image2Pipeline per ``_rate`` except NIRSpec's, Image3Pipeline per
   image3 association) in
   WORK/jwst, with PYTHON (a virtualenv holding jwst; default:
   $ASNFLOW_JWST_PYTHON, else this Python if it can import jwst);
4. runs asnflow's native route exactly as a user would
   (``asnflow run --crds-cache WORK/data/crds``) in WORK/native, and native
   detector1 once more with a hook after every step (WORK/native-steps is
   not written: the ramps are compared in memory); NIRSpec's image2 is
   routed to jwst, so its associations are left out of both runs and its
   native ``_rate``/``_rateints`` are those of that in-memory detector1 run;
5. prints, per instrument, the worst and 99.9th-percentile relative
   difference native vs jwst, the fraction of pixels within 1e-5, DQ
   agreement and NaN agreement, per detector1 step (the ramp after the step,
   all exposures) and per product (``_rate``, ``_rateints``, ``_cal``,
   ``_i2d``; mosaics on jwst's grid, with their total-flux difference, against jwst's
   Image3Pipeline as it runs and with its tweakreg skipped).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare import Difference, compare_arrays, regrid_nearest, total_flux_difference  # noqa: E402
from make_data import DEFAULT_INSTRUMENTS  # noqa: E402
from make_data import programs as make_programs  # noqa: E402

from asnflow.demo.inputs import write_program_inputs  # noqa: E402
from asnflow.demo.instruments import SETUPS  # noqa: E402

DETECTOR1_STEPS = ("dq_init", "saturation", "ipc", "superbias", "refpix", "linearity", "dark_current", "charge_migration", "jump")
PRODUCT_ARRAYS = ("data", "err", "var_poisson", "var_rnoise")
CAL_ARRAYS = (*PRODUCT_ARRAYS, "var_flat")
I2D_ARRAYS = ("data", "err", "var_poisson", "var_rnoise")


def jwst_python(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    env = os.environ.get("ASNFLOW_JWST_PYTHON")
    if env:
        return env
    probe = subprocess.run([sys.executable, "-c", "import jwst"], capture_output=True)
    return sys.executable if probe.returncode == 0 else None


def generate_associations(pools: Iterable[Path], folder: Path) -> list[Path]:
    import asnflow
    from asnflow.asnfile.files import dumps, file_names

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for pool in pools:
        documents = list(asnflow.generate(pool))
        for document, name in zip(documents, file_names(documents, "json"), strict=True):
            path = folder / name
            path.write_text(dumps(document, "json"), encoding="utf-8")
            paths.append(path)
    return paths


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


# Instruments whose stage 2 and 3 the default routing (rules.yaml) sends to jwst: only their detector1
# is native, so their associations are left out and their _rate/_rateints come from native detector1 itself
DETECTOR1_ONLY = frozenset({"NIRSPEC"})


def run_jwst(
    python: str, cache: Path, out: Path, uncal: list[Path], image3: list[Path], steps: bool, cores: str,
    detector1_only: list[Path],
) -> None:  # fmt: skip
    command = [python, str(HERE / "jwst_side.py"), str(cache), str(out), "--maximum-cores", cores, "--uncal", *map(str, uncal)]
    command += ["--detector1-only", *map(str, detector1_only), "--image3", *map(str, image3)]
    if steps:
        command.append("--steps")
    log = out.parent / "jwst.log"
    out.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"run.py: jwst failed (exit {done.returncode}); see {log}")


def run_native(work: Path, uncal: list[Path], associations: list[Path], cache: Path, cores: str) -> float:
    folder = work / "native"
    folder.mkdir(parents=True, exist_ok=True)
    for path in uncal:
        _link_or_copy(path, folder / path.name)
    local = []
    for path in associations:
        shutil.copyfile(path, folder / path.name)
        local.append(folder / path.name)
    command = [sys.executable, "-m", "asnflow", "run", "--data", str(folder), "--crds-cache", str(cache)]
    command += ["--option", f"maximum_cores={cores}", "--quiet", *map(str, local)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    (work / "native.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        print(f"run.py: asnflow run exited {done.returncode}; see {work / 'native.log'}", file=sys.stderr)
    return time.monotonic() - started


class Table:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Difference] = {}
        self.notes: dict[tuple[str, str], str] = {}

    def add(self, what: str, array: str, difference: Difference) -> None:
        key = (what, array)
        self.rows[key] = self.rows[key].merge(difference) if key in self.rows else difference

    def note(self, what: str, array: str, text: str) -> None:
        self.notes[(what, array)] = text

    def print(self, title: str) -> None:
        print()
        print(title)
        header = f"  {'step / product':<24} {'array':<12} {'worst rel':>10} {'p99.9 rel':>10} {'<=1e-5':>8} {'DQ agree':>9} {'NaN agree':>9}"
        print(header)
        print("  " + "-" * (len(header) - 2))
        keys = list(dict.fromkeys([*self.rows, *self.notes]))
        for what, array in keys:
            difference = self.rows.get((what, array))
            note = self.notes.get((what, array), "")
            if difference is None:
                print(f"  {what:<24} {array:<12} {note}")
                continue
            dq = f"{100 * difference.dq_agree:8.3f}%" if difference.dq_agree is not None else f"{'-':>9}"
            print(
                f"  {what:<24} {array:<12} {difference.worst:10.2e} {difference.p999:10.2e} "
                f"{100 * difference.within:7.3f}% {dq} {100 * difference.nan_agree:8.3f}%" + (f"  {note}" if note else "")
            )


def compare_steps(
    table: Table, uncal: Path, jwst_dir: Path, cache: Path, cores: str, steps: bool = True
) -> tuple[object, object] | None:
    """Native detector1 with a hook after each step, each ramp against jwst's saved step output."""
    from stdatamodels.jwst import datamodels

    from asnflow.calib import detector1
    from asnflow.calib.refs import CrdsRefs

    run = getattr(detector1, "run_detector1", None)
    if run is None:
        table.note("detector1 steps", "-", "native detector1 has no per-step hook on this version")
        return None
    root = uncal.name[: -len("_uncal.fits")]

    def on_step(step: str, result) -> None:
        if not steps:
            return
        reference = jwst_dir / f"{root}_{step}.fits"
        if step not in DETECTOR1_STEPS:
            return
        if not reference.is_file():
            table.note(f"step {step}", "-", "jwst did not run or save this step (native did)")
            return
        with datamodels.RampModel(str(reference)) as theirs:
            table.add(f"step {step}", "data", compare_arrays(result.data, theirs.data))
            table.add(f"step {step}", "groupdq", compare_arrays(result.groupdq, theirs.groupdq, result.groupdq, theirs.groupdq))
            table.add(f"step {step}", "pixeldq", compare_arrays(result.pixeldq, theirs.pixeldq, result.pixeldq, theirs.pixeldq))

    with datamodels.RampModel(str(uncal)) as ramp:
        seen = {s for s in DETECTOR1_STEPS if (jwst_dir / f"{root}_{s}.fits").is_file()}
        rate, rateints = run(ramp, CrdsRefs(cache), {"maximum_cores": cores}, on_step=on_step)
        for step in sorted(seen - {k[0][5:] for k in table.rows if k[0].startswith("step ")} if steps else ()):
            table.note(f"step {step}", "-", "jwst ran this step, native did not")
    return rate, rateints


def compare_product(table: Table, label: str, native_path: Path | None, jwst_path: Path, arrays: Iterable[str], native_model=None) -> None:
    from stdatamodels.jwst import datamodels

    if not jwst_path.is_file():
        table.note(label, "-", f"jwst wrote no {jwst_path.name}")
        return
    if native_model is None and (native_path is None or not native_path.is_file()):
        table.note(label, "-", f"native wrote no {jwst_path.name}")
        return
    ours = native_model if native_model is not None else datamodels.open(str(native_path))
    with datamodels.open(str(jwst_path)) as theirs:
        for name in arrays:
            a = getattr(ours, name, None) if ours.hasattr(name) else None
            b = getattr(theirs, name, None) if theirs.hasattr(name) else None
            if a is None or b is None:
                if b is not None:
                    table.note(label, name, "missing from the native product")
                continue
            dq = (ours.dq, theirs.dq) if name == "data" and ours.hasattr("dq") and theirs.hasattr("dq") else (None, None)
            try:
                table.add(label, name, compare_arrays(a, b, *dq))
            except ValueError as exc:
                table.note(label, name, str(exc))
    if native_model is None:
        ours.close()


def compare_mosaic(table: Table, native_path: Path, jwst_path: Path, label: str = "_i2d") -> None:
    from stdatamodels.jwst import datamodels

    if not jwst_path.is_file() or not native_path.is_file():
        table.note(label, "-", f"missing {jwst_path.name} ({'jwst' if not jwst_path.is_file() else 'native'})")
        return
    with datamodels.open(str(native_path)) as ours, datamodels.open(str(jwst_path)) as theirs:
        same_grid = ours.data.shape == theirs.data.shape
        if same_grid:
            yy, xx = np.mgrid[0 : theirs.data.shape[0] : 7, 0 : theirs.data.shape[1] : 7]
            a = np.array(ours.meta.wcs(xx.astype(float), yy.astype(float)))
            b = np.array(theirs.meta.wcs(xx.astype(float), yy.astype(float)))
            same_grid = bool(np.nanmax(np.abs(a - b)) * 3600.0 < 1e-3)
        for name in I2D_ARRAYS:
            if not (ours.hasattr(name) and theirs.hasattr(name)):
                continue
            ours_array = getattr(ours, name)
            if not same_grid:
                ours_array = regrid_nearest(ours_array, ours.meta.wcs, theirs.data.shape, theirs.meta.wcs)
            table.add(label, name, compare_arrays(ours_array, getattr(theirs, name)))
        flux = total_flux_difference(
            ours.data, ours.meta.photometry.pixelarea_steradians or 1.0, theirs.data, theirs.meta.photometry.pixelarea_steradians or 1.0
        )
        grid = "same grid" if same_grid else f"native {ours.data.shape} regridded to jwst {theirs.data.shape}"
        previous = table.notes.get((label, "data"), "")
        table.note(label, "data", (previous + "; " if previous else "") + f"{jwst_path.name[:-9]}: total flux {flux:.2e}, {grid}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--jwst-python", help="a Python with jwst 3.0.0 (default: $ASNFLOW_JWST_PYTHON)")
    parser.add_argument("--instruments", nargs="+", choices=sorted(SETUPS), default=DEFAULT_INSTRUMENTS)
    parser.add_argument("--size", type=int, help="frame size (default: each instrument's, see make_data.py)")
    parser.add_argument("--ngroups", type=int, default=8)
    parser.add_argument("--maximum-cores", default="1")
    parser.add_argument("--no-steps", action="store_true", help="compare products only (no per-step ramps)")
    parser.add_argument("--reuse-jwst", action="store_true", help="keep WORK/jwst from an earlier run")
    args = parser.parse_args(argv)

    work = args.work.resolve()
    data = work / "data"
    programs = make_programs(args.instruments, args.size, args.ngroups)
    started = time.monotonic()
    inputs = write_program_inputs(data, programs)
    cache = inputs.crds_cache
    print(f"data: {len(inputs.raw)} raw exposures, cache {cache} ({time.monotonic() - started:.1f} s)")
    pools = sorted(data.glob("*_pool.csv"))
    stage1 = [p for p in programs if p.setup.instrument in DETECTOR1_ONLY]
    associations = [
        path
        for path in generate_associations(pools, work / "asn")
        if not any(path.name.startswith(f"jw{p.program}-") for p in stage1)
    ]
    image3 = [p for p in associations if "_image3_" in p.name]
    detector1_only = [data / e.uncal_name for p in stage1 for e in p.exposures()]
    with_image2 = [path for path in inputs.raw if path not in detector1_only]

    jwst_dir = work / "jwst"
    if not (args.reuse_jwst and jwst_dir.is_dir()):
        python = jwst_python(args.jwst_python)
        if python is None:
            print("run.py: no Python with jwst: pass --jwst-python or set ASNFLOW_JWST_PYTHON", file=sys.stderr)
            return 2
        shutil.rmtree(jwst_dir, ignore_errors=True)
        started = time.monotonic()
        run_jwst(python, cache, jwst_dir, with_image2, image3, not args.no_steps, args.maximum_cores, detector1_only)
        print(f"jwst: {time.monotonic() - started:.1f} s (log {work / 'jwst.log'})")

    shutil.rmtree(work / "native", ignore_errors=True)
    if associations:
        took = run_native(work, with_image2, associations, cache, args.maximum_cores)
        print(f"native (asnflow run): {took:.1f} s (log {work / 'native.log'})")

    for program in programs:
        table = Table()
        exposures = program.exposures()
        for exposure in exposures:
            uncal = data / exposure.uncal_name
            root = exposure.root
            unlisted = uncal in detector1_only
            products = None
            if not args.no_steps or unlisted:
                products = compare_steps(table, uncal, jwst_dir, cache, args.maximum_cores, steps=not args.no_steps)
            native_rate = products[0] if unlisted and products is not None else None
            compare_product(
                table, "_rate", work / "native" / f"{root}_rate.fits", jwst_dir / f"{root}_rate.fits", PRODUCT_ARRAYS,
                native_rate,
            )  # fmt: skip
            if products is not None and products[1] is not None:
                compare_product(table, "_rateints", None, jwst_dir / f"{root}_rateints.fits", PRODUCT_ARRAYS, products[1])
            if not unlisted:
                compare_product(table, "_cal", work / "native" / f"{root}_cal.fits", jwst_dir / f"{root}_cal.fits", CAL_ARRAYS)
        for asn in image3:
            if f"jw{program.program}" not in asn.name:
                continue
            import json

            product = json.loads(asn.read_text())["products"][0]["name"]
            native_i2d = work / "native" / f"{product}_i2d.fits"
            compare_mosaic(table, native_i2d, jwst_dir / f"{product}_i2d.fits")
            compare_mosaic(table, native_i2d, jwst_dir / "tweakreg-off" / f"{product}_i2d.fits", "_i2d tweakreg off")
        setup = program.setup
        readouts = ", ".join(sorted({f"{f.readout.pattern} (NFRAMES {f.readout.nframes})" for f in setup.filters}))
        table.print(
            f"{setup.instrument} {setup.exp_type} ({setup.detector}): {len(exposures)} exposures, "
            f"{program.size}x{program.size} {program.layout.subarray}, {args.ngroups} groups, {readouts}; "
            "native vs jwst 3.0.0"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
