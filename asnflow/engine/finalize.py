"""Finalize: per-association steps, then prune, resequence and merge.

The steps are the procedural parts of jwst's rules (reference §4.1.1–4.1.3,
§4.2): splitting nods, pruning imprints, attaching WFSS catalogs, adding
fixed-slit nod backgrounds, the multi-observation check. Each is a hook a rule
names with ``finalize``; after the steps, an association is kept only if it
is valid. Then each level is pruned of duplicates (:mod:`asnflow.engine.prune`)
and renumbered.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath

from asnflow.engine.association import Association, Member
from asnflow.engine.hooks import CONTINUE, FINALIZE_STEPS
from asnflow.engine.match import escaped
from asnflow.engine.product_names import level3_parts
from asnflow.naming import products as names
from asnflow.naming.members import nod_product_name

log = logging.getLogger("asnflow.finalize")

MULTI_OBSERVATION_TYPES = ("group", "background", "mosaic")


def finalize_one(asn: Association) -> list[Association] | None:
    """Run the rule's finalize steps; without a step deciding, keep it if valid."""
    for step in asn.rule.finalize_steps:
        result = step(asn)
        if result is CONTINUE:
            continue
        return result
    return [asn] if asn.is_valid else None


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
    if "targetid" in science and "targetid" in background:
        if str(science["targetid"]).lower() != str(background["targetid"]).lower():
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
    if None in (patt_num, bkg_num, subpx, bkg_subpx) or subpx == 0 or bkg_subpx == 0:
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
def nod_split(asn: Association):
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
        split.products = [{"name": nod_product_name(science["expname"]), "members": new_members}]
        split.product_name_override = split.products[0]["name"]
        if split.is_valid:
            results.append(split)
    return results


# ---------------------------------------------------------------------- imprints
@FINALIZE_STEPS.register("prune_imprints")
def prune_imprints(asn: Association):
    """Keep the imprints that belong to the science: same background flag, target, dither position."""
    if not asn.is_valid:
        return CONTINUE
    members = asn.products[0]["members"]
    science, imprint_science, imprint_background = [], [], []
    science_is_background = False
    science_targets = set()
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
    candidates = imprint_background if science_is_background else imprint_science
    matching, not_matching = [], []
    for imprint in candidates:
        (matching if str(imprint.item["targetid"]) in science_targets else not_matching).append(imprint)
    if matching:
        candidates = matching
        for imprint in not_matching:
            members.remove(imprint)
    if 1 <= len(science) < len(candidates):
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
    return CONTINUE


# ---------------------------------------------------------------------- WFSS
def _closest_by_time(science: Member, directs: list[Member]) -> Member:
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


def _first_long_wave(science: Member, directs: list[Member]) -> Member:
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


def _wfss_catalogs(asn: Association, choose) -> list[Association] | None:
    members = asn.members
    directs = [m for m in members if m["exptype"] == "direct_image"]
    sciences = [m for m in members if m["exptype"] == "science"]
    if not directs or not sciences:
        log.debug("%s: needs a science and a direct image exposure", asn.rule.name)
        return None
    members[:] = [m for m in members if m["exptype"] != "direct_image"]
    direct = choose(sciences[0], directs)
    root = names.level3_product_name("default", **level3_parts(asn, _direct_image_opt_elem(direct.item)))
    members.append(Member({"expname": root + "_i2d.fits", "exptype": "direct_image"}))
    members.append(Member({"expname": root + "_cat.ecsv", "exptype": "sourcecat"}))
    members.append(Member({"expname": root + "_segm.fits", "exptype": "segmap"}))
    return [asn] if asn.is_valid else None


@FINALIZE_STEPS.register("wfss_catalogs")
def wfss_catalogs(asn: Association):
    """Replace the direct images by the level-3 catalog, segmentation map and image of the closest one."""
    return _wfss_catalogs(asn, _closest_by_time)


@FINALIZE_STEPS.register("wfss_parallel_catalogs")
def wfss_parallel_catalogs(asn: Association):
    """As wfss_catalogs, choosing the first long-wavelength direct image (pure parallel)."""
    return _wfss_catalogs(asn, _first_long_wave)


# ---------------------------------------------------------------------- level 3
@FINALIZE_STEPS.register("multi_obs_check")
def multi_obs_check(asn: Association):
    """Group, background and mosaic candidates must span at least two observations."""
    if asn.acid.type.lower() in MULTI_OBSERVATION_TYPES:
        node = asn.rule.lookup.get("obs_num")
        state = asn.states[node.slot] if node is not None else None
        if len(state[3] if state else ()) <= 1:
            return None
    return CONTINUE


@FINALIZE_STEPS.register("fixedslit_backgrounds")
def fixedslit_backgrounds(asn: Association):
    """Nodded slit spectra: every science member's x1d also serves as a background."""
    if not asn.is_valid:
        return None
    node = asn.rule.lookup.get("patttype_spectarg")
    state = asn.states[node.slot] if node is not None else None
    found = sorted(escaped(state[3])) if state and state[3] else [""]
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


def settle_product_names(asn: Association) -> None:
    """Fill in product names computed from the association's final state."""
    if asn.products and asn.products[0]["name"] is None:
        asn.products[0]["name"] = asn.product_name()


def expname_root(expname: str) -> str:
    from asnflow.naming.suffix import remove_suffix

    return remove_suffix(PurePosixPath(expname).stem)[0]
