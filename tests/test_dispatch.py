"""Running a dependency graph with stand-in calibration modules (tests/data/graph/fake_calibration.py)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asnflow.cli import main
from asnflow.errors import DispatchError, GraphError
from asnflow.workflow.dispatch import (
    FAILED,
    RUN_LOG,
    SCRATCH_DIR,
    SKIPPED,
    SUCCEEDED,
    plan_run,
    read_run_log,
    run_graph,
)
from asnflow.workflow.graph import build_graph
from asnflow.workflow.provenance import STORE_NAME

FAKES = Path(__file__).parent / "data" / "graph"
FAKE = "python:fake_calibration:WRITER"
ASN_TYPES = (
    "detector1", "image2", "tso-image2", "spec2", "tso-spec2", "nrslamp-spec2",
    "image3", "spec3", "coron3", "ami3", "tso3", "wfs-image3",
)
CALIBRATION = {t: FAKE for t in ASN_TYPES}
WFSS = "jw87800_20180412T163456_pool"


@pytest.fixture
def fakes_importable(monkeypatch):
    """Worker processes receive this process's sys.path, so they find the fake modules too."""
    monkeypatch.syspath_prepend(str(FAKES))


def prepare(compat_dir: Path, tmp_path: Path, pool: str = WFSS, name: str = "data"):
    graph = build_graph([compat_dir / "expected" / pool], calibration=CALIBRATION)
    data = tmp_path / name
    data.mkdir()
    for file_name in graph.external_inputs:
        (data / file_name).write_text(f"raw {file_name}\n")
    return graph, data


@pytest.fixture
def wfss(compat_dir, tmp_path, fakes_importable):
    return prepare(compat_dir, tmp_path)


def products(data: Path) -> dict[str, bytes]:
    """Every visible file of the data folder except the run log and the provenance store."""
    return {
        p.name: p.read_bytes()
        for p in sorted(data.iterdir())
        if p.is_file() and not p.name.startswith((".", STORE_NAME)) and p.name != RUN_LOG
    }


def log_records(data: Path) -> list[dict]:
    return [json.loads(line) for line in (data / RUN_LOG).read_text().splitlines()]


def statuses(summary) -> dict[str, str]:
    return {r.node_id: r.status for r in summary.results}


def all_outputs(graph) -> set[str]:
    return {f for n in graph.nodes for f in graph.outputs(n)}


# --------------------------------------------------------------------------- a full run


def test_serial_run_writes_every_output_and_logs_every_node(wfss):
    graph, data = wfss
    summary = run_graph(graph, data, executor="serial", progress=False)
    assert summary.line() == f"{len(graph)} succeeded, 0 skipped, 0 failed"
    assert summary.exit_status == 0
    assert set(products(data)) == set(graph.external_inputs) | all_outputs(graph)
    assert not (data / SCRATCH_DIR).exists()
    records = log_records(data)
    assert sorted(r["node"] for r in records) == sorted(graph.nodes)
    assert {r["status"] for r in records} == {SUCCEEDED}
    assert all(r["run"] == summary.run_id and r["duration"] >= 0 for r in records)
    # each output's content names its node: nothing was written by the wrong module
    for node_id in graph.nodes:
        for name in graph.outputs(node_id):
            assert (data / name).read_text().splitlines()[0] == node_id


def test_rerun_skips_up_to_date_nodes_and_force_reruns(wfss):
    graph, data = wfss
    run_graph(graph, data, executor="serial", progress=False)
    first = {p.name: p.stat().st_mtime_ns for p in data.iterdir()}
    again = run_graph(graph, data, executor="serial", progress=False)
    assert again.line() == f"0 succeeded, {len(graph)} skipped, 0 failed"
    assert {r.reason for r in again.results} == {"up to date"}
    assert {p.name: p.stat().st_mtime_ns for p in data.iterdir() if p.name in products(data)} == {
        k: v for k, v in first.items() if k in products(data)
    }
    forced = run_graph(graph, data, executor="serial", progress=False, force=True)
    assert forced.succeeded == len(graph)
    assert len(log_records(data)) == 3 * len(graph)


