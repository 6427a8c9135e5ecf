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
    # settled None: not worked out as a pass ended, so _same_members works the print out.
    return [SimpleNamespace(products=[Product(None, members)], settled=None) for members in member_lists]


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
    real = prune.members_print
    try:
        prune.members_print = lambda product: prune.NAMED_TWICE if real(product) == prune.NAMED_TWICE else 7
        same = prune._same_members(asns)
    finally:
        prune.members_print = real
    assert _as_indexes(same, asns) == _as_indexes(_groups_by_key(asns), asns)


@settings(max_examples=200)
@given(ASSOCIATIONS)
def test_prints_worked_out_earlier_group_as_those_worked_out_when_pruning(member_lists):
    asns = _associations(member_lists)
    for asn in asns[::2]:  # some worked out as their pass ended (engine.finalize.settle_early), some not
        asn.settled = (prune.members_print(asn.products[0]), "head")
    assert _as_indexes(prune._same_members(asns), asns) == _as_indexes(_groups_by_key(asns), asns)
