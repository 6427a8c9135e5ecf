"""``asnflow generate`` as a new user meets it: real subprocesses in a fresh folder.

Every refusal must be exactly one line on stderr that names the file (and
line/column where there is one), exit status 2, no traceback, nothing on
stdout, and no file left behind: the test compares the whole working folder
before and after, so a created ``-p`` folder, a staging leftover or a file
that escaped the output folder all fail it. Pools that only look unusual
(gzip, a byte-order mark, CRLF line ends, a comma delimiter) must give the
same files as jwst gives for the plain pool.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
POOLS = DATA / "compat" / "pools"
CORPUS_BAD_POOL = DATA / "compat" / "bad_pools" / "jw93060_20150312T160130_pool.csv"
MASKED_LINE = re.compile(r'^(\s*"(?:code_version|constraints)": )"(?:[^"\\]|\\.)*"(,?)$', re.MULTILINE)

HEADER = "FILENAME|PROGRAM|EXP_TYPE|ASN_CANDIDATE|TARGETID"
GOOD_ROW = "jw01234001001_01101_00001_nrca1_uncal.fits|1234|NRC_IMAGE|[('o001', 'observation')]|1"
EVIL_CELL = "__import__('os').system('touch pwned')"


@pytest.fixture(scope="session")
def rule_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rule-cache")


@pytest.fixture
def cli(rule_cache):
    """Run ``python -m asnflow ARGS`` in ``cwd`` with the rule cache kept out of the home folder."""

    def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
        env = dict(os.environ, ASNFLOW_CACHE_DIR=str(rule_cache))
        return subprocess.run([sys.executable, "-m", "asnflow", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300, check=False)

    return run


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its content (None for folders)."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


def pool_text(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join((header, *rows)) + "\n").encode("utf-8")


def masked(text: str) -> str:
    return MASKED_LINE.sub(r'\1"..."\2', text)


def assert_one_line_refusal(proc: subprocess.CompletedProcess, location: str, message: str) -> None:
    """Exit 2 and exactly one stderr line: ``LOCATION: error: ...MESSAGE...``."""
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.match(location + r": error: ", lines[0]), lines[0]
    assert message in lines[0], lines[0]


# ---------------------------------------------------------------- refusals


@dataclass(frozen=True)
class Refusal:
    """A run that must be refused: files to create, arguments, where and what the error says."""

    files: dict[str, bytes]
    args: tuple[str, ...]
    location: str  # a regular expression for the place the line starts with
    message: str
    folders: tuple[str, ...] = ()


def _pool_refusal(content: bytes, location: str, message: str) -> Refusal:
    return Refusal({"pool.csv": content}, ("pool.csv", "-p", "out"), "pool.csv" + location, message)


def _missing_column(column: str) -> Refusal:
    names = HEADER.split("|")
    keep = [i for i, name in enumerate(names) if name != column]
    header = "|".join(names[i] for i in keep)
    row = "|".join(GOOD_ROW.split("|")[i] for i in keep)
    return _pool_refusal(pool_text(row, header=header), ":1", f"missing required column {column}")


def _bad_cell(position: int, value: str) -> bytes:
    cells = GOOD_ROW.split("|")
    cells[position] = value
    return pool_text(GOOD_ROW, "|".join(cells))


REFUSALS = {
    "missing file": Refusal({}, ("nosuch.csv", "-p", "out"), "nosuch.csv", "pool file not found"),
    "a folder": Refusal({}, ("apool", "-p", "out"), "apool", "is a folder", folders=("apool",)),
    "empty file": _pool_refusal(b"", "", "empty"),
    "blank lines only": _pool_refusal(b"\n  \n\n", "", "empty"),
    "only comments": _pool_refusal(b"# a pool\n# with no header\n", "", "only comments"),
    "rows without a header": _pool_refusal(pool_text(GOOD_ROW, header=GOOD_ROW), ":1", "missing required columns"),
    "NUL byte": _pool_refusal(pool_text(GOOD_ROW + "\0"), r":2:\d+", "NUL"),
    "FITS file": _pool_refusal(b"SIMPLE  =                    T" + b"\0" * 50, r":1:\d+", "NUL"),
    "not UTF-8": _pool_refusal(pool_text(GOOD_ROW).replace(b"NRC_IMAGE", b"NRC_\xe9MAGE"), r":2:\d+", "not UTF-8"),
    "UTF-16": _pool_refusal(pool_text(GOOD_ROW).decode().encode("utf-16"), ":1:1", "UTF-16"),
    "corrupt gzip": _pool_refusal(gzip.compress(pool_text(GOOD_ROW))[:-12], "", "gzip"),
    "more cells than the header": _pool_refusal(pool_text(GOOD_ROW + "|x"), ":2:6", "row has 6 cells"),
    "fewer cells than the header": _pool_refusal(pool_text(GOOD_ROW.rsplit("|", 1)[0]), ":2:5", "row has 4 cells"),
    "short third row": _pool_refusal(pool_text(GOOD_ROW, GOOD_ROW, "a|b"), ":4:3", "row has 2 cells"),
    "duplicate column": _pool_refusal(pool_text(GOOD_ROW + "|2", header=HEADER + "|program"), ":1:6",
                                      "duplicate column PROGRAM"),
    "no FILENAME column": _missing_column("FILENAME"),
    "no PROGRAM column": _missing_column("PROGRAM"),
    "no EXP_TYPE column": _missing_column("EXP_TYPE"),
    "no ASN_CANDIDATE column": _missing_column("ASN_CANDIDATE"),
    "corpus pool without ASN_CANDIDATE": Refusal(
        {"jw93060_pool.csv": CORPUS_BAD_POOL.read_bytes()}, ("jw93060_pool.csv", "-p", "out"),
        "jw93060_pool.csv:1", "missing required column ASN_CANDIDATE"),
    "empty FILENAME": _pool_refusal(_bad_cell(0, ""), ":3:1", "FILENAME is empty"),
    "NULL FILENAME": _pool_refusal(_bad_cell(0, "NULL"), ":3:1", "FILENAME is empty"),
    "PROGRAM with letters": _pool_refusal(_bad_cell(1, "12a4"), ":3:2", "PROGRAM '12a4' is not a positive integer"),
    "PROGRAM zero": _pool_refusal(_bad_cell(1, "0000"), ":3:2", "is not a positive integer"),
    "PROGRAM negative": _pool_refusal(_bad_cell(1, "-5"), ":3:2", "is not a positive integer"),
    "PROGRAM with a path": _pool_refusal(_bad_cell(1, "../1234"), ":3:2", "is not a positive integer"),
    "ASN_CANDIDATE code": _pool_refusal(_bad_cell(3, EVIL_CELL), ":3:4", "ASN_CANDIDATE"),
    "ASN_CANDIDATE code after a list": _pool_refusal(
        _bad_cell(3, f"[('o001', 'observation')] + [{EVIL_CELL}]"), ":3:4", "ASN_CANDIDATE"),
    "ASN_CANDIDATE lambda": _pool_refusal(_bad_cell(3, f"(lambda: {EVIL_CELL})()"), ":3:4", "ASN_CANDIDATE"),
    "ASN_CANDIDATE one-element tuple": _pool_refusal(_bad_cell(3, "[('o001',)]"), ":3:4", "ASN_CANDIDATE"),
    "ASN_CANDIDATE number in a pair": _pool_refusal(_bad_cell(3, "[('o001', 1)]"), ":3:4", "ASN_CANDIDATE"),
    "ASN_CANDIDATE dict": _pool_refusal(_bad_cell(3, "{'o001': 'observation'}"), ":3:4", "ASN_CANDIDATE"),
    "ASN_CANDIDATE unclosed": _pool_refusal(_bad_cell(3, "[('o001', 'observation')"), ":3:4", "ASN_CANDIDATE"),
    "open quote": _pool_refusal(_bad_cell(2, '"nrc_image'), ":3:3", "quoted value is not closed"),
    "second pool bad": Refusal(
        {"good.csv": pool_text(GOOD_ROW), "bad.csv": pool_text(GOOD_ROW + "|x")},
        ("good.csv", "bad.csv", "-p", "out"), "bad.csv:2:6", "row has 6 cells"),
    "bad delimiter": Refusal({"pool.csv": pool_text(GOOD_ROW)}, ("pool.csv", "-p", "out", "-d", "ab"),
                             "pool.csv", "cannot use 'ab' as the column delimiter"),
    "wrong delimiter": Refusal({"pool.csv": pool_text(GOOD_ROW)}, ("pool.csv", "-p", "out", "-d", ","),
                               "pool.csv:1", "missing required columns"),
    # rule files given with -r
    "rule file syntax": Refusal(
        {"pool.csv": pool_text(GOOD_ROW), "broken.rules": b'rule Asn_Broken "x" {\n    level 3\n    pin a =\n}\n'},
        ("pool.csv", "-p", "out", "-r", "broken.rules"), r"broken\.rules:3:\d+", "unexpected"),
    "rule file unknown fragment": Refusal(
        {"pool.csv": pool_text(GOOD_ROW),
         "unknown.rules": b'rule Asn_U "x" {\n    level 3\n    asn_type image3\n    use no_such_fragment\n}\n'},
        ("pool.csv", "-p", "out", "-r", "unknown.rules"), r"unknown\.rules:4:9", "no_such_fragment"),
    "rule file missing": Refusal({"pool.csv": pool_text(GOOD_ROW)}, ("pool.csv", "-p", "out", "-r", "nosuch.rules"),
                                 r"nosuch\.rules", "not found"),
    "rule file is a folder": Refusal({"pool.csv": pool_text(GOOD_ROW)}, ("pool.csv", "-p", "out", "-r", "rdir"),
                                     "rdir", "folder", folders=("rdir",)),
    "rule file binary": Refusal({"pool.csv": pool_text(GOOD_ROW), "bin.rules": b"rule \0\1\2"},
                                ("pool.csv", "-p", "out", "-r", "bin.rules"), r"bin\.rules", "NUL"),
    "rule file not UTF-8": Refusal({"pool.csv": pool_text(GOOD_ROW), "latin.rules": b"# caf\xe9\nrule"},
                                   ("pool.csv", "-p", "out", "-r", "latin.rules"), r"latin\.rules:1", "UTF-8"),
    "ignore-default without -r": Refusal({"pool.csv": pool_text(GOOD_ROW)},
                                         ("pool.csv", "-p", "out", "--ignore-default"), "asnflow",
                                         "--ignore-default leaves no rules"),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_refusal_is_one_line_and_leaves_nothing(case: Refusal, cli, tmp_path):
    for name, content in case.files.items():
        (tmp_path / name).write_bytes(content)
    for name in case.folders:
        (tmp_path / name).mkdir()
    before = snapshot(tmp_path)
    proc = cli(["generate", *case.args], tmp_path)
    assert_one_line_refusal(proc, case.location, case.message)
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "pwned").exists()


def test_candidate_cells_are_never_evaluated(cli, tmp_path):
    """Code in ASN_CANDIDATE is refused as data on every row it is on, and never run."""
    rows = [GOOD_ROW.replace("[('o001', 'observation')]", cell) for cell in (
        "[('o001', 'observation')]",
        EVIL_CELL.replace("pwned", "pwned1"),
        f"[x for x in ()] or {EVIL_CELL.replace('pwned', 'pwned2')}",
    )]
    for n, row in enumerate(rows[1:], start=1):
        (tmp_path / f"p{n}.csv").write_bytes(pool_text(rows[0], row))
        proc = cli(["generate", f"p{n}.csv", "-p", "out"], tmp_path)
        assert_one_line_refusal(proc, f"p{n}.csv:3:4", "is not a list of (id, type) pairs")
    assert not list(tmp_path.glob("pwned*"))


# ---------------------------------------------------------------- command-line mistakes


@pytest.mark.parametrize("modes", [("-i", "o001", "--discover"), ("--discover", "--all-candidates"),
                                   ("--all-candidates", "-i", "o001")], ids=" ".join)
def test_exclusive_modes_are_a_usage_error(modes, cli, tmp_path):
    (tmp_path / "pool.csv").write_bytes(pool_text(GOOD_ROW))
    before = snapshot(tmp_path)
    proc = cli(["generate", "pool.csv", "-p", "out", *modes], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: asnflow generate")
    assert re.search(r"error: argument (-i/--ids|--discover|--all-candidates): not allowed with argument",
                     proc.stderr.splitlines()[-1])
    assert "Traceback" not in proc.stderr
    assert snapshot(tmp_path) == before


def test_output_path_that_is_a_file(cli, tmp_path):
    (tmp_path / "pool.csv").write_bytes(POOLS.joinpath("pool_002_image_miri.csv").read_bytes())
    (tmp_path / "taken").write_text("keep me")
    before = snapshot(tmp_path)
    proc = cli(["generate", "pool.csv", "-p", "taken"], tmp_path)
    assert_one_line_refusal(proc, "taken", "output path exists and is not a folder")
    assert snapshot(tmp_path) == before


def test_output_path_below_a_file(cli, tmp_path):
    (tmp_path / "pool.csv").write_bytes(POOLS.joinpath("pool_002_image_miri.csv").read_bytes())
    (tmp_path / "taken").write_text("keep me")
    before = snapshot(tmp_path)
    proc = cli(["generate", "pool.csv", "-p", "taken/out"], tmp_path)
    assert_one_line_refusal(proc, "taken/out", "output folder")
    assert snapshot(tmp_path) == before


def test_rule_file_without_rules_and_ignore_default(cli, tmp_path):
    (tmp_path / "pool.csv").write_bytes(pool_text(GOOD_ROW))
    (tmp_path / "fragments.rules").write_text("fragment lonely {\n    pin a = filter\n}\n")
    before = snapshot(tmp_path)
    proc = cli(["generate", "pool.csv", "-p", "out", "-r", "fragments.rules", "--ignore-default"], tmp_path)
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:  # refused: no rules to run
        assert_one_line_refusal(proc, "(asnflow|fragments.rules)", "rule")
        assert snapshot(tmp_path) == before
    else:  # or ran and found nothing
        assert proc.returncode == 0
        assert not list(tmp_path.glob("out/*"))


# ---------------------------------------------------------------- nothing outside the output folder


def _corpus_pool_with(old: str = "", new: str = "") -> bytes:
    """pool_002 (one observation candidate, o001), with ``old`` replaced by ``new``."""
    text = POOLS.joinpath("pool_002_image_miri.csv").read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new).encode("utf-8") if old else text.encode("utf-8")


def _two_candidates(new_id: str) -> bytes:
    """pool_002 with its last rows moved from candidate o001 to ``new_id``."""
    lines = POOLS.joinpath("pool_002_image_miri.csv").read_text(encoding="utf-8").splitlines()
    moved = [line.replace("('o001', 'observation')", f"('{new_id}', 'observation')") for line in lines[5:]]
    return ("\n".join(lines[:5] + moved) + "\n").encode("utf-8")


# Each bad name is refused where it enters (LOCATION: the pool cell, the option, the rule file).
ESCAPES = {
    "candidate id ../../x": ({"pool.csv": _corpus_pool_with("('o001'", "('../../x'")}, (), r"pool\.csv:\d+:\d+"),
    "candidate id ../../../../x beside o001": ({"pool.csv": _two_candidates("../../../../x")}, (),
                                               r"pool\.csv:\d+:\d+"),
    "candidate id with a slash": ({"pool.csv": _corpus_pool_with("('o001'", "('o001/x'")}, (), r"pool\.csv:\d+:\d+"),
    "candidate id ..": ({"pool.csv": _corpus_pool_with("('o001'", "('..'")}, (), r"pool\.csv:\d+:\d+"),
    "candidate type with a path": ({"pool.csv": _corpus_pool_with("'observation'", "'../../obs'")}, (), None),
    "version id with a path": ({"pool.csv": _corpus_pool_with()}, ("--version-id", "../../../v"), "asnflow"),
    "asn_type with a path": (
        {"pool.csv": _corpus_pool_with(),
         "evil.rules": b'rule Asn_Evil "x" {\n    level 3\n    asn_type "../../../evil"\n'
                       b'    pin program = program\n}\n'},
        ("-r", "evil.rules", "--ignore-default"),
        r"evil\.rules:3:\d+",
    ),
}


@pytest.mark.parametrize(("files", "extra", "location"), ESCAPES.values(), ids=ESCAPES.keys())
def test_no_file_lands_outside_the_output_folder(files, extra, location, cli, tmp_path):
    work = tmp_path / "a" / "b" / "c" / "d"  # deep enough that any ../ stays inside tmp_path
    work.mkdir(parents=True)
    for name, content in files.items():
        (work / name).write_bytes(content)
    before = snapshot(tmp_path)
    proc = cli(["generate", "pool.csv", "-p", "out", *extra], work)
    assert "Traceback" not in proc.stderr
    after = snapshot(tmp_path)
    new = sorted(set(after) - set(before))
    out = str((work / "out").relative_to(tmp_path))
    # Every new path is the output folder or a plain file directly inside it.
    assert all(path == out or (Path(path).parent == Path(out) and not path.endswith(".."))
               for path in new), new
    assert {k: v for k, v in after.items() if k in before} == before
    if proc.returncode == 0:
        for path in new:
            if path != out:
                name = Path(path).name
                assert name.startswith("jw") and name.endswith("_asn.json") and "/" not in name, path
    else:
        assert_one_line_refusal(proc, location, "not a plain file name")
        assert new == []


def test_unusual_candidate_type_is_kept_as_data(cli, tmp_path):
    """A candidate type with path characters does not reach a file name; the run is safe."""
    (tmp_path / "pool.csv").write_bytes(_corpus_pool_with("'observation'", "'../../obs'"))
    proc = cli(["generate", "pool.csv", "-p", "out"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["jw99009-o001_image3_00001_asn.json"]  # level 2 needs an observation candidate


# ---------------------------------------------------------------- pools that only look unusual


def _comma_separated(text: str) -> bytes:
    rows = [line.split("|") for line in text.splitlines() if line.strip()]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)  # quotes the cells holding commas
    return buffer.getvalue().encode("utf-8")


def _tab_separated(text: str) -> bytes:
    return text.replace("|", "\t").encode("utf-8")


VARIANTS = {
    "gzip": (lambda text: gzip.compress(text.encode("utf-8")), ()),
    "UTF-8 BOM": (lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"), ()),
    "CRLF": (lambda text: text.replace("\n", "\r\n").encode("utf-8"), ()),
    "BOM, CRLF and gzip": (lambda text: gzip.compress(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()), ()),
    "comma delimiter": (_comma_separated, ("-d", ",")),
    "tab delimiter": (_tab_separated, ("-d", "\t")),
    "comments and blank lines": (lambda text: ("# made by hand\n\n" + text.replace("\n", "\n\n", 3)).encode(), ()),
}


@pytest.mark.parametrize(("encode", "extra"), VARIANTS.values(), ids=VARIANTS.keys())
@pytest.mark.parametrize("pool", ["pool_002_image_miri", "pool_013_coron_nircam"])
def test_unusual_pool_files_give_jwst_output(pool, encode, extra, cli, compat_dir, tmp_path):
    text = POOLS.joinpath(f"{pool}.csv").read_text(encoding="utf-8")
    # Same file name as the corpus pool: asn_pool in every file holds it.
    (tmp_path / f"{pool}.csv").write_bytes(encode(text))
    proc = cli(["generate", f"{pool}.csv", "-p", "out", *extra], tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = compat_dir / "expected" / pool
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in expected.iterdir())
    for path in expected.iterdir():
        got = (tmp_path / "out" / path.name).read_text(encoding="utf-8")
        assert masked(got) == masked(path.read_text(encoding="utf-8")), path.name


def test_gzip_pool_with_gz_name(cli, tmp_path):
    source = POOLS / "pool_002_image_miri.csv"
    (tmp_path / "pool.csv.gz").write_bytes(gzip.compress(source.read_bytes()))
    shutil.copy(source, tmp_path / "pool.csv")
    assert cli(["generate", "pool.csv.gz", "-p", "gz", "-q"], tmp_path).returncode == 0
    assert cli(["generate", "pool.csv", "-p", "plain", "-q"], tmp_path).returncode == 0
    plain = sorted((tmp_path / "plain").iterdir())
    assert [p.name for p in plain] == sorted(p.name for p in (tmp_path / "gz").iterdir())
    for path in plain:
        got = json.loads((tmp_path / "gz" / path.name).read_text())
        want = json.loads(path.read_text())
        assert got["asn_pool"] == "pool.csv.gz"
        assert {**got, "asn_pool": ""} == {**want, "asn_pool": ""}


# ---------------------------------------------------------------- ordinary runs


def test_summary_on_stderr_and_quiet(cli, tmp_path):
    shutil.copy(POOLS / "pool_002_image_miri.csv", tmp_path)
    proc = cli(["generate", "pool_002_image_miri.csv", "-p", "out"], tmp_path)
    assert proc.returncode == 0
    assert proc.stdout == ""
    assert proc.stderr.startswith("pool_002_image_miri.csv: 8 exposures, 9 associations (image2 8, image3 1)")
    quiet = cli(["generate", "pool_002_image_miri.csv", "-p", "out2", "-q"], tmp_path)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in (tmp_path / "out2").iterdir())


def test_dry_run_writes_nothing(cli, tmp_path):
    shutil.copy(POOLS / "pool_002_image_miri.csv", tmp_path)
    before = snapshot(tmp_path)
    proc = cli(["generate", "pool_002_image_miri.csv", "-p", "out", "--dry-run"], tmp_path)
    assert proc.returncode == 0
    assert "9 associations" in proc.stderr and "dry run" in proc.stderr
    assert snapshot(tmp_path) == before


def test_rerun_replaces_files_and_keeps_others(cli, tmp_path):
    shutil.copy(POOLS / "pool_002_image_miri.csv", tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    first = cli(["generate", "pool_002_image_miri.csv", "-p", "out", "-q"], tmp_path)
    second = cli(["generate", "pool_002_image_miri.csv", "-p", "out", "-q"], tmp_path)
    assert first.returncode == second.returncode == 0
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 10 and "notes.txt" in names  # 9 associations, no staging folder left
    assert (out / "notes.txt").read_text() == "mine"


def test_several_pools_get_a_folder_each(cli, tmp_path, compat_dir):
    for name in ("pool_002_image_miri", "pool_021_tso"):
        shutil.copy(POOLS / f"{name}.csv", tmp_path)
    proc = cli(["generate", "pool_002_image_miri.csv", "pool_021_tso.csv", "-p", "out", "-q"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("pool_002_image_miri", "pool_021_tso"):
        expected = sorted(p.name for p in (compat_dir / "expected" / name).iterdir())
        assert sorted(p.name for p in (tmp_path / "out" / name).iterdir()) == expected


def test_several_pools_in_one_process_stage_each_pools_files_as_it_is_done(monkeypatch, tmp_path):
    """The run holds one pool's documents at a time, not every pool's until the end: by the time a
    pool is generated, the files of every pool before it are staged and their documents dropped;
    none is in place before the last pool is done."""
    import asnflow.engine.session as session
    from asnflow.cli import generate as generate_command
    from asnflow.cli import main

    names = ["pool_002_image_miri", "pool_021_tso", "pool_004_wfs"]
    out = tmp_path / "out"
    staged_before: list[int] = []
    generate_documents = session.generate_documents

    def counting(*args, **kwargs):
        staged_before.append(sum(1 for path in out.rglob("*_asn.json")))
        assert not any((out / name).exists() for name in names), "a folder in place before the last pool was done"
        return generate_documents(*args, **kwargs)

    written: list = []
    write = generate_command._write

    def kept(args, outcomes, staged=None):
        written.extend(outcome for _, _, outcome, _ in outcomes)
        return write(args, outcomes, staged)

    monkeypatch.setattr(session, "generate_documents", counting)
    monkeypatch.setattr(generate_command, "_write", kept)
    assert main(["generate", *(str(POOLS / f"{name}.csv") for name in names), "-p", str(out), "-q", "-j", "1"]) == 0
    made = [len(list((out / name).iterdir())) for name in names]
    assert staged_before == [0, made[0], made[0] + made[1]]
    assert all(outcome.documents == [] and outcome.file_names for outcome in written)
    assert sorted(path.name for path in out.iterdir()) == sorted(names)  # no staging folder left


def test_yaml_format_holds_the_same_associations(cli, tmp_path):
    shutil.copy(POOLS / "pool_002_image_miri.csv", tmp_path)
    assert cli(["generate", "pool_002_image_miri.csv", "-p", "j", "-q"], tmp_path).returncode == 0
    assert cli(["generate", "pool_002_image_miri.csv", "-p", "y", "-q", "--format", "yaml"], tmp_path).returncode == 0
    import asnflow

    for path in sorted((tmp_path / "j").iterdir()):
        assert asnflow.load(tmp_path / "y" / path.with_suffix(".yaml").name) == asnflow.load(path)
