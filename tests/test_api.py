"""The Python API: ``asnflow.generate``, ``asnflow.write`` and ``asnflow.load``.

What the API makes must be exactly what ``asnflow generate`` writes, and
everything it refuses is an :class:`asnflow.errors.AsnflowError` subclass
naming the file.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import asnflow
from asnflow.errors import (
    AsnflowError,
    AssociationFileError,
    InputError,
    PoolError,
    RuleError,
)
from asnflow.pool.read import read_pool

POOLS = Path(__file__).parent / "data" / "compat" / "pools"
MIRI = POOLS / "pool_002_image_miri.csv"


@pytest.fixture(autouse=True)
def _rule_cache_in_a_temporary_folder(monkeypatch, tmp_path_factory):
    """Parsed rule files are cached between runs (also by the commands started here): not in the home folder."""
    monkeypatch.setenv("ASNFLOW_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rule-cache"))


def cli_output(tmp_path: Path, pool: Path, *extra: str) -> dict[str, bytes]:
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "asnflow", "generate", str(pool), "-p", str(out), "-q", *extra],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return {p.name: p.read_bytes() for p in out.iterdir()}


@pytest.mark.parametrize(("pool", "extra", "options"), [
    ("pool_018_all_exptypes", (), {}),
    ("pool_010_spec_nirspec_lv2bkg", ("--DMS", "-i", "o003", "--version-id", "v1"),
     {"dms": True, "ids": ["o003"], "version_id": "v1"}),
    ("pool_021_tso", ("--merge", "--no-finalize"), {"merge": True, "finalize": False}),
    ("pool_001_candidates", ("--discover",), {"discover": True}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_generate_and_write_equal_the_command(pool, extra, options, tmp_path):
    path = POOLS / f"{pool}.csv"
    written = asnflow.write(asnflow.generate(path, **options), tmp_path / "api")
    api = {p.name: p.read_bytes() for p in written}
    assert sorted(p.name for p in (tmp_path / "api").iterdir()) == sorted(api)
    assert api == cli_output(tmp_path, path, *extra)


def test_associations_are_dicts_with_a_name():
    asns = asnflow.generate(MIRI)
    assert len(asns) == 9
    first = asns[0]
    assert isinstance(first, dict) and isinstance(first, asnflow.Association)
    assert first.name == "jw99009-o001_image2_00001_asn"
    assert first.rule == "Asn_Lv2Image"
    assert first["asn_rule"] == "candidate_Asn_Lv2Image"
    assert list(first) == ["asn_type", "asn_rule", "version_id", "code_version", "degraded_status", "program",
                           "constraints", "asn_id", "asn_pool", "target", "products"]
    assert json.loads(json.dumps(first)) == dict(first)  # plain JSON data
    assert [a.name for a in asns].count(first.name) == 1


def test_pool_as_text_path_or_pool_object():
    as_path = asnflow.generate(MIRI)
    assert asnflow.generate(str(MIRI)) == as_path
    assert asnflow.generate(read_pool(MIRI)) == as_path
    assert [a.name for a in asnflow.generate(read_pool(MIRI))] == [a.name for a in as_path]


def test_delimiter(tmp_path):
    rows = [line.split("|") for line in MIRI.read_text(encoding="utf-8").splitlines()]
    comma = tmp_path / MIRI.name  # the same name: asn_pool holds it
    with open(comma, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)  # quotes the candidate cells, which hold commas
    assert asnflow.generate(comma, delimiter=",") == asnflow.generate(MIRI)


def test_version_id_true_stamps_the_names():
    asns = asnflow.generate(MIRI, version_id=True)
    stamps = {a["version_id"] for a in asns}
    assert len(stamps) == 1
    (stamp,) = stamps
    assert len(stamp) == 15 and stamp[8] == "t" and stamp.replace("t", "").isdigit()
    assert all(a.name.startswith(f"jw99009-o001_{stamp}_") for a in asns)


def test_user_rules_and_ignore_default(tmp_path):
    rules = tmp_path / "one.rules"
    rules.write_text('rule Asn_Mine "one image3 per filter" {\n    level 3\n    asn_type image3\n'
                     "    pin program = program\n    pin instrument = instrume\n    pin target = targetid\n"
                     "    pin opt_elem = filter\n}\n")
    only = asnflow.generate(MIRI, rules=[rules], ignore_default=True, ids=["o001"])
    assert {a["asn_rule"] for a in only} == {"candidate_Asn_Mine"}
    both = asnflow.generate(MIRI, rules=[str(rules)], ids=["o001"])
    assert {"candidate_Asn_Mine", "candidate_Asn_Lv2Image"} <= {a["asn_rule"] for a in both}


# ---------------------------------------------------------------- write and load


def test_write_then_load_round_trip(tmp_path):
    asns = asnflow.generate(MIRI)
    paths = asnflow.write(asns, tmp_path / "out")
    assert [p.name for p in paths] == [a.name + ".json" for a in asns]
    for asn, path in zip(asns, paths):
        assert asnflow.load(path) == dict(asn)
    yaml_paths = asnflow.write(asns, tmp_path / "yaml", fmt="yaml")
    assert all(p.suffix == ".yaml" for p in yaml_paths)
    assert [asnflow.load(p) for p in yaml_paths] == [dict(a) for a in asns]


def test_load_reads_what_jwst_wrote(compat_dir):
    path = next(iter(sorted((compat_dir / "expected" / "pool_002_image_miri").iterdir())))
    assert asnflow.load(path) == json.loads(path.read_text())


def test_write_plain_dicts_gets_jwst_file_names(tmp_path):
    asns = [dict(a) for a in asnflow.generate(MIRI) if a["asn_type"] == "image2"][:3]
    paths = asnflow.write(asns, tmp_path)
    assert [p.name for p in paths] == [f"jw99009-o001_image2_0000{n}_asn.json" for n in (1, 2, 3)]


def test_write_is_all_or_nothing(tmp_path):
    asns = asnflow.generate(MIRI)
    broken = asnflow.Association(dict(asns[3]), asns[3].name)
    del broken["products"]
    with pytest.raises(AssociationFileError, match="products"):
        asnflow.write([*asns[:3], broken, *asns[4:]], tmp_path / "out")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_write_refuses_a_name_outside_the_folder(tmp_path):
    asn = asnflow.generate(MIRI)[0]
    escaping = asnflow.Association(dict(asn), "../escaped")
    with pytest.raises(InputError, match="not a plain file name"):
        asnflow.write([escaping], tmp_path / "out")
    assert list(tmp_path.rglob("*escaped*")) == []


def test_write_into_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(InputError, match="not a folder") as info:
        asnflow.write(asnflow.generate(MIRI), tmp_path / "taken")
    assert info.value.path == str(tmp_path / "taken")
    assert (tmp_path / "taken").read_text() == "x"


# ---------------------------------------------------------------- errors


def test_pool_errors_are_pool_errors(tmp_path):
    with pytest.raises(PoolError) as info:
        asnflow.generate(tmp_path / "missing.csv")
    assert isinstance(info.value, AsnflowError)
    assert info.value.path == str(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("FILENAME|PROGRAM|EXP_TYPE|ASN_CANDIDATE\njw1_uncal.fits|1|nrc_image|os.system('x')\n")
    with pytest.raises(PoolError) as info:
        asnflow.generate(bad)
    assert (info.value.line, info.value.column) == (2, 4)


def test_rule_errors_are_rule_errors(tmp_path):
    broken = tmp_path / "broken.rules"
    broken.write_text('rule Asn_X "x" {\n    level 3\n    asn_type image3\n    use nosuch\n}\n')
    with pytest.raises(RuleError) as info:
        asnflow.generate(MIRI, rules=[broken])
    assert (info.value.path, info.value.line, info.value.column) == (str(broken), 4, 9)


@pytest.mark.parametrize("with_file", [False, True], ids=["no rule files", "a file without rules"])
def test_no_rules_at_all(tmp_path, with_file):
    """ignore_default without rule files, or with a file holding no rule: no associations or an AsnflowError."""
    rules = []
    if with_file:
        rules = [tmp_path / "fragments.rules"]
        rules[0].write_text("fragment lonely {\n    pin a = filter\n}\n")
    try:
        assert asnflow.generate(MIRI, rules=rules, ignore_default=True) == []
    except AsnflowError as error:
        assert "rules" in error.message


@pytest.mark.parametrize(("text", "where"), [
    (None, ""),
    ("{\n  \"asn_type\": \"image3\",,\n}", ":2:"),
    ('{"asn_type": "image3"}', ""),
    ("[1, 2]", ""),
    ("\0\1", ""),
])
def test_load_errors_are_association_file_errors(tmp_path, text, where):
    path = tmp_path / "asn.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(AssociationFileError) as info:
        asnflow.load(path)
    assert info.value.one_line().startswith(f"{path}{where}")


def test_exclusive_modes_are_refused():
    with pytest.raises(ValueError, match="mutually exclusive"):
        asnflow.generate(MIRI, ids=["o001"], discover=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        asnflow.generate(MIRI, discover=True, all_candidates=True)
