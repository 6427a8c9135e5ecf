"""Generation into an existing folder, `asnflow diff` and `asnflow rules impact`, on corpus pools."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from asnflow.cli import main

EXAMPLE = Path(__file__).parents[1] / "examples" / "user_rules"
CANDIDATES = "pool_001_candidates"


def pool(compat_dir: Path, name: str) -> str:
    return str(compat_dir / "pools" / f"{name}.csv")


def last_line(capsys) -> str:
    return capsys.readouterr().err.splitlines()[-1]


# --------------------------------------------------------------------------- generate


def test_generating_again_leaves_unchanged_files_untouched_and_names_stale_ones(compat_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", pool(compat_dir, CANDIDATES), "-p", str(out)]) == 0
    total = len(list(out.iterdir()))
    assert last_line(capsys).endswith(f"{total} new, 0 changed, 0 unchanged")
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    assert main(["generate", pool(compat_dir, CANDIDATES), "-p", str(out)]) == 0
    assert last_line(capsys).endswith(f"0 new, 0 changed, {total} unchanged")
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps

    # One file edited by hand is changed back; the others stay as they are.
    edited = sorted(out.iterdir())[0]
    edited.write_text(edited.read_text().replace("image", "imagE", 1))
    assert main(["generate", pool(compat_dir, CANDIDATES), "-p", str(out), "-i", "o001", "-v"]) == 0
    err = capsys.readouterr().err.splitlines()
    made = {p.name for p in (compat_dir / "expected" / f"{CANDIDATES}__ids_o001_c1000").iterdir()}
    line = next(l for l in err if " new, " in l)
    assert " 0 new, " in line and f"; {total - 12} files in the folder from earlier runs were not made by this run" in line
    assert "(listed with -v; --remove-stale deletes them)" in line
    listed = {Path(l.rsplit(" ", 1)[1]).name for l in err if "not made by this run: " in l}
    assert len(listed) == total - 12 and not listed & {p.name for p in out.iterdir() if p.name.startswith("jw99009-o001")}
    assert len(made) >= 12

    assert main(["generate", pool(compat_dir, CANDIDATES), "-p", str(out), "-i", "o001", "--remove-stale"]) == 0
    assert last_line(capsys).endswith(f"0 new, 0 changed, 12 unchanged; {total - 12} files from earlier runs removed")
    assert len(list(out.iterdir())) == 12


def test_a_failed_generation_into_an_existing_folder_changes_nothing(compat_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", pool(compat_dir, CANDIDATES), "-p", str(out), "-i", "o001"]) == 0
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    broken = tmp_path / "broken.rules"
    broken.write_text("rule Broken {\n")
    assert main(["generate", pool(compat_dir, CANDIDATES), "-p", str(out), "-r", str(broken), "--remove-stale"]) == 2
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


# --------------------------------------------------------------------------- diff


def test_diff_of_equal_folders_is_empty_and_exits_0(compat_dir, tmp_path, capsys):
    expected = compat_dir / "expected" / f"{CANDIDATES}__discover"
    copy = tmp_path / "copy"
    shutil.copytree(expected, copy)
    for path in copy.iterdir():  # formatting does not count
        path.write_text(json.dumps(json.loads(path.read_text()), indent=1, sort_keys=True))
    assert main(["diff", str(expected), str(copy)]) == 0
    assert capsys.readouterr().out == "no differences\n"


def test_diff_names_added_removed_renamed_and_changed_associations(compat_dir, tmp_path, capsys):
    old = compat_dir / "expected" / f"{CANDIDATES}__ids_o001_c1000"
    new = tmp_path / "new"
    shutil.copytree(old, new)
    files = sorted(p for p in new.iterdir() if "image2" in p.name)
    removed, renamed, changed = files[0], files[1], sorted(new.glob("*image3*"))[0]
    removed.unlink()
    renamed.rename(new / renamed.name.replace("_asn", "9_asn"))
    document = json.loads(changed.read_text())
    member = document["products"][0]["members"].pop()
    document["products"][0]["name"] += "_x"
    changed.write_text(json.dumps(document))
    added = new / "jw99009-o999_image2_00001_asn.json"
    extra = json.loads((old / removed.name).read_text())
    extra["products"][0]["members"][0]["expname"] = "jw99009999001_02101_00001_nrca1_rate.fits"
    extra["products"][0]["name"] = "jw99009999001_02101_00001_nrca1"
    added.write_text(json.dumps(extra))

    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "1 added, 1 removed, 1 renamed, 1 changed"
    assert f"added    {added.name}" in out and any(l.startswith(f"removed  {removed.name}") for l in out)
    assert any(l.startswith(f"renamed  {renamed.name}") and l.endswith(renamed.name.replace("_asn", "9_asn")) for l in out)
    change = next(l for l in out if l.startswith("changed"))
    assert f"member removed: {member['expname']}" in change and "product name" in change

    assert main(["diff", str(old), str(new), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["equal"] is False and report["added"] == [added.name] and report["removed"] == [removed.name]
    assert report["changed"][0]["name"] == changed.name

    assert main(["diff", str(old / removed.name), str(old / removed.name)]) == 0
    assert main(["diff", str(old), str(tmp_path / "nowhere")]) == 2


# --------------------------------------------------------------------------- rules impact


def test_rules_impact_of_the_example_rule_file(capsys):
    rules = str(EXAMPLE / "mrs_per_band.rules")
    assert main(["rules", "impact", "-r", rules, str(EXAMPLE / "mrs_pool.csv")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "mrs_pool.csv: 2 added, 0 removed, 0 renamed, 1 changed (14 -> 16 associations)"
    assert "product name jw01523-o001_t001_miri -> jw01523-o001_t001_miri_" in out[3]
    assert out[-2:] == ["1 of 1 pools affected", "  Asn_Lv3MIRMRS: 2 added, 0 removed, 0 renamed, 1 changed"]


def test_rules_impact_on_corpus_pools_in_parallel_equals_serial(compat_dir, tmp_path, capsys):
    rules = str(EXAMPLE / "mrs_per_band.rules")
    pools = [pool(compat_dir, n) for n in ("seed_ifu_pool", "pool_006_spec_nirspec", "jw87800_20180412T163456_pool")]
    pools.append(str(EXAMPLE / "mrs_pool.csv"))
    assert main(["rules", "impact", "-r", rules, *pools, "--format", "json"]) == 1
    serial = json.loads(capsys.readouterr().out)
    assert main(["rules", "impact", "-r", rules, *pools, "--format", "json", "-j", "2"]) == 1
    assert json.loads(capsys.readouterr().out) == serial
    assert [p["pool"] for p in serial["pools"]] == [Path(p).name for p in pools]
    assert serial["affected"] == sum(not p["equal"] for p in serial["pools"]) >= 1
    unaffected = [p for p in serial["pools"] if p["pool"] == "jw87800_20180412T163456_pool.csv"][0]
    assert unaffected["equal"] and unaffected["before"] == unaffected["after"] == 12

    broken = tmp_path / "broken.rules"
    broken.write_text("rule Broken {\n")
    assert main(["rules", "impact", "-r", str(broken), *pools]) == 2
    err = capsys.readouterr().err
    assert "broken.rules" in err and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_rules_impact_with_no_change_exits_0(compat_dir, capsys, fmt):
    rules = str(EXAMPLE / "mrs_per_band.rules")  # MIRI MRS only: nothing in a NIRISS WFSS pool
    assert main(["rules", "impact", "-r", rules, pool(compat_dir, "jw87800_20180412T163456_pool"), "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "table":
        assert out.splitlines() == ["jw87800_20180412T163456_pool.csv: no change (12 associations)", "0 of 1 pools affected"]
    else:
        assert json.loads(out)["affected"] == 0
