"""Exposure-type policies (``exposure_types NAME``): what member type an exposure becomes in a rule."""

from __future__ import annotations

from asnflow.constraints.rows import Row
from asnflow.constraints.vocabulary import base_exposure_type
from asnflow.hooks.registry import EXPOSURE_POLICIES


def _pure(policy):
    """Mark a policy that reads only the exposure (the engine may remember its answers)."""
    policy.pure = True
    return policy


@EXPOSURE_POLICIES.register("level3")
@_pure
def _level3(asn, row: Row, attempt_states=None) -> str:
    """jwst's exposure type: pointing type, exp_type map, then psf/imprint/background flags."""
    return base_exposure_type(asn.run.vocab, row)


@EXPOSURE_POLICIES.register("level3_aux")
@_pure
def _level3_aux(asn, row: Row, attempt_states=None) -> str:
    """Everything is science except target acquisitions (background-target rules)."""
    result = base_exposure_type(asn.run.vocab, row)
    return result if result == "target_acquisition" else "science"


@EXPOSURE_POLICIES.register("level2")
def _level2(asn, row: Row, attempt_states=None) -> str:
    """As level3, but a PSF exposure is science (it gets its own level-2 processing)."""
    result = base_exposure_type(asn.run.vocab, row)
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


@EXPOSURE_POLICIES.register("level2_lrs_nod", reads=("is_current_patt_num",))
def _level2_lrs_nod(asn, row: Row, attempt_states=None) -> str:
    """As level2, but an exposure taken at the other nod position (is_current_patt_num failed) is a background."""
    result = _level2(asn, row)
    if result == "science":
        state = asn.state_of("is_current_patt_num", attempt_states)
        if state is not None and state.matched:
            return "background"
    return result