def test_a_changed_input_reruns_its_node_and_everything_downstream_a_touched_one_nothing(wfss):
    graph, data = wfss
    run_graph(graph, data, executor="serial", progress=False)
    exposure = graph.exposure_ids()[0]
    raw = data / graph.inputs(exposure)[0]
    newer = max(p.stat().st_mtime_ns for p in data.iterdir()) + 1_000_000_000
    os.utime(raw, ns=(newer, newer))
    assert plan_run(graph, data).to_run == []  # by content, not by clock
    raw.write_text("raw, taken again\n")
    plan = plan_run(graph, data)
    assert set(plan.to_run) == {exposure} | graph.descendants(exposure)
    assert next(s.reason for s in plan.steps if s.node_id == exposure) == f"input {raw.name} changed"
    summary = run_graph(graph, data, executor="serial", progress=False)
    assert {n for n, s in statuses(summary).items() if s == SUCCEEDED} == set(plan.to_run)


def test_a_missing_output_reruns_only_what_depends_on_it(wfss):
    graph, data = wfss
    run_graph(graph, data, executor="serial", progress=False)
    image3 = next(n for n in graph.association_ids() if graph.node(n).asn_type == "image3")
    (data / graph.outputs(image3)[0]).unlink()
    summary = run_graph(graph, data, executor="serial", progress=False)
    assert {n for n, s in statuses(summary).items() if s == SUCCEEDED} == {image3} | graph.descendants(image3)


# --------------------------------------------------------------------------- failures


def test_failure_skips_descendants_with_the_reason(wfss):
    graph, data = wfss
    image3 = next(n for n in graph.association_ids() if graph.node(n).asn_type == "image3")
    summary = run_graph(graph, data, executor="serial", progress=False, options={"fail": [image3]})
    assert summary.exit_status == 1
    result = summary.result(image3)
    assert result.status == FAILED and "told to fail" in result.reason
    downstream = graph.descendants(image3)
    assert len(downstream) == 9
    for node_id in downstream:
        assert summary.result(node_id).status == SKIPPED
        assert summary.result(node_id).reason == f"upstream {image3} failed"
    others = set(graph.nodes) - downstream - {image3}
    assert all(summary.result(n).status == SUCCEEDED for n in others)
    assert summary.line() == f"{len(others)} succeeded, 9 skipped, 1 failed"
    assert not any((data / f).exists() for f in graph.outputs(image3))
    logged = read_run_log(data)
    assert logged[image3].status == FAILED
    assert all(logged[n].status == SKIPPED for n in downstream)


def test_a_failed_node_leaves_nothing_in_the_data_folder(wfss):
    graph, data = wfss
    image3 = next(n for n in graph.association_ids() if graph.node(n).asn_type == "image3")
    summary = run_graph(graph, data, executor="serial", progress=False, options={"partial": [image3]})
    assert summary.result(image3).status == FAILED
    assert "wrote one output, then failed" in summary.result(image3).reason
    assert not any((data / f).exists() for f in graph.outputs(image3))
    assert not (data / SCRATCH_DIR).exists()
    assert "undeclared_scratch.tmp" not in products(data)


def test_an_unexpected_exception_fails_the_node_with_its_traceback_logged(wfss):
    graph, data = wfss
    victim = graph.exposure_ids()[0]
    summary = run_graph(graph, data, executor="serial", progress=False, options={"crash": [victim]})
    assert summary.result(victim).reason == f"ValueError: {victim} crashed"
    record = next(r for r in log_records(data) if r["node"] == victim)
    assert "Traceback" in record["traceback"] and "ValueError" in record["traceback"]


def test_retries_rerun_a_failed_node(wfss, tmp_path):
    graph, data = wfss
    markers = tmp_path / "markers"
    markers.mkdir()
    summary = run_graph(graph, data, executor="serial", progress=False, retries=1, options={"flaky_dir": str(markers)})
    assert summary.failed == 0 and summary.succeeded == len(graph)
    assert {r.attempts for r in summary.results} == {2}
    assert sum(1 for r in log_records(data) if r["status"] == "retrying") == len(graph)


def test_without_retries_a_flaky_node_fails(wfss, tmp_path):
    graph, data = wfss
    markers = tmp_path / "markers"
    markers.mkdir()
    summary = run_graph(graph, data, executor="serial", progress=False, options={"flaky_dir": str(markers)})
    assert summary.failed == len(graph.exposure_ids())
    assert summary.skipped == len(graph.association_ids())


