"""Rerun by content and the provenance store (stand-in modules from tests/data/graph)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from asnflow.cli import main
from asnflow.errors import DispatchError
from asnflow.workflow.dispatch import FAILED, RUN_LOG, SUCCEEDED, plan_run, run_graph
from asnflow.workflow.graph import build_graph
from asnflow.workflow.provenance import RUNNING, STORE_NAME, ProvenanceStore

from test_dispatch import ASN_TYPES, CALIBRATION, FAKES, WFSS, kill_midway, prepare, products, write_config


@pytest.fixture
def wfss(compat_dir, tmp_path, fakes_importable):
    return prepare(compat_dir, tmp_path)


@pytest.fixture
def fakes_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(FAKES))


def image3_of(graph) -> str:
    return next(n for n in graph.association_ids() if graph.node(n).asn_type == "image3")


def reasons(plan) -> dict[str, str]:
    return {s.node_id: s.reason for s in plan.steps if s.action == "run"}


def ran(summary) -> set[str]:
    return {r.node_id for r in summary.results if r.status == SUCCEEDED}


# --------------------------------------------------------------------------- each trigger


def test_an_association_that_loses_a_member_reruns_with_the_member_named(compat_dir, tmp_path, fakes_importable):
    folder = tmp_path / "asn"
    folder.mkdir()
    for source in (compat_dir / "expected" / WFSS).iterdir():
        (folder / source.name).write_bytes(source.read_bytes())
    graph, data = prepare(compat_dir, tmp_path)
    graph = build_graph([folder], calibration=CALIBRATION)
    run_graph(graph, data, executor="serial", progress=False)
    image3 = image3_of(graph)
    path = folder / f"{image3}.json"
    document = json.loads(path.read_text())
    members = document["products"][0]["members"]
    gone = members.pop(next(i for i, m in enumerate(members) if m["exptype"] == "science"))["expname"]
    path.write_text(json.dumps(document, indent=4))
    edited = build_graph([folder], calibration=CALIBRATION)
    plan = plan_run(edited, data)
    assert reasons(plan)[image3] == f"association changed: member removed: {gone}"
    assert set(plan.to_run) == {image3} | edited.descendants(image3)


def test_a_new_module_version_reruns_every_node_of_that_module(wfss, tmp_path):
    graph, data = wfss
    run_graph(graph, data, executor="serial", progress=False)
    newer = dict(CALIBRATION, image2="python:fake_calibration:WRITER_V2")
    graph2 = build_graph([Path(graph.node(graph.association_ids()[0]).path).parent], calibration=newer)
    plan = plan_run(graph2, data)
    image2 = {n for n in graph2.association_ids() if graph2.node(n).asn_type == "image2"}
    assert {n for n, r in reasons(plan).items() if r == "module version 1.0 -> 2.0"} == image2
    assert set(plan.to_run) == image2 | {d for n in image2 for d in graph2.descendants(n)}


def test_a_changed_parameter_reruns_and_an_execution_only_option_does_not(wfss):
    graph, data = wfss
    run_graph(graph, data, executor="serial", progress=False, options={"maximum_cores": "1"})
    assert plan_run(graph, data, options={"maximum_cores": "2", "sleep": 0}).to_run == []
    plan = plan_run(graph, data, options={"variant": 2})
    assert set(plan.to_run) == set(graph.nodes)
    assert set(reasons(plan).values()) >= {"parameters changed: variant (unset) -> 2"}
    summary = run_graph(graph, data, executor="serial", progress=False, options={"variant": 2})
    assert ran(summary) == set(graph.nodes)
    assert run_graph(graph, data, executor="serial", progress=False, options={"variant": 2}).succeeded == 0


def test_a_changed_reference_file_reruns_the_nodes_that_read_it(wfss, tmp_path):
    from fake_calibration import FileRefs

    graph, data = wfss
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "flat.fits").write_text("flat 1\n")
    provider = FileRefs(refs)
    options = {"read_flat": True}
    run_graph(graph, data, executor="serial", progress=False, provider=provider, options=options)
    assert plan_run(graph, data, provider=provider, options=options).to_run == []
    (refs / "flat.fits").write_text("flat 2, redelivered\n")
    plan = plan_run(graph, data, provider=provider, options=options)
    assert set(plan.to_run) == set(graph.nodes)
    first = graph.topological_order()[0]
    assert reasons(plan)[first] == "reference flat.fits (flat) changed"
    with ProvenanceStore.open(data) as store:
        assert store.latest(first).references["flat"][0] == str(refs / "flat.fits")


def test_regenerated_identical_associations_and_touched_files_rerun_nothing(wfss):
    graph, data = wfss
    run_graph(graph, data, executor="serial", progress=False)
    later = time.time() + 100
    for path in data.iterdir():
        os.utime(path, (later, later))
    plan = plan_run(graph, data)
    assert plan.to_run == [] and {s.reason for s in plan.steps} == {"up to date"}


def test_an_output_edited_by_hand_reruns_its_node(wfss):
    graph, data = wfss
    run_graph(graph, data, executor="serial", progress=False)
    image3 = image3_of(graph)
    output = data / graph.outputs(image3)[0]
    output.write_text("edited\n")
    assert reasons(plan_run(graph, data))[image3] == f"output {output.name} changed since it was made"


def test_outputs_made_before_the_store_existed_are_adopted_not_rerun(wfss):
    graph, data = wfss
    run_graph(graph, data, executor="serial", progress=False)
    for part in data.glob(STORE_NAME + "*"):
        part.unlink()
    summary = run_graph(graph, data, executor="serial", progress=False)
    assert summary.succeeded == 0
    with ProvenanceStore.open(data) as store:
        assert {store.latest(n).status for n in graph.nodes} == {"adopted"}
    (data / graph.inputs(graph.exposure_ids()[0])[0]).write_text("new raw\n")
    assert graph.exposure_ids()[0] in plan_run(graph, data).to_run


# --------------------------------------------------------------------------- the store


def test_the_store_records_what_made_each_product(wfss, capsys):
    graph, data = wfss
    image3 = image3_of(graph)
    run_graph(graph, data, executor="serial", progress=False, options={"fail": [image3], "variant": 1})
    output = graph.outputs(graph.exposure_ids()[0])[0]
    assert main(["provenance", str(data / output)]) == 0
    text = capsys.readouterr().out
    assert "succeeded" in text and "fake-writer 1.0" in text and '"variant":1' in text
    assert graph.inputs(graph.exposure_ids()[0])[0] in text and output in text
    assert main(["provenance", "--failed", "--data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(image3) and "was told to fail" in lines[0]
    assert lines[-1] == "1 failed node(s)"
    run_graph(graph, data, executor="serial", progress=False, options={"variant": 1})
    assert main(["provenance", "--failed", "--data", str(data)]) == 0
    assert capsys.readouterr().out.splitlines() == ["0 failed node(s)"]
    assert main(["provenance", "--node", image3, "--data", str(data), "--format", "json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [h["status"] for h in history] == [FAILED, SUCCEEDED]
    assert all(h["host"] and h["started"] for h in history)
    assert main(["provenance", str(data / "nothing_made_this.fits")]) == 2
    assert "no record of nothing_made_this.fits" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"not a database at all, just text\n" * 50, "sqlite-foreign"])
def test_a_corrupt_or_foreign_store_is_one_line_and_rebuild_starts_anew(compat_dir, tmp_path, fakes_importable, capsys, content):
    graph, data = prepare(compat_dir, tmp_path)
    store = data / STORE_NAME
    if content == "sqlite-foreign":
        with sqlite3.connect(store) as db:
            db.execute("CREATE TABLE songs (title TEXT)")
        db.close()
    else:
        store.write_bytes(content)
    before = store.read_bytes()
    folder = str(compat_dir / "expected" / WFSS)
    common = ["run", folder, "--data", str(data), "--config", str(write_config(tmp_path)), "--executor", "serial"]
    for extra in (["--dry-run"], []):
        assert main([*common, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "provenance store is unusable" in err and "--rebuild-provenance" in err
        assert "Traceback" not in err
    assert store.read_bytes() == before
    assert main([*common, "--rebuild-provenance", "-q"]) == 0
    assert (data / (STORE_NAME + ".corrupt")).read_bytes() == before
    with ProvenanceStore.open(data) as reopened:
        assert {reopened.latest(n).status for n in graph.nodes} == {SUCCEEDED}


def test_a_read_only_data_folder_is_one_line(wfss, capsys, tmp_path):
    graph, data = wfss
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    data.chmod(0o555)
    try:
        folder = str(Path(graph.node(graph.association_ids()[0]).path).parent)
        assert main(["run", folder, "--data", str(data), "--config", str(write_config(tmp_path)), "--executor", "serial"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "read-only" in err
    finally:
        data.chmod(0o755)


def test_a_read_only_data_folder_refuses_before_writing(wfss, monkeypatch):
    """As the test above, for a root user: the folder is reported read-only by os.access."""
    graph, data = wfss
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == data.resolve() and mode == os.W_OK else real_access(p, mode))
    with pytest.raises(DispatchError, match="read-only"):
        run_graph(graph, data, executor="serial", progress=False)
    assert not (data / STORE_NAME).exists()


def test_sigkill_during_a_run_then_rerun_gives_the_same_bytes_and_a_consistent_store(compat_dir, tmp_path, fakes_importable):
    graph, clean = prepare(compat_dir, tmp_path, name="clean")
    run_graph(graph, clean, executor="serial", progress=False)
    _, data = prepare(compat_dir, tmp_path, name="killed")
    kill_midway(compat_dir, tmp_path, data, after=4, sleep=0.3)
    with ProvenanceStore.open(data) as store:
        interrupted = {n for n in graph.nodes if store.latest(n) is not None and store.latest(n).status == RUNNING}
        done = {n for n in graph.nodes if store.latest(n) is not None and store.latest(n).status == SUCCEEDED}
    assert interrupted and done  # killed with nodes running, after some finished
    plan = plan_run(graph, data)
    assert not done & set(plan.to_run) - {d for n in plan.to_run for d in graph.descendants(n)}
    summary = run_graph(graph, data, executor="process", workers=2, progress=False)
    assert summary.failed == 0 and not done & ran(summary)
    assert products(data) == products(clean)
    with ProvenanceStore.open(data) as store:
        assert {store.latest(n).status for n in graph.nodes} == {SUCCEEDED}
        for node_id in graph.nodes:
            for name, digest in store.latest(node_id).outputs.items() if node_id not in done else ():
                assert digest == _sha256(data / name)
    with sqlite3.connect(data / STORE_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert plan_run(graph, data).to_run == []


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- run as a person uses it


def test_data_defaults_to_the_association_folder(compat_dir, tmp_path, fakes_importable, capsys):
    graph, data = prepare(compat_dir, tmp_path)
    for source in (compat_dir / "expected" / WFSS).iterdir():
        (data / source.name).write_bytes(source.read_bytes())
    config = str(write_config(tmp_path))
    assert main(["run", str(data), "--config", config, "--executor", "serial", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{len(graph)} succeeded, 0 skipped, 0 failed"
    files = [str(p) for p in sorted(data.glob("*_asn.json"))[:2]]
    assert main(["run", *files, "--config", config, "--executor", "serial", "--dry-run"]) == 0
    assert main(["run", files[0], str(compat_dir / "expected" / WFSS), "--config", config, "--dry-run"]) == 2
    assert "--data" in capsys.readouterr().err


def test_no_crds_cache_message_names_the_option(monkeypatch):
    from asnflow.calib.refs import CrdsRefs
    from asnflow.errors import CalibrationError

    monkeypatch.delenv("CRDS_PATH", raising=False)
    with pytest.raises(CalibrationError, match="--crds-cache"):
        CrdsRefs().cache_path()


def test_dry_run_marks_missing_inputs_and_unavailable_modules_then_exits_2(compat_dir, tmp_path, fakes_importable, capsys):
    graph, data = prepare(compat_dir, tmp_path)
    gone = sorted(graph.external_inputs)[:2]
    for name in gone:
        (data / name).unlink()
    config = tmp_path / "partial.yaml"
    config.write_text("calibration:\n" + "".join(f"  {t}: python:fake_calibration:WRITER\n" for t in ASN_TYPES if t != "spec3")
                      + "  spec3: python:no_such_package_here:MODULE\n")
    folder = str(compat_dir / "expected" / WFSS)
    assert main(["run", folder, "--data", str(data), "--config", str(config), "--dry-run"]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[-1] == f"{len(graph)} would run, 0 up to date"
    assert len(lines) == len(graph) + 1  # the whole plan, not one refusal line
    for name in gone:
        readers = graph.external_inputs[name]
        marked = [l for l in lines if f"[MISSING {name}]" in l]
        assert sorted(l.split()[1] for l in marked) == sorted(readers)
    spec3 = [l for l in lines if "MODULE NOT AVAILABLE" in l]
    assert spec3 and all(graph.node(l.split()[1]).asn_type == "spec3" for l in spec3)
    assert "no_such_package_here" in spec3[0]
    assert "marked MISSING above" in captured.err and "Traceback" not in captured.err


def test_run_prints_a_line_per_finished_node_and_the_log_path(wfss, tmp_path, capsys):
    graph, data = wfss
    folder = str(Path(graph.node(graph.association_ids()[0]).path).parent)
    image3 = image3_of(graph)
    common = ["run", folder, "--data", str(data), "--config", str(write_config(tmp_path)), "--executor", "serial"]
    assert main([*common, "--option", f"fail=[{image3}]"]) == 1
    err = capsys.readouterr().err.splitlines()
    per_node = {l.split()[2]: l.split()[0] for l in err if l.split()[0] in ("succeeded", "failed", "skipped")}
    assert per_node[image3] == "failed" and set(per_node) == set(graph.nodes)
    failed_line = next(l for l in err if l.startswith("failed"))
    assert "was told to fail" in failed_line and failed_line.split()[1].endswith("s")
    assert err[-1] == f"log: {data.resolve() / RUN_LOG}"
    assert main(common) == 0  # only what did not run before: up-to-date nodes get no line
    err = capsys.readouterr().err.splitlines()
    assert {l.split()[2] for l in err[:-1]} == {image3} | graph.descendants(image3)
    assert main([*common, "-v"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == len(graph) + 1 and all(l.startswith("skipped") for l in err[:-1])
    assert main([*common, "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == f"0 succeeded, {len(graph)} skipped, 0 failed\n"


def test_dry_run_says_jwst_modules_need_jwst_when_it_is_not_installed(compat_dir, tmp_path, fakes_importable):
    import importlib.util

    if importlib.util.find_spec("jwst") is not None:
        pytest.skip("jwst is installed here")
    graph, data = prepare(compat_dir, tmp_path)
    with_jwst = build_graph([compat_dir / "expected" / WFSS], calibration=dict(CALIBRATION, spec3="jwst:Spec3Pipeline"))
    plan = plan_run(with_jwst, data)
    spec3 = {n for n in with_jwst.association_ids() if with_jwst.node(n).asn_type == "spec3"}
    assert set(plan.unavailable) == spec3
    assert "jwst:Spec3Pipeline needs jwst, which is not installed" in next(iter(plan.unavailable.values()))


def test_a_node_killed_after_publishing_is_kept_one_killed_before_reruns(wfss):
    from asnflow.workflow.fingerprint import node_meaning
    from asnflow.workflow.provenance import Fingerprint

    graph, data = wfss
    run_graph(graph, data, executor="serial", progress=False)
    image3 = image3_of(graph)
    with ProvenanceStore.open(data, write=True) as store:  # what a run killed while image3 ran leaves
        store.started("killed-run", graph.node(image3), Fingerprint(node_meaning(graph.node(image3)), "m", "v", "{}", {}))
    earlier = time.time() - 100
    os.utime(data / graph.outputs(image3)[0], (earlier, earlier))  # one output still the previous run's
    assert reasons(plan_run(graph, data))[image3] == "interrupted in run killed-run"
    later = time.time() + 5
    for name in graph.outputs(image3):
        os.utime(data / name, (later, later))  # all its outputs moved into place after it started
    assert plan_run(graph, data).to_run == []
    assert run_graph(graph, data, executor="serial", progress=False).succeeded == 0
    with ProvenanceStore.open(data) as store:
        assert store.latest(image3).status == "adopted"
