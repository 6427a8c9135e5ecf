"""Duplicate associations are found by a small print of their members, confirmed by the full key."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from asnflow.engine import prune
from asnflow.engine.entries import Member, Product

MEMBER = st.builds(Member.of, st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["science", "background"]),
                   st.none())
ASSOCIATIONS = st.lists(st.lists(MEMBER, max_size=4), min_size=1, max_size=12)


def _associations(member_lists):
    return [SimpleNamespace(products=[Product(None, members)]) for members in member_lists]


def _groups_by_key(asns):
    """What the full membership keys group together, two or more (duplicate members: in none)."""
    groups: dict = {}
    for asn in asns:
        key = prune._membership_key(asn.products[0])
        if key is not None:
            groups.setdefault(key, []).append(asn)
    return {id(asn): group for group in groups.values() if len(group) > 1 for asn in group}


def _as_indexes(same, asns):
    position = {id(asn): index for index, asn in enumerate(asns)}
    return {position[key]: [position[id(twin)] for twin in twins] for key, twins in same.items()}


@settings(max_examples=300)
@given(ASSOCIATIONS)
def test_same_members_groups_as_the_full_keys_do(member_lists):
    asns = _associations(member_lists)
    assert _as_indexes(prune._same_members(asns), asns) == _as_indexes(_groups_by_key(asns), asns)


@settings(max_examples=300)
@given(ASSOCIATIONS)
def test_prints_that_collide_are_told_apart_by_the_keys(member_lists):
    asns = _associations(member_lists)
    real = prune._membership_print
    try:
        prune._membership_print = lambda product: None if real(product) is None else "same"
        same = prune._same_members(asns)
    finally:
        prune._membership_print = real
    assert _as_indexes(same, asns) == _as_indexes(_groups_by_key(asns), asns)
