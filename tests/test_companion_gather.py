"""asnflow gather on associations from the parity corpus and from from-list."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from asnflow.asnfile import files as asnfile
from asnflow.cli import main
from asnflow.companion.gather import gather
from asnflow.errors import InputError

CORON3 = "mega_pool/jw10005-c1015_coron3_00001_asn.json"  # science, psf, target_acquisition
SPEC2_BKG_IMPRINT = "pool_018_all_exptypes/jw99009-c1007_spec2_00001_asn.json"


def member_names(asn: dict) -> list[str]:
    return [member["expname"] for product in asn["products"] for member in product["members"]]


def stage_association(compat_dir: Path, relative: str, folder: Path) -> Path:
    """Copy a corpus association into ``folder`` with a small distinct file per member."""
    folder.mkdir(parents=True, exist_ok=True)
    source = compat_dir / "expected" / relative
    asn_path = folder / source.name
    shutil.copyfile(source, asn_path)
    for name in set(member_names(asnfile.load(asn_path))):
        (folder / name).write_bytes(f"data of {name}\n".encode())
    return asn_path


def test_gather_copies_members_and_writes_the_same_association(compat_dir, tmp_path, capsys):
    asn_path = stage_association(compat_dir, CORON3, tmp_path / "src")
    original = asnfile.load(asn_path)
    assert main(["gather", str(asn_path), "-o", str(tmp_path / "dst")]) == 0
    dst = tmp_path / "dst"
    names = set(member_names(original))
    assert {p.name for p in dst.iterdir()} == names | {asn_path.name}
    for name in names:
        assert (dst / name).read_bytes() == (tmp_path / "src" / name).read_bytes()
    # Nothing filtered and the names were already bare: the same bytes.
    assert (dst / asn_path.name).read_text(encoding="utf-8") == asn_path.read_text(encoding="utf-8")
    assert f"{len(names)} file(s) copied" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("keep", "drop", "expected_types"),
    [
        (None, ["target_acquisition"], {"science", "psf"}),
        (["psf"], [], {"psf"}),
        (["science", "psf"], ["psf"], {"science"}),
    ],
)
def test_exptype_selection(compat_dir, tmp_path, keep, drop, expected_types):
    asn_path = stage_association(compat_dir, CORON3, tmp_path / "src")
    result = gather(asn_path, tmp_path / "dst", exp_types=keep, exclude_types=drop)
    gathered = asnfile.load(result.association)
    types = {m["exptype"] for p in gathered["products"] for m in p["members"]}
    assert types == expected_types
    copied = {p.name for p in tmp_path.joinpath("dst").iterdir()} - {asn_path.name}
    assert copied == set(member_names(gathered))
    original = asnfile.load(asn_path)
    untouched = {k: v for k, v in original.items() if k != "products"}
    assert {k: v for k, v in gathered.items() if k != "products"} == untouched


def test_products_left_empty_are_dropped(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a_rate.fits", "b_rate.fits", "c_rate.fits"):
        (src / name).write_text(name)
    members = ["a_rate.fits", "b_rate.fits:background", "c_rate.fits"]
    assert main(["from-list", "-o", str(src / "l2_asn.json"), "-r", "DMSLevel2bBase", "-i", "c1000", *members]) == 0
    result = gather(src / "l2_asn.json", tmp_path / "dst", exclude_types=["background"])
    gathered = asnfile.load(result.association)
    assert [p["name"] for p in gathered["products"]] == ["a", "c"]
    assert not (tmp_path / "dst" / "b_rate.fits").exists()
    with pytest.raises(InputError, match="no members left"):
        gather(src / "l2_asn.json", tmp_path / "dst2", exp_types=["imprint"])
    assert not (tmp_path / "dst2").exists() or not any((tmp_path / "dst2").iterdir())


def test_missing_members_stop_everything_unless_allowed(compat_dir, tmp_path, capsys):
    asn_path = stage_association(compat_dir, SPEC2_BKG_IMPRINT, tmp_path / "src")
    names = member_names(asnfile.load(asn_path))
    (tmp_path / "src" / names[1]).unlink()
    (tmp_path / "src" / names[2]).unlink()

    assert main(["gather", str(asn_path), "-o", str(tmp_path / "dst")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "2 member file(s) not found" in err
    assert names[1] in err and names[2] in err
    assert "nothing was copied" in err
    assert not (tmp_path / "dst").exists()

    assert main(["gather", str(asn_path), "-o", str(tmp_path / "dst"), "--allow-missing"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("warning: member file not found") == 2
    assert {p.name for p in (tmp_path / "dst").iterdir()} == {names[0], asn_path.name}
    # The association keeps every member; only the files could not be copied.
    assert member_names(asnfile.load(tmp_path / "dst" / asn_path.name)) == names


def test_paths_in_members_become_bare_names_and_group_ids_stay(tmp_path):
    asn_folder = tmp_path / "asn"
    (asn_folder / "sub").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (asn_folder / "sub" / "a_cal.fits").write_text("a")
    (elsewhere / "b_cal.fits").write_text("b")
    (asn_folder / "sub" / "b_cal.fits").write_text("b")
    members = ["sub/a_cal.fits::g1", "sub/b_cal.fits::g2"]
    assert main(["from-list", "-o", str(asn_folder / "m_asn.json"), "--product-name", "m", *members]) == 0

    result = gather(asn_folder / "m_asn.json", tmp_path / "dst")
    gathered = asnfile.load(result.association)
    assert gathered["products"][0]["members"] == [
        {"expname": "a_cal.fits", "exptype": "science", "group_id": "g1"},
        {"expname": "b_cal.fits", "exptype": "science", "group_id": "g2"},
    ]
    assert (tmp_path / "dst" / "a_cal.fits").read_text() == "a"
    assert (tmp_path / "dst" / "b_cal.fits").read_text() == "b"


@pytest.mark.parametrize("outside", ["absolute", "../elsewhere/b_cal.fits"])
def test_members_outside_the_source_folder_are_refused(tmp_path, outside):
    asn_folder = tmp_path / "asn"
    asn_folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b_cal.fits").write_text("b")
    member = str(elsewhere / "b_cal.fits") if outside == "absolute" else outside
    assert main(["from-list", "-o", str(asn_folder / "m_asn.json"), "--product-name", "m", member]) == 0
    with pytest.raises(InputError, match="expname .*(an absolute path|climbs out)"):
        gather(asn_folder / "m_asn.json", tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def test_source_folder_option(compat_dir, tmp_path):
    data = tmp_path / "data"
    asn_path = stage_association(compat_dir, CORON3, data)
    asn_elsewhere = tmp_path / "asns" / asn_path.name
    asn_elsewhere.parent.mkdir()
    shutil.move(asn_path, asn_elsewhere)
    with pytest.raises(InputError, match="not found"):
        gather(asn_elsewhere, tmp_path / "dst")
    result = gather(asn_elsewhere, tmp_path / "dst", source_folder=data)
    assert len(result.copied) == len(set(member_names(asnfile.load(asn_elsewhere))))
    with pytest.raises(InputError, match="source folder not found"):
        gather(asn_elsewhere, tmp_path / "dst", source_folder=tmp_path / "nope")


def test_a_second_gather_skips_up_to_date_files(compat_dir, tmp_path):
    asn_path = stage_association(compat_dir, CORON3, tmp_path / "src")
    first = gather(asn_path, tmp_path / "dst")
    assert first.copied and not first.up_to_date
    second = gather(asn_path, tmp_path / "dst")
    assert not second.copied and len(second.up_to_date) == len(first.copied)
    changed = tmp_path / "src" / first.copied[0].name
    changed.write_bytes(b"a longer, newer content\n")
    os.utime(changed, (first.copied[0].stat().st_mtime + 10,) * 2)
    third = gather(asn_path, tmp_path / "dst")
    assert [p.name for p in third.copied] == [changed.name]
    assert (tmp_path / "dst" / changed.name).read_bytes() == changed.read_bytes()


def test_gathering_into_the_members_own_folder(compat_dir, tmp_path):
    asn_path = stage_association(compat_dir, CORON3, tmp_path / "src")
    result = gather(asn_path, tmp_path / "src")
    assert not result.copied
    assert asnfile.load(asn_path) == asnfile.load(result.association)


def test_two_members_with_one_file_name_are_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    for folder in ("x", "y"):
        (tmp_path / folder / "a_cal.fits").write_text(folder)
    assert main(["from-list", "-o", str(tmp_path / "m_asn.json"), "--product-name", "m", "x/a_cal.fits", "y/a_cal.fits"]) == 0
    with pytest.raises(InputError, match="same file a_cal.fits"):
        gather(tmp_path / "m_asn.json", tmp_path / "dst")


def test_yaml_association_is_gathered_as_yaml(compat_dir, tmp_path):
    asn_path = stage_association(compat_dir, CORON3, tmp_path / "src")
    yaml_path = asn_path.with_suffix(".yaml")
    yaml_path.write_text(asnfile.dumps(asnfile.load(asn_path), "yaml"), encoding="utf-8")
    result = gather(yaml_path, tmp_path / "dst")
    text = result.association.read_text(encoding="utf-8")
    assert not text.lstrip().startswith("{")
    assert asnfile.load(result.association) == asnfile.load(asn_path)


def test_bad_association_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad_asn.json"
    bad.write_text(json.dumps({"products": [{"members": [{"expname": "a.fits"}]}]}))
    assert main(["gather", str(bad), "-o", str(tmp_path / "dst")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}: error: not a valid level2b association: at $.products[0].members[0]")
    assert err.count("\n") == 1
