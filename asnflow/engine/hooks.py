"""The named Python hooks rule files can refer to.

Rules are declarative; what cannot be said as a constraint is a hook with a
name: how an exposure's member type is decided (``exposure_types``), the
validity checks (``valid``), product-name templates (``product``), finalize
steps (``finalize``), values computed from the association (``~ f(name)``),
and the association properties and functions usable in ``check`` and
``onlyif`` expressions. The compiler resolves names here and the checker
reports unknown ones, listing these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asnflow.engine import exposure
from asnflow.engine.items import Row
from asnflow.engine.match import escaped


@dataclass(frozen=True)
class Hook:
    name: str
    function: Callable
    doc: str


class HookTable(dict):
    """name -> Hook, filled by the ``register`` decorator."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str):
        def decorator(function):
            doc = " ".join((function.__doc__ or "").split())
            self[name] = Hook(name, function, doc)
            return function

        return decorator


EXPOSURE_POLICIES = HookTable("exposure_types")
VALIDITY_CHECKS = HookTable("valid")
PRODUCT_TEMPLATES = HookTable("product")
FINALIZE_STEPS = HookTable("finalize")
DYNAMIC_VALUES = HookTable("value")
PROPERTIES = HookTable("property")
FUNCTIONS = HookTable("function")
INTEGRATION_SHAPES = ("coron", "ami", "tso")

# A finalize step returns this to let the next step (and finally the
# validity check) decide; a list ends the chain; None drops the association.
CONTINUE = object()


# ---------------------------------------------------------------- exposure types
def _states(asn, attempt_states):
    return attempt_states if attempt_states is not None else asn.states


def _pure(policy):
    """Mark a policy that reads only the exposure (the engine may remember its answers)."""
    policy.pure = True
    return policy


@EXPOSURE_POLICIES.register("level3")
@_pure
def _level3(asn, row: Row, attempt_states=None) -> str:
    """jwst's exposure type: pointing type, exp_type map, then psf/imprint/background flags."""
    return exposure.base_exposure_type(asn.run.vocab, row)


@EXPOSURE_POLICIES.register("level3_aux")
@_pure
def _level3_aux(asn, row: Row, attempt_states=None) -> str:
    """Everything is science except target acquisitions (background-target rules)."""
    result = exposure.base_exposure_type(asn.run.vocab, row)
    return result if result == "target_acquisition" else "science"


@EXPOSURE_POLICIES.register("level2")
def _level2(asn, row: Row, attempt_states=None) -> str:
    """As level3, but a PSF exposure is science (it gets its own level-2 processing)."""
    result = exposure.base_exposure_type(asn.run.vocab, row)
    asn.original_exposure_type = result
    return "science" if result == "psf" else result


@EXPOSURE_POLICIES.register("level2_special")
def _level2_special(asn, row: Row, attempt_states=None) -> str:
    """Everything is science, except an imprint once the association has its science."""
    result = _level2(asn, row)
    # jwst remembers the type of the last exposure it looked at, successful
    # add or not; the imprint rule of Asn_Lv2SpecSpecial reads it.
    asn.original_exposure_type = result
    if asn.has_science() and result == "imprint":
        return "imprint"
    return "science"


@EXPOSURE_POLICIES.register("level2_wfss")
def _level2_wfss(asn, row: Row, attempt_states=None) -> str:
    """As level2, but imaging exposures are the grism's direct images."""
    result = _level2(asn, row)
    if result == "science" and row.get("exp_type") in asn.run.vocab.wfss_direct_image_exp_types:
        return "direct_image"
    return result


@EXPOSURE_POLICIES.register("level2_lrs_nod")
def _level2_lrs_nod(asn, row: Row, attempt_states=None) -> str:
    """As level2, but an exposure taken at the other nod position is a background."""
    result = _level2(asn, row)
    if result == "science":
        node = asn.rule.lookup.get("is_current_patt_num")
        state = _states(asn, attempt_states)[node.slot] if node is not None else None
        if state is not None and state[4]:
            return "background"
    return result


