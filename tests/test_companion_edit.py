"""asnflow edit: adding and removing members of corpus and from-list associations."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from asnflow.asnfile import files as asnfile
from asnflow.cli import main
from asnflow.companion.edit import add_members, remove_members
from asnflow.companion.members import MemberSpec

IMAGE3 = "pool_002_image_miri/jw99009-o001_image3_00001_asn.json"
SPEC2_BKG_IMPRINT = "pool_018_all_exptypes/jw99009-c1007_spec2_00001_asn.json"


def corpus_copy(compat_dir: Path, relative: str, folder: Path) -> Path:
    path = folder / Path(relative).name
    shutil.copyfile(compat_dir / "expected" / relative, path)
    return path


def three_products(folder: Path) -> Path:
    path = folder / "l2_asn.json"
    members = ["a_rate.fits", "b_rate.fits:background:g1", "c_rate.fits"]
    assert main(["from-list", "-o", str(path), "-r", "DMSLevel2bBase", "-i", "c1000", *members]) == 0
    return path


def test_add_then_remove_gives_back_the_same_bytes(compat_dir, tmp_path):
    path = corpus_copy(compat_dir, IMAGE3, tmp_path)
    original = path.read_text(encoding="utf-8")
    assert main(["edit", str(path), "add", "extra/jw99009001001_02101_00009_mirimage_cal.fits"]) == 0
    edited = asnfile.load(path)
    members = edited["products"][0]["members"]
    assert members[-1] == {"expname": "jw99009001001_02101_00009_mirimage_cal.fits", "exptype": "science"}
    assert len(members) == len(asnfile.load(compat_dir / "expected" / IMAGE3)["products"][0]["members"]) + 1

    assert main(["edit", str(path), "remove", "jw99009001001_02101_00009_mirimage_cal.fits"]) == 0
    assert path.read_text(encoding="utf-8") == original


def test_add_goes_to_every_product_once(tmp_path, capsys):
    path = three_products(tmp_path)
    assert main(["edit", str(path), "add", "bkg_x1d.fits:background:g9", "a_rate.fits"]) == 0
    products = asnfile.load(path)["products"]
    for product in products:
        assert {"expname": "bkg_x1d.fits", "exptype": "background", "group_id": "g9"} in product["members"]
    assert [len(p["members"]) for p in products] == [2, 3, 3]  # a_rate.fits was already in product a
    err = capsys.readouterr().err
    assert "a_rate.fits is already a member of product a; not added again" in err
    assert main(["edit", str(path), "add", "z_cal.fits", "-t", "psf", "-g", "g5"]) == 0
    for product in asnfile.load(path)["products"]:
        assert product["members"][-1] == {"expname": "z_cal.fits", "exptype": "psf", "group_id": "g5"}
    # group_id of the existing member is kept.
    assert products[1]["members"][0] == {"expname": "b_rate.fits", "exptype": "background", "group_id": "g1"}


def test_remove_drops_empty_products_and_warns_about_unknown_names(tmp_path, capsys):
    path = three_products(tmp_path)
    assert main(["edit", str(path), "remove", "b_rate.fits", "zz_rate.fits"]) == 0
    asn = asnfile.load(path)
    assert [p["name"] for p in asn["products"]] == ["a", "c"]
    err = capsys.readouterr().err
    assert "warning: not found in the association: zz_rate.fits" in err
    assert "b_rate.fits" not in err


def test_remove_ignoring_the_suffix(compat_dir, tmp_path):
    path = corpus_copy(compat_dir, SPEC2_BKG_IMPRINT, tmp_path)
    asn = asnfile.load(path)
    background = next(m for m in asn["products"][0]["members"] if m["exptype"] == "background")
    root = background["expname"].rsplit("_", 1)[0]
    result = remove_members(asn, [root + "_uncal.fits"])
    assert result.association == asn and result.warnings
    result = remove_members(asn, [root + "_uncal.fits"], ignore_suffix=True)
    assert not result.warnings
    remaining = [m["exptype"] for m in result.association["products"][0]["members"]]
    assert sorted(remaining) == ["imprint", "science"]


def test_output_file_leaves_the_input_alone_and_can_change_format(compat_dir, tmp_path):
    path = corpus_copy(compat_dir, IMAGE3, tmp_path)
    original = path.read_bytes()
    out = tmp_path / "edited_asn.yaml"
    assert main(["edit", str(path), "add", "new_cal.fits", "-o", str(out)]) == 0
    assert path.read_bytes() == original
    assert not out.read_text(encoding="utf-8").lstrip().startswith("{")
    assert asnfile.load(out)["products"][0]["members"][-1]["expname"] == "new_cal.fits"


def test_yaml_stays_yaml_in_place(compat_dir, tmp_path):
    path = tmp_path / "image3_asn.yaml"
    path.write_text(asnfile.dumps(asnfile.load(compat_dir / "expected" / IMAGE3), "yaml"), encoding="utf-8")
    assert main(["edit", str(path), "add", "new_cal.fits:psf"]) == 0
    text = path.read_text(encoding="utf-8")
    assert "  - expname: new_cal.fits\n    exptype: psf" in text
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_library_functions_do_not_change_their_input(tmp_path):
    asn = asnfile.load(three_products(tmp_path))
    before = asnfile.dumps(asn)
    add_members(asn, [MemberSpec("x_rate.fits")])
    remove_members(asn, ["a_rate.fits"])
    assert asnfile.dumps(asn) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["remove", "a_rate.fits", "-t", "background"], "only apply to add"),
        (["add", "x.fits", "--ignore-suffix"], "only applies to remove"),
        (["add", "x.fits:Bad"], "not a member exptype"),
    ],
)
def test_refusals(tmp_path, capsys, args, message):
    path = three_products(tmp_path)
    before = path.read_bytes()
    assert main(["edit", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert path.read_bytes() == before


def test_broken_association_names_line_and_column(tmp_path, capsys):
    path = tmp_path / "broken_asn.json"
    path.write_text('{\n    "products": [\n        {"members": [],}\n    ]\n}', encoding="utf-8")
    assert main(["edit", str(path), "add", "x.fits"]) == 2
    assert capsys.readouterr().err.startswith(f"{path}:3:")
