"""Garbage collection while associations are generated.

Generation allocates millions of small objects (rows, members, pinned
states, documents) that live until the files are written, and makes almost
no reference cycles. With Python's default thresholds the collector starts
every 700 allocations and walks the whole heap again and again: about a
sixth of a 10,000-row run, more when results arrive from worker processes.
Collecting less often changes what is collected, not when memory is freed:
objects without cycles are freed by reference counting as always.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# (objects allocated between young collections, young collections per middle one, middle per full)
GENERATION_THRESHOLDS = (50_000, 50, 100)


@contextlib.contextmanager
def rare_collections() -> Iterator[None]:
    """Run the body with :data:`GENERATION_THRESHOLDS`; the previous thresholds return after it."""
    previous = gc.get_threshold()
    gc.set_threshold(*GENERATION_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
