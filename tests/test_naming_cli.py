"""``asnflow name``: parse, source-id, fill."""

from __future__ import annotations

import json
import re

from asnflow.cli import main
from asnflow.config import load_config

EXPOSURE = "jw01234001001_02101_00001_nrca1_uncal.fits"
PRODUCT = "jw99009-o001_t001-{source_id}_nirspec_f100lp-g140m-{slit_name}-s200a2"
ASSOCIATION = "jw99009-o001_20250316t033413_image2_00001_asn.json"
ROW = re.compile(r"  (?P<label>\S(?:.*?\S)?) {2,}(?P<value>\S.*)")


def test_parse_prints_aligned_fields(capsys):
    assert main(["name", "parse", EXPOSURE, PRODUCT, ASSOCIATION]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    blocks = out.strip().split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == [EXPOSURE, PRODUCT, ASSOCIATION]
    for block in blocks:
        rows = [ROW.fullmatch(line) for line in block.splitlines()[1:]]
        assert all(rows), block
        assert len({row.start("value") for row in rows}) == 1  # values start in one column
    exposure = {row["label"]: row["value"] for row in map(ROW.fullmatch, blocks[0].splitlines()[1:])}
    assert exposure["kind"] == "exposure" and exposure["detector"] == "nrca1" and exposure["visit group"] == "02"
    assert exposure["segment"] == "-"
    product = {row["label"]: row["value"] for row in map(ROW.fullmatch, blocks[1].splitlines()[1:])}
    assert product["association id"] == "o001" and product["source id"] == "{source_id}"
    assert product["optical elements"] == "f100lp g140m" and product["slit"] == "{slit_name}"
    association = {row["label"]: row["value"] for row in map(ROW.fullmatch, blocks[2].splitlines()[1:])}
    assert association["association type"] == "image2" and association["version id"] == "20250316t033413"


def test_parse_json(capsys):
    assert main(["name", "parse", "--json", PRODUCT, EXPOSURE]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [record["name"] for record in records] == [PRODUCT, EXPOSURE]
    assert records[0]["kind"] == "product" and records[0]["acid"] == "o001" and records[0]["program"] == "99009"
    assert records[0]["template"] == "nrsfs_sources" and records[0]["optical_elements"] == ["f100lp", "g140m"]
    assert records[1]["kind"] == "exposure" and records[1]["exposure"] == "00001"


def test_parse_refuses_non_dms_names_but_prints_the_others(capsys):
    assert main(["name", "parse", "--json", "jw_00001_uncal.fits", EXPOSURE, "jw01234-o001_t001_foo"]) == 2
    out, err = capsys.readouterr()
    assert [record["name"] for record in json.loads(out)] == [EXPOSURE]
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("jw_00001_uncal.fits: error: not a DMS exposure or product file name")
    assert lines[1].startswith("jw01234-o001_t001_foo: error:") and "'foo' is not an instrument" in lines[1]
    assert "Traceback" not in err


def test_source_id(capsys):
    assert main(["name", "source-id", "S200A2", "--primary", "S200A1"]) == 0
    assert main(["name", "source-id", "s200a1", "--primary", "s400a1"]) == 0
    assert main(["name", "source-id", "S400A1", "--primary", "S400A1"]) == 0
    assert capsys.readouterr().out.split() == ["12", "31", "1"]


def test_source_id_refuses_unknown_slits(capsys):
    assert main(["name", "source-id", "S999", "--primary", "S200A1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "'S999' is not a NIRSpec fixed slit" in err


def test_fill_profiles(capsys):
    name = "jw01234-o003_t001-{source_id}_nirspec_f100lp-g140h-{slit_name}"
    assert main(["name", "fill", name, "--source-id", "1", "--slit", "S200A1", "S200A2", "--naming", "jwst-3.0"]) == 0
    assert main(["name", "fill", name, "--source-id", "31", "--slit", "S200A1", "--naming", "build10"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "jw01234-o003_t001-s000000001_nirspec_f100lp-g140h-s200a1-s200a2",
        "jw01234-o003_t001-s00031_nirspec_f100lp-g140h-s200a1",
    ]


def test_fill_defaults_to_the_configured_profile(capsys):
    digits = {"jwst-3.0": 9, "build10": 5}[load_config().naming_profile]
    assert main(["name", "fill", "x_{source_id}", "--source-id", "7"]) == 0
    assert capsys.readouterr().out.strip() == "x_s" + "7".rjust(digits, "0")


def test_fill_refuses_unknown_profiles(capsys):
    assert main(["name", "fill", "x_{source_id}", "--source-id", "7", "--naming", "jwst-9"]) == 2
    assert "unknown naming profile 'jwst-9'" in capsys.readouterr().err
