"""Values computed from the association (``~ f(name)``), and the properties and
functions ``check`` and ``onlyif`` expressions may use."""

from __future__ import annotations

import re
from collections.abc import Callable

from asnflow.constraints.rows import Row
from asnflow.constraints.state import escaped
from asnflow.constraints.vocabulary import base_exposure_type
from asnflow.hooks.registry import DYNAMIC_VALUES, FUNCTIONS, PROPERTIES


# ---------------------------------------------------------------- values from the association
@DYNAMIC_VALUES.register("found_alternatives")
class _FoundAlternatives:
    """Any of the values found so far for a constraint: "(v1|v2|...)"."""

    def __init__(self, slot_of: Callable[[], int]) -> None:
        self.slot_of = slot_of

    def __call__(self, attempt) -> str:
        state = attempt.states[self.slot_of()]
        found = escaped(state.found) if state is not None else ()
        return "(" + "|".join(found) + ")"

    def never_matches(self, states) -> bool:
        """True while the value can match no exposure (the guards skip the test then)."""
        # "()" only matches an empty cell, and an empty cell is never a value.
        state = states[self.slot_of()]
        return state is None or not state.found


@DYNAMIC_VALUES.register("not_containing")
def _not_containing(slot_of: Callable[[], int]):
    """Any text that does not contain the value pinned by a constraint ("None" before it is pinned)."""

    def value(attempt) -> str:
        state = attempt.states[slot_of()]
        pinned = re.escape(state.pinned) if state is not None and state.pinned is not None else None
        return f"((?!{pinned}).)*"

    return value


# ---------------------------------------------------------------- expression properties
@PROPERTIES.register("exptype")
def _prop_exptype(attempt) -> str:
    """The exposure's member type as this rule decides it (exposure_types)."""
    return attempt.asn.exposure_type(attempt.row, attempt.states)


@PROPERTIES.register("base_exptype")
def _prop_base_exptype(attempt) -> str:
    """The exposure's member type by jwst's plain rules, whatever the rule."""
    return base_exposure_type(attempt.asn.run.vocab, attempt.row)


@PROPERTIES.register("has_science")
def _prop_has_science(attempt) -> bool:
    """The association already has a science member."""
    return attempt.asn.has_science()


@PROPERTIES.register("candidate_type")
def _prop_candidate_type(attempt) -> str:
    """The association candidate's type (observation, background, group, ..., DISCOVERED)."""
    return attempt.asn.acid_from(attempt.states).type


@PROPERTIES.register("original_exptype")
def _prop_original_exptype(attempt) -> str | None:
    """The member type of the last exposure this association looked at."""
    return attempt.asn.original_exposure_type


@FUNCTIONS.register("present")
def _present(row: Row, *columns: str) -> bool:
    """present(col, ...): every column has a value (not empty, null, f, n, ...)."""
    return all(row.valid(column) is not None for column in columns)
