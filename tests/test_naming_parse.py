"""Parsing and formatting exposure, product and association file names; ACIDs; timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from asnflow.errors import InputError
from asnflow.naming import (
    ACID,
    ExposureName,
    ProductName,
    asn_file_stem,
    format_exposure_name,
    parse_asn_file_name,
    parse_name,
    timestamp,
)


def test_exposure_fields():
    name = parse_name("jw93065002001_0210a_00003-seg002_nrcblong_rateints.fits")
    assert isinstance(name, ExposureName)
    assert (name.program, name.observation, name.visit) == ("93065", "002", "001")
    assert (name.visit_group, name.parallel_sequence, name.activity) == ("02", "1", "0a")
    assert (name.exposure, name.segment, name.detector) == ("00003", "002", "nrcblong")
    assert (name.suffix, name.extension, name.path) == ("rateints", ".fits", "")
    assert name.visit_id == "93065002001"


def test_level2_product_names_parse_as_exposures_without_suffix():
    name = parse_name("out/jw01234001001_02101_00001_nrs1")
    assert isinstance(name, ExposureName)
    assert (name.suffix, name.extension, name.path, name.detector) == ("", "", "out/", "nrs1")


def test_underscored_suffix_is_one_suffix():
    name = parse_name("jw01234001001_02101_00001_mirifushort_residual_fringe.fits")
    assert (name.detector, name.suffix) == ("mirifushort", "residual_fringe")


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("jw99009-o001_t001-{source_id}_nirspec_f100lp-g140m-{slit_name}-s200a2",
         dict(target="t001", source_id="{source_id}", optical_elements=("f100lp", "g140m"),
              slit="{slit_name}", subarray="s200a2", template="nrsfs_sources")),
        ("jw01234-o001_t001-s000000001_nirspec_f290lp-g395h-s200a1-s200a2-allslits_x1d.fits",
         dict(source_id="s000000001", slit="s200a1-s200a2", subarray="allslits", suffix="x1d", extension=".fits")),
        ("jw01234-o003_s00031_nirspec_f100lp-g140h-s200a1",
         dict(target="", source_id="s00031", slit="s200a1", template="sources")),
        ("jw99009-o155_t001_nirspec_f100lp-g140m-s200a2-s200a2",  # a slit never repeats: the second is the subarray
         dict(slit="s200a2", subarray="s200a2", template="default")),
        ("jw00747-o017_t002_nircam_f212n-wlm8-sub96dhspila-nrca1_{suffix}-02",
         dict(optical_elements=("f212n", "wlm8"), subarray="sub96dhspila", detector="nrca1",
              suffix="{suffix}", activity="02", template="wfscmb")),
        ("jw01234-o001_t001_nircam_f210m-maskrnd-image3",
         dict(optical_elements=("f210m", "maskrnd"), image3=True, template="coronimage")),
        ("jw10005-c1028_t003_nircam_f430m-maskrnd-maska430r_psfstack.fits",
         dict(acid="c1028", optical_elements=("f430m", "maskrnd"), subarray="maska430r", suffix="psfstack")),
        ("jw01234-o001_t001_nircam_f444w-grismr-subgrism256",
         dict(optical_elements=("f444w", "grismr"), subarray="subgrism256")),
        ("jw01234-o001_t001_niriss_clear-gr700xd-sub17stripe_soss_x1dints.fits",
         dict(optical_elements=("clear", "gr700xd"), subarray="sub17stripe_soss", suffix="x1dints")),
        ("jw99009-o026_t001_miri", dict(optical_elements=(), suffix="", template="noopt")),
        ("jw99009-o026_t001_miri_s3d.fits", dict(optical_elements=(), suffix="s3d", template="noopt")),
        ("jw87600-a3001_t001_niriss_f480m-nrm_ami-oi.fits", dict(acid="a3001", suffix="ami-oi", activity="")),
        ("jw01237-o001_t001_nircam_clear-f322w2_segm.fits", dict(suffix="segm", extension=".fits")),
        ("jw01234-o001_t001-epoch2_nircam_clear-f200w_i2d.fits", dict(target="t001", epoch="2")),
        ("jw01234-o002_b000000012_nirspec_clear-prism_s2d.fits", dict(target="", source_id="b000000012")),
    ],
)
def test_product_fields(text, fields):
    name = parse_name(text)
    assert isinstance(name, ProductName)
    for key, value in fields.items():
        assert getattr(name, key) == value, key
    assert str(name) == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("jw_00001_uncal.fits", "not a DMS exposure or product file name"),
        ("jw_00001", "not a DMS exposure or product file name"),
        ("notes.txt", "not a DMS exposure or product file name"),
        ("jw1234500100_02101_00001_nrca1_uncal.fits", "not a DMS exposure or product file name"),
        ("jw01234-o001", "the target and instrument are missing"),
        ("jw01234-o001_x001_nircam_clear", "'x001' is not a target"),
        ("jw01234-o001_t001_nircom_clear", "'nircom' is not an instrument"),
        ("jw01234-o001_t001_nircam_clear--f200w", "empty element"),
        ("jw01234-o001x_t001_nircam_clear", "is not jwPPPPP-ACID"),
        ("jw01234o001_t001_nircam_clear", "not a DMS exposure or product file name"),
    ],
)
def test_other_names_are_refused_with_one_line(text, why):
    with pytest.raises(InputError) as caught:
        parse_name(text)
    line = caught.value.one_line()
    assert line.startswith(f"{text}: error: ") and why in line and "\n" not in line


def test_format_exposure_name_from_parts_pads_numbers():
    text = format_exposure_name(
        program=1234, observation=1, visit=1, visit_group=2, parallel_sequence=1, activity="a",
        exposure=3, detector="nrca1", suffix="uncal", extension=".fits",
    )
    assert text == "jw01234001001_0210a_00003_nrca1_uncal.fits"
    assert parse_name(text) == ExposureName("01234", "001", "001", "02", "1", "0a", "00003", "nrca1",
                                            "uncal", ".fits")


def test_format_exposure_name_replaces_parts():
    parsed = parse_name("dir/jw01234001001_02101_00001-seg001_nrs1_uncal.fits")
    assert format_exposure_name(parsed, suffix="cal") == "dir/jw01234001001_02101_00001-seg001_nrs1_cal.fits"
    assert format_exposure_name(parsed, suffix="", extension="", path="") == "jw01234001001_02101_00001-seg001_nrs1"


@pytest.mark.parametrize(
    "changes",
    [dict(program=123456), dict(observation="1a"), dict(activity="abc"), dict(detector="nrc a1"),
     dict(extension="fits"), dict(segment="1234"), dict(colour="red")],
)
def test_format_exposure_name_refuses_parts_that_do_not_fit(changes):
    parsed = parse_name("jw01234001001_02101_00001_nrs1_uncal.fits")
    with pytest.raises(InputError):
        format_exposure_name(parsed, **changes)


def test_format_exposure_name_needs_every_part():
    with pytest.raises(InputError, match="missing: .*detector"):
        format_exposure_name(program=1, observation=1, visit=1, visit_group=1, parallel_sequence=1,
                             activity=1, exposure=1)


# -- association file names, ACIDs, timestamps --------------------------------


def test_asn_file_stems():
    assert asn_file_stem("00009", "o167", "image3", 1) == "jw00009-o167_image3_00001_asn"
    assert asn_file_stem("99009", "o001", "image2", 1, "20250316t033413") == (
        "jw99009-o001_20250316t033413_image2_00001_asn"
    )
    assert asn_file_stem("10005", ACID("a3001", "discovered"), "coron3", 6) == "jw10005-a3001_coron3_00006_asn"
    assert asn_file_stem("noprogram", "o999", "None", 1, "") == "jwnoprogram-o999_none_00001_asn"
    assert asn_file_stem("00001", "O001", "Image3", 123456, "MyTestId") == "jw00001-o001_mytestid_image3_123456_asn"


def test_asn_file_names_parse():
    parsed = parse_asn_file_name("out/jw99009-o001_20250316t033413_tso-spec2_00012_asn.json")
    assert parsed is not None
    assert (parsed.program, parsed.acid, parsed.version_id) == ("99009", "o001", "20250316t033413")
    assert (parsed.asn_type, parsed.sequence, parsed.extension, parsed.path) == ("tso-spec2", 12, ".json", "out/")
    assert parse_asn_file_name("jw00009-o167_image3_00001_asn").version_id is None
    assert parse_asn_file_name("jw01234001001_02101_00001_nrs1_uncal.fits") is None


def test_acid_parse():
    assert ACID.parse("('o001', 'observation')") == ACID("o001", "observation")
    assert ACID.parse(" ['c1000', 'group'] ") == ACID("c1000", "group")
    assert str(ACID.parse("('a3001', 'discovered')")) == "a3001"


@pytest.mark.parametrize("text", ["o001", "('o001',)", "('o001', 'a', 'b')", "(1, 2)", "__import__('os')", ""])
def test_acid_parse_refuses_other_text(text):
    with pytest.raises(InputError, match="is not an association candidate"):
        ACID.parse(text)


def test_timestamp():
    moment = datetime(2025, 3, 16, 3, 34, 13, tzinfo=UTC)
    assert timestamp(moment) == "20250316t033413"
    assert timestamp(moment.astimezone(timezone(timedelta(hours=-5)))) == "20250316t033413"
    assert timestamp(datetime(2025, 3, 16, 3, 34, 13)) == "20250316t033413"  # naive: taken as UTC
    now = timestamp()
    assert len(now) == 15 and now[8] == "t" and (now[:8] + now[9:]).isdigit()
