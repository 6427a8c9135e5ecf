"""Writing a large folder's association files on several forked processes.

Validating, serialising and writing tens of thousands of files is a third
of a large pool's run once the passes run in parallel. The documents are
cut in contiguous slices; this process handles the first and forked
workers (which inherit the documents) the others, each writing its files
straight into the staging folder. What each file turned out to be (new,
changed, unchanged) comes back, so the report lists them in document
order, as a serial write does; the first invalid document (in that order)
is the error reported, and the staging folder is then discarded whole.
"""

from __future__ import annotations

from collections.abc import Callable

from asnflow.errors import AsnflowError, CarriedError
from asnflow.workers import forked_pool, worker_count

FORK_FROM = 1000  # documents; below this a fork costs more than it saves

# What forked workers inherit: (put, count) where put(index) writes one file and says what it was.
_INHERITED: tuple[Callable[[int], str], int] | None = None


def put_all(put: Callable[[int], str], count: int, jobs: int) -> list[str]:
    """``[put(0), ..., put(count - 1)]``, over up to ``jobs`` processes (this one included).

    ``put(index)`` validates, serialises and stages file ``index`` and says
    what it was ("new", "changed" or "unchanged"); it raises an
    :class:`AsnflowError` for an invalid document.
    """
    jobs = worker_count(jobs, count // (FORK_FROM // 2) or 1)
    if jobs < 2:
        return [put(index) for index in range(count)]
    global _INHERITED
    _INHERITED = (put, count)
    step = -(-count // jobs)
    bounds = [(start, min(start + step, count)) for start in range(0, count, step)]
    workers = forked_pool(len(bounds) - 1)
    try:
        others = workers.map_async(_put_slice, bounds[1:])
        slices = dict([_put_slice(bounds[0]), *others.get()])
        workers.close()
    finally:
        workers.terminate()
        workers.join()
        _INHERITED = None
    kinds: list[str] = []
    for start, _ in bounds:  # in document order: the first invalid document is the one reported
        part = slices[start]
        if isinstance(part, CarriedError):
            raise part.error()
        kinds.extend(part)
    return kinds


def _put_slice(bounds: tuple[int, int]):
    if _INHERITED is None:
        raise RuntimeError("a forked writer started outside put_all")
    put, _count = _INHERITED
    start, stop = bounds
    try:
        return start, [put(index) for index in range(start, stop)]
    except AsnflowError as error:
        return start, CarriedError(error)
