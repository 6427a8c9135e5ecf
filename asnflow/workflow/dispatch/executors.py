"""Where nodes run: in this process, on a process pool, or on Dask distributed.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

from asnflow.dask_clients import DEFAULT_TIMEOUT, dask_client
from asnflow.errors import DispatchError
from asnflow.workers import exit_now, leave_with_owner

EXECUTORS = ("serial", "process", "dask")


class SerialExecutor(Executor):
    """Runs each task at submit time, in this process (for debugging and small runs)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def start_spawned_worker(owner_pid: int) -> None:
    """A process-executor worker: it dies with the run and leaves Ctrl-C to it (leave_with_owner),
    and when the run stops it with SIGTERM it ends as a finished process does.

    What a spawned worker's imports make lives until it ends: crds makes a
    named semaphore (a module-level multiprocessing.Lock) when imported. A
    worker killed outright left it to multiprocessing's resource tracker,
    which removed it but printed a two-line warning after the run's one line
    ("terminated (SIGTERM)").
    """
    leave_with_owner(owner_pid)
    signal.signal(signal.SIGTERM, _end_on_sigterm)


def _end_on_sigterm(signum: int, _frame: object) -> None:
    # A fresh interpreter's own exit handlers only (spawned, not forked): multiprocessing's
    # among them releases the semaphores. Not SystemExit: raised inside a task, the executor
    # would catch it and send it back as the task's failure, and the worker would go on.
    exit_now(128 + signum)


@contextlib.contextmanager
def open_executor(kind: str, workers: int = 2, scheduler: str | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> Iterator[Executor]:
    """An executor by name: ``serial``, ``process`` or ``dask`` (LocalCluster, or ``scheduler``)."""
    if workers < 1:
        raise DispatchError(f"--workers must be at least 1, not {workers}")
    if scheduler is not None and kind != "dask":
        raise DispatchError("--scheduler needs --executor dask")
    if kind == "serial":
        yield SerialExecutor()
    elif kind == "process":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: workers inherit no threads or locks from this process, and no
        # fork server outlives a killed run.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=start_spawned_worker, initargs=(os.getpid(),)
        ) as pool:
            try:
                yield pool
            except BaseException:
                # Interrupted or failed: stop the workers now instead of waiting
                # for the calibrations they are running (they ignore Ctrl-C).
                processes = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    process.terminate()
                raise
    elif kind == "dask":
        with dask_client(scheduler, workers=workers, timeout=timeout, error=DispatchError,
                         option="--executor dask") as client:
            yield client.get_executor(pure=False)
    else:
        raise DispatchError(f"unknown executor {kind!r}; choose from {', '.join(EXECUTORS)}")