def test_missing_external_inputs_stop_the_run_before_anything_runs(compat_dir, tmp_path, fakes_importable):
    graph, data = prepare(compat_dir, tmp_path)
    removed = sorted(graph.external_inputs)[0]
    (data / removed).unlink()
    before = products(data)
    with pytest.raises(GraphError) as caught:
        run_graph(graph, data, executor="serial", progress=False)
    assert removed in caught.value.one_line()
    assert products(data) == before
    assert sorted(p.name for p in data.iterdir()) == sorted(before)


def test_an_up_to_date_node_does_not_need_its_raw_input(wfss):
    graph, data = wfss
    run_graph(graph, data, executor="serial", progress=False)
    raw = graph.inputs(graph.exposure_ids()[0])[0]
    (data / raw).unlink()
    summary = run_graph(graph, data, executor="serial", progress=False)
    assert summary.skipped == len(graph)
    with pytest.raises(GraphError, match=raw):
        run_graph(graph, data, executor="serial", progress=False, force=True)


def test_stale_scratch_is_cleared_at_start(wfss):
    graph, data = wfss
    stale = data / SCRATCH_DIR / "old-run" / "some-node"
    stale.mkdir(parents=True)
    (stale / "half_written.fits").write_text("partial")
    run_graph(graph, data, executor="serial", progress=False)
    assert not (data / SCRATCH_DIR).exists()


def test_a_second_run_on_the_same_folder_is_refused(wfss):
    fcntl = pytest.importorskip("fcntl")
    graph, data = wfss
    descriptor = os.open(data, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DispatchError, match="another asnflow run"):
            run_graph(graph, data, executor="serial", progress=False)
    finally:
        os.close(descriptor)
    assert run_graph(graph, data, executor="serial", progress=False).succeeded == len(graph)


def test_unknown_asn_type_fails_its_node_but_not_the_graph(compat_dir, tmp_path, fakes_importable):
    calibration = {k: v for k, v in CALIBRATION.items() if k != "spec3"}
    graph = build_graph([compat_dir / "expected" / WFSS], calibration=calibration)
    data = tmp_path / "data"
    data.mkdir()
    for file_name in graph.external_inputs:
        (data / file_name).write_text("raw\n")
    summary = run_graph(graph, data, executor="serial", progress=False)
    spec3 = next(n for n in graph.association_ids() if graph.node(n).asn_type == "spec3")
    assert summary.result(spec3).status == FAILED
    assert "no calibration module is configured for asn_type 'spec3'" in summary.result(spec3).reason
    assert summary.failed == 1


def test_placeholder_outputs_count_as_present_once_filled(compat_dir, tmp_path, fakes_importable):
    graph, data = prepare(compat_dir, tmp_path, pool="seed_fs_pool")
    spec3 = next(n for n in graph.association_ids() if graph.node(n).asn_type == "spec3")
    assert any("{source_id}" in f for f in graph.outputs(spec3))
    assert run_graph(graph, data, executor="serial", progress=False).failed == 0
    assert any(name.startswith("jw01234-o001_t001-s000000001_nirspec") for name in products(data))
    assert run_graph(graph, data, executor="serial", progress=False).skipped == len(graph)


# --------------------------------------------------------------------------- executors


def test_serial_process_and_dask_give_the_same_files(compat_dir, tmp_path, fakes_importable):
    pytest.importorskip("distributed")
    results = {}
    for executor in ("serial", "process", "dask"):
        graph, data = prepare(compat_dir, tmp_path, name=executor)
        summary = run_graph(graph, data, executor=executor, workers=2, progress=False)
        assert summary.line() == f"{len(graph)} succeeded, 0 skipped, 0 failed", executor
        assert not (data / SCRATCH_DIR).exists()
        results[executor] = products(data)
    assert results["serial"] == results["process"] == results["dask"]
    assert len(results["serial"]) > len(graph.external_inputs)


def test_process_pool_propagates_failures_like_serial(compat_dir, tmp_path, fakes_importable):
    outcomes = {}
    for executor in ("serial", "process"):
        graph, data = prepare(compat_dir, tmp_path, name=executor)
        image2 = graph.association_ids()[0]
        summary = run_graph(graph, data, executor=executor, workers=2, progress=False, options={"fail": [image2]})
        outcomes[executor] = ({r.node_id: (r.status, r.reason) for r in summary.results}, products(data))
    assert outcomes["serial"] == outcomes["process"]


