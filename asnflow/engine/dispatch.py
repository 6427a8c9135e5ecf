"""Running a dependency graph: a ready-set scheduler over ``concurrent.futures.Executor``.

The same loop drives an in-process serial executor, a process pool, or Dask
distributed (a ``LocalCluster`` here, or any scheduler address). It

* plans first (:func:`plan_run`): a node is skipped when its outputs exist and
  what made them (association content, input content, module, version,
  parameters, reference files; :mod:`asnflow.workflow.fingerprint`) is what
  would make them now, unless forced or an upstream node reruns; inputs that
  no node produces must be on disk for every node that will run;
* submits a node once all its producers are done; a failure marks every
  descendant skipped with the reason; ``retries`` resubmits a failed node;
* runs each node (:func:`execute_node`, in the worker) in its own scratch
  folder ``DATA/.asnflow-scratch/<run>/<node>/`` and moves the declared outputs into
  the data folder with ``os.replace`` only after the module succeeded, so a
  run killed at any moment leaves no half-written product, and the next run
  (which clears stale scratch first) redoes exactly what is missing;
* records every execution in the provenance store
  (:mod:`asnflow.workflow.provenance`), written only by this process, and
  appends one JSON line per node to ``DATA/asnflow-run.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from asnflow.calib.base import PLACEHOLDER, CalibrationModule, Node, RunContext, UnavailableModule, module_for_node
from asnflow.engine.graph import DependencyGraph, describe_missing, refuse_unavailable
from asnflow.engine.scheduler import DEFAULT_TIMEOUT, dask_client
from asnflow.errors import AsnflowError, DispatchError, GraphError
from asnflow.fsread import kind_of
from asnflow.progress import ProgressBar
from asnflow.workers import leave_with_owner
from asnflow.workflow.fingerprint import Fingerprinter, node_meaning, why_changed
from asnflow.workflow.provenance import ADOPTED, RUNNING, STORE_NAME, HashCache, ProvenanceStore

SUCCEEDED = "succeeded"
SKIPPED = "skipped"
FAILED = "failed"
RUN = "run"
SKIP = "skip"

SCRATCH_DIR = ".asnflow-scratch"
RUN_LOG = "asnflow-run.jsonl"
EXECUTORS = ("serial", "process", "dask")
# Keep stcal single-process inside a node unless asked otherwise: nodes already
# run in parallel, and nested pools fail in daemonic Dask workers.
DEFAULT_OPTIONS: Mapping[str, Any] = {"maximum_cores": "1"}


# ---------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class PlannedNode:
    node_id: str
    action: str  # RUN | SKIP
    reason: str
    adopt: bool = False  # up to date by modification times, not yet in the provenance store


@dataclass(frozen=True)
class Plan:
    """What a run would do, in topological order, and which inputs it lacks."""

    steps: tuple[PlannedNode, ...]
    missing: Mapping[str, tuple[str, ...]]  # external input -> nodes that will run and need it
    unavailable: Mapping[str, str] = field(default_factory=dict)  # node that will run -> why its module cannot

    @property
    def to_run(self) -> list[str]:
        return [s.node_id for s in self.steps if s.action == RUN]

    def lines(self) -> list[str]:
        """One line per node; a node lacking an input or a module says so after its reason."""
        width = max((len(s.node_id) for s in self.steps), default=0)
        lacking: dict[str, list[str]] = {}
        for file_name, readers in self.missing.items():
            for reader in readers:
                lacking.setdefault(reader, []).append(file_name)
        lines = []
        for s in self.steps:
            notes = [f"MISSING {f}" for f in lacking.get(s.node_id, [])]
            if s.node_id in self.unavailable:
                notes.append(f"MODULE NOT AVAILABLE: {self.unavailable[s.node_id]}")
            text = f"{'run ' if s.action == RUN else 'skip'}  {s.node_id:<{width}}  {s.reason}"
            lines.append(text + "".join(f"  [{n}]" for n in notes))
        return lines


@dataclass(frozen=True)
class NodeTask:
    """Everything a worker needs to run one node; picklable."""

    node: Node
    calibration: Mapping[str, Any]
    data_dir: Path
    scratch_dir: Path
    outputs: tuple[str, ...]
    options: Mapping[str, Any]
    provider: Any = None
    record_references: bool = True  # hand modules a provider that notes the reference files they read
    optional: tuple[str, ...] = ()  # declared outputs the module may leave unwritten


@dataclass(frozen=True)
class NodeResult:
    node_id: str
    status: str  # SUCCEEDED | SKIPPED | FAILED
    reason: str = ""
    duration: float = 0.0
    attempts: int = 0
    detail: str = ""  # the traceback of an unexpected exception
    outputs: tuple[str, ...] = ()  # the files published into the data folder
    references: tuple[tuple[str, str], ...] = ()  # (reftype, file path) the module read


@dataclass(frozen=True)
class RunSummary:
    """The outcome of :func:`run_graph`, one result per node in topological order."""

    run_id: str
    results: tuple[NodeResult, ...]
    log_path: Path | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def succeeded(self) -> int:
        return self.count(SUCCEEDED)

    @property
    def skipped(self) -> int:
        return self.count(SKIPPED)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def exit_status(self) -> int:
        """0 when nothing failed, 1 otherwise (the CLI's "ran, but found failures")."""
        return 1 if self.failed else 0

    def line(self) -> str:
        return f"{self.succeeded} succeeded, {self.skipped} skipped, {self.failed} failed"

    def result(self, node_id: str) -> NodeResult:
        for r in self.results:
            if r.node_id == node_id:
                return r
        raise KeyError(node_id)


# ---------------------------------------------------------------------------
# Planning


def plan_run(
    graph: DependencyGraph,
    data_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    options: Mapping[str, Any] | None = None,
    provider: Any = None,
    store: ProvenanceStore | None = None,
    hashes: HashCache | None = None,
) -> Plan:
    """Decide, from what is on disk and in the provenance store, which nodes run.

    A node runs when forced, when a producer of its inputs runs, when one of
    its outputs is missing, when its last execution failed or was
    interrupted, or when what made its outputs differs from what would make
    them now (:func:`asnflow.workflow.fingerprint.why_changed`). A node the
    store does not know yet (outputs made before the store existed) is up to
    date when its outputs are newer than its inputs, and is then adopted.
    Inputs that are not on disk do not count against an up-to-date node (a
    raw ``_uncal`` may be gone once its ``_rate`` exists), but every node that
    will run must find its external inputs. ``options`` and ``provider`` are
    those the run would use; ``store`` defaults to the data folder's, read-only.
    """
    data_dir = Path(data_dir)
    listing = _listing(data_dir)
    own_store = store is None
    if store is None:
        store = ProvenanceStore.open(data_dir)
    try:
        if hashes is None:
            hashes = HashCache(store.known_hashes())
        modules: dict[str, CalibrationModule] = {}
        for node_id, node in graph.nodes.items():
            if node.asn_type not in modules:
                modules[node.asn_type] = graph.module(node_id)
        fingerprints = Fingerprinter(modules, data_dir, _settings(options), provider, hashes)
        steps: list[PlannedNode] = []
        running: set[str] = set()
        for node_id in graph.topological_order():
            reason, adopt = _why_run(graph, node_id, data_dir, listing, running, force, store, fingerprints)
            if reason is None:
                steps.append(PlannedNode(node_id, SKIP, "up to date", adopt))
            else:
                running.add(node_id)
                steps.append(PlannedNode(node_id, RUN, reason))
    finally:
        if own_store:
            store.close()
    missing_modules = {t: _unavailable(m) for t, m in modules.items()}
    unavailable = {
        n: missing_modules[graph.node(n).asn_type] for n in running if missing_modules[graph.node(n).asn_type]
    }
    return Plan(tuple(steps), graph.missing_inputs(data_dir, running), unavailable)


def _unavailable(module: CalibrationModule) -> str:
    """Why ``module`` cannot run here ("" when it can)."""
    if isinstance(module, UnavailableModule):
        return module.reason
    if module.name.startswith("jwst:"):
        import importlib.util

        if importlib.util.find_spec("jwst") is None:
            return f"{module.name} needs jwst, which is not installed (pip install 'asnflow[jwst]')"
    return ""


def _settings(options: Mapping[str, Any] | None) -> dict[str, Any]:
    settings = dict(DEFAULT_OPTIONS)
    settings.update(options or {})
    return settings


def _listing(data_dir: Path) -> frozenset[str]:
    try:
        return frozenset(entry.name for entry in os.scandir(data_dir) if entry.is_file())
    except FileNotFoundError:
        return frozenset()
    except NotADirectoryError:
        raise DispatchError("the data folder is not a folder", path=str(data_dir)) from None


def _why_run(
    graph: DependencyGraph,
    node_id: str,
    data_dir: Path,
    listing: frozenset[str],
    running: set[str],
    force: bool,
    store: ProvenanceStore,
    fingerprints: Fingerprinter,
) -> tuple[str | None, bool]:
    """(why the node runs, or None; whether an up-to-date node is adopted into the store)."""
    if force:
        return "forced", False
    upstream = [p for p in graph.predecessors(node_id) if p in running]
    if upstream:
        return f"upstream {upstream[0]} runs", False
    outputs = graph.outputs(node_id)
    if not outputs:
        return "declares no outputs", False
    optional = graph.optional_outputs(node_id)
    for name in outputs:
        if not _matching_files(name, listing) and name not in optional:
            return f"output {name} missing", False
    node = graph.node(node_id)
    last = store.latest(node_id)
    if last is not None and last.meaning == node_meaning(node):
        if last.status == RUNNING:
            if _published_since(last.started, outputs, data_dir, listing):
                return None, True  # killed after its outputs were in place, before the store heard of it
            return f"interrupted in run {last.run_id}", False
        if last.status == FAILED:
            return f"failed last time: {last.reason}", False
    # What made the outputs decides, whatever node id it had: an association file
    # renumbered by a later generation keeps its products.
    made = _maker_of_outputs(store, outputs, listing)
    if made is None and last is not None and last.status in (SUCCEEDED, ADOPTED):
        made = last
    if made is None:
        by_time = _why_run_by_time(graph, node_id, data_dir, listing)
        return by_time, by_time is None
    for name, digest in made.outputs.items():
        if name not in listing:
            return f"output {name} missing", False
        if digest and fingerprints.hashes.hash(data_dir / name) != digest:
            return f"output {name} changed since it was made", False
    now = fingerprints.current(node, graph.inputs(node_id), {t: p for t, (p, _) in made.references.items()})
    return why_changed(made, now), False


def _published_since(started: str, outputs: tuple[str, ...], data_dir: Path, listing: frozenset[str]) -> bool:
    """True when every output was written after ``started`` (ISO time): the node published all of them.

    Outputs are written in scratch after the node starts and keep that time
    when moved into place; one older than the start is a previous run's.
    """
    try:
        since = datetime.fromisoformat(started).timestamp()
    except ValueError:
        return False
    found = [f for name in outputs for f in _matching_files(name, listing)]
    return bool(found) and all((data_dir / f).stat().st_mtime >= since for f in found)


def _maker_of_outputs(store: ProvenanceStore, outputs: tuple[str, ...], listing: frozenset[str]):
    """The execution that made all of these outputs, when one did."""
    makers = set()
    found = None
    for name in outputs:
        for file_name in _matching_files(name, listing):
            found = store.maker_of(file_name)
            makers.add(found.id if found is not None else None)
    return found if len(makers) == 1 and found is not None else None


def _why_run_by_time(graph: DependencyGraph, node_id: str, data_dir: Path, listing: frozenset[str]) -> str | None:
    """Make's rule, for outputs the provenance store has no record of."""
    outputs = graph.outputs(node_id)
    oldest_output: tuple[int, str] | None = None
    optional = graph.optional_outputs(node_id)
    for name in outputs:
        found = _matching_files(name, listing)
        if not found:
            if name in optional:
                continue
            return f"output {name} missing"
        for file_name in found:
            stamp = (data_dir / file_name).stat().st_mtime_ns
            if oldest_output is None or stamp < oldest_output[0]:
                oldest_output = (stamp, file_name)
    for name in graph.inputs(node_id):
        if name in listing and oldest_output is not None and (data_dir / name).stat().st_mtime_ns > oldest_output[0]:
            return f"no provenance record, and input {name} is newer than output {oldest_output[1]}"
    return None


def _matching_files(name: str, listing: frozenset[str]) -> list[str]:
    """``name`` itself, or every file matching it when it holds run-time placeholders."""
    if not PLACEHOLDER.search(name):
        return [name] if name in listing else []
    pattern = _placeholder_pattern(name)
    return sorted(f for f in listing if pattern.fullmatch(f))


def _placeholder_pattern(name: str) -> re.Pattern[str]:
    parts = PLACEHOLDER.split(name)
    return re.compile("[^/]+".join(re.escape(p) for p in parts))


# ---------------------------------------------------------------------------
# One node, in a worker


def execute_node(task: NodeTask) -> NodeResult:
    """Run one node in its scratch folder and publish its outputs; never raises.

    This is the function executors run (it is importable, so process pools and
    Dask workers can unpickle it). Only declared outputs are moved into the
    data folder; anything else the module leaves in the scratch folder goes
    with it.
    """
    node = task.node
    start = time.monotonic()
    workdir = task.scratch_dir / scratch_name(node.node_id)
    try:
        shutil.rmtree(workdir, ignore_errors=True)  # a retry starts clean
        workdir.mkdir()  # not parents: the run's scratch folder must still exist
        module = module_for_node(node, task.calibration)
        provider = task.provider
        if provider is not None and task.record_references and not module.name.startswith("jwst:"):
            # jwst's pipelines look references up themselves and need the provider as it is.
            provider = RecordingProvider(provider)
        module.run(node, RunContext(task.data_dir, workdir, provider, dict(task.options)))
        produced = _collect_outputs(task.outputs, workdir, task.optional)
        for file_name in produced:
            if os.path.islink(task.data_dir / file_name):
                raise DispatchError(f"output {file_name} in the data folder is a symbolic link; not replacing it")
        for file_name in produced:  # same file system: each move is an atomic rename
            os.replace(workdir / file_name, task.data_dir / file_name)
        used = tuple(sorted(provider.used.items())) if isinstance(provider, RecordingProvider) else ()
        return NodeResult(
            node.node_id, SUCCEEDED, f"{len(produced)} outputs", time.monotonic() - start, 1,
            outputs=tuple(produced), references=used,
        )
    except AsnflowError as exc:
        return NodeResult(node.node_id, FAILED, _one_line(str(exc)), time.monotonic() - start, 1)
    except Exception as exc:  # a module's bug must fail its node, not the run
        return NodeResult(
            node.node_id,
            FAILED,
            _one_line(f"{type(exc).__name__}: {exc}"),
            time.monotonic() - start,
            1,
            traceback.format_exc(),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class RecordingProvider:
    """A reference provider that notes which reference files it handed out."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.used: dict[str, str] = {}  # reftype -> file path (or source when there is no file)

    def fetch(self, model: Any, reftypes: Any) -> Any:
        found = self.inner.fetch(model, reftypes)
        for reftype, reference in found.items():
            self.used[str(reftype)] = str(getattr(reference, "path", "") or getattr(reference, "source", ""))
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def scratch_name(node_id: str) -> str:
    """A folder name for a node id (``detector1:x`` -> ``detector1--x``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", node_id.replace(":", "--"))


def _collect_outputs(declared: tuple[str, ...], workdir: Path, optional: tuple[str, ...] = ()) -> list[str]:
    written = frozenset(entry.name for entry in os.scandir(workdir) if entry.is_file())
    produced: list[str] = []
    absent: list[str] = []
    for name in declared:
        found = _matching_files(name, written)
        if found:
            produced.extend(f for f in found if f not in produced)
        elif name not in optional:
            absent.append(name)
    if absent:
        more = f" and {len(absent) - 3} more" if len(absent) > 3 else ""
        raise DispatchError(f"the module did not write its declared output {', '.join(absent[:3])}{more}")
    return produced


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------
# Executors


class SerialExecutor(Executor):
    """Runs each task at submit time, in this process (for debugging and small runs)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


@contextlib.contextmanager
def open_executor(kind: str, workers: int = 2, scheduler: str | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> Iterator[Executor]:
    """An executor by name: ``serial``, ``process`` or ``dask`` (LocalCluster, or ``scheduler``)."""
    if workers < 1:
        raise DispatchError(f"--workers must be at least 1, not {workers}")
    if scheduler is not None and kind != "dask":
        raise DispatchError("--scheduler needs --executor dask")
    if kind == "serial":
        yield SerialExecutor()
    elif kind == "process":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: workers inherit no threads or locks from this process, and no
        # fork server outlives a killed run.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=leave_with_owner, initargs=(os.getpid(),)
        ) as pool:
            try:
                yield pool
            except BaseException:
                # Interrupted or failed: stop the workers now instead of waiting
                # for the calibrations they are running (they ignore Ctrl-C).
                processes = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    process.terminate()
                raise
    elif kind == "dask":
        with dask_client(scheduler, workers=workers, timeout=timeout, error=DispatchError,
                         option="--executor dask") as client:
            yield client.get_executor(pure=False)
    else:
        raise DispatchError(f"unknown executor {kind!r}; choose from {', '.join(EXECUTORS)}")


# ---------------------------------------------------------------------------
# The run


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
    settings = _settings(options)
    with _exclusive(data_dir), contextlib.ExitStack() as stack:
        _refuse_planted_links(data_dir)
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


def check_data_folder(data_dir: str | os.PathLike[str], option: str = "--data") -> None:
    """Refuse a data folder that does not exist or is not a folder, saying which."""
    where = os.fspath(data_dir)
    try:
        mode = os.stat(where).st_mode
    except FileNotFoundError:
        raise DispatchError("the data folder does not exist", path=where) from None
    except OSError as exc:
        raise DispatchError(f"cannot use the data folder: {exc.strerror}", path=where) from None
    if not stat.S_ISDIR(mode):
        raise DispatchError(f"{option} names {kind_of(mode)}, not a folder", path=where)


def _refuse_planted_links(data_dir: Path) -> None:
    """The run log, the provenance store and the scratch folder are asnflow's own: never follow a link planted there."""
    for name, kind in ((RUN_LOG, stat.S_ISREG), (SCRATCH_DIR, stat.S_ISDIR), (STORE_NAME, stat.S_ISREG)):
        try:
            mode = os.lstat(data_dir / name).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            raise DispatchError(f"{name} in the data folder is a symbolic link; asnflow does not write through links",
                                path=str(data_dir), hint=f"remove the link {data_dir / name}")
        if not kind(mode):
            raise DispatchError(f"{name} in the data folder is {kind_of(mode)}; asnflow keeps its "
                                f"{'scratch work' if name == SCRATCH_DIR else 'run records'} there",
                                path=str(data_dir), hint=f"move {data_dir / name} away")


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
        listing = _listing(self.fingerprints.data_dir)
        produced = [f for name in graph.outputs(node_id) for f in _matching_files(name, listing)]
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
            reason = _one_line(f"could not start: {type(exc).__name__}: {exc}")
            self._finish(NodeResult(node_id, FAILED, reason, 0.0, attempt))

    def _collect(self, done: set[Future]) -> None:
        """Results of finished futures, in plan order: retried, or finished."""
        for future in sorted(done, key=lambda f: self.order[self.running[f][0]]):
            node_id, attempt = self.running.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # the worker itself died
                result = NodeResult(node_id, FAILED, _one_line(f"worker failed: {type(exc).__name__}: {exc}"))
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


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Lock the data folder itself, so two runs never clear each other's scratch.

    The lock is on the folder (no lock file to leave behind) and the kernel
    drops it when the process dies, even by SIGKILL.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: run without the guard
        yield
        return
    descriptor = os.open(data_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DispatchError("another asnflow run is using this data folder", path=str(data_dir)) from None
        yield
    finally:
        os.close(descriptor)  # releases the lock


# ---------------------------------------------------------------------------
# The run log


class RunLog:
    """``DATA/asnflow-run.jsonl``: one JSON object per finished node, appended."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._handle: TextIO | None = None

    def write(self, node: Node, result: NodeResult, *, retrying: bool = False) -> None:
        record = {
            "run": self.run_id,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "node": node.node_id,
            "kind": node.kind,
            "asn_type": node.asn_type,
            "status": "retrying" if retrying else result.status,
            "duration": round(result.duration, 3),
            "attempts": result.attempts,
            "reason": result.reason,
        }
        if result.detail:
            record["traceback"] = result.detail
        if self._handle is None:
            # O_NOFOLLOW: a link planted in the log's place is refused, not appended through.
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            self._handle = os.fdopen(os.open(self.path, flags, 0o666), "a", encoding="utf-8")
        # One write per line, flushed: a killed run loses at most the line being written.
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


@dataclass(frozen=True)
class LoggedStatus:
    status: str
    reason: str
    run: str
    time: str


def read_run_log(data_dir: str | os.PathLike[str]) -> dict[str, LoggedStatus]:
    """The last recorded status of every node in ``DATA/asnflow-run.jsonl`` (empty if none).

    Lines that do not parse (the tail of a killed run) are ignored.
    """
    path = Path(data_dir) / RUN_LOG
    statuses: dict[str, LoggedStatus] = {}
    try:
        handle = os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK),
                           encoding="utf-8", errors="replace")
    except OSError:  # none yet, or not asnflow's (a link, a FIFO): no statuses to show
        return statuses
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        return statuses
    with handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict) or "node" not in record or record.get("status") == "retrying":
                continue
            statuses[str(record["node"])] = LoggedStatus(
                str(record.get("status", "")),
                str(record.get("reason", "")),
                str(record.get("run", "")),
                str(record.get("time", "")),
            )
    return statuses
