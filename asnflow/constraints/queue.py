"""The work queue of one generation pass, with jwst's reprocessing semantics.

An exposure is first offered to the existing associations and to every rule
(category BOTH). Constraints can ask for it to be offered again later:
EXISTING lists go only to associations that exist by then, NONSCIENCE lists
(target acquisitions, WFSS direct images) come last. The queue always serves
the lowest non-empty category; within one, lists with the same
(rules, category, only_on_match) are merged by appending their items, in
first-queued order. The order decides which association an exposure joins
first, so it is reproduced exactly (jwst lib/process_list.py).
"""

from __future__ import annotations

from collections.abc import Iterator

RULES, BOTH, EXISTING, NONSCIENCE = 0, 1, 2, 3
CATEGORY_NAMES = {"rules": RULES, "both": BOTH, "existing": EXISTING, "nonscience": NONSCIENCE}


class ProcessList:
    """Exposures to offer again, to which rules (None: decided by who queues it)."""

    __slots__ = ("items", "rules", "work_over", "only_on_match")

    def __init__(self, items: list, rules: tuple[int, ...] | None = None, work_over: int = BOTH,
                 only_on_match: bool = False) -> None:
        self.items = items
        self.rules = rules
        self.work_over = work_over
        self.only_on_match = only_on_match

    @property
    def key(self) -> tuple:
        return (self.rules, self.work_over, self.only_on_match)

    def __repr__(self) -> str:
        return f"ProcessList({len(self.items)} items, rules={self.rules}, work_over={self.work_over})"


class ProcessQueue:
    """Lists per category; iteration pops from the lowest non-empty category."""

    def __init__(self) -> None:
        self._queues: tuple[dict, ...] = ({}, {}, {}, {})

    def extend(self, lists) -> None:
        for process_list in lists:
            queue = self._queues[process_list.work_over]
            key = process_list.key
            queued = queue.get(key)
            if queued is None:
                queue[key] = process_list
            else:
                queued.items.extend(process_list.items)

    def __iter__(self) -> Iterator[ProcessList]:
        queues = self._queues
        while True:
            for queue in queues:
                if queue:
                    key = next(iter(queue))
                    yield queue.pop(key)
                    break
            else:
                return


def carry_over(new: ProcessList, current_work_over: int) -> ProcessList | None:
    """What jwst's workover_filter keeps of a list queued while processing another.

    RULES/BOTH lists survive (as BOTH) only when raised by a RULES/BOTH list;
    EXISTING/NONSCIENCE lists only when raised by a RULES/BOTH list. So
    nothing chains out of EXISTING/NONSCIENCE processing, which bounds the work.
    """
    if current_work_over not in (RULES, BOTH):
        return None
    if new.work_over in (RULES, BOTH):
        new.work_over = BOTH
    return new
