"""The run: a ready-set scheduler over ``concurrent.futures.Executor``.

A node is submitted once all its producers are done; a failure marks every
descendant skipped with the reason; ``retries`` resubmits a failed node. Every
execution is recorded in the provenance store
(:mod:`asnflow.workflow.provenance`), written only by this process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asnflow.calib.base import Node
from asnflow.dask_clients import DEFAULT_TIMEOUT, code_digest
from asnflow.errors import DispatchError, GraphError
from asnflow.progress import ProgressBar
from asnflow.workflow.dispatch.executors import open_executor
from asnflow.workflow.dispatch.folder import (
    SCRATCH_DIR,
    check_data_folder,
    exclusive_use,
    folder_listing,
    matching_files,
    refuse_planted_links,
)
from asnflow.workflow.dispatch.outcomes import FAILED, SKIP, SKIPPED, NodeResult, RunSummary
from asnflow.workflow.dispatch.plan import Plan, plan_run, run_settings
from asnflow.workflow.dispatch.runlog import RUN_LOG, RunLog
from asnflow.workflow.dispatch.worker import NodeTask, execute_node, one_line
from asnflow.workflow.fingerprint import Fingerprinter
from asnflow.workflow.graph import DependencyGraph, describe_missing, refuse_unavailable
from asnflow.workflow.provenance import ADOPTED, HashCache, ProvenanceStore


def run_graph(
    graph: DependencyGraph,
    data_dir: str | os.PathLike[str],
    *,
    executor: str | Executor = "process",
    workers: int = 2,
    scheduler: str | None = None,
    options: Mapping[str, Any] | None = None,
    provider: Any = None,
    force: bool = False,
    retries: int = 0,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    on_finish: Callable[[NodeResult], None] | None = None,
    rebuild_provenance: bool = False,
    provenance: bool = True,
) -> RunSummary:
    """Run every node of ``graph`` whose outputs are not up to date; see the module notes.

    ``executor`` is ``"serial"``, ``"process"``, ``"dask"`` or any
    ``concurrent.futures.Executor`` you created (left open). ``options`` go to
    every module through :class:`RunContext` (default ``maximum_cores="1"``);
    ``provider`` is the reference-data provider handed to modules. Raises
    :class:`GraphError` before anything runs when inputs are missing.
    ``progress`` shows a progress line on stderr when it is a terminal;
    ``timeout`` is how long to try to reach ``scheduler`` (seconds);
    ``on_finish`` is called in this process with each node's final result.
    Every execution is recorded in the provenance store; a corrupt or foreign
    store stops the run before anything runs, unless ``rebuild_provenance``.
    ``provenance=False`` neither reads nor writes the store nor hashes
    anything: up to date then means outputs newer than inputs (what the
    overhead benchmark compares against).
    """
    if retries < 0:
        raise DispatchError(f"--retries must be 0 or more, not {retries}")
    check_data_folder(data_dir)
    data_dir = Path(data_dir).resolve()
    settings = run_settings(options)
    with exclusive_use(data_dir), contextlib.ExitStack() as stack:
        refuse_planted_links(data_dir)
        opened = (
            ProvenanceStore.open(data_dir, rebuild=rebuild_provenance)
            if provenance
            else ProvenanceStore.empty(data_dir)
        )
        with opened as reading:
            hashes = HashCache(reading.known_hashes())
            plan = plan_run(
                graph, data_dir, force=force, options=settings, provider=provider, store=reading, hashes=hashes
            )
        if plan.missing:
            raise GraphError(describe_missing(plan.missing), path=str(data_dir))
        refuse_unavailable(graph, plan.to_run)  # before the store is created: a refused run leaves nothing
        store = stack.enter_context(_writable_store(data_dir)) if provenance else None
        scratch_root = data_dir / SCRATCH_DIR
        shutil.rmtree(scratch_root, ignore_errors=True)  # stale scratch of a killed run
        # Microseconds too: two runs of one process within a second are two runs in the provenance store.
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f") + f"-{os.getpid()}"
        # One folder per run: a straggling worker of a killed run can neither write
        # into this run's scratch nor publish anything once its own folder is gone.
        scratch_dir = scratch_root / run_id
        try:
            scratch_dir.mkdir(parents=True)
        except OSError as exc:
            raise DispatchError(f"cannot write in the data folder: {exc.strerror}", path=str(data_dir)) from None
        log = RunLog(data_dir / RUN_LOG, run_id)
        meter = ProgressBar("run", len(plan.steps), unit="nodes", enabled=progress)
        recorder = _Recorder(store, hashes, Fingerprinter(
            {n.asn_type: graph.module(i) for i, n in graph.nodes.items()}, data_dir, settings, provider, hashes
        ), run_id) if store is not None else _NoRecorder()
        try:
            scheduler_run = _ReadySet(graph, plan, log, meter, retries, recorder, on_finish)

            code = code_digest()

            def make_task(node_id: str) -> NodeTask:
                return NodeTask(
                    _located(graph.node(node_id), data_dir),
                    graph.calibration,
                    data_dir,
                    scratch_dir,
                    graph.outputs(node_id),
                    settings,
                    provider,
                    optional=graph.optional_outputs(node_id),
                    code=code,
                )

            if isinstance(executor, Executor):
                results = scheduler_run.drive(executor, make_task)
            else:
                with open_executor(executor, workers, scheduler, timeout) as pool:
                    results = scheduler_run.drive(pool, make_task)
        finally:
            meter.close()
            log.close()
            shutil.rmtree(scratch_root, ignore_errors=True)
    order = {n: i for i, n in enumerate(graph.topological_order())}
    return RunSummary(run_id, tuple(sorted(results.values(), key=lambda r: order[r.node_id])), data_dir / RUN_LOG)


@contextlib.contextmanager
def _writable_store(data_dir: Path) -> Iterator[ProvenanceStore]:
    if not os.access(data_dir, os.W_OK):
        raise DispatchError(
            "the data folder is read-only: a run writes its products and provenance there", path=str(data_dir)
        )
    store = ProvenanceStore.open(data_dir, write=True)
    try:
        yield store
    finally:
        store.close()


class _Recorder:
    """Writes each execution into the provenance store (in the scheduler process only)."""

    def __init__(self, store: ProvenanceStore, hashes: HashCache, fingerprints: Fingerprinter, run_id: str) -> None:
        self.store = store
        self.hashes = hashes
        self.fingerprints = fingerprints
        self.run_id = run_id
        self.open: dict[str, int] = {}  # node -> execution id of its running attempt

    def started(self, graph: DependencyGraph, node_id: str) -> None:
        node = graph.node(node_id)
        self.open[node_id] = self.store.started(self.run_id, node, self.fingerprints.current(node, ()))

    def finished(self, graph: DependencyGraph, result: NodeResult) -> None:
        execution = self.open.pop(result.node_id, None)
        if execution is None:
            return
        node = graph.node(result.node_id)
        fingerprint = self.fingerprints.current(node, graph.inputs(result.node_id), dict(result.references))
        outputs = {f: self.hashes.hash(self.fingerprints.data_dir / f) for f in result.outputs}
        self.store.finished(
            execution, status=result.status, reason=result.reason, duration=result.duration,
            attempts=result.attempts, fingerprint=fingerprint, outputs=outputs, hashes=self.hashes,
        )

    def adopted(self, graph: DependencyGraph, node_id: str) -> None:
        """Outputs found up to date by time: record them as made by what would make them now."""
        node = graph.node(node_id)
        fingerprint = self.fingerprints.current(node, graph.inputs(node_id))
        execution = self.store.started(self.run_id, node, fingerprint, status=ADOPTED)
        listing = folder_listing(self.fingerprints.data_dir)
        produced = [f for name in graph.outputs(node_id) for f in matching_files(name, listing)]
        outputs = {f: self.hashes.hash(self.fingerprints.data_dir / f) for f in produced}
        self.store.finished(
            execution, status=ADOPTED, reason="outputs newer than inputs", duration=0.0, attempts=0,
            fingerprint=fingerprint, outputs=outputs, hashes=self.hashes,
        )


class _NoRecorder:
    """Stands in for :class:`_Recorder` when provenance is off."""

    def started(self, graph: DependencyGraph, node_id: str) -> None:
        pass

    def finished(self, graph: DependencyGraph, result: NodeResult) -> None:
        pass

    def adopted(self, graph: DependencyGraph, node_id: str) -> None:
        pass


def _located(node: Node, data_dir: Path) -> Node:
    """An exposure node always knows its raw file inside the data folder."""
    if node.kind == "exposure" and node.path is None:
        return replace(node, path=data_dir / (node.node_id.split(":", 1)[1] + ".fits"))
    return node


class _ReadySet:
    """Submits each node once its producers are done; propagates failures as skips."""

    def __init__(
        self,
        graph: DependencyGraph,
        plan: Plan,
        log: RunLog,
        meter: ProgressBar,
        retries: int,
        recorder: _Recorder | _NoRecorder,
        on_finish: Callable[[NodeResult], None] | None = None,
    ) -> None:
        self.recorder = recorder
        self.on_finish = on_finish
        self.graph = graph
        self.plan = {s.node_id: s for s in plan.steps}
        self.order = {s.node_id: i for i, s in enumerate(plan.steps)}
        self.log = log
        self.meter = meter
        self.failed = 0  # nodes failed so far, for the progress line
        self.retries = retries
        self.results: dict[str, NodeResult] = {}
        self.blocked_by: dict[str, str] = {}  # node -> the failed node that stops it
        self.waiting: dict[str, int] = {}  # node -> producers not finished yet
        self.ready: list[str] = []  # nodes to start, in plan order
        self.running: dict[Future, tuple[str, int]] = {}  # -> (node, attempt)

    def drive(self, executor: Executor, make_task: Callable[[str], NodeTask]) -> dict[str, NodeResult]:
        self.executor, self.make_task = executor, make_task
        self.waiting = {n: len(self.graph.predecessors(n)) for n in self.plan}
        self.ready = sorted((n for n, k in self.waiting.items() if k == 0), key=self.order.__getitem__)
        while self.ready or self.running:
            while self.ready:
                self._start(self.ready.pop(0))
            if self.running:
                self._collect(wait(list(self.running), return_when=FIRST_COMPLETED).done)
        return self.results

    def _start(self, node_id: str) -> None:
        """Submit a ready node, or finish it at once as skipped."""
        step = self.plan[node_id]
        if node_id in self.blocked_by:
            self._finish(NodeResult(node_id, SKIPPED, f"upstream {self.blocked_by[node_id]} failed"))
        elif step.action == SKIP:
            if step.adopt:
                self.recorder.adopted(self.graph, node_id)
            self._finish(NodeResult(node_id, SKIPPED, step.reason))
        else:
            self.meter.note(f"{self.failed} failed  {node_id}")
            self.recorder.started(self.graph, node_id)
            self._submit(node_id, 1)

    def _submit(self, node_id: str, attempt: int) -> None:
        try:
            self.running[self.executor.submit(execute_node, self.make_task(node_id))] = (node_id, attempt)
        except Exception as exc:  # a broken pool, an unpicklable provider, ...
            reason = one_line(f"could not start: {type(exc).__name__}: {exc}")
            self._finish(NodeResult(node_id, FAILED, reason, 0.0, attempt))

    def _collect(self, done: set[Future]) -> None:
        """Results of finished futures, in plan order: retried, or finished."""
        for future in sorted(done, key=lambda f: self.order[self.running[f][0]]):
            node_id, attempt = self.running.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # the worker itself died
                result = NodeResult(node_id, FAILED, one_line(f"worker failed: {type(exc).__name__}: {exc}"))
            result = replace(result, attempts=attempt)
            if result.status == FAILED and attempt <= self.retries:
                self.log.write(self.graph.node(node_id), result, retrying=True)
                self._submit(node_id, attempt + 1)
            else:
                self._finish(result)

    def _finish(self, result: NodeResult) -> None:
        """Record a node's result and release its children (skipped if it or its producer failed)."""
        self.results[result.node_id] = result
        self.recorder.finished(self.graph, result)
        self.log.write(self.graph.node(result.node_id), result)
        self.failed += result.status == FAILED
        self.meter.advance(note=f"{self.failed} failed")
        if self.on_finish is not None:
            self.on_finish(result)
        for child in self.graph.successors(result.node_id):
            if result.status == FAILED or result.node_id in self.blocked_by:
                self.blocked_by.setdefault(child, self.blocked_by.get(result.node_id, result.node_id))
            self.waiting[child] -= 1
            if self.waiting[child] == 0:
                self.ready.append(child)
        self.ready.sort(key=self.order.__getitem__)
