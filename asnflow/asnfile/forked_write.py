"""Writing a large folder's association files on several forked processes.

Validating, serialising and writing tens of thousands of files is a third
of a large pool's run once the passes run in parallel. The documents are
cut in small runs of neighbours; this process and forked workers (which
inherit the documents) each take the next run nobody has taken when they
are free, writing its files straight into the staging folder. Documents
differ a lot in cost (a mosaic lists thousands of members, most one or
two), so cutting them into one even slice per process left one process
working for a third longer than the other. What each file turned out to
be (new, changed, unchanged) comes back, so the report lists them in
document order, as a serial write does; the first invalid document (in
that order) is the error reported, and the staging folder is then
discarded whole.
"""

from __future__ import annotations

from collections.abc import Callable

from asnflow.errors import AsnflowError, CarriedError
from asnflow.workers import claim_next, forked_pool, shared_counter, worker_count

FORK_FROM = 1000  # documents; below this a fork costs more than it saves
RUN_LENGTH = 64  # documents a process takes at a time: claiming one run costs about ten microseconds

# What forked workers inherit: (put, runs, claimed) where put(index) writes one file and says what
# it was, runs are (start, stop) of document indexes and claimed counts the runs taken.
_INHERITED: tuple[Callable[[int], str], list[tuple[int, int]], object] | None = None


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
    runs = [(start, min(start + RUN_LENGTH, count)) for start in range(0, count, RUN_LENGTH)]
    _INHERITED = (put, runs, shared_counter())
    workers = forked_pool(jobs - 1)
    try:
        others = workers.map_async(_put_claimed, range(jobs - 1))
        written = _put_claimed(0)
        for part in others.get():
            written.update(part)
        workers.close()
    finally:
        workers.terminate()
        workers.join()
        _INHERITED = None
    kinds: list[str] = []
    for start, _ in runs:  # in document order: the first invalid document is the one reported
        part = written[start]
        if isinstance(part, CarriedError):
            raise part.error()
        kinds.extend(part)
    return kinds


def _put_claimed(_token: int) -> dict:
    """Write runs of documents until none is left: per run (by its start), the kinds of its files,
    or the error of its first invalid document."""
    if _INHERITED is None:
        raise RuntimeError("a forked writer started outside put_all")
    put, runs, claimed = _INHERITED
    written: dict = {}
    while (run := claim_next(claimed, len(runs))) is not None:
        start, stop = runs[run]
        try:
            written[start] = [put(index) for index in range(start, stop)]
        except AsnflowError as error:
            written[start] = CarriedError(error)
    return written
