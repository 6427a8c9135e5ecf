"""Run one command as a whole process and measure its wall time and peak memory.

Two memory figures, because a generator may fan out into worker processes:

- ``peak_kib``: the kernel's maximum resident set size, from ``os.wait4``. For
  a process tree it is the largest single process (the child itself or any
  descendant it waited for), not the sum; exact, whatever the run's length,
  once the process starting the command is small (:func:`small_launcher`).
- ``tree_kib``: the largest *sum* of resident set sizes over the whole process
  tree, sampled from /proc every ``SAMPLE_SECONDS``. Pages shared between
  forked workers count once per process, so it errs high; it can miss a spike
  shorter than the sampling period, so it errs low for very short runs. 0 where
  /proc is not available.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_SECONDS = 0.1
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4
_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessResult:
    """What one finished (or killed) process cost."""

    seconds: float
    peak_kib: int
    tree_kib: int
    returncode: int | None  # None: killed after the time limit
    stderr_tail: str
    cpu_seconds: float = 0.0  # user + system time of the process and the descendants it waited for


# The process measured commands are started from (see small_launcher); None: this one.
_LAUNCHER: Any = None


@contextmanager
def small_launcher() -> Iterator[None]:
    """While open, :func:`run_measured` starts its commands from a process forked now, while this
    one is small.

    The kernel's peak resident size of a process counts the pages it had at
    its start, before it replaced itself with the command: a command started
    from a process holding 600 MiB reports at least 600 MiB. The benchmark
    grows as it goes (the files' digests of a million-row run), the launcher
    does not.
    """
    global _LAUNCHER
    launcher = multiprocessing.get_context("fork").Pool(1, initializer=_stop_on_sigterm)
    _LAUNCHER = launcher
    try:
        yield
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM): the launcher stops the command it waits for, and ends.
        launcher.terminate()
        raise
    else:
        launcher.close()
    finally:
        _LAUNCHER = None
        launcher.join()


def _stop_on_sigterm() -> None:
    # The launcher stopped by SIGTERM unwinds, so the command it waits for is stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def run_measured(command: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None,
                 timeout: float | None = None) -> ProcessResult:
    """Run ``command`` in ``cwd``, stdout and stderr into ``log``; wait for it and measure it."""
    if _LAUNCHER is not None:
        return _LAUNCHER.apply(_run_measured_here, (command, cwd, log, env, timeout))
    return _run_measured_here(command, cwd, log, env, timeout)


def _run_measured_here(command: list[str], cwd: Path, log: Path, env: dict[str, str] | None,
                       timeout: float | None) -> ProcessResult:
    sampler = _TreeSampler()
    with open(log, "wb") as log_file:
        start = time.perf_counter()
        # A session of its own, so a time limit can stop the whole tree by its group id.
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True)
        sampler.start(proc.pid)
        timed_out = threading.Event()
        timer = None
        if timeout:
            timer = threading.Timer(timeout, _kill_group, args=(proc.pid, timed_out))
            timer.start()
        try:
            # wait4 rather than Popen.wait: it hands back the child's resource usage
            # (RUSAGE_CHILDREN deltas cannot give a per-run maximum).
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            # Interrupted (Ctrl-C does not reach a child in its own session): stop its tree too.
            _kill_group(proc.pid, timed_out)
            proc.wait()
            sampler.stop()
            raise
        finally:
            if timer:
                timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so tell Popen
        tree_kib = sampler.stop()
    peak_kib = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss  # bytes on macOS
    returncode = None if timed_out.is_set() else proc.returncode
    return ProcessResult(seconds, peak_kib, tree_kib, returncode, _tail(log), usage.ru_utime + usage.ru_stime)


def _kill_group(pid: int, flag: threading.Event) -> None:
    flag.set()
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


class _TreeSampler:
    """Samples the summed RSS of a process and its descendants in a background thread."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak_kib = 0

    def start(self, root: int) -> None:
        if not _PROC.is_dir():
            return
        self._thread = threading.Thread(target=self._loop, args=(root,), daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        if self._thread:
            self._thread.join()
        return self._peak_kib

    def _loop(self, root: int) -> None:
        parents: dict[int, int] = {}  # pid -> parent pid
        while not self._stop.is_set():
            tree = {root}
            try:
                pids = [int(name) for name in os.listdir(_PROC) if name.isdigit()]
            except OSError:
                return
            # A parent is read once per pid while that pid lives; pids that vanished
            # are forgotten, so a reused pid is read afresh.
            parents = {pid: parents[pid] if pid in parents else _parent_of(pid) for pid in pids}
            # Descendants: walk parent links until the root or a pid outside the tree.
            for pid in sorted(pids):
                chain = []
                while pid not in tree and pid in parents and parents[pid] > 1:
                    chain.append(pid)
                    pid = parents[pid]
                if pid in tree:
                    tree.update(chain)
            self._peak_kib = max(self._peak_kib, sum(_rss_kib(pid) for pid in tree))
            self._stop.wait(SAMPLE_SECONDS)


def _parent_of(pid: int) -> int:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0
    # The command name sits in parentheses and may hold spaces: split after the last ")".
    return int(stat.rsplit(")", 1)[1].split()[1])


def _rss_kib(pid: int) -> int:
    try:
        return int((_PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0
