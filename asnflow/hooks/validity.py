"""Validity checks (``valid NAME, ...``): what a finished association must satisfy to be kept."""

from __future__ import annotations

from asnflow.hooks.registry import VALIDITY_CHECKS


def _impossible_unless(*types: str):
    """Mark a validity check that no association of another candidate type can pass."""

    def mark(function):
        function.impossible_for = lambda acid_type: acid_type.lower() not in types
        return function

    return mark


@VALIDITY_CHECKS.register("has_science")
def _has_science(asn, member) -> bool:
    """Some member is science."""
    return member["exptype"] == "science"


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