def test_a_dask_scheduler_address_is_used(compat_dir, tmp_path, fakes_importable):
    distributed = pytest.importorskip("distributed")
    graph, data = prepare(compat_dir, tmp_path)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        summary = run_graph(graph, data, executor="dask", scheduler=cluster.scheduler_address, progress=False)
    assert summary.succeeded == len(graph)


def test_dask_workers_running_other_asnflow_code_refuse_every_node(compat_dir, tmp_path, fakes_importable,
                                                                     monkeypatch):
    """A standing cluster started from another version or checkout could calibrate otherwise than
    this command: its workers fail the nodes they are sent, saying why, and publish nothing."""
    distributed = pytest.importorskip("distributed")
    graph, data = prepare(compat_dir, tmp_path)
    before = sorted(p.name for p in data.iterdir())
    # What the command sends says its code is another's; the workers (in this process) check their own.
    monkeypatch.setattr("asnflow.workflow.dispatch.scheduler.code_digest", lambda: "another checkout's code")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        summary = run_graph(graph, data, executor="dask", scheduler=cluster.scheduler_address, progress=False)
    assert summary.succeeded == 0 and summary.failed > 0
    failed = [r for r in summary.results if r.status == FAILED]
    assert failed and all("another asnflow" in r.reason for r in failed)
    assert sorted(p.name for p in data.iterdir() if p.name not in (RUN_LOG, SCRATCH_DIR, STORE_NAME)) == before


def test_scheduler_address_needs_the_dask_executor(wfss):
    graph, data = wfss
    with pytest.raises(DispatchError, match="--scheduler needs --executor dask"):
        run_graph(graph, data, executor="process", scheduler="tcp://127.0.0.1:1", progress=False)


# --------------------------------------------------------------------------- the command


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "fake_rules.yaml"
    config.write_text("calibration:\n" + "".join(f"  {t}: {FAKE}\n" for t in ASN_TYPES))
    return config


