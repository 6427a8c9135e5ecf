"""Add or remove association members (jwst's asn_edit), keeping everything else.

``add`` appends each file, by its bare name, to every product; ``remove``
deletes every member whose file name matches (optionally ignoring the
calibration suffix) and drops products left empty. Both work on a copy and
return it with warnings for the caller to show. Differences from jwst, on
purpose: a file already in a product is not added to it twice, and removal
compares bare file names on both sides (jwst compares the whole expname,
so a member written with a folder never matched).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from asnflow.companion.members import MemberSpec


@dataclass(frozen=True)
class EditResult:
    """The edited association and what the user should be told about it."""

    association: dict
    warnings: tuple[str, ...]


def add_members(asn: dict, members: Sequence[MemberSpec]) -> EditResult:
    """Append each member (bare file name) to every product of a copy of ``asn``."""
    edited = copy.deepcopy(asn)
    warnings = []
    for spec in members:
        member = MemberSpec(PurePath(_expand(spec.expname)).name, spec.exptype, spec.group_id).as_member()
        for product in edited["products"]:
            if any(_name(existing) == member["expname"] for existing in product["members"]):
                warnings.append(
                    f"{member['expname']} is already a member of product {product.get('name', '?')}; not added again"
                )
                continue
            product["members"].append(dict(member))
    if not edited["products"]:
        warnings.append("the association has no products to add members to")
    return EditResult(edited, tuple(warnings))


def remove_members(asn: dict, files: Iterable[str], *, ignore_suffix: bool = False) -> EditResult:
    """Remove matching members from a copy of ``asn``; drop products left empty."""
    edited = copy.deepcopy(asn)
    keys = {_key(PurePath(_expand(text)).name, ignore_suffix): text for text in files}
    found: set[str] = set()
    products = []
    for product in edited["products"]:
        kept = []
        for member in product["members"]:
            key = _key(_name(member), ignore_suffix)
            if key in keys:
                found.add(key)
            else:
                kept.append(member)
        product["members"] = kept
        if kept:
            products.append(product)
    edited["products"] = products
    warnings = []
    not_found = [text for key, text in keys.items() if key not in found]
    if not_found:
        warnings.append("not found in the association: " + ", ".join(not_found))
    if asn["products"] and not products:
        warnings.append("every member was removed; the association has no products left")
    return EditResult(edited, tuple(warnings))


def _expand(text: str) -> str:
    return os.path.expanduser(os.path.expandvars(text))


def _name(member: dict) -> str:
    return PurePath(str(member.get("expname", ""))).name


def _key(file_name: str, ignore_suffix: bool) -> str:
    if not ignore_suffix:
        return file_name
    from asnflow.naming.suffix import remove_suffix

    root, _separator = remove_suffix(Path(file_name).stem)
    return root
