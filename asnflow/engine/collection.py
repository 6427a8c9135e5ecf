"""Garbage collection while associations are generated.

Generation allocates millions of small objects (rows, members, pinned
states, documents) that live until the files are written, and makes almost
no reference cycles: 100,000 rows leave about 8 MB of them, 2 % of the
run's peak. The collector would only walk that growing heap again and
again (4 % of a 100,000-row run even with a young collection only every
50,000 allocations; a sixth with the defaults), so it is paused while a run
generates. Objects without cycles are freed by reference counting as
always; the few cycles are collected once it runs again.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

# Runs in several threads at once (API calls, a Dask worker's threads) share one collector:
# it is paused by the first to start and resumed, as it was before, by the last to end.
_LOCK = threading.Lock()
_pausers = 0
_was_enabled = True


@contextlib.contextmanager
def paused_collections() -> Iterator[None]:
    """Run the body with the garbage collector paused; it runs again (if it was running) after it."""
    global _pausers, _was_enabled
    with _LOCK:
        if _pausers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _LOCK:
            _pausers -= 1
            if _pausers == 0 and _was_enabled:
                gc.enable()