def test_run_command_summary_dry_run_and_exit_status(compat_dir, tmp_path, fakes_importable, capsys):
    graph, data = prepare(compat_dir, tmp_path)
    folder = str(compat_dir / "expected" / WFSS)
    config = str(write_config(tmp_path))
    common = [folder, "--data", str(data), "--config", config, "--executor", "serial", "--quiet"]

    assert main(["run", *common, "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"{len(graph)} would run, 0 up to date"
    assert [l.split()[1] for l in lines[:-1]] == graph.topological_order()
    assert products(data) == {f: f"raw {f}\n".encode() for f in graph.external_inputs}

    image3 = next(n for n in graph.association_ids() if graph.node(n).asn_type == "image3")
    assert main(["run", *common, "--option", f"fail=[{image3}]"]) == 1
    out = capsys.readouterr().out
    assert f"{len(graph) - 10} succeeded, 9 skipped, 1 failed" in out
    assert f"failed     {image3}" in out

    assert main(["run", *common]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"10 succeeded, {len(graph) - 10} skipped, 0 failed"

    assert main(["run", *common, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"0 would run, {len(graph)} up to date"
    assert all(l.startswith("skip") for l in out.splitlines()[:-1])


def test_run_command_reports_missing_inputs_in_one_line(compat_dir, tmp_path, fakes_importable, capsys):
    data = tmp_path / "empty"
    data.mkdir()
    folder = str(compat_dir / "expected" / WFSS)
    assert main(["run", folder, "--data", str(data), "--config", str(write_config(tmp_path)), "--executor", "serial"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "_uncal.fits" in err and "neither produced" in err
    assert list(data.iterdir()) == []
    assert main(["run", folder, "--data", str(tmp_path / "nowhere")]) == 2
    assert main(["run", folder, "--data", str(data), "--option", "no-equals-sign"]) == 2


def test_graph_command_colours_nodes_by_the_last_run(compat_dir, tmp_path, fakes_importable, capsys):
    graph, data = prepare(compat_dir, tmp_path)
    image3 = next(n for n in graph.association_ids() if graph.node(n).asn_type == "image3")
    run_graph(graph, data, executor="serial", progress=False, options={"fail": [image3]})
    folder = str(compat_dir / "expected" / WFSS)
    assert main(["graph", folder, "--data", str(data), "--format", "json"]) == 0
    nodes = {n["id"]: n for n in json.loads(capsys.readouterr().out)["nodes"]}
    assert nodes[image3]["status"] == FAILED
    assert all(nodes[n]["status"] == SKIPPED for n in graph.descendants(image3))
    assert main(["graph", folder, "--data", str(data), "--format", "dot"]) == 0
    assert '#d7191c' in capsys.readouterr().out  # the failed node's outline


def kill_midway(compat_dir: Path, tmp_path: Path, data: Path, *, after: int, sleep: float) -> None:
    """Run the WFSS pool with `asnflow run` on 2 processes; SIGKILL the whole run once `after` nodes succeeded."""
    folder = str(compat_dir / "expected" / WFSS)
    command = [
        sys.executable, "-m", "asnflow", "run", folder, "--data", str(data), "--config", str(write_config(tmp_path)),
        "--executor", "process", "--workers", "2", "--quiet", "--option", f"sleep={sleep}",
    ]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FAKES), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            log = data / RUN_LOG
            if log.exists() and log.read_text().count('"succeeded"') >= after:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_killed_run_resumes_to_the_same_products(compat_dir, tmp_path, fakes_importable):
    """SIGKILL the whole run midway, run again: same files as an uninterrupted run, no scratch left."""
    graph, clean = prepare(compat_dir, tmp_path, name="clean")
    run_graph(graph, clean, executor="serial", progress=False)
    _, data = prepare(compat_dir, tmp_path, name="killed")
    kill_midway(compat_dir, tmp_path, data, after=3, sleep=0.2)
    assert products(data) != products(clean)  # it really stopped midway
    summary = run_graph(graph, data, executor="process", workers=2, progress=False)
    assert summary.failed == 0 and summary.succeeded < len(graph)
    assert products(data) == products(clean)
    assert not (data / SCRATCH_DIR).exists()


def test_a_node_may_start_its_own_process_pool_in_every_executor(compat_dir, tmp_path, fakes_importable):
    """stcal's maximum_cores > 1 starts a pool inside the node: daemonic workers would refuse it."""
    pytest.importorskip("distributed")
    for executor in ("process", "dask"):
        graph, data = prepare(compat_dir, tmp_path, name=executor)
        nested = graph.association_ids()[0]
        summary = run_graph(graph, data, executor=executor, workers=2, progress=False, options={"nested": [nested]})
        assert summary.result(nested).status == SUCCEEDED, summary.result(nested).reason


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_terminal(wfss, monkeypatch):
    graph, data = wfss
    image3 = next(n for n in graph.association_ids() if graph.node(n).asn_type == "image3")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    total = len(plan_run(graph, data).steps)
    run_graph(graph, data, executor="serial", options={"fail": [image3]})
    text = terminal.getvalue()
    # Counts, how many failed and the node that started last, on one rewritten line.
    assert f"0 failed  {image3}" in text
    *_, last, blank, end = text.split("\r")
    assert f"{total}/{total} nodes" in last and last.rstrip().endswith("1 failed")
    assert blank.strip() == "" and end == ""
    for enabled, stream in ((False, _Terminal()), (True, io.StringIO())):
        monkeypatch.setattr(sys, "stderr", stream)
        run_graph(graph, data, executor="serial", progress=enabled, force=True)
        assert stream.getvalue() == ""


STOPPED_RUN = '''\
import os
import sys
import time

from asnflow.workflow.dispatch.executors import open_executor

HELD = []


def task(path):
    import multiprocessing

    HELD.append(multiprocessing.Lock())  # as crds makes one when a worker imports it
    open(path, "w").close()
    time.sleep(60)


if __name__ == "__main__":
    try:
        with open_executor("process", workers=1) as pool:
            pool.submit(task, sys.argv[1])
            while not os.path.exists(sys.argv[1]):
                time.sleep(0.05)
            raise KeyboardInterrupt  # as Ctrl-C or SIGTERM reach the run
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
'''


def test_a_stopped_process_executor_leaves_only_its_own_line_on_stderr(tmp_path):
    """Workers stopped mid-task end as finished processes do: what their imports made (crds's
    named semaphore) is released, not left to multiprocessing's resource tracker, which then
    printed a two-line warning after the run's one line."""
    script = tmp_path / "stopped_run.py"
    script.write_text(STOPPED_RUN, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "started")], capture_output=True, text=True,
                          timeout=120, check=False, cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stderr == "stopped\n"
