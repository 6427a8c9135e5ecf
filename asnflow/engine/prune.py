"""Remove duplicate associations, renumber, and merge — jwst lib/prune.py semantics.

Two passes, as jwst does them, because their order decides which association
survives and, through the sequence numbers, the file names:

1. identical membership (same expname/exptype pairs in the first product):
   sort by candidate id, keep the last one (observation ``o`` beats ``c``
   beats the discovered ``a3001``). jwst compares every pair; here a hashable
   membership key gives the same answer in linear time.
2. the same product name: a subset loses to its superset; differences only
   in member suffix are kept silently; anything else is kept with a warning.
   These groups are small, so the pairwise rules are reproduced as written,
   including jwst's notion of "equal associations" in list membership tests.

The result is ordered as jwst leaves it: descending candidate id after pass
1, ascending if pass 2 found duplicate names.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from pathlib import PurePosixPath

from asnflow.engine.entries import Product
from asnflow.naming.suffix import remove_suffix

log = logging.getLogger("asnflow.prune")


class DupNamer:
    """Records pruned associations; with -D they are kept under "dupNNNNN_" names (jwst's DupCount)."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.count = 0
        self.pruned: list[tuple] = []  # (pruned association, the one kept instead, why)

    def remove(self, asn, known_dups: list, kept=None, why: str = "") -> None:
        self.pruned.append((asn, kept, why))
        if self.keep:
            self.count += 1
            asn.dup_name = f"dup{self.count:05d}"
            known_dups.append(asn)


def _asn_id(asn) -> str:
    return asn.acid.id


def _membership_key(product: Product):
    members = product["members"]
    names = [m.expname for m in members]
    if len(set(names)) != len(names):
        return None  # duplicate members never compare equal
    return frozenset((m.expname, m.exptype) for m in members)


_PRINT_MASK = (1 << 64) - 1


# The print of members where a name comes twice: they never compare equal (hash() never gives -1).
NAMED_TWICE = -1


def members_print(product: Product) -> int:
    """A small stand-in for :func:`_membership_key`: equal keys give equal prints (NAMED_TWICE for None).

    A mosaic's key holds a pair per member; the keys of every association
    at once were the peak of a large pool's run. Keys are built only for
    associations whose prints agree.
    """
    members = product["members"]
    names = [m.expname for m in members]
    if len(set(names)) != len(names):
        return NAMED_TWICE
    mixed = total = 0
    for member in members:
        pair = hash((member.expname, member.exptype))
        mixed ^= pair
        total = (total + pair) & _PRINT_MASK
    return hash((len(members), mixed, total))


def _same_members(ordered: list) -> dict[int, list]:
    """Per association (by id) that has the same members as another's first product, all those
    associations, itself included, in the order given. Associations alone with their members
    (nearly all) are left out, as are those with a member named twice."""
    # First only one association per print; a list once a second one has it. Every association
    # in a list of its own was a third of a gigabyte at a million rows, for the few that pair.
    first: dict = {}
    shared: dict = {}
    for asn in ordered:
        settled = asn.settled  # (members print, file name head) worked out as its pass ended, if it was
        found = settled[0] if settled is not None else members_print(asn.products[0])
        if found != NAMED_TWICE:
            earlier = first.setdefault(found, asn)
            if earlier is not asn:
                shared.setdefault(found, [earlier]).append(asn)
    del first
    same: dict[int, list] = {}
    for group in shared.values():
        while len(group) > 1:
            # One key at a time: the first association's pairs, and which of the rest have them all
            # (same count, no name twice: the same set). Two mosaics' keys at once were the peak of
            # combining a million-row pool.
            key = _membership_key(group[0].products[0])
            twins: list = [group[0]]
            rest: list = []
            for asn in group[1:]:
                (twins if _holds_exactly(key, asn.products[0]) else rest).append(asn)
            del key
            if len(twins) > 1:
                for asn in twins:
                    same[id(asn)] = twins
            group = rest
    return same


def _holds_exactly(key: frozenset, product: Product) -> bool:
    """Whether ``product``'s members (no name twice) are the pairs of ``key``."""
    members = product["members"]
    return len(members) == len(key) and all((m.expname, m.exptype) in key for m in members)


def prune(asns: list, dups: DupNamer, warnings: list[str] | None = None) -> list:
    pruned = prune_duplicate_associations(asns, dups)
    return prune_duplicate_products(pruned, dups, warnings)


def _split_known_dups(asns: list) -> tuple[list, list]:
    known: list = []
    valid: list = []
    for asn in asns:
        (known if asn.dup_name else valid).append(asn)
    return known, valid


def prune_duplicate_associations(asns: list, dups: DupNamer) -> list:
    known_dups, valid = _split_known_dups(asns)
    ordered = sorted(valid, key=_asn_id)
    same = _same_members(ordered)
    removed: set[int] = set()
    pruned = []
    for asn in reversed(ordered):
        if id(asn) in removed:
            continue
        pruned.append(asn)
        for twin in same.get(id(asn), ()):
            if twin is not asn and id(twin) not in removed:
                removed.add(id(twin))
                dups.remove(twin, known_dups, asn, "same members")
    return pruned + known_dups


# ---------------------------------------------------------------------- pass 2
def exposure_root(expname: str) -> str:
    return remove_suffix(PurePosixPath(expname).stem)[0]


def membership_diffs(left: dict, right: dict, strict: bool = True) -> list[str]:
    """jwst diff.compare_product_membership, as the list of difference kinds it would raise."""
    munge = (lambda name: name) if strict else exposure_root
    diffs: list[str] = []
    for product in (left, right):
        names = Counter(m["expname"] for m in product["members"])
        if any(count > 1 for count in names.values()):
            diffs.append("duplicate")
    if len(left["members"]) != len(right["members"]):
        diffs.append("length")
    remaining = list(right["members"])
    unaccounted_left = 0
    for member in left["members"]:
        name = munge(member["expname"])
        for candidate in remaining:
            if munge(candidate["expname"]) != name:
                continue
            if member["exptype"] != candidate["exptype"]:
                diffs.append("mismatch")
            remaining.remove(candidate)
            break
        else:
            unaccounted_left += 1
    if unaccounted_left or remaining:
        diffs.append("unaccounted")
    if len(diffs) == 2 and "length" in diffs and "unaccounted" in diffs:
        diffs.append("subset")
    return diffs


def _components(name: str) -> set[str]:
    return set(re.split("[_-]", name))


def asns_equal(left, right) -> bool:
    """jwst DMSBaseMixin.__eq__ (diff.compare_asns, suffix-insensitive)."""
    if left is right:
        return True
    if left.asn_type != right.asn_type or _asn_id(left)[:1] != _asn_id(right)[:1]:
        return False
    for asn in (left, right):
        if asn.products and asn.products[0]["name"] is None:
            asn.products[0]["name"] = asn.product_name()
    if len(left.products) != len(right.products):
        return False
    remaining = list(right.products)
    for product in left.products:
        name = _components(product["name"])
        for candidate in remaining:
            if _components(candidate["name"]) != name:
                continue
            if membership_diffs(product, candidate, strict=False):
                return False
            remaining.remove(candidate)
            break
        else:
            return False
    return not remaining


def _contains(asns: list, asn) -> bool:
    return any(asns_equal(other, asn) for other in asns)


def _remove_equal(asns: list, asn) -> None:
    for index, other in enumerate(asns):
        if asns_equal(other, asn):
            del asns[index]
            return
    raise ValueError("association not in list")


def _warn(warnings: list[str] | None, message: str) -> None:
    if warnings is not None:
        warnings.append(message)  # reported by the command that ran the generator
    else:
        log.warning(message)


def prune_duplicate_products(asns: list, dups: DupNamer, warnings: list[str] | None = None) -> list:
    known_dups, valid = _split_known_dups(asns)
    names = Counter(a.products[0]["name"] for a in valid)
    duplicated = [name for name, count in names.items() if count > 1]
    if not duplicated:
        return asns
    ordered = sorted(valid, key=_asn_id)
    by_product: dict = defaultdict(list)
    for asn in ordered:
        by_product[asn.products[0]["name"]].append(asn)
    full_prune: list = []
    winners: dict[int, object] = {}
    for product_name in duplicated:
        group = by_product[product_name]
        to_keep = list(group)
        for asn in group:
            if _contains(full_prune, asn):
                continue
            to_prune = []
            for entrant in to_keep:
                if asns_equal(entrant, asn):
                    continue
                diffs = membership_diffs(asn.products[0], entrant.products[0])
                if not diffs:
                    to_prune.append(entrant)
                    continue
                if "subset" in diffs:
                    # jwst swaps its loop variable here, so later comparisons
                    # in this round are made against the larger association.
                    if len(entrant.products[0]["members"]) > len(asn.products[0]["members"]):
                        asn, entrant = entrant, asn
                    to_prune.append(entrant)
                    continue
                if membership_diffs(asn.products[0], entrant.products[0], strict=False):
                    _warn(warnings, f"associations with the same product name {product_name} but different members: "
                          f"{asn.asn_rule} ({asn.acid.id}) and {entrant.asn_rule} ({entrant.acid.id}); both kept")
            full_prune.extend(to_prune)
            for pruned in to_prune:
                winners[id(pruned)] = asn
                _remove_equal(to_keep, pruned)
    for asn in full_prune:
        _remove_identical(ordered, asn)
        dups.remove(asn, known_dups, winners.get(id(asn)), "subset of an association with the same product name")
    return ordered + known_dups


def _remove_identical(asns: list, asn) -> None:
    """Remove ``asn`` itself (not an equal one) from ``asns``."""
    for index, other in enumerate(asns):
        if other is asn:
            del asns[index]
            return
    raise ValueError("expected duplicate association not found")


def resequence(asns: list) -> None:
    """Number associations per (candidate, asn_type) from 1, in list order."""
    counters: dict = defaultdict(int)
    for asn in asns:
        key = (_asn_id(asn), asn.asn_type)
        counters[key] += 1
        asn.sequence = counters[key]


def merge_level2(asns: list, merged_into: dict | None = None) -> list:
    """--merge: level-2 associations of one candidate and type become one, with many products."""
    others = [a for a in asns if a.level != "2b"]
    merged: dict = {}
    for asn in (a for a in asns if a.level == "2b"):
        key = (asn.asn_type, _asn_id(asn))
        current = merged.setdefault(key, asn)
        if merged_into is not None and current is not asn:
            merged_into[id(asn)] = current
        for product in list(asn.products):
            found = False
            for current_product in current.products:
                if product["name"] == current_product["name"]:
                    known = [m["expname"] for m in current_product["members"]]
                    new_names = {m["expname"] for m in product["members"]} - set(known)
                    current_product["members"].extend(m for m in product["members"] if m["expname"] in new_names)
                    found = True
            if not found:
                current.products.append(product)
    return others + list(merged.values())
