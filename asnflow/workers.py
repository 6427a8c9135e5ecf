"""Local worker processes: how many, and that they never outlive the run that started them.

Shared by ``generate -j`` (forked pool of passes) and ``run`` (process
executor). A worker asks the kernel to kill it when its parent dies (Linux's
PR_SET_PDEATHSIG) and, where that is not available, watches its parent from
a thread; it ignores Ctrl-C, which the parent handles by stopping all of its
workers at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

_PR_SET_PDEATHSIG = 1


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_count(requested: int, work: int) -> int:
    """Processes worth starting: no more than asked, than CPUs, or than pieces of work."""
    return max(1, min(requested, available_cpus(), work))


def leave_with_owner(owner_pid: int) -> None:
    """Worker initializer: die with the process that started the pool; leave Ctrl-C to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the parent's handler
    _ask_kernel_for_death_signal()
    if os.getppid() != owner_pid:  # the owner died before we were set up
        os._exit(1)

    def watch() -> None:  # for platforms without a parent-death signal, and owners that are not our parent
        while True:
            time.sleep(1.0)
            try:
                os.kill(owner_pid, 0)
            except (ProcessLookupError, PermissionError):  # gone, or the pid is someone else's now
                os._exit(1)

    threading.Thread(target=watch, name="asnflow-owner-watch", daemon=True).start()


def _ask_kernel_for_death_signal() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watching thread does the job
        pass


def exit_now(status: int) -> NoReturn:
    """Leave without the interpreter's teardown: flush the standard streams, run this process's
    exit handlers (logging's flush, multiprocessing's and ``weakref.finalize``'s clean-up, which
    releases named semaphores), and exit with ``status``."""
    import atexit

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: Python's own exit gives 120 then
        status = status or 120
    atexit._run_exitfuncs()  # the interpreter's own call at exit; not in atexit's public API
    os._exit(status)


def forked_pool(processes: int):
    """A pool of ``processes`` forked workers that die with this process and leave Ctrl-C to it.

    Forked, so the workers inherit what the caller prepared (rules, rows,
    documents) instead of receiving it. Raises ValueError where the platform
    cannot fork.
    """
    import multiprocessing

    return multiprocessing.get_context("fork").Pool(processes, initializer=leave_with_owner,
                                                   initargs=(os.getpid(),))


# How long, at most, a pool's result thread waits for the GIL while this thread computes (s).
PROMPT_SWITCH = 0.0001


@contextmanager
def prompt_results() -> Iterator[None]:
    """While this thread computes beside a pool's workers, let the pool's result thread read promptly.

    A worker's result crosses a pipe in chunks of its buffer (64 KiB), and
    the parent's result thread needs the GIL for each chunk. With the
    interpreter's default switch interval (5 ms) a thread that is computing
    gives the GIL up only that often, so a 1 MB result held its worker
    blocked on the pipe for about 0.1 s; at half a millisecond a 10,000-row
    pool's mosaic (1.4 MB) still held it for 20 ms, at a tenth for 7 ms. A
    shorter interval costs nothing while no other thread asks for the GIL.
    """
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, PROMPT_SWITCH))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def shared_counter():
    """A counter forked workers share with this process (see :func:`claim_next`)."""
    import multiprocessing

    return multiprocessing.get_context("fork").Value("i", 0)


def claim_next(counter, count: int) -> int | None:
    """The next of ``count`` pieces of work nobody has taken yet (None: all taken).

    This process and its forked workers each claim the next piece when they
    are free, so they finish together however unequal the pieces are.
    """
    with counter.get_lock():
        taken = counter.value
        if taken >= count:
            return None
        counter.value = taken + 1
    return taken


def shared_ends():
    """What forked workers and this process share to take work from both ends (see :func:`claim_end`):
    how many pieces have been taken from the front, and how many from the back."""
    import multiprocessing

    return multiprocessing.get_context("fork").Array("i", 2)


def claim_end(ends, count: int, back: bool) -> int | None:
    """The first (or with ``back``, the last) of ``count`` pieces nobody has taken (None: all taken).

    Processes that pay differently for the same piece take it from different
    ends: with pieces ordered largest first, one taking from the back gets the
    small ones, and both meet somewhere in the middle.
    """
    with ends.get_lock():
        front, behind = ends[0], ends[1]
        if front + behind >= count:
            return None
        if back:
            ends[1] = behind + 1
            return count - 1 - behind
        ends[0] = front + 1
        return front
