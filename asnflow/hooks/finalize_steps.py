"""Finalize steps (``finalize NAME, ...``): the procedural parts of jwst's rules.

Splitting nods, pruning imprints, attaching WFSS catalogs, adding fixed-slit
nod backgrounds, the multi-observation check (reference §4.1.1–4.1.3, §4.2).
A step returns CONTINUE to let the next step (and finally the validity check)
decide, a list of associations to end the chain, or None to drop it.
"""

from __future__ import annotations

import logging
from typing import Any

from asnflow.constraints.state import escaped
from asnflow.hooks.products import LEVEL3_NAME_PARTS, level3_parts
from asnflow.hooks.registry import CONTINUE, FINALIZE_STEPS, Param
from asnflow.naming import products as names
from asnflow.naming.members import nod_product_name

log = logging.getLogger("asnflow.finalize")

# An association member: the engine's Member, a dict with the exposure's row as ``.item``
# (the hooks sit below the engine and do not import it).
Member = Any


# ---------------------------------------------------------------------- nods
def nod_background_overlap(science, background) -> bool:
    """True when ``background`` cannot serve as the nod background of ``science``.

    jwst AsnMixin_Lv2Nod.nod_background_overlap: only NIRSpec fixed slit and
    MOS; other targets, the same primary dither position, missing nod values
    (fixed slit only) and S1600A1 5-point neighbours overlap.
    """
    if "exp_type" not in science:
        return False
    exptype = str(science["exp_type"]).lower()
    if exptype not in ("nrs_fixedslit", "nrs_msaspec"):
        return False
    if (
        "targetid" in science
        and "targetid" in background
        and str(science["targetid"]).lower() != str(background["targetid"]).lower()
    ):
        return True

    def as_int(row, *names_):
        for name in names_:
            try:
                return int(row[name])
            except (KeyError, ValueError):
                continue
        return None

    try:
        numdthpt = int(science["numdthpt"])
        patt_num = int(science["patt_num"])
        bkg_num = int(background["patt_num"])
    except (KeyError, ValueError):
        numdthpt, patt_num, bkg_num = 0, None, None
    # jwst reads subpxpts first and falls back to subpxpns.
    subpx = as_int(science, "subpxpts", "subpxpns")
    bkg_subpx = as_int(background, "subpxpts", "subpxpns")
    if patt_num is None or bkg_num is None or not subpx or not bkg_subpx:  # (missing, or 0)
        return exptype == "nrs_fixedslit"
    science_position = (patt_num - 1) // subpx
    background_position = (bkg_num - 1) // bkg_subpx
    if science_position == background_position:
        return True
    if exptype == "nrs_msaspec":
        return False
    slit = str(science["fxd_slit"]).lower() if "fxd_slit" in science else None
    # S1600A1 5-point dithers: neighbouring positions overlap too (jwst #8744).
    return (
        slit == "s1600a1" and numdthpt // subpx == 5 and abs(science_position - background_position) <= 1
    )


@FINALIZE_STEPS.register("nod_split")
def nod_split(asn):
    """One association per science exposure; the other nod positions become its backgrounds."""
    if not asn.is_valid:
        return None
    members = asn.products[0]["members"]
    sciences = [m for m in members if m["exptype"] == "science"]
    others = [m for m in members if m["exptype"] != "science"]
    results = []
    for science in sciences:
        split = asn.clone()
        new_members = [science]
        for other in sciences:
            if other["expname"] != science["expname"] and not nod_background_overlap(science.item, other.item):
                background = other.copy_member()
                background["exptype"] = "background"
                new_members.append(background)
        new_members += others
        split.products = [asn.new_product(nod_product_name(science["expname"]), new_members)]
        split.product_name_override = split.products[0]["name"]
        if split.is_valid:
            results.append(split)
    return results


# ---------------------------------------------------------------------- imprints
@FINALIZE_STEPS.register("prune_imprints")
def prune_imprints(asn):
    """Keep the imprints that belong to the science: same background flag, target, dither position."""
    if not asn.is_valid:
        return CONTINUE
    members = asn.products[0]["members"]
    science, candidates, science_targets = _science_and_imprints(members)
    candidates = _drop_other_targets(members, candidates, science_targets)
    if 1 <= len(science) < len(candidates):
        _drop_other_dither_positions(members, science, candidates)
    return CONTINUE


def _science_and_imprints(members: list[Member]) -> tuple[list[Member], list[Member], set[str]]:
    """The science members, the imprints with the science's background flag, and the science targets.

    Members whose exposure lacks a target id or background flag take no part.
    """
    science: list[Member] = []
    imprint_science: list[Member] = []
    imprint_background: list[Member] = []
    science_is_background = False
    science_targets: set[str] = set()
    for member in members:
        item = member.item
        if item is None or "targetid" not in item or "bkgdtarg" not in item:
            continue
        if member["exptype"] == "science":
            science.append(member)
            science_targets.add(str(item["targetid"]))
            if item["bkgdtarg"] == "t":
                science_is_background = True
        elif member["exptype"] == "imprint":
            (imprint_background if item["bkgdtarg"] == "t" else imprint_science).append(member)
    return science, imprint_background if science_is_background else imprint_science, science_targets


