"""Naming against the parity corpus: every name jwst wrote parses, and asnflow rebuilds it."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from asnflow.errors import InputError
from asnflow.naming import (
    ExposureName,
    ProductName,
    asn_file_stem,
    level2_product_name,
    level2a_member_name,
    level2b_member_name,
    level3_product_name,
    parse_asn_file_name,
    parse_name,
    wfscmb_product_name,
)

# Test pools name their exposures jw_00001_uncal.fits: not DMS names.
NON_DMS_NAME = re.compile(r"jw_[0-9]{5}(_[a-z0-9]+)?(\.fits)?")
LEVEL3_TYPES = {"image3", "spec3", "coron3", "ami3", "tso3", "wfs-image3"}


@dataclass(frozen=True)
class AsnFile:
    folder: str
    path: Path
    data: dict

    @property
    def level3(self) -> bool:
        return self.data["asn_type"] in LEVEL3_TYPES


@pytest.fixture(scope="module")
def asn_files(compat_dir: Path) -> list[AsnFile]:
    files = [
        AsnFile(path.parent.name, path, json.loads(path.read_text()))
        for path in sorted((compat_dir / "expected").glob("*/*.json"))
    ]
    assert len(files) > 500
    return files


def all_members(files: list[AsnFile]):
    for asn in files:
        for product in asn.data["products"]:
            for member in product["members"]:
                yield asn, product, member


def test_every_member_name_parses_or_is_a_test_pool_name(asn_files):
    names = {member["expname"] for _asn, _product, member in all_members(asn_files)}
    refused = set()
    for name in names:
        try:
            parsed = parse_name(name)
        except InputError as exc:
            assert name in exc.one_line()
            refused.add(name)
            continue
        assert isinstance(parsed, ExposureName | ProductName)
        assert str(parsed) == name
    assert refused == {name for name in names if NON_DMS_NAME.fullmatch(name)}
    assert len(refused) < len(names)


def test_dms_exposure_members_have_their_fields(asn_files):
    exposures = [
        parse_name(member["expname"])
        for _asn, _product, member in all_members(asn_files)
        if not NON_DMS_NAME.fullmatch(member["expname"])
    ]
    exposures = [name for name in exposures if isinstance(name, ExposureName)]
    assert len(exposures) > 100
    for name in exposures:
        assert name.extension == ".fits"
        assert name.suffix in {"rate", "rateints", "cal", "calints", "x1d", "x1dints"}
        assert len(name.visit_id) == 11 and name.visit_id.isdigit()


def test_level3_product_names_parse_to_the_file_program_and_asn_id(asn_files):
    seen = 0
    for asn in asn_files:
        if not asn.level3:
            continue
        for product in asn.data["products"]:
            parsed = parse_name(product["name"])
            assert isinstance(parsed, ProductName), product["name"]
            assert parsed.acid == asn.data["asn_id"]
            assert parsed.program == asn.data["program"]
            assert str(parsed) == product["name"]
            seen += 1
    assert seen > 300


def test_level3_templates_rebuild_every_corpus_product_name(asn_files):
    templates_seen = set()
    for asn in asn_files:
        if not asn.level3:
            continue
        for product in asn.data["products"]:
            name = product["name"]
            parsed = parse_name(name)
            template = parsed.template
            templates_seen.add(template)
            parts = dict(
                program=parsed.program,
                acid=parsed.acid,
                target=parsed.target,
                instrument=parsed.instrument,
                opt_elem="-".join(parsed.optical_elements),
                slit_name=parsed.slit,
                subarray=parsed.subarray,
            )
            if template == "wfscmb":
                existing = level3_product_name("default", **parts)
                rebuilt = wfscmb_product_name(existing, parsed.detector, parsed.activity)
            else:
                rebuilt = level3_product_name(template, **parts)
            assert rebuilt == name
    assert templates_seen >= {"default", "noopt", "sources", "nrsfs_sources", "coronimage", "wfscmb"}


def test_level2_product_names_are_the_first_science_member(asn_files):
    checked = 0
    for asn in asn_files:
        if asn.level3:
            continue
        for product in asn.data["products"]:
            science = [m["expname"] for m in product["members"] if m["exptype"] == "science"]
            assert product["name"] == level2_product_name(science[0])
            checked += 1
    assert checked > 1000


def test_association_file_names_follow_the_stem(asn_files):
    for asn in asn_files:
        parsed = parse_asn_file_name(asn.path.name)
        assert parsed is not None, asn.path.name
        expected = asn_file_stem(
            asn.data["program"], asn.data["asn_id"], asn.data["asn_type"], parsed.sequence, asn.data["version_id"]
        )
        assert asn.path.name == expected + ".json"
        assert str(parsed) == asn.path.name


def _pool_exposure_types(pool: Path) -> dict[str, set[str]]:
    """filename -> exp_type values in a pool (lower-cased, as jwst reads pools)."""
    types: dict[str, set[str]] = defaultdict(set)
    with pool.open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter="|"):
            row = {key.lower(): value.lower() for key, value in row.items()}
            types[row["filename"]].add(row["exp_type"])
    return types


def test_member_names_are_the_pool_files_renamed(asn_files, compat_dir):
    by_folder: dict[str, list[AsnFile]] = defaultdict(list)
    for asn in asn_files:
        by_folder[asn.folder].append(asn)
    checked = 0
    for folder, files in by_folder.items():
        pool = compat_dir / "pools" / f"{folder}.csv"
        if not pool.exists():  # the extra cases of cases.tsv share pools with default runs
            continue
        exp_types = _pool_exposure_types(pool)
        for asn, _product, member in all_members(files):
            if "exposerr" not in member:  # WFSS catalog members are built, not renamed
                continue
            name = member["expname"]
            stem, extension = name.rsplit("_", 1)[0], name[name.index(".") :]
            raw = f"{stem}_uncal{extension}"
            assert raw in exp_types, name
            if asn.level3:
                candidates = {
                    level2b_member_name(
                        raw, exp_type=exp_type, member_exptype=member["exptype"], integrations=integrations
                    )
                    for exp_type in exp_types[raw]
                    for integrations in (False, True)
                }
            else:
                candidates = {level2a_member_name(raw, integrations) for integrations in (False, True)}
            assert name in candidates
            checked += 1
    assert checked > 3000
