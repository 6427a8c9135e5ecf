"""Parity with jwst 3.0.0's asn_generate on the whole corpus, file by file and byte by byte.

Each run is one pool of tests/data/compat/pools with default arguments, or one
line of cases.tsv (a pool plus extra arguments). Its output must have the
expected file names, each file's JSON must equal the expected one once
``code_version`` and ``constraints`` are dropped (check_parity.py's *strict*
mode), and the text must be byte-identical with those two values masked:
jwst's formatting (indent, key order, escapes, no final newline) is part of
the contract.

Most runs go through the Python API (``asnflow.generate`` + ``asnflow.write``)
with the options the command line would give (the arguments are parsed by
the real ``asnflow generate`` parser); the runs in SUBPROCESS_RUNS go through
the command itself.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import asnflow
from asnflow.cli import build_parser

COMPAT = Path(__file__).parent / "data" / "compat"
IGNORED = ("code_version", "constraints")
# The two values that cannot match across implementations (jwst writes its
# version and Python reprs); their JSON string values are masked in the text.
MASKED_LINE = re.compile(r'^(\s*"(?:code_version|constraints)": )"(?:[^"\\]|\\.)*"(,?)$', re.MULTILINE)

# Runs that go through `python -m asnflow generate`: a default run and the
# flag runs whose options change most (DMS filtering, merge, no finalize with
# and without discovery, a version stamp in the file names).
SUBPROCESS_RUNS = {
    "pool_002_image_miri",
    "pool_010_spec_nirspec_lv2bkg__dms_ids_o003",
    "pool_021_tso__merge",
    "pool_024_nirspec_fss_nods__no_finalize",
    "pool_duplicate__no_finalize_all",
    "pool_018_all_exptypes__version_id",
}


@pytest.fixture(autouse=True)
def _rule_cache_in_a_temporary_folder(monkeypatch, tmp_path_factory):
    """Parsed rule files are cached between runs (also by the commands started here): not in the home folder."""
    monkeypatch.setenv("ASNFLOW_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rule-cache"))


def _runs() -> list[tuple[str, str, tuple[str, ...]]]:
    """(run name, pool stem, extra arguments): every pool, then every case of cases.tsv."""
    runs = [(p.stem, p.stem, ()) for p in sorted((COMPAT / "pools").glob("*.csv"))]
    for line in (COMPAT / "cases.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, pool, extra = (line.split("\t") + ["", ""])[:3]
            runs.append((name, pool, tuple(shlex.split(extra))))
    return runs


RUNS = _runs()


def masked(text: str) -> str:
    return MASKED_LINE.sub(r'\1"..."\2', text)


def stripped(asn: dict) -> dict:
    return {key: value for key, value in asn.items() if key not in IGNORED}


def _api_options(pool: Path, out: Path, extra: tuple[str, ...]) -> dict:
    """The asnflow.generate keywords for the command line ``generate POOL -p OUT EXTRA``."""
    args = build_parser().parse_args(["generate", str(pool), "-p", str(out), *extra])
    return {
        "ids": args.ids,
        "discover": args.discover,
        "all_candidates": args.all_candidates,
        "version_id": args.version_id,
        "finalize": not args.no_finalize,
        "merge": args.merge,
        "dms": args.dms,
    }


def run_generate(pool: Path, out: Path, extra: tuple[str, ...], through_cli: bool) -> None:
    if through_cli:
        proc = subprocess.run(
            [sys.executable, "-m", "asnflow", "generate", str(pool), "-p", str(out), *extra],
            capture_output=True, text=True, cwd=out.parent, check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
    else:
        asnflow.write(asnflow.generate(pool, **_api_options(pool, out, extra)), out)


def assert_same_output(expected_dir: Path, out: Path) -> None:
    # jwst writes no folder when a run makes no association (seed_tso_pool -i c1000)
    expected = sorted(p.name for p in expected_dir.iterdir()) if expected_dir.is_dir() else []
    written = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    assert written == expected, (
        f"missing {sorted(set(expected) - set(written))}, extra {sorted(set(written) - set(expected))}"
    )
    for name in expected:
        want_text = (expected_dir / name).read_bytes().decode("utf-8")
        got_text = (out / name).read_bytes().decode("utf-8")
        want, got = json.loads(want_text), json.loads(got_text)
        assert stripped(got) == stripped(want), name
        assert list(got) == list(want), f"{name}: key order"
        assert MASKED_LINE.search(want_text), f"{name}: the masked keys are not where expected"
        assert masked(got_text) == masked(want_text), f"{name}: same JSON, different text"


@pytest.mark.parametrize(("name", "pool", "extra"), RUNS, ids=[run[0] for run in RUNS])
def test_run_matches_jwst(name, pool, extra, compat_dir, tmp_path):
    expected_dir = compat_dir / "expected" / name
    out = tmp_path / "out"
    run_generate(compat_dir / "pools" / f"{pool}.csv", out, extra, name in SUBPROCESS_RUNS)
    assert_same_output(expected_dir, out)


def test_the_corpus_is_complete(compat_dir):
    """40 pools and 16 cases; every expected folder is run, and only a run that makes nothing has none."""
    assert len(RUNS) == 56
    assert len([run for run in RUNS if not run[2]]) == 40
    folders = {p.name for p in (compat_dir / "expected").iterdir()}
    names = {run[0] for run in RUNS}
    assert folders <= names
    assert names - folders == {"seed_tso_pool__ids_c1000"}
    assert SUBPROCESS_RUNS <= {run[0] for run in RUNS}


def test_masking_only_hides_the_two_values():
    text = '{\n    "code_version": "3.0.0",\n    "constraints": "a\\"b\\nc",\n    "asn_id": "o001"\n}'
    assert masked(text) == '{\n    "code_version": "...",\n    "constraints": "...",\n    "asn_id": "o001"\n}'
    # any other difference survives the mask
    assert masked(text.replace("o001", "o002")) != masked(text)
    assert masked(text.replace('"3.0.0",', '"3.0.0"')) != masked(text)


# ---------------------------------------------------------------- product names


def _product_names(asns, asn_type: str) -> list[str]:
    return sorted(p["name"] for a in asns if a["asn_type"] == asn_type for p in a["products"])


def _expected_names(compat_dir: Path, run: str, asn_type: str) -> list[str]:
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in (compat_dir / "expected" / run).iterdir()]
    return _product_names(docs, asn_type)


@pytest.mark.parametrize(("pool", "asn_type", "name"), [
    # NIRSpec fixed slit: source id and slit name stay open for the pipeline (jwst 3.0 naming)
    ("seed_fs_pool", "spec3", "jw01234-o001_t001-{source_id}_nirspec_f290lp-g395h-{slit_name}-allslits"),
    ("seed_fs2_pool", "spec3", "jw01234-o001_t001-{source_id}_nirspec_f290lp-g395m-{slit_name}"),
    # the fixed slit of the association is part of the name after the open slit name
    ("pool_006_spec_nirspec", "spec3", "jw99009-o001_t001-{source_id}_nirspec_f100lp-g140m-{slit_name}-s200a2"),
    # NIRSpec MSA: one product per source, the target left out
    ("pool_023_nirspec_msa_3nod", "spec3", "jw93125-o001_{source_id}_nirspec_f170lp-g235m"),
    # NIRCam coronagraphy also gets an image3 of the coronagraphic images, named -image3
    ("seed_coron_pool", "image3", "jw01234-o001_t001_nircam_f210m-maskrnd-image3"),
    # wavefront sensing: one product per detector and activity, the suffix left open
    ("pool_004_wfs", "wfs-image3", "jw00747-o001_t002_nircam_f150w2-gdhs0-nrca2_{suffix}-04"),
])
def test_level3_product_names(pool, asn_type, name, compat_dir):
    names = _product_names(asnflow.generate(compat_dir / "pools" / f"{pool}.csv"), asn_type)
    assert name in names
    assert names == _expected_names(compat_dir, pool, asn_type)


def test_every_wavefront_product_leaves_the_suffix_open(compat_dir):
    names = _product_names(asnflow.generate(compat_dir / "pools" / "pool_004_wfs.csv"), "wfs-image3")
    assert len(names) == 42
    pattern = re.compile(r"jw00747-o\d{3}_t\d{3}_nircam_[a-z0-9-]+-nrc[ab](\d|long)_\{suffix\}-\d{2}")
    assert all(pattern.fullmatch(name) for name in names)
