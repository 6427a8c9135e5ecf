"""-j 1 against -j 2 and against a 2-worker Dask cluster, on the same work, runs interleaved.

Each workload (one large pool; every pool of a corpus in one command) is run
as a whole process with each configuration in turn, round after round, so
that every configuration sees the same conditions on a shared machine. All
runs of a workload must write byte-identical files, whatever the
configuration.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path

from bench_outputs import digest_differences, tree_digests
from bench_process import ProcessResult, run_measured

# Dask runs the passes; the files are written here, by as many processes as -j 2 writes with.
JOBS_1, JOBS_2, DASK_2 = "-j 1", "-j 2", "dask, 2 workers (-j 2 writing)"


@dataclass(frozen=True)
class Workload:
    label: str
    pools: tuple[Path, ...]


@dataclass
class ParallelMeasurement:
    workload: str
    config: str
    runs: list[ProcessResult]
    problems: list[str]

    @property
    def median_seconds(self) -> float | None:
        if not self.runs or any(run.returncode != 0 for run in self.runs):
            return None
        return statistics.median(run.seconds for run in self.runs)

    @property
    def median_cpu(self) -> float | None:
        return statistics.median(run.cpu_seconds for run in self.runs) if self.runs else None


# The cluster runs in a process of its own, in a process group of its own, and sits stopped
# (SIGSTOP) while the other configurations run. Left running, an idle cluster (heartbeats, the
# scheduler's periodic work) took about 0.15 of a CPU: a -j 2 run, which needs both CPUs, ran
# about 7 % slower beside it, and the benchmark read -j 2 low against the same commands run alone.
_CLUSTER = """\
import sys
from distributed import LocalCluster

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
print(cluster.scheduler_address, flush=True)
sys.stdin.read()  # until the benchmark closes the pipe, or ends
cluster.close()
"""
SETTLE_SECONDS = 1.0  # after waking the cluster: heartbeats and timers that fell due while it slept


class DaskCluster:
    """A local Dask cluster of two single-threaded worker processes that import this checkout,
    stopped except while :meth:`awake`."""

    def __init__(self, repo: Path, env: dict[str, str], log: Path) -> None:
        self.repo = repo
        self.log = log  # the cluster's own messages (its workers complain as it shuts down)
        self.env = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")])))
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise RuntimeError("Dask distributed is not installed (pip install 'asnflow[dask]')") from exc
        # A group of its own: stopping it stops the scheduler and every worker (the workers are its
        # descendants). Should the benchmark die, the group is orphaned and the kernel wakes it
        # (SIGHUP, SIGCONT); its standard input then closes and it ends.
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-c", _CLUSTER], env=self.env, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=log, text=True, process_group=0)
        address = self.process.stdout.readline().strip()
        if not address:
            self.__exit__()
            said = self.log.read_text(errors="replace").strip().splitlines()
            raise RuntimeError(f"the local Dask cluster did not start: {said[-1] if said else 'no message'}")
        self._signal(signal.SIGSTOP)
        return address

    @contextmanager
    def awake(self) -> Iterator[None]:
        self._signal(signal.SIGCONT)
        time.sleep(SETTLE_SECONDS)
        try:
            yield
        finally:
            self._signal(signal.SIGSTOP)

    def _signal(self, number: int) -> None:
        if self.process is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, number)

    def __exit__(self, *exc) -> None:
        if self.process is None:
            return
        self._signal(signal.SIGCONT)
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait()
        self.process = None


def measure_parallel(workloads: list[Workload], runs: int, workroot: Path, env: dict[str, str],
                     cluster: tuple[str, DaskCluster] | None, timeout: float | None, progress,
                     between_rounds: Callable[[], None] | None = None) -> list[ParallelMeasurement]:
    """Every configuration on every workload, round after round (``between_rounds`` after each);
    ``cluster`` (its scheduler's address, and the cluster, woken for its runs only) adds the Dask runs."""
    configs = {JOBS_1: ["-j", "1"], JOBS_2: ["-j", "2"]}
    if cluster:
        address, dask = cluster
        configs[DASK_2] = ["--scheduler", address, "--timeout", "60", "-j", "2"]
    results = {(w.label, c): ParallelMeasurement(w.label, c, [], []) for w in workloads for c in configs}
    reference: dict[str, dict[str, str]] = {}
    for number in range(1, runs + 1):
        for workload in workloads:
            for config, options in configs.items():
                measurement = results[(workload.label, config)]
                if measurement.problems:
                    continue
                folder = workroot / "parallel" / _slug(workload.label) / _slug(config)
                output = folder / f"run{number}"
                shutil.rmtree(output, ignore_errors=True)
                output.mkdir(parents=True)
                command = [sys.executable, "-m", "asnflow", "generate", *map(str, workload.pools), "-p", str(output),
                           "-q", *options]
                progress(f"{workload.label}, {config}, run {number}/{runs} ...", end="")
                with dask.awake() if config == DASK_2 else nullcontext():
                    result = run_measured(command, cwd=folder, log=folder / f"run{number}.log", env=env,
                                          timeout=timeout)
                measurement.runs.append(result)
                if result.returncode != 0:
                    last = (result.stderr_tail.splitlines() or ["no output"])[-1]
                    measurement.problems.append(f"run {number} failed ({result.returncode}): {last}")
                    progress(" failed", prefix="")
                    continue
                progress(f" {result.seconds:.2f} s", prefix="")
                found = tree_digests(output)
                if workload.label not in reference:
                    reference[workload.label] = found
                else:
                    changed = digest_differences(reference[workload.label], found)
                    if changed:
                        measurement.problems.append(f"run {number} wrote other files than {JOBS_1} run 1 "
                                                    f"({len(changed)}: {changed[0]}, ...)")
                shutil.rmtree(output)
        if between_rounds is not None:
            between_rounds()
    return list(results.values())


def parallel_report(measurements: list[ParallelMeasurement], goal_speedup: float, goal_dask: float) -> list[str]:
    header = ("workload", "configuration", "runs", "median s", "min-max s", "cpu s", "tree MiB", "vs -j 1")
    table = [header]
    by_key = {(m.workload, m.config): m for m in measurements}
    for m in measurements:
        serial = by_key.get((m.workload, JOBS_1))
        base = serial.median_seconds if serial else None
        median = m.median_seconds
        done = [r for r in m.runs if r.returncode == 0]
        table.append((
            m.workload, m.config, str(len(m.runs)),
            f"{median:.2f}" if median is not None else "failed",
            f"{min(r.seconds for r in done):.2f}-{max(r.seconds for r in done):.2f}" if done else "-",
            f"{m.median_cpu:.2f}" if m.median_cpu is not None else "-",
            f"{max(r.tree_kib for r in m.runs) / 1024:.0f}" if m.runs else "-",
            f"{base / median:.2f}x" if base and median else "-",
        ))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             .rstrip() for row in table]
    for m in measurements:
        lines += [f"! {m.workload}, {m.config}: {problem}" for problem in m.problems]
    lines.append("")
    for workload in dict.fromkeys(m.workload for m in measurements):
        one, two = by_key.get((workload, JOBS_1)), by_key.get((workload, JOBS_2))
        dask = by_key.get((workload, DASK_2))
        speedup = (one.median_seconds / two.median_seconds
                   if one and two and one.median_seconds and two.median_seconds else None)
        lines.append(_goal(f"{workload}: -j 2 speed-up over -j 1", speedup, "{:.2f}x", f">= {goal_speedup:g}x",
                           lambda v: v >= goal_speedup))
        ratio = (dask.median_seconds / two.median_seconds
                 if dask and two and dask.median_seconds and two.median_seconds else None)
        lines.append(_goal(f"{workload}: Dask time / -j 2 time", ratio, "{:.2f}", f"<= {goal_dask:g}",
                           lambda v: v <= goal_dask, "" if dask else " (no Dask: give --dask)"))
    return lines


def _goal(label: str, value, template: str, goal: str, met, note: str = "") -> str:
    verdict = "not measured" + note if value is None else ("met" if met(value) else "NOT MET")
    shown = "-" if value is None else template.format(value)
    return f"{label:<48} {shown:>8}  {goal:<8}  {verdict}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def corpus_pools(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(p for p in folder.iterdir() if p.suffix in (".csv", ".gz") and p.is_file()))


def corpus_copies(corpus: Path, times: int, folder: Path) -> tuple[Path, ...]:
    """Every pool of ``corpus``, ``times`` over, copied into ``folder`` under names of their own
    (each pool writes into a folder named after it)."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for number in range(1, times + 1):
        for pool in corpus_pools(corpus):
            copy = folder / f"copy{number:03d}_{pool.name}"
            shutil.copyfile(pool, copy)
            copies.append(copy)
    return tuple(copies)


def default_corpus(repo: Path) -> Path:
    """The shared parity corpus beside the repository, else the copy under tests/data."""
    shared = repo.parent / "shared" / "compat" / "pools"
    return shared if shared.is_dir() else repo / "tests" / "data" / "compat" / "pools"

