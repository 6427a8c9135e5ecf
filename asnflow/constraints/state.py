"""What one constraint remembers inside one association."""

from __future__ import annotations

import re
from typing import NamedTuple

_NOTHING_FOUND: frozenset[str] = frozenset()


class ConstraintState(NamedTuple):
    """The state slot of one attribute test (or ``set``) in one association.

    A NamedTuple, not a dataclass: the engine creates one on every change and
    compares them by identity to reuse answers, so they stay cheap tuples.
    """

    pinned: str | None  # the value the first match fixed (lower case), or None
    indexes: tuple[int | None, ...] | None  # the column(s) read; one once pinned
    pinning: bool  # the next match still pins
    found: frozenset[str]  # every value matched so far, raw (see escaped)
    matched: bool  # the last check of this test matched


def found_of(state: ConstraintState | None) -> frozenset[str]:
    """The raw values a slot found (nothing for an untouched slot)."""
    return state.found if state is not None else _NOTHING_FOUND


def escaped(found) -> list[str]:
    """Found values as jwst keeps them: regex-escaped (product names show them so)."""
    return [re.escape(value) for value in found]
