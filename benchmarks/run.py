#!/usr/bin/env python3
"""Time `asnflow generate` on scaled pools, in parallel, and jwst's asn_generate beside it.

For each pool size, makes a pool with the project's scaled pool maker
(../shared/bench/make_scaled_pool.py beside the repository), runs
`python -m asnflow generate POOL -p OUT -q` as a whole process several times,
each into a fresh empty folder, and measures wall time and peak memory; the
sizes take turns, one run each per round. With --jwst VENV, runs that venv's
`asn_generate POOL -p OUT` on the 800-row pool in the same rounds, right after
asnflow's run on it, and checks that both wrote strictly equal files (same
names, same JSON once `code_version` and `constraints` are dropped). With --million,
also a 1,000,000-row pool (time and peak memory). Then -j 1 against -j 2 and
against a 2-worker Dask LocalCluster on the 10,000-row pool and on every pool
of the parity corpus in one command, runs interleaved, and what two busy
processes gain on this machine at best (the ceiling for -j 2, from a fixed
piece of generator-like work run alone and as a pair; bench_ceiling.py).
Prints the tables, the derived ratios, whether each goal was met, and the
load average before and after (a shared machine skews every wall time; the
cpu column does not).

Exit status: 0 when everything ran and every comparison was equal (goals are
flagged, not enforced); 1 when a run crashed or timed out, repeated runs wrote
different files, or asnflow and jwst differ; 2 when the set-up is wrong.

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench_ceiling import Ceiling, add_round, ceiling_report
from bench_outputs import digest_differences, digests, strict_differences
from bench_parallel import (
    DaskCluster,
    Workload,
    corpus_copies,
    corpus_pools,
    default_corpus,
    measure_parallel,
    parallel_report,
)
from bench_process import ProcessResult, run_measured, small_launcher

REPO = Path(__file__).resolve().parents[1]
DEFAULT_POOL_MAKER = REPO.parent / "shared" / "bench" / "make_scaled_pool.py"
DEFAULT_SIZES = (800, 10_000, 100_000)
MIB = 1024

MILLION = 1_000_000
PARALLEL_ROWS = 10_000

# The goals of the performance issues. They are reported, never enforced.
GOAL_SPEEDUP_ROWS = 800
GOAL_SPEEDUP = 1000.0
GOAL_SMALL_SECONDS = 0.30
GOAL_LARGE_ROWS = 100_000
GOAL_LARGE_SECONDS = 15.0
GOAL_LARGE_MIB = 1024.0
GOAL_SCALING_FROM = 10_000
GOAL_SCALING = 11.0
GOAL_MILLION_MIB = 4096.0
GOAL_JOBS_SPEEDUP = 1.6
GOAL_DASK_RATIO = 1.2


class SetupError(Exception):
    """Something the benchmark needs is missing; reported as one line, exit status 2."""


@dataclass(frozen=True)
class Measurement:
    """All runs of one tool on one pool."""

    tool: str
    size: int
    rows: int
    runs: tuple[ProcessResult, ...]
    associations: int
    reference_output: Path  # the first run's output folder
    problems: tuple[str, ...] = ()
    equal_files: bool | None = None  # jwst only: strictly equal to asnflow's files
    differences: tuple[str, ...] = field(default=(), compare=False)

    @property
    def ok(self) -> bool:
        return not self.problems and self.equal_files is not False

    @property
    def crashed(self) -> bool:
        """A run failed or timed out (the runs stop there)."""
        return any(run.returncode != 0 for run in self.runs)

    @property
    def completed(self) -> list[ProcessResult]:
        return [run for run in self.runs if run.returncode == 0]

    @property
    def median_seconds(self) -> float | None:
        """The median wall time, or None when a run crashed: a partial set is no measurement."""
        return None if self.crashed else statistics.median(run.seconds for run in self.runs)

    @property
    def peak_mib(self) -> float:
        return max((run.peak_kib for run in self.runs), default=0) / MIB

    @property
    def tree_mib(self) -> float:
        return max((run.tree_kib for run in self.runs), default=0) / MIB

    @property
    def median_cpu(self) -> float | None:
        return None if self.crashed else statistics.median(run.cpu_seconds for run in self.runs)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Runs are started in sessions of their own (so a time limit can stop a whole tree); on
    # SIGTERM, unwind like Ctrl-C so the running tree is stopped and the temporary folder removed.
    signal.signal(signal.SIGTERM, _stop)
    try:
        with small_launcher():
            return benchmark(args)
    except SetupError as exc:
        print(f"benchmarks: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmarks: interrupted; the running process was stopped", file=sys.stderr)
        return 130


def _stop(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=DEFAULT_SIZES, metavar="N,N,...",
                        help="pool sizes in rows (default: 800,10000,100000)")
    parser.add_argument("--runs", type=_positive, default=3, help="asnflow runs per size; the median is reported "
                        "(default: 3)")
    parser.add_argument("--jobs", type=_not_negative, metavar="N",
                        help="passed through as asnflow generate --jobs N (0: one per core)")
    parser.add_argument("--jwst", metavar="VENV", type=Path,
                        help="a virtual environment with jwst installed (or its bin/python): time its asn_generate "
                        "too and compare files")
    parser.add_argument("--jwst-runs", type=_positive, default=1, help="jwst runs (default: 1; it takes minutes)")
    parser.add_argument("--jwst-rows", type=_positive, default=GOAL_SPEEDUP_ROWS,
                        help=f"pool size jwst runs on (default: {GOAL_SPEEDUP_ROWS}); asnflow runs on it too")
    parser.add_argument("--keep", metavar="DIR", type=Path,
                        help="keep pools, logs and outputs in DIR (default: a temporary folder, in /dev/shm "
                             "when it is a RAM-backed filesystem; removed)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="stop any one run after this long")
    parser.add_argument("--pool-maker", type=Path, default=DEFAULT_POOL_MAKER, metavar="SCRIPT",
                        help="the scaled pool maker (default: ../shared/bench/make_scaled_pool.py from the "
                        "repository root)")
    parser.add_argument("--million", action="store_true",
                        help="also a 1,000,000-row pool, run once (time and peak memory; minutes)")
    parser.add_argument("--corpus", type=Path, metavar="DIR",
                        help="pools run together in one command for the parallel comparison (default: "
                        "../shared/compat/pools beside the repository, else tests/data/compat/pools)")
    parser.add_argument("--many-pools", type=_not_negative, default=0, metavar="N",
                        help="also the corpus N times over, under new names, all in one command (operations "
                        "reprocessing many pools; default: 0, left out)")
    parser.add_argument("--parallel-runs", type=_positive, default=3,
                        help="runs of each parallel configuration; the median is reported (default: 3)")
    parser.add_argument("--no-parallel", action="store_true", help="skip the -j 1 / -j 2 / Dask comparison")
    parser.add_argument("--no-dask", action="store_true", help="leave Dask out of the parallel comparison")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(_positive(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes are whole numbers separated by commas") from exc
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes given")
    return tuple(sorted(set(sizes)))


def benchmark(args: argparse.Namespace) -> int:
    pool_maker = args.pool_maker.resolve()
    if not pool_maker.is_file():
        raise SetupError(
            f"the scaled pool maker is not at {pool_maker}; it is expected at ../shared/bench/make_scaled_pool.py "
            "beside the repository (give another with --pool-maker SCRIPT)")
    asn_generate = _jwst_command(args.jwst) if args.jwst else None
    sizes = tuple(sorted(set(args.sizes) | ({args.jwst_rows} if asn_generate else set())))
    corpus = (args.corpus or default_corpus(REPO)).resolve()
    if not args.no_parallel and not corpus.is_dir():
        raise SetupError(f"no pool folder at {corpus} (give one with --corpus DIR, or --no-parallel)")
    progress = _progress_printer(args.quiet)
    workroot = args.keep.resolve() if args.keep else _temporary_folder()
    workroot.mkdir(parents=True, exist_ok=True)
    machine = _machine_line(args, workroot)  # before the runs: the commit measured, not one made meanwhile
    machine_load = _load()
    try:
        pools: dict[int, Path] = {}
        series = []
        for size in sizes + ((MILLION,) if args.million else ()):
            pool, rows = make_pool(pool_maker, size, workroot, progress)
            pools[size] = pool
            command = [sys.executable, "-m", "asnflow", "generate", str(pool), "-p", "{out}", "-q"]
            if args.jobs is not None:
                command += ["--jobs", str(args.jobs)]
            runs = 1 if size == MILLION else args.runs
            series.append(Series("asnflow", size, rows, command, runs, workroot, _asnflow_env(), args.timeout,
                                 args.keep is not None, progress))
        if asn_generate:
            # beside asnflow's series on the same pool, so each round runs the two one after the other
            at = next(n for n, one in enumerate(series) if one.size == args.jwst_rows)
            series.insert(at + 1, Series("jwst", args.jwst_rows, series[at].rows,
                                    [asn_generate, str(pools[args.jwst_rows]), "-p", "{out}"], args.jwst_runs,
                                    workroot, None, args.timeout, args.keep is not None, progress))
        measurements = measure_in_rounds(series)
        if asn_generate:
            jwst = next(m for m in measurements if m.tool == "jwst")
            ours = next(m for m in measurements if m.tool == "asnflow" and m.size == args.jwst_rows)
            measurements.remove(jwst)
            measurements.append(compare_with_jwst(jwst, ours))
        parallel: list = []
        ceiling = None
        if not args.no_parallel:
            if PARALLEL_ROWS not in pools:
                pools[PARALLEL_ROWS] = make_pool(pool_maker, PARALLEL_ROWS, workroot, progress)[0]
            workloads = [Workload(f"{PARALLEL_ROWS:,}-row pool", (pools[PARALLEL_ROWS],)),
                         Workload(f"corpus, {len(corpus_pools(corpus))} pools", corpus_pools(corpus))]
            if args.many_pools:
                many = corpus_copies(corpus, args.many_pools, workroot / "many-pools")
                workloads.append(Workload(f"corpus x{args.many_pools}, {len(many)} pools", many))
            ceiling = Ceiling([], [])

            def ceiling_round() -> None:
                progress("two busy processes against one (the ceiling for -j 2) ...", end="")
                add_round(ceiling)
                progress(f" {ceiling.ratios[-1]:.2f}x", prefix="")

            parallel = _run_parallel(args, workloads, workroot, progress, ceiling_round)
        print(report(machine, measurements))
        if parallel:
            print("\n" + "\n".join(parallel_report(parallel, GOAL_JOBS_SPEEDUP, GOAL_DASK_RATIO)))
        if ceiling is not None:
            print(ceiling_report(ceiling))
        print(f"\nload average (1, 5, 15 min): {machine_load} at the start, {_load()} at the end")
    finally:
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    return 0 if all(m.ok for m in measurements) and not any(m.problems for m in parallel) else 1


def _run_parallel(args: argparse.Namespace, workloads: list, workroot: Path, progress, between_rounds) -> list:
    env = _asnflow_env()
    if args.no_dask:
        return measure_parallel(workloads, args.parallel_runs, workroot, env, None, args.timeout, progress,
                                between_rounds)
    try:
        cluster = DaskCluster(REPO, env, workroot / "dask-cluster.log")
        with cluster as address:
            return measure_parallel(workloads, args.parallel_runs, workroot, env, (address, cluster), args.timeout,
                                    progress, between_rounds)
    except RuntimeError as exc:
        raise SetupError(f"{exc}; or give --no-dask") from None


def _load() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _venv_of(path: Path) -> Path:
    """A venv folder from the folder itself or its bin/python."""
    path = path.absolute()
    return path.parent.parent if path.is_file() else path


def _jwst_command(venv: Path) -> str:
    venv = _venv_of(venv)
    command = venv / "bin" / "asn_generate"
    if not (command.is_file() and os.access(command, os.X_OK)):
        raise SetupError(f"--jwst {venv}: no asn_generate in {command.parent}; give the folder of a virtual "
                         "environment where jwst is installed")
    return str(command)


def _asnflow_env() -> dict[str, str]:
    """The environment for asnflow runs: this checkout first on the import path, so it is what gets timed."""
    env = dict(os.environ)
    # Timed as an installed package runs: with its bytecode cached (compiling
    # every module again costs each short run a few tenths of a second).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def make_pool(pool_maker: Path, size: int, workroot: Path, progress) -> tuple[Path, int]:
    """Write the scaled pool of ``size`` rows; return it and its row count (lines after the header)."""
    pool = workroot / f"pool_{size}.csv"
    progress(f"making a {size:,}-row pool")
    done = subprocess.run([sys.executable, str(pool_maker), "--rows", str(size), str(pool)],
                          capture_output=True, text=True)
    if done.returncode != 0 or not pool.is_file():
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise SetupError(f"{pool_maker} --rows {size} failed (exit status {done.returncode}): {last}")
    with open(pool, "rb") as handle:
        rows = sum(1 for line in handle if line.strip()) - 1
    return pool, rows


class Series:
    """The runs of one command on one pool, made one at a time (``run_next``), each into a fresh
    output folder ({out} in the command)."""

    def __init__(self, tool: str, size: int, rows: int, command: list[str], runs: int, workroot: Path,
                 env: dict[str, str] | None, timeout: float | None, keep: bool, progress) -> None:
        self.tool, self.size, self.rows, self.command, self.runs = tool, size, rows, command, runs
        self.env, self.timeout, self.keep, self.progress = env, timeout, keep, progress
        self.folder = workroot / f"{tool}_{size}"
        shutil.rmtree(self.folder, ignore_errors=True)
        self.results: list[ProcessResult] = []
        self.problems: list[str] = []
        self.reference: dict[str, str] = {}

    @property
    def done(self) -> bool:
        crashed = any(result.returncode != 0 for result in self.results)  # it will not go away by repeating
        return crashed or len(self.results) >= self.runs

    def run_next(self) -> None:
        number = len(self.results) + 1
        output = self.folder / f"run{number}"
        output.mkdir(parents=True)
        self.progress(f"{self.tool} on {self.size:,} rows, run {number}/{self.runs} ...", end="")
        result = run_measured([part.replace("{out}", str(output)) for part in self.command], cwd=self.folder,
                              log=self.folder / f"run{number}.log", env=self.env, timeout=self.timeout)
        self.results.append(result)
        if result.returncode != 0:
            what = f"timed out after {self.timeout:g} s" if result.returncode is None else \
                f"exit status {result.returncode}"
            last_line = (result.stderr_tail.splitlines() or ["no output"])[-1]
            where = f" (log: {self.folder / f'run{number}.log'})" if self.keep else ""
            self.problems.append(f"run {number} {what}: {last_line}{where}")
            self.progress(" failed", prefix="")
            return
        self.progress(f" {result.seconds:.2f} s, peak {result.peak_kib / MIB:.0f} MiB", prefix="")
        if number == 1:
            self.reference = digests(output)
            return
        changed = digest_differences(self.reference, digests(output))
        if changed:
            self.problems.append(f"run {number} wrote other files than run 1 ({len(changed)}: {changed[0]}, ...)")
        if not self.keep:
            shutil.rmtree(output)

    def measurement(self) -> Measurement:
        return Measurement(self.tool, self.size, self.rows, tuple(self.results), len(self.reference),
                           self.folder / "run1", tuple(self.problems))


def measure_in_rounds(series: list[Series]) -> list[Measurement]:
    """Each series' next run in turn, round after round, until all are done: the machine's
    speed drifts over minutes here, and runs taken in turn see the same drift (the ratio of
    two pool sizes, or of asnflow to jwst, is then not a ratio of two moments)."""
    while not all(one.done for one in series):
        for one in series:
            if not one.done:
                one.run_next()
    return [one.measurement() for one in series]


def compare_with_jwst(jwst: Measurement, ours: Measurement) -> Measurement:
    """jwst's measurement, with whether its files equal asnflow's (when both ran to the end)."""
    if jwst.crashed or ours.crashed:
        return jwst
    differences = strict_differences(jwst.reference_output, ours.reference_output)
    return replace(jwst, equal_files=not differences, differences=tuple(differences))


def report(machine: str, measurements: list[Measurement]) -> str:
    """The machine line, the table, notes on problems, and the derived ratios with their goals."""
    lines = [machine, ""]
    header = ("tool", "size", "rows", "runs", "median s", "min-max s", "cpu s", "peak MiB", "tree MiB",
              "associations", "equal files")
    table = [header]
    for m in measurements:
        done = m.completed
        spread = f"{min(r.seconds for r in done):.2f}-{max(r.seconds for r in done):.2f}" if done else "-"
        median = f"{m.median_seconds:.2f}" if m.median_seconds is not None else "failed"
        equal = "-" if m.equal_files is None else ("yes" if m.equal_files else "no")
        if m.tool == "jwst" and m.equal_files is None:
            equal = "not compared"
        cpu = f"{m.median_cpu:.2f}" if m.median_cpu is not None else "-"
        table.append((m.tool, f"{m.size:,}", f"{m.rows:,}", str(len(m.runs)), median, spread, cpu, f"{m.peak_mib:.0f}",
                      f"{m.tree_mib:.0f}" if m.tree_mib else "-", f"{m.associations:,}", equal))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = [cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    for m in measurements:
        lines += [f"! {m.tool} on {m.size:,} rows: {problem}" for problem in m.problems]
        if m.differences:
            lines.append(f"! {m.tool} and asnflow on {m.size:,} rows: {len(m.differences)} files differ "
                         f"(missing: {m.tool} wrote it and asnflow did not; extra: the other way round)")
            lines += [f"    {line}" for line in m.differences[:20]]
            if len(m.differences) > 20:
                lines.append(f"    ... and {len(m.differences) - 20} more (keep them with --keep DIR)")
    lines += ["", *goal_lines(measurements)]
    return "\n".join(lines)


def goal_lines(measurements: list[Measurement]) -> list[str]:
    """The derived ratios, each beside its goal: met, NOT MET or not measured."""
    ours = {m.size: m for m in measurements if m.tool == "asnflow"}
    jwst = next((m for m in measurements if m.tool == "jwst"), None)

    def seconds(m: Measurement | None) -> float | None:
        return m.median_seconds if m else None

    rows = []
    small, large = seconds(ours.get(GOAL_SCALING_FROM)), seconds(ours.get(GOAL_LARGE_ROWS))
    ratio = large / small if small and large else None
    rows.append((f"time({GOAL_LARGE_ROWS:,}) / time({GOAL_SCALING_FROM:,})",
                 _value(ratio, "{:.1f}"), f"<= {GOAL_SCALING:g}", _verdict(ratio, lambda v: v <= GOAL_SCALING)))

    jwst_seconds = seconds(jwst)
    mine = seconds(ours.get(jwst.size)) if jwst else None
    speedup = jwst_seconds / mine if jwst_seconds and mine else None
    at = jwst.size if jwst else GOAL_SPEEDUP_ROWS
    note = "" if at == GOAL_SPEEDUP_ROWS else f" (the goal is set at {GOAL_SPEEDUP_ROWS:,} rows)"
    rows.append((f"speed-up over jwst at {at:,} rows", _value(speedup, "{:.0f}x"), f">= {GOAL_SPEEDUP:g}x",
                 _verdict(speedup if at == GOAL_SPEEDUP_ROWS else None, lambda v: v >= GOAL_SPEEDUP) + note
                 if jwst else "not measured (give --jwst VENV)"))

    small_seconds = seconds(ours.get(GOAL_SPEEDUP_ROWS))
    rows.append((f"{GOAL_SPEEDUP_ROWS:,} rows, median wall time", _value(small_seconds, "{:.2f} s"),
                 f"<= {GOAL_SMALL_SECONDS:g} s", _verdict(small_seconds, lambda v: v <= GOAL_SMALL_SECONDS)))
    big = ours.get(GOAL_LARGE_ROWS)
    rows.append((f"{GOAL_LARGE_ROWS:,} rows, median wall time", _value(large, "{:.1f} s"),
                 f"<= {GOAL_LARGE_SECONDS:g} s", _verdict(large, lambda v: v <= GOAL_LARGE_SECONDS)))
    # The larger of the two memory figures: a process pool's workers count together.
    memory = max(big.peak_mib, big.tree_mib) if big and not big.crashed else None
    rows.append((f"{GOAL_LARGE_ROWS:,} rows, peak memory", _value(memory, "{:.0f} MiB"),
                 f"<= {GOAL_LARGE_MIB:g} MiB", _verdict(memory, lambda v: v <= GOAL_LARGE_MIB)))

    million = ours.get(MILLION)
    million_mib = max(million.peak_mib, million.tree_mib) if million and not million.crashed else None
    rows.append((f"{MILLION:,} rows, peak memory (and time)",
                 _value(million_mib, "{:.0f} MiB") + (f", {seconds(million):.0f} s" if million_mib else ""),
                 f"<= {GOAL_MILLION_MIB:g} MiB", _verdict(million_mib, lambda v: v <= GOAL_MILLION_MIB)
                 if million else "not measured (give --million)"))
    rows.insert(0, ("derived", "measured", "goal", "verdict"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [f"{a.ljust(widths[0])}  {b.rjust(widths[1])}  {c.ljust(widths[2])}  {d}" for a, b, c, d in rows]


def _value(value: float | None, template: str) -> str:
    return "-" if value is None else template.format(value)


def _verdict(value: float | None, met) -> str:
    if value is None:
        return "not measured"
    return "met" if met(value) else "NOT MET"


# Where the runs write when no --keep folder is given: a RAM-backed folder when the machine has
# one. Creating files on this machine's disk (ext4, mounted with discard) cost the kernel 0.1 to
# 0.3 ms a file, and more while it caught up with earlier runs' deletions: 10,000 files took
# 1.1 to 3.1 s of system time there against 0.15 s in /dev/shm, and the runs measured the disk.
RAM_FOLDER = Path("/dev/shm")


def _temporary_folder() -> Path:
    ram = RAM_FOLDER if _filesystem_of(RAM_FOLDER) == "tmpfs" and os.access(RAM_FOLDER, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="asnflow-bench-", dir=ram))


def _filesystem_of(path: Path) -> str:
    """The type of the filesystem ``path`` is on (the longest mount point above it), or "unknown"."""
    try:
        with open("/proc/mounts") as handle:
            mounts = [fields[1:3] for fields in map(str.split, handle) if len(fields) > 2]
    except OSError:
        return "unknown"
    target = str(path.resolve())
    above = [(point, kind) for point, kind in mounts
             if target == point or target.startswith(point.rstrip("/") + "/")]
    return max(above, key=lambda mount: len(mount[0]))[1] if above else "unknown"


def _machine_line(args: argparse.Namespace, workroot: Path) -> str:
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            kib = int(handle.readline().split()[1])
        memory = f", {kib / MIB / MIB:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    commit = _output(["git", "-C", str(REPO), "describe", "--always", "--dirty"]) or "unknown"
    parts = [f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores{memory}",
             f"Python {platform.python_version()}", f"asnflow {commit}"]
    if args.jobs is not None:
        parts.append(f"--jobs {args.jobs}")
    if args.jwst:
        version = _output([str(_venv_of(args.jwst) / "bin" / "python"), "-c", "import jwst; print(jwst.__version__)"])
        parts.append(f"jwst {version or 'unknown version'}")
    parts.append(f"files written on {_filesystem_of(workroot)}")
    return "; ".join(parts)


def _output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _progress_printer(quiet: bool):
    """A function printing one progress line on stderr, or doing nothing (quiet, or stderr not a terminal)."""
    def show(text: str, end: str = "\n", prefix: str = "[bench] ") -> None:
        print(f"{prefix}{text}", end=end, file=sys.stderr, flush=True)

    return (lambda text, end="\n", prefix="": None) if quiet or not sys.stderr.isatty() else show


if __name__ == "__main__":
    sys.exit(main())
