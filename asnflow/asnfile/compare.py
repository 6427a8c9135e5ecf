"""Associations compared by meaning, not bytes: what ``asnflow diff`` reports.

The meaning of an association is its asn_type, its rule, and per product the
product name and the members (expname and exptype). Formatting, key order,
``constraints`` text and version stamps do not count. Between two sets of
associations (two folders, or two generations of one pool) an association is

* *renamed* when another file name holds the same meaning,
* *changed* when the same file name (or, failing that, the same product
  names) holds a different meaning,
* otherwise *added* or *removed*.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MEMBER_SHOWN = 3  # how many member names a one-line change names before "and N more"


@dataclass(frozen=True)
class Meaning:
    """What an association says, as hashable values."""

    asn_type: str
    asn_rule: str
    products: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (name, ((expname, exptype), ...))

    @property
    def members(self) -> frozenset[tuple[str, str]]:
        return frozenset(m for _, members in self.products for m in members)

    @property
    def product_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.products)

    def as_json(self) -> dict[str, Any]:
        return {
            "asn_type": self.asn_type,
            "asn_rule": self.asn_rule,
            "products": [{"name": n, "members": [list(m) for m in members]} for n, members in self.products],
        }


def meaning(asn: Mapping[str, Any]) -> Meaning:
    products = []
    for product in asn.get("products") or []:
        members = tuple(
            sorted(
                (Path(str(m.get("expname", ""))).name, str(m.get("exptype", "")).lower())
                for m in product.get("members") or []
            )
        )
        products.append((str(product.get("name", "")), members))
    return Meaning(str(asn.get("asn_type", "")), str(asn.get("asn_rule", "")), tuple(products))


def meaning_from_json(data: Mapping[str, Any]) -> Meaning:
    """The inverse of :meth:`Meaning.as_json`."""
    return Meaning(
        str(data.get("asn_type", "")),
        str(data.get("asn_rule", "")),
        tuple(
            (str(p["name"]), tuple((str(e), str(t)) for e, t in p["members"])) for p in data.get("products", [])
        ),
    )


def changes(old: Meaning, new: Meaning) -> list[str]:
    """What differs between two meanings, one short phrase each (empty when equal)."""
    found: list[str] = []
    if old.asn_type != new.asn_type:
        found.append(f"asn_type {old.asn_type} -> {new.asn_type}")
    if old.asn_rule != new.asn_rule:
        found.append(f"asn_rule {old.asn_rule} -> {new.asn_rule}")
    if old.product_names != new.product_names:
        gone = [n for n in old.product_names if n not in new.product_names]
        came = [n for n in new.product_names if n not in old.product_names]
        if len(gone) == 1 and len(came) == 1:
            found.append(f"product name {gone[0]} -> {came[0]}")
        else:
            found += [f"product {n} removed" for n in gone] + [f"product {n} added" for n in came]
    old_members = dict(_by_expname(old.members))
    new_members = dict(_by_expname(new.members))
    removed = sorted(set(old_members) - set(new_members))
    added = sorted(set(new_members) - set(old_members))
    if removed:
        found.append(_members_phrase("removed", removed))
    if added:
        found.append(_members_phrase("added", added))
    for expname in sorted(set(old_members) & set(new_members)):
        if old_members[expname] != new_members[expname]:
            found.append(f"member {expname} exptype {old_members[expname]} -> {new_members[expname]}")
    if not found and old != new:
        found.append("members moved between products")
    return found


def _by_expname(members: Iterable[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    # One exptype per expname is what associations hold; several are joined so none is lost.
    joined: dict[str, list[str]] = {}
    for expname, exptype in sorted(members):
        joined.setdefault(expname, []).append(exptype)
    return ((e, "+".join(t)) for e, t in joined.items())


def _members_phrase(verb: str, names: list[str]) -> str:
    noun = "member" if len(names) == 1 else f"{len(names)} members"
    shown = ", ".join(names[:MEMBER_SHOWN])
    more = f" and {len(names) - MEMBER_SHOWN} more" if len(names) > MEMBER_SHOWN else ""
    return f"{noun} {verb}: {shown}{more}"


# --------------------------------------------------------------------------- two sets


@dataclass(frozen=True)
class Changed:
    name: str
    old_name: str  # equal to name unless the file was renamed too
    changes: tuple[str, ...]
    asn_rule: str


@dataclass
class Comparison:
    """The difference between two sets of associations keyed by file name."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old, new)
    changed: list[Changed] = field(default_factory=list)
    rules: dict[str, dict[str, int]] = field(default_factory=dict)  # asn_rule -> {"added": n, ...}

    @property
    def equal(self) -> bool:
        return not (self.added or self.removed or self.renamed or self.changed)

    def counts(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.removed)} removed, "
            f"{len(self.renamed)} renamed, {len(self.changed)} changed"
        )

    def lines(self) -> list[str]:
        """The table ``asnflow diff`` prints."""
        rows = [("added", name, "") for name in self.added]
        rows += [("removed", name, "") for name in self.removed]
        rows += [("renamed", old, f"-> {new}") for old, new in self.renamed]
        for item in self.changed:
            where = item.name if item.name == item.old_name else f"{item.old_name} -> {item.name}"
            rows.append(("changed", where, "; ".join(item.changes)))
        width = max((len(name) for _, name, _ in rows), default=0)
        return [f"{kind:<8} {name:<{width}}  {detail}".rstrip() for kind, name, detail in rows]

    def as_json(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "added": self.added,
            "removed": self.removed,
            "renamed": [{"old": old, "new": new} for old, new in self.renamed],
            "changed": [
                {"name": c.name, "old_name": c.old_name, "asn_rule": c.asn_rule, "changes": list(c.changes)}
                for c in self.changed
            ],
            "rules": self.rules,
        }


