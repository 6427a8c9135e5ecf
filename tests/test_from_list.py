"""asnflow from-list against files written once by jwst 3.0.0's asn_from_list."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from asnflow import __version__
from asnflow.asnfile import files as asnfile
from asnflow.cli import main
from asnflow.companion.from_list import from_list, level2_product_name
from asnflow.companion.members import MemberSpec, parse_member
from asnflow.errors import InputError

FIXTURES = Path(__file__).parent / "data" / "from_list"


def jwst_cases() -> list[tuple[str, list[str]]]:
    cases = []
    for line in (FIXTURES / "cases.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, args = line.split("\t")
            cases.append((name, shlex.split(args)))
    return cases


def given_acid(args: list[str]) -> str | None:
    return args[args.index("-i") + 1] if "-i" in args else None


@pytest.mark.parametrize(("name", "args"), jwst_cases(), ids=[name for name, _ in jwst_cases()])
def test_same_file_as_asn_from_list(tmp_path, capsys, name, args):
    out = tmp_path / f"{name}.json"
    assert main(["from-list", "-o", str(out), *args]) == 0
    ours_text = out.read_text(encoding="utf-8")
    theirs_text = (FIXTURES / "expected" / f"{name}.json").read_text(encoding="utf-8")
    ours, theirs = json.loads(ours_text), json.loads(theirs_text)

    assert ours["code_version"] == __version__
    acid = given_acid(args)
    if acid is not None:
        # jwst ignores -i and keeps a3001; asnflow writes the id it was given.
        assert theirs["asn_id"] == "a3001"
        assert ours["asn_id"] == acid
        theirs["asn_id"] = acid
    theirs["code_version"] = ours["code_version"]
    assert list(ours) == list(theirs)
    assert ours == theirs
    # Formatting too: the same bytes once the masked values agree.
    assert ours_text == asnfile.dumps(theirs)


def test_level2_product_names_drop_known_suffixes_only():
    assert level2_product_name("jw1_nrca1_rate.fits") == "jw1_nrca1"
    assert level2_product_name("sub/jw1_nrca1-rateints.fits") == "sub/jw1_nrca1"
    assert level2_product_name("jw1_nrca1_CAL.fits") == "jw1_nrca1_CAL"
    assert level2_product_name("plain.fits") == "plain"


def test_level2_background_acid_needs_a_background_member(tmp_path, capsys):
    out = tmp_path / "bkg_asn.json"
    assert main(["from-list", "-o", str(out), "-r", "DMSLevel2bBase", "-i", "c1000", "sci_rate.fits"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "background candidate c1000 has no background member" in err
    assert not out.exists()

    members = ["sci_rate.fits", "bkg_rate.fits:background"]
    assert main(["from-list", "-o", str(out), "-r", "DMSLevel2bBase", "-i", "c1000", *members]) == 0
    asn = asnfile.load(out)
    assert asn["asn_id"] == "c1000"
    assert [p["members"][0]["exptype"] for p in asn["products"]] == ["science", "background"]
    assert [p["name"] for p in asn["products"]] == ["sci", "bkg"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a_cal.fits"], "needs a product name"),
        (["--product-name", "p", "a_cal.fits:background"], "no member has exptype science"),
        (["-r", "DMSLevel2bBase", "-i", "x12", "a_rate.fits"], "invalid association id 'x12'"),
        (["-r", "DMSLevel2bBase", "-i", "a3001", "a_rate.fits"], "invalid association id 'a3001'"),
        (["-r", "NoSuchRule", "--product-name", "p", "a_cal.fits"], "unknown rule 'NoSuchRule'"),
        (["--product-name", "p", "a_cal.fits:Science"], "not a member exptype"),
        (["--product-name", "p", "data/:science"], "no file name"),
        (["--product-name", "p", "a_cal.fits:science:g 1"], "not a usable group_id"),
        (["--product-name", "p", "a:b:c:d"], "too many ':'"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "x_asn.json"
    assert main(["from-list", "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_exptypes_and_group_ids(tmp_path):
    out = tmp_path / "grouped_asn.json"
    args = ["--product-name", "m", "-g", "g0", "a_cal.fits", "b_cal.fits::g1", "c_cal.fits:psf", "d_cal.fits:science:g2"]
    assert main(["from-list", "-o", str(out), *args]) == 0
    members = asnfile.load(out)["products"][0]["members"]
    assert members == [
        {"expname": "a_cal.fits", "exptype": "science", "group_id": "g0"},
        {"expname": "b_cal.fits", "exptype": "science", "group_id": "g1"},
        {"expname": "c_cal.fits", "exptype": "psf", "group_id": "g0"},
        {"expname": "d_cal.fits", "exptype": "science", "group_id": "g2"},
    ]


def test_colons_in_folders_are_not_member_fields():
    assert parse_member("run:2/a_cal.fits") == MemberSpec("run:2/a_cal.fits")
    assert parse_member("run:2/a_cal.fits:background:g") == MemberSpec("run:2/a_cal.fits", "background", "g")


def test_yaml_output_reads_back_as_the_json_one(tmp_path):
    members = ["a_rate.fits", "b_rate.fits"]
    assert main(["from-list", "-o", str(tmp_path / "a.yaml"), "-r", "DMSLevel2bBase", *members]) == 0
    assert main(["from-list", "-o", str(tmp_path / "a.json"), "-r", "DMSLevel2bBase", *members]) == 0
    assert not (tmp_path / "a.yaml").read_text(encoding="utf-8").lstrip().startswith("{")
    assert asnfile.load(tmp_path / "a.yaml") == asnfile.load(tmp_path / "a.json")


def test_python_api_takes_pairs_and_specs():
    asn = from_list([("a_cal.fits", "science"), MemberSpec("b_cal.fits", "background", "g1")], product_name="p", acid="c1001")
    assert asn["asn_id"] == "c1001"
    assert asn["products"][0]["members"][1] == {"expname": "b_cal.fits", "exptype": "background", "group_id": "g1"}
    asnfile.validate(asn)
    with pytest.raises(InputError, match="no files"):
        from_list([], product_name="p")
