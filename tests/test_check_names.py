"""Checking many file names at once refuses exactly what checking them one by one refuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asnflow.errors import AsnflowError
from asnflow.pathnames import check_name, check_names

# Mostly plain names, with now and then what a name may not hold or be.
PIECES = st.sampled_from(["jw01234-o001_image2_00001_asn.json", "a", ".", "..", "", "/", "\\", "\n", "\x85",
                          "\u2028", "é", "\udcff", "x" * 120, "€" * 50])
NAME = st.lists(PIECES, min_size=1, max_size=3).map("".join)
VALUES = st.lists(st.one_of(NAME, NAME, NAME, st.none(), st.integers()), max_size=8)


def _first_refusal(values, check, limit):
    try:
        check(values, limit)
    except AsnflowError as error:
        return str(error)
    return None


def _one_by_one(values, limit):
    for value in values:
        check_name(value, "association file name", limit=limit, path="out")


def _at_once(values, limit):
    check_names(values, "association file name", limit=limit, path="out")


@settings(max_examples=500)
@given(VALUES, st.sampled_from([40, 191, 255]))
def test_at_once_refuses_the_first_name_one_by_one_refuses(values, limit):
    assert _first_refusal(values, _at_once, limit) == _first_refusal(values, _one_by_one, limit)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\\b", "a\nb", "x" * 256, "é" * 128, None])
def test_one_bad_name_among_many_is_refused_by_name(bad):
    values = [f"jw01234-o001_image2_{i:05d}_asn.json" for i in range(1000)]
    values[517] = bad
    with pytest.raises(AsnflowError) as caught:
        check_names(values, "association file name", limit=255)
    assert repr(bad)[:20] in str(caught.value)


def test_plain_names_pass():
    check_names([f"jw01234-o001_image2_{i:05d}_asn.json" for i in range(1000)], "association file name")
    check_names([], "association file name")
