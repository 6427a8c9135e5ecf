"""What rerun-by-content costs: the demo calibrated with and without the provenance store.

With provenance (the default) a run hashes every input, output and reference
file and writes two SQLite transactions per node; without it
(``run_graph(provenance=False)``) nothing is hashed or recorded and up to date
means "outputs newer than inputs". Each repetition calibrates a fresh copy
of the demo's inputs (pool, raw ramps, CRDS cache, associations) once in each
mode, alternating which goes first, then runs again on the finished folder
(everything up to date: the cost of planning). Reports the median of each,
and, measured inside the runs with provenance on, the seconds the scheduler
spent planning and recording (hashing included): on a loaded machine the
difference of two wall times is noisy, that part is not.

    python benchmarks/provenance_overhead.py [--repeat 3] [--executor process] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def prepare(base: Path) -> list[str]:
    """The demo's inputs and associations in ``base``; returns the association file names."""
    from asnflow.demo.inputs import write_inputs
    from asnflow.demo.run import generate_associations

    inputs = write_inputs(base)
    names = []
    for name, text in generate_associations(inputs.pool):
        (base / name).write_text(text)
        names.append(name)
    return names


class Stopwatch:
    """Adds up the time spent in some functions (wrapped in place, unwrapped by ``close``)."""

    def __init__(self, targets: list[tuple[object, str]]) -> None:
        self.seconds = 0.0
        self._saved = []
        for owner, name in targets:
            original = getattr(owner, name)
            self._saved.append((owner, name, original))
            setattr(owner, name, self._timed(original))

    def _timed(self, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed

    def close(self) -> None:
        for owner, name, original in self._saved:
            setattr(owner, name, original)


def one_run(base: Path, work: Path, names: list[str], provenance: bool, executor: str, workers: int) -> tuple[float, float]:
    """Seconds for a full calibration of a fresh copy, then for a rerun with everything up to date,
    and the seconds of the full run spent planning and recording provenance."""
    from asnflow.calib.refs import CrdsRefs
    from asnflow.workflow.dispatch import run_graph, scheduler
    from asnflow.workflow.graph import build_graph

    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base, work)
    provider = CrdsRefs(work / "crds")
    timings = []
    inside = 0.0
    for _ in range(2):
        recorder = scheduler._Recorder
        watch = Stopwatch([(scheduler, "plan_run"), (recorder, "started"), (recorder, "finished"),
                           (recorder, "adopted")])
        started = time.perf_counter()
        graph = build_graph([work / n for n in names], data_dir=work)
        summary = run_graph(
            graph, work, executor=executor, workers=workers, provider=provider,
            options={"maximum_cores": "1"}, progress=False, provenance=provenance,
        )
        timings.append(time.perf_counter() - started)
        watch.close()
        inside = inside or watch.seconds
        if summary.failed:
            raise SystemExit(f"a node failed: {next(r for r in summary.results if r.status == 'failed')}")
    return timings[0], timings[1], inside


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each mode (default: 3)")
    parser.add_argument("--executor", default="process", choices=("serial", "process"), help="default: process")
    parser.add_argument("--workers", type=int, default=2, help="default: 2")
    args = parser.parse_args(argv)
    results: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="asnflow-provenance-bench-") as temporary:
        root = Path(temporary)
        base = root / "base"
        base.mkdir()
        names = prepare(base)
        for repetition in range(args.repeat):
            order = (True, False) if repetition % 2 == 0 else (False, True)
            for provenance in order:
                timing = one_run(base, root / "work", names, provenance, args.executor, args.workers)
                results[provenance].append(timing)
                print(f"run {repetition + 1} provenance={'on ' if provenance else 'off'}: "
                      f"full {timing[0]:6.2f} s (planning and recording {timing[2]:5.2f} s), "
                      f"up to date {timing[1]:5.2f} s", file=sys.stderr)
    print(f"{'':14} {'full run (s)':>13} {'up to date (s)':>15}")
    medians = {}
    for provenance in (False, True):
        full = statistics.median(t[0] for t in results[provenance])
        again = statistics.median(t[1] for t in results[provenance])
        medians[provenance] = (full, again)
        print(f"{'provenance ' + ('on' if provenance else 'off'):14} {full:13.2f} {again:15.2f}")
    overhead = 100 * (medians[True][0] - medians[False][0]) / medians[False][0]
    print(f"overhead of hashing and the store on the full run, from wall times: {overhead:+.1f} %")
    inside_on = statistics.median(t[2] for t in results[True])
    inside_off = statistics.median(t[2] for t in results[False])
    print(f"planning and recording inside the full run: {inside_on:.2f} s with provenance, {inside_off:.2f} s without "
          f"({100 * (inside_on - inside_off) / medians[False][0]:+.1f} % of the run without)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
