"""Level-3 product names and template filling, against jwst's own answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asnflow.errors import RuleError
from asnflow.naming import (
    fill_template,
    level3_product_name,
    opt_elem,
    program_id,
    slit_name,
    subarray,
    target_id,
    wfscmb_product_name,
)
from asnflow.naming.products import LEVEL3_TEMPLATES, exposure_part
from asnflow.naming.template import placeholders, render_template

DATA = Path(__file__).parent / "data" / "naming"
# Constraint values and the names jwst 3.0.0 built from them (make_fixtures.py).
JWST_CASES = json.loads((DATA / "level3_names.json").read_text(encoding="utf-8"))


def _groups(case: dict, *keys: str) -> list[list[str]]:
    return [case[key] for key in keys if case.get(key) is not None]


def _parts(case: dict) -> dict[str, str]:
    return dict(
        program=program_id(case["program"]),
        acid=case["acid"],
        target=target_id(case.get("target") or []),
        instrument="-".join(case["instrument"]),
        opt_elem=opt_elem(_groups(case, "opt_elem", "opt_elem2")),
        slit_name=slit_name(_groups(case, "fxd_slit", "fxd_slit2")),
        subarray=subarray(case.get("subarray") or []),
        exposure=exposure_part(case.get("activity_id") or []),
    )


@pytest.mark.parametrize("case", JWST_CASES, ids=lambda case: case["expected"]["default"])
def test_name_parts_match_jwst(case):
    parts = _parts(case["input"])
    expected = case["expected"]
    assert parts["opt_elem"] == expected["opt_elem"]
    assert parts["slit_name"] == expected["slit_name"]
    assert parts["subarray"] == expected["subarray"]
    assert parts["target"] == expected["target"]
    assert parts["exposure"] == expected["exposure"]


@pytest.mark.parametrize("case", JWST_CASES, ids=lambda case: case["expected"]["default"])
@pytest.mark.parametrize("template", ["default", "noopt", "sources", "wfss", "nrsfs_sources", "coronimage"])
def test_level3_names_match_jwst(case, template):
    assert level3_product_name(template, **_parts(case["input"])) == case["expected"][template]


@pytest.mark.parametrize(
    "case",
    [case for case in JWST_CASES if case["input"].get("detector") and case["input"].get("act_id")],
    ids=lambda case: case["expected"]["wfscmb"],
)
def test_wfscmb_names_match_jwst(case):
    value = case["input"]
    existing = level3_product_name("default", **_parts(value))
    name = wfscmb_product_name(existing, "-".join(value["detector"]), "-".join(value["act_id"]))
    assert name == case["expected"]["wfscmb"]


def test_fixture_reaches_the_edge_cases():
    expected = [case["expected"] for case in JWST_CASES]
    assert any(e["opt_elem"] == "clear" for e in expected)
    assert any(e["slit_name"] == "" for e in expected) and any("-" in e["slit_name"] for e in expected)
    assert any(e["subarray"] == "" for e in expected) and any(e["subarray"] for e in expected)
    assert any(e["target"] == "t000" for e in expected)
    assert len(JWST_CASES) > 50


def test_corpus_examples():
    fs = dict(program=program_id("99009"), acid="o001", target=target_id(["1"]), instrument="nirspec",
              opt_elem=opt_elem([["f100lp"], ["g140m"]]), slit_name=slit_name([[], ["s200a2"]]),
              subarray=subarray(["s200a2"]))
    assert level3_product_name("nrsfs_sources", **fs) == (
        "jw99009-o001_t001-{source_id}_nirspec_f100lp-g140m-{slit_name}-s200a2"
    )
    wfs = dict(program=program_id("747"), acid="o017", target=target_id(["2"]), instrument="nircam",
               opt_elem=opt_elem([["f212n"], ["wlm8"]]), subarray=subarray(["full"]))
    assert wfscmb_product_name(level3_product_name("default", **wfs), "nrca4", "4") == (
        "jw00747-o017_t002_nircam_f212n-wlm8-nrca4_{suffix}-04"
    )
    coron = dict(program=program_id("1234"), acid="o001", target=target_id(["1"]), instrument="nircam",
                 opt_elem=opt_elem([["F210M"], ["MASKRND"]]), subarray=subarray(["full"]))
    assert level3_product_name("coronimage", **coron) == "jw01234-o001_t001_nircam_f210m-maskrnd-image3"
    mrs = dict(program="99009", acid="o026", target="t001", instrument="miri", opt_elem="ch1-short")
    assert level3_product_name("noopt", **mrs) == "jw99009-o026_t001_miri"
    mos = dict(program="99009", acid="o002", target="t001", instrument="nirspec", opt_elem="f100lp-g140h")
    assert level3_product_name("sources", **mos) == "jw99009-o002_{source_id}_nirspec_f100lp-g140h"
    assert level3_product_name("nrsfs_sources_build10", **mos) == (
        "jw99009-o002_{source_id}_nirspec_f100lp-g140h-{slit_name}"
    )


def test_part_helpers():
    assert program_id("747") == "00747" and program_id("123456") == "123456"
    assert target_id([]) == "t000" and target_id(["12"]) == "t012" and target_id(["1234"]) == "t1234"
    assert target_id(["1", "2"]) == "t1-2"
    assert opt_elem([]) == "clear"
    assert opt_elem([["N/A"], ["null"]]) == "clear"
    assert opt_elem([["F090W"], ["CLEAR"]]) == "CLEAR-F090W"  # sorted case-insensitively, lowered later
    assert opt_elem([["f430m"], ["maskrnd", "maska430r"]]) == "f430m-maska430r-maskrnd"
    assert slit_name([["s200a2"], ["s200a1", "s200a2"]]) == "s200a1-s200a2-s200a2"
    assert slit_name([["s200a1"], ["s200a1"]]) == "s200a1"
    assert slit_name([["N/A"]]) == ""
    assert subarray(["full"]) == "" and subarray(["FULL"]) == "FULL" and subarray([]) == ""
    assert exposure_part(["2"]) == "02" and exposure_part(["null"]) == ""


def test_unknown_template_is_refused():
    with pytest.raises(RuleError, match="unknown product name template 'bogus'"):
        level3_product_name("bogus", program="1", acid="o001", target="t001", instrument="miri", opt_elem="x")
    assert set(LEVEL3_TEMPLATES) >= {"default", "noopt", "sources", "nrsfs_sources", "wfss", "coronimage"}


# -- fill_template: jwst FormatTemplate semantics ------------------------------


def test_missing_values_stay_as_placeholders():
    template = 'name="{name}" value="{value}"'
    assert fill_template(template) == template
    assert fill_template(template, name="fred", value="great") == 'name="fred" value="great"'


def test_extra_values_are_appended_in_key_order():
    template = 'name="{name}" value="{value}"'
    assert fill_template(template, value="great", zeta="z", extra="more") == 'name="{name}" value="great"_more_z'
    assert fill_template(template, name="a", value="b", extra="more", separator="---") == 'name="a" value="b"---more'


def test_none_empties_its_placeholder_and_is_not_appended():
    assert fill_template("a{b}c", b=None, d=None) == "ac"
    assert fill_template("a{b}c", b="") == "ac"
    assert fill_template("a{b}c", d="") == "a{b}c_"  # an empty extra still brings its separator


def test_key_formats():
    assert fill_template("{expspcin}", expspcin="4") == "04"
    assert fill_template("{expspcin}", expspcin="123") == "123"
    assert fill_template("{source_id}-{slit_name}", source_id="s000000001", slit_name="s200a1") == "s000000001-s200a1"
    assert fill_template("x", expspcin="4") == "x_04"  # appended values are pre-formatted too


def test_format_specs_apply_to_open_placeholders_too():
    assert fill_template("[{a:>5}]") == "[  {a}]"
    assert fill_template("[{a:>5}]", a="x") == "[    x]"
    assert render_template("{n}", {"n": 7}, key_formats={"n": ("s{:05d}", "s{:s}")}) == "s00007"
    assert render_template("{n}", {"n": "b12"}, key_formats={"n": ("s{:05d}", "s{:s}")}) == "sb12"


def test_bad_templates_are_refused():
    with pytest.raises(RuleError, match="not a plain name"):
        fill_template("{0}")
    with pytest.raises(RuleError, match="malformed"):
        fill_template("{oops")
    with pytest.raises(RuleError, match="no format"):
        render_template("{n}", {"n": "x"}, key_formats={"n": ("{:d}",)})


def test_placeholders_in_order():
    assert placeholders(LEVEL3_TEMPLATES["nrsfs_sources"]) == [
        "program", "acid", "target", "source_id", "instrument", "opt_elem", "slit_name", "subarray"
    ]
