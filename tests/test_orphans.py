"""``asnflow generate --orphans``: exposures in no association, each with a one-line reason.

The orphans are checked against the files jwst 3.0.0 wrote for the corpus
pools (an exposure no written association lists), and each kind of reason
against the engine: a rule said not to take an exposure really rejects it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from asnflow import __version__
from asnflow.cli import main
from asnflow.constraints.nodes import Attempt
from asnflow.diagnose.orphans import find_orphans, format_orphans
from asnflow.diagnose.trace import passes_of
from asnflow.engine.association import Association, RunState
from asnflow.engine.generate import DISCOVER_REGISTRY, Options, generate
from asnflow.engine.session import rule_set
from asnflow.pool.read import read_pool

NEAREST = re.compile(r"nearest rule (?P<rule>\w+): .+ \[(?P<file>\w+\.rules):(?P<line>\d+):(?P<column>\d+)\]$")


@pytest.fixture(scope="module")
def rules():
    return rule_set()


def _root(name: str) -> str:
    return name.rsplit(".", 1)[0].rsplit("_", 1)[0]


def _jwst_orphans(compat_dir: Path, pool_name: str, pool) -> set[str]:
    listed = set()
    for path in (compat_dir / "expected" / pool_name).glob("*_asn.json"):
        for product in json.loads(path.read_text())["products"]:
            listed.update(_root(m["expname"]) for m in product["members"])
    return {name for name in pool.column("filename") if _root(name) not in listed}


POOLS = ["pool_018_all_exptypes", "pool_033_wfs_jitter", "pool_010_spec_nirspec_lv2bkg", "pool_008_exposerr",
         "seed_ifu_pool", "seed_fs2_pool", "cover_nrslamp_pool", "pool_007_spec_miri", "pool_002_image_miri"]


@pytest.mark.parametrize("pool_name", POOLS)
def test_orphans_are_the_exposures_jwst_left_out(pool_name, compat_dir, rules):
    pool = read_pool(compat_dir / "pools" / f"{pool_name}.csv")
    result = generate(pool, rules)
    orphans = find_orphans(pool, rules, result=result)
    assert {o.filename for o in orphans} == _jwst_orphans(compat_dir, pool_name, pool)
    run = RunState(vocab=rules.vocab, pool_name=pool.name, code_version=__version__, columns=tuple(pool.columns))
    rows: dict = {}
    for row in _rows(pool):
        rows.setdefault(row.filename, row)  # an orphan is reported at its first row
    for orphan in orphans:
        assert orphan.reason and "\n" not in orphan.reason
        row = rows[orphan.filename]
        assert orphan.line == row.line and orphan.exp_type == row.get("exp_type")
        nearest = NEAREST.match(orphan.reason)
        if orphan.reason.startswith("no rule takes exp_type "):
            # the engine agrees: no rule takes it, in discovery
            for rule in rules.rules:
                assert not _engine_takes(rule, row, run), (orphan.filename, rule.name)
        elif nearest:
            rule = rules.rule(nearest["rule"])
            assert not _engine_takes(rule, row, run), orphan.reason
            source = next(f for f in rules.files if Path(f.path).name == nearest["file"]).lines
            assert int(nearest["line"]) <= len(source)
        else:
            assert orphan.reason.startswith("its "), orphan.reason
            named = orphan.reason.split()[1]
            assert any(a.rule.name == named and orphan.filename in a.filenames for a in result.created)


def _rows(pool):
    from asnflow.constraints.rows import Row

    columns = {name: i for i, name in enumerate(pool.columns)}
    return [Row(values, columns, line) for values, line in zip(pool.rows, pool.lines)]


def _engine_takes(rule, row, run) -> bool:
    matched, _ = rule.root.check(Attempt(Association(rule, DISCOVER_REGISTRY, run, None, rule.root), row))
    return matched


def test_reasons_of_known_orphans(compat_dir, rules):
    pool = read_pool(compat_dir / "pools" / "pool_018_all_exptypes.csv")
    reasons = {o.exp_type: o.reason for o in find_orphans(pool, rules)}
    assert reasons["mir_flatmrs"] == "no rule takes exp_type mir_flatmrs"
    assert reasons["nrs_lamp"].startswith('nearest rule Asn_Lv2NRSLAMPImage: grating is "g140m"; the rule wants ~ '
                                          '"mirror" [level2b.rules:')
    assert reasons["nrc_wfss"] == "its Asn_Lv2WFSSNRC spec2 association of o002 was dropped by finalize (wfss_catalogs)"
    # NIRSpec fixed slit on a detector that gets no light: the detector-validity table decides
    fs = find_orphans(read_pool(compat_dir / "pools" / "seed_fs2_pool.csv"), rules)
    assert fs and all(o.reason.startswith("nearest rule Asn_Lv2NRSFSS: `nrsfss_valid_detector` is false") for o in fs)
    # WFS&C line-of-sight jitter images stop at level 1b
    jitter = find_orphans(read_pool(compat_dir / "pools" / "pool_033_wfs_jitter.csv"), rules)
    assert jitter and all('dms_note is "wfsc_los_jitter"' in o.reason for o in jitter)


def test_rows_outside_the_generated_candidates(compat_dir, rules):
    pool = read_pool(compat_dir / "pools" / "pool_001_candidates.csv")
    orphans = find_orphans(pool, rules, Options(ids=("o001",)))
    outside = [o for o in orphans if o.reason == "in none of the candidates generated (o001)"]
    cells = dict(zip(pool.column("filename"), pool.column("asn_candidate")))
    assert outside and all("o001" not in cells[o.filename] for o in outside)
    assert all("o001" in cells[o.filename] for o in orphans if o not in outside)


def test_generate_writes_the_orphan_file(compat_dir, tmp_path, capsys):
    pool = compat_dir / "pools" / "pool_018_all_exptypes.csv"
    listing = tmp_path / "orphans.tsv"
    out = tmp_path / "out"
    assert main(["generate", str(pool), "-p", str(out), "--orphans", str(listing)]) == 0
    err = capsys.readouterr().err
    lines = listing.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "pool\tfilename\tline\texp_type\treason"
    assert f"{len(lines) - 1} orphaned exposures listed in {listing}" in err
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(row) == 5 and row[0] == "pool_018_all_exptypes.csv" for row in rows)
    expected = _jwst_orphans(compat_dir, "pool_018_all_exptypes", read_pool(pool))
    assert {row[1] for row in rows} == expected
    # the associations themselves are the same with and without --orphans
    plain = tmp_path / "plain"
    assert main(["generate", str(pool), "-p", str(plain), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in plain.iterdir())
    # JSON for a .json name, also with --dry-run
    as_json = tmp_path / "orphans.json"
    assert main(["generate", str(pool), "--dry-run", "-q", "--orphans", str(as_json)]) == 0
    records = json.loads(as_json.read_text(encoding="utf-8"))
    assert [r["filename"] for r in records] == [row[1] for row in rows]
    assert set(records[0]) == {"pool", "filename", "line", "exp_type", "reason"}


def test_orphans_come_from_the_run_that_wrote_the_files_not_a_second_one(compat_dir, tmp_path, monkeypatch):
    from asnflow.engine import generate as generation
    from asnflow.engine import session

    pools = [compat_dir / "pools" / name for name in ("pool_018_all_exptypes.csv", "seed_fs2_pool.csv")]
    runs = []
    real_generate = session.generate

    def counted(*args, **kwargs):
        runs.append(args[0].name)
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(session, "generate", counted)
    monkeypatch.setattr(generation, "generate", counted)  # where a diagnostic would run generation itself
    one = tmp_path / "one.tsv"
    assert main(["generate", str(pools[0]), "-p", str(tmp_path / "a"), "-q", "--orphans", str(one)]) == 0
    assert runs == ["pool_018_all_exptypes.csv"]
    # several pools in worker processes: each worker diagnoses its own run; the listing is the serial one
    serial, forked = tmp_path / "serial.tsv", tmp_path / "forked.tsv"
    base = ["generate", *map(str, pools), "-q", "--dry-run", "--orphans"]
    assert main([*base, str(serial), "-j", "1"]) == 0
    assert main([*base, str(forked), "-j", "2"]) == 0
    assert forked.read_bytes() == serial.read_bytes()
    assert {line.split("\t")[0] for line in serial.read_text().splitlines()[1:]} == {p.name for p in pools}


def test_no_orphan_file_when_generation_fails(compat_dir, tmp_path, capsys):
    listing = tmp_path / "orphans.tsv"
    bad = compat_dir / "bad_pools" / "jw93060_20150312T160130_pool.csv"
    assert main(["generate", str(bad), "--dry-run", "--orphans", str(listing)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert not listing.exists()


def test_format_keeps_each_orphan_on_one_line(compat_dir, rules):
    pool = read_pool(compat_dir / "pools" / "seed_ifu_pool.csv")
    orphans = find_orphans(pool, rules)
    text = format_orphans(orphans)
    assert len(text.splitlines()) == len(orphans) + 1


def test_passes_follow_the_generator(compat_dir, rules):
    pool = read_pool(compat_dir / "pools" / "pool_001_candidates.csv")
    result = generate(pool, rules, Options(ids=("o003", "c1000")))
    row = next(r for r in _rows(pool) if "c1000" in r.get("asn_candidate") and "o003" in r.get("asn_candidate"))
    views = passes_of(row, result, discover=False)
    assert [v.label for v in views] == ["candidate o003", "candidate c1000"]
    # each pass sees the candidate cell the generator gives its rows
    assert [v.row.get("asn_candidate") for v in views] == ["[('o003', 'observation')]", "[('c1000', 'mosaic')]"]
    with_discovery = passes_of(row, generate(pool, rules), discover=True)
    assert with_discovery[-1].label == "discovery" and with_discovery[-1].row is row
