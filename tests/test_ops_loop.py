"""The operations loop: a pool grows, generate says what changed, run redoes exactly that.

Calibration uses the stand-in modules of tests/data/graph/fake_calibration.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asnflow.asnfile.compare import compare_paths
from asnflow.cli import main
from asnflow.workflow.dispatch import RUN_LOG
from asnflow.workflow.provenance import STORE_NAME

from test_dispatch import FAKES, write_config

POOL = Path(__file__).parents[1] / "examples" / "user_rules" / "mrs_pool.csv"
LATE = ("jw01523001001_02107_00002_mirifushort", "jw01523001001_02107_00002_mirifulong")


@pytest.fixture
def fakes_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(FAKES))


def pools(tmp_path: Path) -> tuple[Path, Path]:
    """The pool as it was before the last two exposures arrived, and as it is after."""
    lines = POOL.read_text().splitlines(keepends=True)
    (tmp_path / "early").mkdir()
    (tmp_path / "full").mkdir()
    early = tmp_path / "early" / "jw01523_pool.csv"  # one pool, growing: same name
    early.write_text("".join(line for line in lines if not line.startswith(LATE)))
    full = tmp_path / "full" / "jw01523_pool.csv"
    full.write_text("".join(lines))
    return early, full


def raw_files(data: Path, pool: Path) -> None:
    """Every exposure of the pool as a raw file (the fake detector1 reads its content)."""
    for line in pool.read_text().splitlines():
        name = line.split("|", 1)[0]
        if name.endswith("_uncal.fits") and not (data / name).exists():
            (data / name).write_text(f"raw {name}\n")


def run_lines(capsys) -> dict[str, str]:
    """node -> status, from the per-node lines `run` prints on stderr (not a terminal here)."""
    err = capsys.readouterr().err
    found = {}
    for line in err.splitlines():
        parts = line.split()
        if parts and parts[0] in ("succeeded", "failed", "skipped"):
            found[parts[2]] = parts[0]
    return found


def test_a_growing_pool_is_generated_and_calibrated_again_doing_exactly_what_changed(tmp_path, fakes_importable, capsys):
    early, full = pools(tmp_path)
    data = tmp_path / "data"
    config = str(write_config(tmp_path))

    # First delivery: generate, calibrate.
    assert main(["generate", str(early), "-p", str(data)]) == 0
    assert capsys.readouterr().err.splitlines()[-1].endswith("12 new, 0 changed, 0 unchanged")
    raw_files(data, early)
    first = tmp_path / "first"
    first.mkdir()
    for association in data.glob("*_asn.json"):
        (first / association.name).write_bytes(association.read_bytes())
    assert main(["run", str(data), "--config", config, "--executor", "serial"]) == 0
    first_run = run_lines(capsys)
    assert set(first_run.values()) == {"succeeded"}
    untouched = {p.name: p.stat().st_mtime_ns for p in data.glob("*_asn.json")}

    # Two exposures arrive: generate reports exactly the new and changed associations.
    assert main(["generate", str(full), "-p", str(data), "--remove-stale"]) == 0
    report = capsys.readouterr().err.splitlines()[-1]
    names = {p.name for p in data.glob("*_asn.json")}
    new = names - set(untouched)
    changed = {n for n in names & set(untouched) if (data / n).read_bytes() != (first / n).read_bytes()}
    unchanged = names - new - changed
    assert new and changed and unchanged
    assert report.endswith(f"{len(new)} new, {len(changed)} changed, {len(unchanged)} unchanged"), report
    for name in unchanged:
        assert (data / name).stat().st_mtime_ns == untouched[name]  # not rewritten
    difference = compare_paths(first, data)
    assert difference.removed == [] and len(difference.added) == 2 and len(difference.changed) == 1

    # run redoes exactly the new and changed nodes, the new exposures, and what depends on them.
    raw_files(data, full)
    assert main(["run", str(data), "--config", config, "--executor", "serial", "-v"]) == 0
    second_run = run_lines(capsys)
    redone = {n for n, s in second_run.items() if s == "succeeded"}
    new_exposures = {f"detector1:{stem}_uncal" for stem in LATE}
    # Renumbered associations (same meaning, another file name) keep their products.
    touched = {Path(n).stem for n in difference.added + [c.name for c in difference.changed]} | new_exposures
    assert difference.renamed and not touched & {Path(n).stem for _, n in difference.renamed}
    assert redone == touched, (redone ^ touched)
    assert {n for n, s in second_run.items() if s == "skipped"} == set(second_run) - redone
    assert set(second_run) == set(first_run) | {Path(n).stem for n in names} | new_exposures

    # provenance shows both runs for a product made twice.
    spec3 = Path(difference.changed[0].name).stem
    assert main(["provenance", "--node", spec3, "--data", str(data), "--format", "json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [h["status"] for h in history] == ["succeeded", "succeeded"]
    assert len({h["run"] for h in history}) == 2
    assert len(history[1]["inputs"]) > len(history[0]["inputs"])
    runs = {json.loads(line)["run"] for line in (data / RUN_LOG).read_text().splitlines()}
    assert len(runs) == 2


def test_regenerating_identical_associations_reruns_nothing(tmp_path, fakes_importable, capsys):
    _, full = pools(tmp_path)
    data = tmp_path / "data"
    config = str(write_config(tmp_path))
    assert main(["generate", str(full), "-p", str(data)]) == 0
    raw_files(data, full)
    assert main(["run", str(data), "--config", config, "--executor", "serial", "-q"]) == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in data.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["generate", str(full), "-p", str(data)]) == 0
    assert capsys.readouterr().err.splitlines()[-1].endswith("0 new, 0 changed, 14 unchanged")
    assert main(["run", str(data), "--config", config, "--executor", "serial", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 would run, 27 up to date"
    kept = [name for name in stamps if not name.startswith((STORE_NAME, RUN_LOG))]
    assert {name: (data / name).stat().st_mtime_ns for name in kept} == {name: stamps[name] for name in kept}
