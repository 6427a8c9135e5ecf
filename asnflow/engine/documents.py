"""Associations as jwst writes them: the JSON document and its file name.

Key order, values and formatting follow jwst 3.0.0 (reference §9): level 2
``… constraints, asn_id, asn_pool, target, products``, level 3
``… constraints, asn_id, target, asn_pool, products``. ``constraints`` is
asnflow's own summary of the pinned values (jwst writes Python reprs there).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii as _encode_string
from typing import Any, overload

from asnflow.asnfile import shapes
from asnflow.asnfile.files import json_value, schema_level_of, validate_shaped
from asnflow.engine.association import DEGRADED_NOTOK, DEGRADED_OK, Association
from asnflow.engine.entries import ABSENT
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


def _header(asn: Association, cache: dict | None) -> list[tuple[str, object]]:
    """The document's keys before ``products``, with their values, in file order."""
    items: list[tuple[str, object]] = [
        ("asn_type", asn.asn_type),
        ("asn_rule", asn.asn_rule),
        ("version_id", asn.version_id),
        ("code_version", asn.run.code_version),
        ("degraded_status", DEGRADED_NOTOK if asn.degraded else DEGRADED_OK),
        ("program", asn.program),
        ("constraints", constraints_summary(asn, cache)),
        ("asn_id", asn.acid.id),
    ]
    if asn.level == "3":
        items += [("target", target_id(asn.target_values())), ("asn_pool", asn.run.pool_name)]
    else:
        items += [("asn_pool", asn.run.pool_name), ("target", asn.target_raw)]
    return items


def to_dict(asn: Association, cache: dict | None = None, name: str | None = None) -> AssociationDict:
    """The document of ``asn``; ``name``: its file stem, when known already."""
    data: dict[str, object] = dict(_header(asn, cache))
    data["products"] = [{"name": product.name, "members": [member.as_dict() for member in product.members]}
                        for product in asn.products]
    return AssociationDict(data, name or asn.file_stem(), asn.rule.name)


# The JSON file of a document, laid out here without making the document
# (json_document): what dumps(to_dict(asn)) writes, byte for byte, with the
# shape validate() checks (shapes.shape(to_dict(asn))). A large pool writes
# hundreds of thousands of files, and their dicts, made to be walked once for
# their shape and once for their text, were half of the writing's time.
# Strings, nearly every value, are encoded here; anything else is written
# by asnfile's json_value. The keys are plain words: quoted, they are JSON.
# tests/test_document_text.py holds the two to each other on every pool.
_I4, _I8, _I12, _I16, _I20 = " " * 4, " " * 8, " " * 12, " " * 16, " " * 20
_THREE_STRINGS = (("expname", str), ("exptype", str), ("exposerr", str))  # a level-2 member's shape
_FOUR_STRINGS = _THREE_STRINGS + (("asn_candidate", str),)  # a level-3 member's


def json_document(asn: Association, cache: dict | None = None) -> tuple[str, tuple]:
    """The JSON text of ``to_dict(asn)`` as ``asnfile.dumps`` writes it, and its shape."""
    # The pieces of the text go into one list, joined once: a mosaic lists every
    # exposure of a program, and joining its members, then its product, then the
    # document, held up to four copies of the text at once.
    parts = ["{\n"]
    summary: list[tuple[str, Any]] = []
    for key, value in _header(asn, cache):
        if type(value) is str:
            parts.append(f'{_I4}"{key}": {_encode_string(value)},\n')
            summary.append((key, str))
        else:
            parts.append(f'{_I4}"{key}": {json_value(value, _I4)},\n')
            summary.append((key, shapes.shape(value)))
    parts.append(f'{_I4}"products": ')
    product_shapes = set()
    for number, product in enumerate(asn.products):
        name = product.name
        parts.append(f'{"[" if number == 0 else ","}\n{_I8}{{\n{_I12}"name": {json_value(name, _I12)},\n'
                     f'{_I12}"members": ')
        member_shapes = set()
        for index, member in enumerate(product.members):
            text, shape = _json_member(member)
            parts.append("[\n" if index == 0 else ",\n")
            parts.append(text)
            member_shapes.add(shape)
        parts.append(f"\n{_I12}]\n{_I8}}}" if member_shapes else f"[]\n{_I8}}}")
        product_shapes.add((("name", shapes.shape(name)), ("members", shapes.list_shape(member_shapes))))
    parts.append(f"\n{_I4}]\n}}" if product_shapes else "[]\n}")
    summary.append(("products", shapes.list_shape(product_shapes)))
    return "".join(parts), tuple(summary)


def _json_member(member) -> tuple[str, tuple]:
    """A member's lines in the file, and its shape."""
    expname, exptype, exposerr, candidate = member.fields()
    if type(expname) is str and type(exptype) is str and type(exposerr) is str:  # nearly every member
        text = (f'{_I16}{{\n{_I20}"expname": {_encode_string(expname)},\n{_I20}"exptype": {_encode_string(exptype)},'
                f'\n{_I20}"exposerr": {_encode_string(exposerr)}')
        if candidate is ABSENT:
            return f"{text}\n{_I16}}}", _THREE_STRINGS
        if type(candidate) is str:
            return f'{text},\n{_I20}"asn_candidate": {_encode_string(candidate)}\n{_I16}}}', _FOUR_STRINGS
    fields = list(member.as_dict().items())
    if not fields:
        return f"{_I16}{{}}", ()
    text = ",\n".join([f'{_I20}"{name}": {json_value(value, _I20)}' for name, value in fields])
    return f"{_I16}{{\n{text}\n{_I16}}}", tuple([(name, shapes.shape(value)) for name, value in fields])


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
        self._levels: dict[tuple[str, str], str] = {}  # schema levels, by asn_type and asn_rule

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

    def json_payload(self, index: int, name: str) -> bytes:
        """The bytes of document ``index``'s JSON file ``name``, validated (see asnfile.SelfRendering)."""
        asn = self._asns[index]
        text, summary = json_document(asn, self._summaries)
        kind = (asn.asn_type, asn.asn_rule)
        level = self._levels.get(kind)
        if level is None:
            level = self._levels[kind] = schema_level_of(*kind)
        validate_shaped(level, summary, lambda: self[index], source=name)
        return text.encode("utf-8")

    def kinds(self) -> list[tuple[str, str]]:
        """(asn_type, rule name) of each document, without making them."""
        return [(asn.asn_type, asn.rule.name) for asn in self._asns]

