"""remove_suffix against jwst's answers, and member / level-2 product renames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asnflow.naming import (
    KNOWN_SUFFIXES,
    LEVEL2B_EXPTYPES,
    level2_product_name,
    level2a_member_name,
    level2b_member_name,
    nod_product_name,
    remove_suffix,
)
from asnflow.naming.suffix import replace_suffix

DATA = Path(__file__).parent / "data" / "naming"
# Pairs [name, root, separator] that jwst 3.0.0's remove_suffix gave (make_fixtures.py).
JWST_REMOVE_SUFFIX = json.loads((DATA / "remove_suffix.json").read_text(encoding="utf-8"))


def test_fixture_covers_the_interesting_shapes():
    names = [name for name, _root, _sep in JWST_REMOVE_SUFFIX]
    assert any("-" in name and root != name and sep == "-" for name, root, sep in JWST_REMOVE_SUFFIX)
    assert any(name == root and "_" in name for name, root, _sep in JWST_REMOVE_SUFFIX)  # unknown suffix kept
    assert any("\n" in name for name in names)
    assert len(names) == len(set(names)) > 500


@pytest.mark.parametrize(("name", "root", "separator"), JWST_REMOVE_SUFFIX)
def test_remove_suffix_matches_jwst(name, root, separator):
    assert remove_suffix(name) == (root, separator)


def test_known_suffixes_hold_the_pipeline_products():
    assert {"uncal", "rate", "rateints", "cal", "calints", "x1d", "x1dints", "i2d", "s3d", "cat"} <= KNOWN_SUFFIXES
    assert {"ami-oi", "residual_fringe"} <= KNOWN_SUFFIXES
    assert not {"step", "pipeline", "segm", ""} & KNOWN_SUFFIXES


def test_remove_suffix_examples():
    assert remove_suffix("jw00001001001_01101_00001_nrca1_rate") == ("jw00001001001_01101_00001_nrca1", "_")
    assert remove_suffix("jw01234-o001_t001_nircam_clear-f200w-i2d") == ("jw01234-o001_t001_nircam_clear-f200w", "-")
    assert remove_suffix("x_residual_fringe") == ("x", "_")  # the shortest root wins
    assert remove_suffix("x_cal_rate") == ("x_cal", "_")  # only the last suffix goes
    assert remove_suffix("x_CAL") == ("x_CAL", "_")  # case-sensitive
    assert remove_suffix("x_myproc") == ("x_myproc", "_")


def test_replace_suffix_keeps_the_separator():
    assert replace_suffix("a-b-cal", "rate") == "a-b-rate"
    assert replace_suffix("a_b", "cal") == "a_b_cal"


RAW = "jw01234001001_02101_00001_nrca1_uncal.fits"


def test_level2a_member_names():
    assert level2a_member_name(RAW, False) == "jw01234001001_02101_00001_nrca1_rate.fits"
    assert level2a_member_name(RAW, True) == "jw01234001001_02101_00001_nrca1_rateints.fits"
    assert level2a_member_name("dir/jw_00001_uncal.fits.gz", False) == "dir/jw_00001_rate.fits.gz"
    # The last "_uncal." is the suffix.
    assert level2a_member_name("a_uncal.b_uncal.fits", False) == "a_uncal.b_rate.fits"


@pytest.mark.parametrize(
    "name", ["jw_00001_rate.fits", "x_uncal", "_uncal.fits", "x_uncal.", "x-uncal.fits", "x_UNCAL.fits", ""]
)
def test_names_that_are_not_level1b_are_refused(name):
    assert level2a_member_name(name, False) is None
    assert level2b_member_name(name, exp_type="nrc_image", member_exptype="science", integrations=False) is None


@pytest.mark.parametrize(
    ("exp_type", "member_exptype", "integrations", "suffix"),
    [
        ("nrc_image", "science", False, "cal"),
        ("nrc_coron", "science", True, "calints"),
        ("nrs_fixedslit", "background", False, "x1d"),
        ("nrc_tsgrism", "background", True, "x1dints"),
        ("mir_image", "background", False, "x1d"),  # background wins over the exposure type
        ("nrs_autowave", "autowave", False, "rate"),  # no level-2b processing
        ("nrs_autoflat", "autoflat", True, "rateints"),
        (None, "science", False, "rate"),
        ("NRC_IMAGE", "science", False, "rate"),  # compared exactly; pools are lower-cased on reading
        ("nrs_verify", "science", False, "cal"),
        ("nis_wfss", "science", False, "cal"),  # jwst 3.0.0 (later versions use x1d)
    ],
)
def test_level2b_member_names(exp_type, member_exptype, integrations, suffix):
    name = level2b_member_name(RAW, exp_type=exp_type, member_exptype=member_exptype, integrations=integrations)
    assert name == f"jw01234001001_02101_00001_nrca1_{suffix}.fits"


def test_level2b_exposure_types():
    assert len(LEVEL2B_EXPTYPES) == 40
    assert {"nrc_image", "mir_coroncal", "nrs_wata", "nrs_msaspec", "mir_lrs-slitless"} <= LEVEL2B_EXPTYPES
    assert not {"nrs_autowave", "nrs_autoflat", "nrs_lamp", "nrc_dark", "mir_flatimage"} & LEVEL2B_EXPTYPES


def test_level2_product_names_keep_the_folder():
    assert level2_product_name("jw01234001001_02101_00001_nrca1_rate.fits") == "jw01234001001_02101_00001_nrca1"
    assert level2_product_name("a/b/jw_00001_rateints.fits") == "a/b/jw_00001"
    assert level2_product_name("./x_cal.fits") == "x"
    assert level2_product_name("x_unknown.fits") == "x_unknown"
    assert level2_product_name("x.tar.gz") == "x.tar"  # the stem drops one extension


def test_nod_product_names_drop_the_folder():
    assert nod_product_name("a/b/jw_00001_rate.fits") == "jw_00001"
    assert nod_product_name("jw01234001001_02101_00001_nrs1_cal.fits") == "jw01234001001_02101_00001_nrs1"
    assert nod_product_name("a/b/") == ""


def _remove_suffix_by_every_position(name: str) -> tuple[str, str]:
    """The rule of remove_suffix written the slow, obvious way: try each position in turn."""
    body = name
    if "\n" in name:
        body = name[:-1]
        if not name.endswith("\n") or "\n" in body or not body:
            return name, "_"
    for index in range(1, len(body) - 1):
        if body[index] in "_-" and body[index + 1:] in KNOWN_SUFFIXES:
            return body[:index], body[index]
    return body, "_"


name_parts = st.sampled_from(["jw01234001001_02101_00001_nrca1", "a", "", "_", "-", "cal", "rate", "i2d", "x1d",
                              ".", "..", "/", "sub", "\n", "CAL", "rateints", "nrs1", "fits", " "])
names = st.lists(name_parts, max_size=7).map("".join) | st.text(alphabet="ab_-./\nc", max_size=14)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(name_parts, st.sampled_from(["_", "-", "", "."])), max_size=6).map(
    lambda parts: "".join(a + b for a, b in parts)) | names)
def test_remove_suffix_agrees_with_trying_every_position(name):
    assert remove_suffix(name) == _remove_suffix_by_every_position(name)


@settings(max_examples=500, deadline=None)
@given(names)
def test_level2_product_names_agree_with_pathlib_stems(name):
    from pathlib import PurePosixPath

    path = PurePosixPath(name)
    assert level2_product_name(name) == remove_suffix(str(path.parent / path.stem))[0]


def _level1b_parts_by_pattern(name: str) -> tuple[str, str] | None:
    """What the pattern alone finds (the member names' quick path must agree with it)."""
    from asnflow.naming.members import _LEVEL1B_NAME

    match = _LEVEL1B_NAME.match(name)
    return None if match is None else (match["path"], match["extension"])


raw_names = st.lists(st.sampled_from(["_uncal.", "_uncal", ".", "a", "fits", "_", "\n", "\r", "é", "/", ""]),
                     max_size=7).map("".join)


@settings(max_examples=500, deadline=None)
@given(raw_names | st.text(alphabet="_uncal.\nx", max_size=16))
def test_level1b_names_are_split_as_the_pattern_splits_them(name):
    """Several "_uncal.", one first or last, line breaks: the last "_uncal." on the first line with
    something before it and after its dot, or none."""
    from asnflow.naming.members import _level1b_parts

    assert _level1b_parts(name) == _level1b_parts_by_pattern(name)
