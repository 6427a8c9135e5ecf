"""Planning a run: which nodes run and why, which are up to date, which inputs are missing.

A node is skipped when its outputs exist and what made them (association
content, input content, module, version, parameters, reference files;
:mod:`asnflow.workflow.fingerprint`) is what would make them now, unless forced
or an upstream node reruns; inputs that no node produces must be on disk for
every node that will run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from asnflow.calib.base import CalibrationModule, UnavailableModule
from asnflow.workflow.dispatch.folder import folder_listing, matching_files
from asnflow.workflow.dispatch.outcomes import FAILED, RUN, SKIP, SUCCEEDED
from asnflow.workflow.fingerprint import Fingerprinter, node_meaning, why_changed
from asnflow.workflow.graph import DependencyGraph
from asnflow.workflow.provenance import ADOPTED, RUNNING, HashCache, ProvenanceStore

# Keep stcal single-process inside a node unless asked otherwise: nodes already
# run in parallel, and nested pools fail in daemonic Dask workers.
DEFAULT_OPTIONS: Mapping[str, Any] = {"maximum_cores": "1"}


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
    listing = folder_listing(data_dir)
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
        fingerprints = Fingerprinter(modules, data_dir, run_settings(options), provider, hashes)
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


def run_settings(options: Mapping[str, Any] | None) -> dict[str, Any]:
    settings = dict(DEFAULT_OPTIONS)
    settings.update(options or {})
    return settings


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
        if not matching_files(name, listing) and name not in optional:
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
    found = [f for name in outputs for f in matching_files(name, listing)]
    return bool(found) and all((data_dir / f).stat().st_mtime >= since for f in found)


def _maker_of_outputs(store: ProvenanceStore, outputs: tuple[str, ...], listing: frozenset[str]):
    """The execution that made all of these outputs, when one did."""
    makers = set()
    found = None
    for name in outputs:
        for file_name in matching_files(name, listing):
            found = store.maker_of(file_name)
            makers.add(found.id if found is not None else None)
    return found if len(makers) == 1 and found is not None else None


def _why_run_by_time(graph: DependencyGraph, node_id: str, data_dir: Path, listing: frozenset[str]) -> str | None:
    """Make's rule, for outputs the provenance store has no record of."""
    outputs = graph.outputs(node_id)
    oldest_output: tuple[int, str] | None = None
    optional = graph.optional_outputs(node_id)
    for name in outputs:
        found = matching_files(name, listing)
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