def compare(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> Comparison:
    """Compare associations keyed by file name (see the module notes for the categories)."""
    old_meaning = {name: meaning(asn) for name, asn in old.items()}
    new_meaning = {name: meaning(asn) for name, asn in new.items()}
    result = Comparison()

    def count(asn_rule: str, kind: str) -> None:
        # asn_rule carries the registry ("candidate_Asn_Lv3Image"); the summary counts per rule.
        rule = asn_rule.split("_", 1)[1] if asn_rule.startswith(("candidate_", "discover_")) else asn_rule
        per_rule = result.rules.setdefault(rule, {"added": 0, "removed": 0, "renamed": 0, "changed": 0})
        per_rule[kind] += 1

    same = {name for name in set(old) & set(new) if old_meaning[name] == new_meaning[name]}
    gone = sorted(set(old) - same)
    came = sorted(set(new) - same)
    # Same meaning under another name: renamed (numbering shifted, stamp changed, ...).
    came_by_meaning: dict[Meaning, list[str]] = {}
    for name in came:
        came_by_meaning.setdefault(new_meaning[name], []).append(name)
    for name in list(gone):
        twins = came_by_meaning.get(old_meaning[name])
        if twins:
            other = twins.pop(0)
            result.renamed.append((name, other))
            count(new_meaning[other].asn_rule, "renamed")
            gone.remove(name)
            came.remove(other)
    # The same file name with another meaning: changed.
    for name in [n for n in gone if n in came]:
        found = changes(old_meaning[name], new_meaning[name])
        result.changed.append(Changed(name, name, tuple(found), new_meaning[name].asn_rule))
        count(new_meaning[name].asn_rule, "changed")
        gone.remove(name)
        came.remove(name)
    # Same product names under another file name: changed and renamed.
    came_by_products: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for name in came:
        key = (new_meaning[name].asn_type, new_meaning[name].product_names)
        came_by_products.setdefault(key, []).append(name)
    for name in list(gone):
        key = (old_meaning[name].asn_type, old_meaning[name].product_names)
        twins = came_by_products.get(key)
        if twins and key[1]:
            other = twins.pop(0)
            found = changes(old_meaning[name], new_meaning[other])
            result.changed.append(Changed(other, name, tuple(found), new_meaning[other].asn_rule))
            count(new_meaning[other].asn_rule, "changed")
            gone.remove(name)
            came.remove(other)
    result.removed = gone
    result.added = came
    for name in gone:
        count(old_meaning[name].asn_rule, "removed")
    for name in came:
        count(new_meaning[name].asn_rule, "added")
    result.changed.sort(key=lambda c: c.name)
    return result


def load_side(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """One side of ``asnflow diff``: a folder's association files, or one file, by file name."""
    from asnflow.asnfile import files as asnfile
    from asnflow.asnfile.files import association_files

    path = Path(path)
    files = association_files([path])
    return {file.name: asnfile.load(file) for file in files}


def compare_paths(old: str | os.PathLike[str], new: str | os.PathLike[str]) -> Comparison:
    """Two folders by file name; two single files with each other whatever their names."""
    old_side, new_side = load_side(old), load_side(new)
    if Path(old).is_file() and Path(new).is_file():
        (old_name, old_asn), (new_name, new_asn) = next(iter(old_side.items())), next(iter(new_side.items()))
        return (
            compare({new_name: old_asn}, {new_name: new_asn}) if old_name != new_name else compare(old_side, new_side)
        )
    return compare(old_side, new_side)


def dumps(comparison: Comparison) -> str:
    return json.dumps(comparison.as_json(), indent=2)
