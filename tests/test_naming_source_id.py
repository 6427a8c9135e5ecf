"""NIRSpec fixed-slit source numbering (build 10.0) and filling {source_id}/{slit_name}."""

from __future__ import annotations

import pytest

from asnflow.errors import InputError
from asnflow.naming import FIXED_SLIT_NUMBERS, fill_source_placeholders, fixed_slit_source_id
from asnflow.naming.source_id import FIXED_SLITS, format_source_id

SLITS = ["S200A1", "S200A2", "S400A1", "S1600A1", "S200B1"]
# assign_wcs (jwst 3.0.0, get_open_fixed_slits): row = primary slit, column = slit, in SLITS order.
ASSIGN_WCS_SOURCE_IDS = {
    "S200A1": [1, 12, 13, 14, 15],
    "S200A2": [21, 1, 23, 24, 25],
    "S400A1": [31, 32, 1, 34, 35],
    "S1600A1": [41, 42, 43, 1, 45],
    "S200B1": [51, 52, 53, 54, 1],
    "NONE": [1, 2, 3, 4, 5],
}


@pytest.mark.parametrize("primary", list(ASSIGN_WCS_SOURCE_IDS))
@pytest.mark.parametrize("column", range(len(SLITS)))
def test_every_primary_and_slit_pair(primary, column):
    slit = SLITS[column]
    assert fixed_slit_source_id(slit, primary) == ASSIGN_WCS_SOURCE_IDS[primary][column]
    assert fixed_slit_source_id(slit.lower(), primary.lower()) == ASSIGN_WCS_SOURCE_IDS[primary][column]


def test_the_table_is_the_slit_numbers():
    assert FIXED_SLIT_NUMBERS == {"none": 0, "s200a1": 1, "s200a2": 2, "s400a1": 3, "s1600a1": 4, "s200b1": 5}
    assert [slit.upper() for slit in FIXED_SLITS] == SLITS


@pytest.mark.parametrize(("slit", "primary"), [("NONE", "S200A1"), ("S100A1", "S200A1"), ("S200A1", "MOS"), ("", "")])
def test_unknown_slits_are_refused(slit, primary):
    with pytest.raises(InputError, match="is not a NIRSpec fixed slit"):
        fixed_slit_source_id(slit, primary)


FS_NAME = "jw01234-o003_t001-{source_id}_nirspec_f100lp-g140h-{slit_name}"
BUILD10_NAME = "jw01234-o003_{source_id}_nirspec_f100lp-g140h-{slit_name}"


def test_jwst_profile_pads_to_nine():
    assert fill_source_placeholders(FS_NAME, source_id=1, slit_names=["S200A1", "S200A2", "S200A1"]) == (
        "jw01234-o003_t001-s000000001_nirspec_f100lp-g140h-s200a1-s200a2"
    )


def test_build10_profile_pads_to_five():
    source = fixed_slit_source_id("S200A1", "S400A1")
    filled = fill_source_placeholders(BUILD10_NAME, source_id=source, slit_names=["S200A1"], profile="build10")
    assert filled == "jw01234-o003_s00031_nirspec_f100lp-g140h-s200a1"
    assert fill_source_placeholders(FS_NAME, source_id="12", slit_names=["s200a2"], profile="build10") == (
        "jw01234-o003_t001-s00012_nirspec_f100lp-g140h-s200a2"
    )


def test_slit_names_are_unique_in_order():
    filled = fill_source_placeholders(FS_NAME, source_id=1, slit_names=["S200A2", "s200a1", "S200A2"])
    assert filled.endswith("-s200a2-s200a1")


def test_without_slit_names_the_slit_placeholder_stays():
    assert fill_source_placeholders(FS_NAME, source_id=3) == "jw01234-o003_t001-s000000003_nirspec_f100lp-g140h-{slit_name}"


def test_only_existing_placeholders_are_filled():
    mos = "jw01234-o002_{source_id}_nirspec_clear-prism"
    assert fill_source_placeholders(mos, source_id=7, slit_names=["S200A1"]) == "jw01234-o002_s000000007_nirspec_clear-prism"
    wfscmb = "jw00747-o017_t002_nircam_f212n-wlm8-nrca4_{suffix}-04"
    assert fill_source_placeholders(wfscmb, source_id=1) == wfscmb


@pytest.mark.parametrize(
    ("source_id", "profile", "text"),
    [
        (1, "jwst-3.0", "s000000001"),
        ("0042", "jwst-3.0", "s000000042"),
        (1234567890, "jwst-3.0", "s1234567890"),
        (31, "build10", "s00031"),
        (-5, "jwst-3.0", "v000000005"),  # MOS virtual slit
        ("-5", "build10", "v00005"),
        ("b000000012", "jwst-3.0", "b000000012"),  # already formatted MOS ids are used as given
        ("B12", "build10", "b12"),
    ],
)
def test_source_id_text(source_id, profile, text):
    assert format_source_id(source_id, profile) == text


@pytest.mark.parametrize(("source_id", "profile"), [("", "jwst-3.0"), (True, "jwst-3.0"), (1.5, "jwst-3.0"), (1, "jwst-2")])
def test_bad_source_ids_and_profiles_are_refused(source_id, profile):
    with pytest.raises(InputError):
        format_source_id(source_id, profile)
