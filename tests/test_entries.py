"""Members and products (engine.entries) are compact records that read as the file's mappings;
rows' memo keys are shared tuples."""

from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asnflow.engine.entries import MEMBER_FIELDS, Member, Product

VALUES = st.one_of(st.none(), st.text(max_size=8))
# Any fields of a DMS member, in file order, each with any value (exposerr may be null).
ENTRIES = st.tuples(*[st.one_of(st.just(None), st.tuples(VALUES)) for _ in MEMBER_FIELDS]).map(
    lambda chosen: {name: value[0] for name, value in zip(MEMBER_FIELDS, chosen) if value is not None}
)


@given(ENTRIES)
def test_a_member_reads_as_the_dict_it_was_made_from(data):
    member = Member(data)
    assert dict(member) == data
    assert list(member) == list(data) == list(member.keys())
    assert list(member.items()) == list(data.items())
    assert len(member) == len(data)
    assert member == data and data == member
    assert member.as_dict() == data and type(member.as_dict()) is dict
    for name in MEMBER_FIELDS:
        assert (name in member) == (name in data)
        assert member.get(name, "default") == data.get(name, "default")
        if name not in data:
            with pytest.raises(KeyError):
                member[name]
    assert json.dumps(member.as_dict()) == json.dumps(data)


@given(ENTRIES)
def test_a_member_survives_pickling_with_its_absent_fields_absent(data):
    member = pickle.loads(pickle.dumps(Member(data, item="row")))
    assert member.as_dict() == data
    assert member.item == "row"
    assert all(name not in member for name in MEMBER_FIELDS if name not in data)


def test_a_member_has_only_the_fields_of_a_dms_member():
    member = Member.of("jw_rate.fits", "science", None)
    with pytest.raises(KeyError, match="not 'filename'"):
        member["filename"] = "x"
    with pytest.raises(KeyError, match="not 'item'"):
        Member({"item": "x"})
    with pytest.raises(KeyError):
        member["item"]  # the row is an attribute, not a field of the entry
    assert member.get("item") is None


def test_a_copied_member_changes_alone_and_keeps_its_row():
    member = Member.of("a_rate.fits", "science", None, "(o001, observation)", item="row")
    twin = member.copy_member()
    twin["exptype"] = "background"
    assert member["exptype"] == "science" and twin["exptype"] == "background"
    assert twin.item == "row"
    assert member != twin


def test_members_differing_in_one_field_differ_and_are_not_hashable():
    first = Member.of("a", "science", None)
    assert first == Member.of("a", "science", None)
    assert first != Member.of("a", "science", "")  # null against an empty text
    assert first != Member({"expname": "a", "exptype": "science"})  # no exposerr at all
    with pytest.raises(TypeError):
        hash(first)


def test_a_product_reads_as_its_mapping():
    members = [Member.of("a", "science", None)]
    product = Product("jw_name", members)
    assert dict(product) == {"name": "jw_name", "members": members}
    assert product == {"name": "jw_name", "members": members}
    product["name"] = "other"
    assert product.name == "other" and product["members"] is members
    with pytest.raises(KeyError, match="not 'member'"):
        product["member"] = []
    with pytest.raises(KeyError):
        product["nothing"]


def test_documents_hold_plain_dicts_in_file_order(compat_dir):
    from asnflow import api

    # Level 2 and 3, nod splits and level-3 catalogs (finalize steps that copy and add members).
    documents = api.generate(str(compat_dir / "pools" / "pool_018_all_exptypes.csv"))
    levels = set()
    for document in documents:
        for product in document["products"]:
            assert type(product) is dict
            for member in product["members"]:
                assert type(member) is dict
                assert list(member) == [name for name in MEMBER_FIELDS if name in member]
                levels.add("asn_candidate" in member)
        json.dumps(document)  # the standard library refuses anything but plain containers
    assert levels == {True, False}


def test_memo_keys_are_shared_and_the_table_of_them_stays_bounded(monkeypatch):
    from asnflow.constraints import rows

    monkeypatch.setattr(rows, "_MEMO_KEYS", {})
    monkeypatch.setattr(rows, "MEMO_KEYS_KEPT", 50)
    first = rows.memo_key(("ints", ("tso",), "t"))
    assert rows.memo_key(("ints", ("tso",), "t")) is first  # an equal key finds the one kept
    for value in range(500):  # a pool with many distinct cells in a key
        key = ("ints", ("tso",), f"v{value}")
        assert rows.memo_key(key) == key
    assert len(rows._MEMO_KEYS) == 50
    assert rows.memo_key(("ints", ("tso",), "t")) is first