def _drop_other_targets(members: list[Member], candidates: list[Member], science_targets: set[str]) -> list[Member]:
    """When some imprints have a science target, remove the others from ``members``; the imprints left."""
    matching: list[Member] = []
    not_matching: list[Member] = []
    for imprint in candidates:
        (matching if str(imprint.item["targetid"]) in science_targets else not_matching).append(imprint)
    if not matching:
        return candidates
    for imprint in not_matching:
        members.remove(imprint)
    return matching


def _drop_other_dither_positions(members: list[Member], science: list[Member], candidates: list[Member]) -> None:
    """When some imprints share a science dither position (dithptin), remove the other imprints from ``members``."""
    keep = set()
    for sci in science:
        if "dithptin" not in sci.item:
            continue
        for imprint in candidates:
            if "dithptin" in imprint.item and imprint.item["dithptin"] == sci.item["dithptin"]:
                keep.add(imprint["expname"])
    if keep:
        for imprint in candidates:
            if imprint["expname"] not in keep:
                members.remove(imprint)


# ---------------------------------------------------------------------- WFSS
def _closest_by_time(science, directs):
    """The first direct image taken after the science exposure (smallest positive EXPSPCIN step)."""
    closest = directs[0]
    science_index = science.item.valid("expspcin")
    try:
        science_index = int(science_index) if science_index is not None else None
    except ValueError:
        science_index = None
    if science_index is None:
        return closest
    best = 9999
    for direct in directs:
        value = direct.item.valid("expspcin")
        try:
            step = int(value) - science_index if value is not None else None
        except ValueError:
            step = None
        if step is not None and 0 < step < best:
            best, closest = step, direct
    return closest


def _first_long_wave(science, directs):
    """The first long-wavelength direct image (pure parallel), else the first one."""
    for direct in directs:
        if "long" in direct["expname"]:
            return direct
    return directs[0]


def _direct_image_opt_elem(item) -> str:
    # jwst AsnMixin_Lv2WFSS.get_opt_element: the direct image's own elements,
    # MIRI by its filter alone (the raw cell), others filter|band then pupil|grating.
    elements = []
    if str(item.get("instrume", "UNKNOWN")).lower() == "miri":
        value = item.get("filter")
        if value is not None:
            elements.append(str(value))
    else:
        for columns in (("filter", "band"), ("pupil", "grating")):
            value = item.valid(*columns)
            if value:
                elements.append(value)
    elements.sort(key=str.lower)
    return "-".join(elements) or "clear"


def _wfss_catalogs(asn, choose):
    members = asn.members
    directs = [m for m in members if m["exptype"] == "direct_image"]
    sciences = [m for m in members if m["exptype"] == "science"]
    if not directs or not sciences:
        log.debug("%s: needs a science and a direct image exposure", asn.rule.name)
        return None
    members[:] = [m for m in members if m["exptype"] != "direct_image"]
    direct = choose(sciences[0], directs)
    root = names.level3_product_name("default", **level3_parts(asn, _direct_image_opt_elem(direct.item)))
    members.append(asn.new_member({"expname": root + "_i2d.fits", "exptype": "direct_image"}))
    members.append(asn.new_member({"expname": root + "_cat.ecsv", "exptype": "sourcecat"}))
    members.append(asn.new_member({"expname": root + "_segm.fits", "exptype": "segmap"}))
    return [asn] if asn.is_valid else None


# How a science exposure chooses its direct image, by the name rules give.
DIRECT_IMAGE_CHOICE = {"closest_in_time": _closest_by_time, "first_long_wave": _first_long_wave}


@FINALIZE_STEPS.register("wfss_catalogs", uses=LEVEL3_NAME_PARTS, params=(
    Param("direct_image", "word", "closest_in_time",
          "which direct image the catalog comes from: the first taken after the science exposure, or the "
          "first long-wavelength one (pure parallels)", tuple(DIRECT_IMAGE_CHOICE)),
))
def wfss_catalogs(asn, direct_image: str):
    """Replace the direct images by the level-3 catalog, segmentation map and image of one of them."""
    return _wfss_catalogs(asn, DIRECT_IMAGE_CHOICE[direct_image])


# ---------------------------------------------------------------------- level 3
@FINALIZE_STEPS.register("multi_obs_check", reads=("obs_num",), decides_only=True, params=(
    Param("types", "words", ("group", "background", "mosaic"),
          "candidate types whose associations must span two or more observations"),
))
def multi_obs_check(asn, types: tuple[str, ...]):
    """Associations of the given candidate types must span at least two observations (found obs_num values)."""
    if asn.acid.type.lower() in types:
        state = asn.state_of("obs_num")
        if state is None or len(state.found) <= 1:
            return None
    return CONTINUE


@FINALIZE_STEPS.register("fixedslit_backgrounds", reads=("patttype_spectarg",))
def fixedslit_backgrounds(asn):
    """Nodded slit spectra: every science member's x1d also serves as a background."""
    if not asn.is_valid:
        return None
    state = asn.state_of("patttype_spectarg")
    found = sorted(escaped(state.found)) if state is not None and state.found else [""]
    # jwst pops one arbitrary element of the set; there is one (it is pinned).
    if "nod" not in found[0]:
        return [asn]
    members = asn.products[0]["members"]
    sciences = [m for m in members if m["exptype"] == "science"]
    if len(sciences) < 2:
        return [asn]
    for science in sciences:
        background = science.copy_member()
        background["expname"] = nod_product_name(science["expname"]) + "_x1d.fits"
        background["exptype"] = "background"
        members.append(background)
    return [asn] if asn.is_valid else []
