"""Associations as jwst writes them: the JSON document and its file name.

Key order, values and formatting follow jwst 3.0.0 (reference §9): level 2
``… constraints, asn_id, asn_pool, target, products``, level 3
``… constraints, asn_id, target, asn_pool, products``. ``constraints`` is
asnflow's own summary of the pinned values (jwst writes Python reprs there).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import overload

from asnflow.engine.association import DEGRADED_NOTOK, DEGRADED_OK, Association
from asnflow.naming.products import target_id

log = logging.getLogger("asnflow.write")


class AssociationDict(dict):
    """A generated association: a plain dict (what jwst pipelines accept) with its file ``name``."""

    name: str = ""

    def __init__(self, data: dict, name: str, rule: str = "") -> None:
        super().__init__(data)
        self.name = name
        self.rule = rule


def constraints_summary(asn: Association, cache: dict | None = None) -> str:
    """One line per named constraint that pinned a value: ``name = value (column)``."""
    if cache is not None:
        known = cache.get(id(asn.states))
        if known is not None and known[0] is asn.states:
            return known[1]
    text = _constraints_summary(asn)
    if cache is not None:
        cache[id(asn.states)] = (asn.states, text)
    return text


def _constraints_summary(asn: Association) -> str:
    lines = []
    columns = asn.run.columns
    for node in asn.rule.attr_tests:
        state = asn.states[node.slot]
        if node.name is None or state is None or state.pinned is None:
            continue
        first = state.indexes[0] if state.indexes else None
        column = columns[first] if first is not None and first < len(columns) else node.sources[0]
        lines.append(f"{node.name} = {state.pinned} ({column})")
    acid = asn.acid
    if acid.type != "DISCOVERED":
        lines.append(f"asn_candidate = {acid.id} ({acid.type})")
    return "\n".join(lines)


def to_dict(asn: Association, cache: dict | None = None, name: str | None = None) -> AssociationDict:
    """The document of ``asn``; ``name``: its file stem, when known already."""
    data: dict[str, object] = {
        "asn_type": asn.asn_type,
        "asn_rule": asn.asn_rule,
        "version_id": asn.version_id,
        "code_version": asn.run.code_version,
        "degraded_status": DEGRADED_NOTOK if asn.degraded else DEGRADED_OK,
        "program": asn.program,
        "constraints": constraints_summary(asn, cache),
        "asn_id": asn.acid.id,
    }
    if asn.level == "3":
        data["target"] = target_id(asn.target_values())
        data["asn_pool"] = asn.run.pool_name
    else:
        data["asn_pool"] = asn.run.pool_name
        data["target"] = asn.target_raw
    data["products"] = [{"name": product.name, "members": [member.as_dict() for member in product.members]}
                        for product in asn.products]
    return AssociationDict(data, name or asn.file_stem(), asn.rule.name)


class Documents(Sequence[AssociationDict]):
    """The documents of a run, each made from its association when it is asked for.

    Those jwst would save, in its order: invalid associations are skipped, and
    a later association written under an existing file name replaces the
    earlier one.

    A 100,000-row pool has about as many documents, each a dict of a
    kilobyte or so besides the members it shares with its association;
    made all at once they were a fifth of the run's memory. Writing asks for
    them one at a time (forked writers make their own), so only the
    associations are held. Each access makes a new dict; ``list()`` keeps them.
    """

    def __init__(self, asns: list[Association]) -> None:
        kept: dict[str, Association] = {}
        for asn in asns:
            if not asn.is_valid:
                log.info("not writing %s: not valid", asn.file_stem())
                continue
            stem = asn.file_stem()
            if stem in kept:
                log.warning("%s is generated twice; the later one is kept, as jwst overwrites the file", stem)
                del kept[stem]
            kept[stem] = asn
        self.stems = list(kept)  # each document's file name without its extension (asnfile.file_names)
        self._asns = list(kept.values())
        self._summaries: dict = {}  # constraints summaries, shared by associations with the same states

    def __len__(self) -> int:
        return len(self._asns)

    @overload
    def __getitem__(self, index: int) -> AssociationDict: ...

    @overload
    def __getitem__(self, index: slice) -> list[AssociationDict]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return to_dict(self._asns[index], self._summaries, self.stems[index])

    def kinds(self) -> list[tuple[str, str]]:
        """(asn_type, rule name) of each document, without making them."""
        return [(asn.asn_type, asn.rule.name) for asn in self._asns]