# ---------------------------------------------------------------- validity
@VALIDITY_CHECKS.register("has_science")
def _has_science(asn, member) -> bool:
    """Some member is science."""
    return member["exptype"] == "science"


def _impossible_unless(*types: str):
    """Mark a validity check that no association of another candidate type can pass."""

    def mark(function):
        function.impossible_for = lambda acid_type: acid_type.lower() not in types
        return function

    return mark


@VALIDITY_CHECKS.register("allowed_candidates")
@_impossible_unless("observation", "background")
def _allowed_candidates(asn, member) -> bool:
    """Level 2 only from observation candidates, or background candidates with a background member."""
    acid_type = asn.acid.type.lower()
    if acid_type == "observation":
        return True
    if acid_type == "background":
        return any(m["exptype"].lower() == "background" for m in asn.members)
    return False


@VALIDITY_CHECKS.register("has_psf")
def _has_psf(asn, member) -> bool:
    """Some member is a PSF reference (coronagraphy, AMI)."""
    return member["exptype"] == "psf"


@VALIDITY_CHECKS.register("is_type_observation")
@_impossible_unless("observation")
def _is_type_observation(asn, member) -> bool:
    """Only from observation candidates (no tso3 from group, background or discovered candidates)."""
    return asn.acid.type.lower() == "observation"


@VALIDITY_CHECKS.register("is_not_group")
def _is_not_group(asn, member) -> bool:
    """Not from a group candidate."""
    return asn.acid.type.lower() != "group"


_is_not_group.impossible_for = lambda acid_type: acid_type.lower() == "group"


@VALIDITY_CHECKS.register("is_type_mosaic")
@_impossible_unless("mosaic")
def _is_type_mosaic(asn, member) -> bool:
    """Only from mosaic candidates."""
    return asn.acid.type.lower() == "mosaic"


@VALIDITY_CHECKS.register("has_pair")
def _has_pair(asn, member) -> bool:
    """At least two members (wavefront-sensing pairs)."""
    # Level-3 validity runs before the member is appended: one existing
    # member plus this one make the pair.
    return len(asn.members) == 1


# ---------------------------------------------------------------- values from the association
@DYNAMIC_VALUES.register("found_alternatives")
def _found_alternatives(slot_of: Callable[[], int]):
    """Any of the values found so far for a constraint: "(v1|v2|...)"."""

    def value(attempt) -> str:
        state = attempt.states[slot_of()]
        found = escaped(state[3]) if state else ()
        return "(" + "|".join(found) + ")"

    def never_matches(states) -> bool:
        # "()" only matches an empty cell, and an empty cell is never a value.
        state = states[slot_of()]
        return not (state and state[3])

    value.never_matches = never_matches
    return value


@DYNAMIC_VALUES.register("not_containing")
def _not_containing(slot_of: Callable[[], int]):
    """Any text that does not contain the value pinned by a constraint ("None" before it is pinned)."""
    import re

    def value(attempt) -> str:
        state = attempt.states[slot_of()]
        pinned = re.escape(state[0]) if state and state[0] is not None else None
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
    return exposure.base_exposure_type(attempt.asn.run.vocab, attempt.row)


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


def known_names() -> dict[str, list[str]]:
    """Every hook name by kind, for error hints and the rule catalogue."""
    tables = (EXPOSURE_POLICIES, VALIDITY_CHECKS, PRODUCT_TEMPLATES, FINALIZE_STEPS, DYNAMIC_VALUES,
              PROPERTIES, FUNCTIONS)
    return {table.kind: sorted(table) for table in tables}


def describe(kind: str, name: str) -> Any:
    for table in (EXPOSURE_POLICIES, VALIDITY_CHECKS, PRODUCT_TEMPLATES, FINALIZE_STEPS, DYNAMIC_VALUES,
                  PROPERTIES, FUNCTIONS):
        if table.kind == kind and name in table:
            return table[name]
    return None


# The product templates and finalize steps live in their own modules and
# register themselves here on import.
from asnflow.engine import finalize as _finalize  # noqa: E402,F401
from asnflow.engine import product_names as _product_names  # noqa: E402,F401
