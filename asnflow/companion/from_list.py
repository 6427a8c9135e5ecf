"""An association from a list of files, as jwst's ``asn_from_list`` builds it.

Level 3 (rule ``DMS_Level3_Base`` or an ``Asn_Lv3*`` rule): one product with
every file. Level 2 (``DMSLevel2bBase`` or ``Asn_Lv2*``): one product per
file, named after the file without its calibration suffix. Keys, key order
and values are jwst's, with two differences on purpose:

* an ACID given with ``acid`` becomes ``asn_id`` (jwst ignores it and always
  writes ``a3001``);
* ``code_version`` is asnflow's version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePath

from asnflow import __version__
from asnflow.companion.members import MemberSpec, parse_member
from asnflow.errors import InputError
from asnflow.pathnames import check_name, check_relative_path

LEVEL3_BASE = "DMS_Level3_Base"
LEVEL2_BASE = "DMSLevel2bBase"

NO_DEGRADED = "No known degraded exposures in association."
# What jwst writes when nothing is known about the association.
DEFAULT_ACID = "a3001"

_LEVEL2_RULE = re.compile(r"Asn_Lv2\w+")
_LEVEL3_RULE = re.compile(r"Asn_Lv3\w+")
_LEVEL2_ACID = re.compile(r"(o\d{3}|c\d{4})")
_LEVEL3_ACID = re.compile(r"(o\d{3}|[acr]\d{4})")


def rule_level(rule: str) -> int:
    """2 or 3: the association level a rule name stands for."""
    if rule == LEVEL2_BASE or _LEVEL2_RULE.fullmatch(rule):
        return 2
    if rule == LEVEL3_BASE or _LEVEL3_RULE.fullmatch(rule):
        return 3
    raise InputError(
        f"unknown rule {rule!r}",
        hint=f"use {LEVEL3_BASE} (level 3, the default), {LEVEL2_BASE} (level 2) or an Asn_Lv2*/Asn_Lv3* rule name",
    )


def level2_product_name(expname: str) -> str:
    """A level-2 product name: the file's folder and stem, its known suffix removed."""
    from asnflow.naming.suffix import remove_suffix

    path = PurePath(expname)
    root, _separator = remove_suffix(str(path.parent / path.stem))
    return root


def from_list(
    members: Iterable[str | MemberSpec | tuple[str, str]],
    *,
    rule: str = LEVEL3_BASE,
    product_name: str | None = None,
    acid: str | None = None,
) -> dict:
    """Build an association (a plain dict, ready for ``asnfile.dumps``/``write``).

    ``members`` are file names (science), ``(file, exptype)`` pairs, or
    :class:`MemberSpec` (with a group_id); strings may use the
    ``FILE[:EXPTYPE[:GROUP]]`` form. ``product_name`` is required at level 3
    and not used at level 2. ``acid`` sets ``asn_id``: at level 2 ``oNNN``
    (observation) or ``cNNNN`` (background; the association then needs a
    background member, as in jwst).
    """
    level = rule_level(rule)
    if level == 3 and not product_name:
        raise InputError("a level-3 association needs a product name", hint="give --product-name NAME")
    if level == 3:
        check_name(product_name, "product name")  # calibration names its outputs after it
    specs = [_as_spec(member) for member in members]
    if not specs:
        raise InputError("no files given to build an association from")
    if acid is not None:
        acid = _check_acid(acid, level)
    if not any(spec.exptype == "science" for spec in specs):
        raise InputError(
            "the association is not valid: no member has exptype science",
            hint="at least one file must be a science member",
        )
    background_candidate = level == 2 and acid is not None and acid.startswith("c")
    if background_candidate and not any(spec.exptype == "background" for spec in specs):
        raise InputError(
            f"the association is not valid: background candidate {acid} has no background member",
            hint="mark the background exposures as FILE:background, or use an oNNN id",
        )

    asn: dict = {
        "asn_type": "None",
        "asn_rule": rule,
        "version_id": None,
        "code_version": __version__,
        "degraded_status": NO_DEGRADED,
        "program": "noprogram",
        "constraints": "No constraints",
        "asn_id": acid or DEFAULT_ACID,
    }
    if level == 3:
        asn["target"] = "none"
        asn["asn_pool"] = "none"
        asn["products"] = [{"name": product_name, "members": [spec.as_member() for spec in specs]}]
    else:
        asn["asn_pool"] = "none"
        # One product per file, named after that file. (jwst names a product
        # without a science member "undefined"; its own name says more.)
        asn["products"] = [
            {"name": check_relative_path(level2_product_name(spec.expname), "product name made from a member"),
             "members": [spec.as_member()]}
            for spec in specs
        ]
    return asn


def _as_spec(member: str | MemberSpec | tuple[str, str]) -> MemberSpec:
    if isinstance(member, MemberSpec):
        return member
    if isinstance(member, tuple):
        expname, exptype = member
        return MemberSpec(expname=str(expname), exptype=str(exptype or "science"))
    return parse_member(str(member))


def _check_acid(acid: str, level: int) -> str:
    acid = acid.strip().lower()
    pattern = _LEVEL2_ACID if level == 2 else _LEVEL3_ACID
    if not pattern.fullmatch(acid):
        shape = "oNNN or cNNNN" if level == 2 else "oNNN, cNNNN, aNNNN or rNNNN"
        raise InputError(f"invalid association id {acid!r}", hint=f"a level-{level} id looks like {shape}")
    return acid
