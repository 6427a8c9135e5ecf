"""The dependency graph between associations (and the raw exposures they start from).

One node per association (id = its file stem) and, unless left out, one
``detector1`` node per raw exposure whose ``_rate``/``_rateints`` product a
member lists. An edge P -> C exists wherever a file C reads is a file P
writes; what a node reads and writes comes from its calibration module
(:func:`asnflow.calib.base.module_for`), so the graph and the modules agree by
construction. Files nobody produces are *external inputs*: they must already
be in the data folder.

:class:`DependencyGraph` is a read-only, typed view over a
``networkx.DiGraph``; drawing it is the job of :mod:`asnflow.workflow.draw`.
"""

from __future__ import annotations

import importlib.util
import os
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import networkx as nx

from asnflow.asnfile.files import association_files
from asnflow.calib.base import (
    DETECTOR1,
    PLACEHOLDER,
    CalibrationModule,
    Node,
    choose_route,
    file_root,
    file_suffix,
    module_for_node,
)
from asnflow.errors import AssociationFileError, GraphError
from asnflow.fsread import kind_of
from asnflow.pathnames import NAME_MAX, SUFFIX_ROOM, check_name

ASSOCIATION = "association"
EXPOSURE = "exposure"
# Detector1 products a member can name; the raw exposure is <root>_uncal.fits.
DETECTOR1_SUFFIXES = frozenset({"rate", "rateints"})
_MAX_NAMED = 5  # how many files an error line names before "and N more"


@dataclass(frozen=True)
class LoadedAssociation:
    """An association file and its content."""

    path: Path
    data: Mapping[str, Any]

    @property
    def node_id(self) -> str:
        return self.path.stem


@dataclass(frozen=True)
class GraphSummary:
    """The counts people ask for first."""

    associations: int
    association_edges: int
    generations: int
    exposures: int
    edges: int

    def line(self) -> str:
        return (
            f"{self.associations} associations, {self.association_edges} association edges, "
            f"{self.generations} generations; {self.exposures} exposures"
        )


# ---------------------------------------------------------------------------
# Reading association files


def load_association(path: str | os.PathLike[str]) -> LoadedAssociation:
    """Read and validate one association file (JSON or YAML), see :mod:`asnflow.asnfile.files`."""
    from asnflow.asnfile import files as asnfile

    path = Path(path)
    data = asnfile.load(path)
    # Everything lives in one flat data folder, and the calibration modules
    # name their outputs after the products: a path in either would escape it.
    for p, product in enumerate(data.get("products") or []):
        check_name(product.get("name"), f"products[{p}].name", path=str(path), error=AssociationFileError,
                   limit=NAME_MAX - SUFFIX_ROOM)
        for m, member in enumerate(product.get("members") or []):
            check_name(member.get("expname"), f"products[{p}].members[{m}].expname", path=str(path),
                       error=AssociationFileError, limit=NAME_MAX)
    return LoadedAssociation(path, data)


def load_associations(paths: Iterable[str | os.PathLike[str]]) -> list[LoadedAssociation]:
    """Load every association named by PATHS (files or folders)."""
    return [load_association(p) for p in association_files(paths)]


# ---------------------------------------------------------------------------
# The graph


class DependencyGraph:
    """Associations and exposures, with an edge wherever one's output is another's input.

    Build it with :func:`build_graph`. ``digraph`` is the underlying
    ``networkx.DiGraph``: each node carries ``kind``, ``asn_type``, ``inputs``
    and ``outputs``; each edge carries ``files`` (what flows along it).
    """

    def __init__(
        self,
        digraph: nx.DiGraph,
        nodes: Mapping[str, Node],
        external_inputs: Mapping[str, tuple[str, ...]],
        calibration: Mapping[str, Any],
    ) -> None:
        self._digraph = digraph
        self._nodes = dict(nodes)
        self._external = dict(external_inputs)
        self._producers = {f: n for n in self._nodes for f in digraph.nodes[n]["outputs"]}
        self.calibration = dict(calibration)

    # -- nodes and edges --------------------------------------------------
    @property
    def digraph(self) -> nx.DiGraph:
        """A read-only view of the networkx graph."""
        return self._digraph.copy(as_view=True)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __iter__(self) -> Iterator[str]:
        return iter(self.topological_order())

    def node(self, node_id: str) -> Node:
        return self._nodes[node_id]

    @property
    def nodes(self) -> Mapping[str, Node]:
        return dict(self._nodes)

    def inputs(self, node_id: str) -> tuple[str, ...]:
        return tuple(self._digraph.nodes[node_id]["inputs"])

    def outputs(self, node_id: str) -> tuple[str, ...]:
        return tuple(self._digraph.nodes[node_id]["outputs"])

    def optional_outputs(self, node_id: str) -> tuple[str, ...]:
        """The outputs a run of ``node_id`` may leave unwritten (a subset of :meth:`outputs`)."""
        return tuple(self._digraph.nodes[node_id].get("optional", ()))

    def predecessors(self, node_id: str) -> list[str]:
        return sorted(self._digraph.predecessors(node_id))

    def successors(self, node_id: str) -> list[str]:
        return sorted(self._digraph.successors(node_id))

    def descendants(self, node_id: str) -> set[str]:
        return nx.descendants(self._digraph, node_id)

    def edge_files(self, producer: str, consumer: str) -> tuple[str, ...]:
        return tuple(self._digraph.edges[producer, consumer]["files"])

    def association_ids(self) -> list[str]:
        return [n for n in self.topological_order() if self._nodes[n].kind == ASSOCIATION]

    def exposure_ids(self) -> list[str]:
        return [n for n in self.topological_order() if self._nodes[n].kind == EXPOSURE]

    # -- order ------------------------------------------------------------
    def topological_order(self) -> list[str]:
        """Every node after its producers; ties broken by id, so the order is stable."""
        return list(nx.lexicographical_topological_sort(self._digraph))

    def generations(self) -> list[list[str]]:
        """Nodes grouped by longest path from a source (exposures are generation 0)."""
        return [sorted(g) for g in nx.topological_generations(self._digraph)]

    def association_generations(self) -> list[list[str]]:
        """Generations of the association layer alone (exposure edges ignored)."""
        sub = self._digraph.subgraph(n for n, node in self._nodes.items() if node.kind == ASSOCIATION)
        return [sorted(g) for g in nx.topological_generations(sub)]

    def summary(self) -> GraphSummary:
        associations = [n for n, node in self._nodes.items() if node.kind == ASSOCIATION]
        sub = self._digraph.subgraph(associations)
        return GraphSummary(
            associations=len(associations),
            association_edges=sub.number_of_edges(),
            generations=len(self.association_generations()),
            exposures=len(self._nodes) - len(associations),
            edges=self._digraph.number_of_edges(),
        )

    # -- files ------------------------------------------------------------
    @property
    def external_inputs(self) -> dict[str, tuple[str, ...]]:
        """Input files no node produces, each with the nodes that read it."""
        return dict(self._external)

    def producer_of(self, file_name: str) -> str | None:
        """The node that writes ``file_name``, or None for an external input."""
        return self._producers.get(file_name)

    def missing_inputs(
        self, data_dir: str | os.PathLike[str], nodes: Iterable[str] | None = None
    ) -> dict[str, tuple[str, ...]]:
        """External inputs not in ``data_dir``, with their readers (optionally only for ``nodes``)."""
        data_dir = Path(data_dir)
        only = None if nodes is None else set(nodes)
        missing: dict[str, tuple[str, ...]] = {}
        for file_name, readers in sorted(self._external.items()):
            wanted_by = tuple(r for r in readers if only is None or r in only)
            if not wanted_by:
                continue
            try:
                mode = (data_dir / file_name).stat().st_mode
            except FileNotFoundError:
                missing[file_name] = wanted_by
                continue
            except OSError as exc:
                raise GraphError(f"cannot look at input {file_name}: {exc.strerror}", path=str(data_dir)) from None
            if not stat.S_ISREG(mode):
                # A FIFO would block the module that reads it; a folder is not "missing" either.
                raise GraphError(f"input {file_name} (needed by {wanted_by[0]}) is {kind_of(mode)}, not a file",
                                 path=str(data_dir))
        return missing

    def module(self, node_id: str) -> CalibrationModule:
        return module_for_node(self._nodes[node_id], self.calibration)

    def unavailable(self, node_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """Nodes among ``node_ids`` whose module cannot run here: node -> (module name, reason)."""
        found: dict[str, tuple[str, str]] = {}
        for node_id in node_ids:
            module = self.module(node_id)
            reason = module.unavailable()
            if reason is not None:
                found[node_id] = (module.name, reason)
        return found


def build_graph(
    associations: Iterable[LoadedAssociation | str | os.PathLike[str]],
    *,
    calibration: Mapping[str, Any] | None = None,
    exposures: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
) -> DependencyGraph:
    """Build the graph from loaded associations or association paths (files or folders).

    ``calibration`` is the asn_type -> module table (rules.yaml's by default).
    With ``exposures=False`` the detector1 layer is left out and ``_rate``
    files become external inputs. ``data_dir`` only fills exposure nodes' paths.
    """
    if calibration is None:
        from asnflow.config import load_config

        calibration = load_config().calibration
    loaded = _as_loaded(associations)
    modules: dict[Any, CalibrationModule] = {}

    def routed(node: Node) -> Node:
        """``node`` with its calibration route chosen (by asn_type, instrument, readout)."""
        return replace(node, route=choose_route(node, calibration))

    def module(node: Node) -> CalibrationModule:
        key = (node.asn_type, repr(node.route))
        if key not in modules:
            modules[key] = module_for_node(node, calibration)
        return modules[key]

    nodes = {item.node_id: routed(node) for item, node in _association_nodes(loaded)}

    files_in: dict[str, list[str]] = {}
    files_out: dict[str, list[str]] = {}
    optional: dict[str, list[str]] = {}

    def declare(node: Node) -> None:
        files_in[node.node_id] = list(dict.fromkeys(module(node).inputs(node)))
        files_out[node.node_id] = list(dict.fromkeys(module(node).outputs(node)))
        optional[node.node_id] = [f for f in module(node).optional_outputs(node) if f in files_out[node.node_id]]

    for node in nodes.values():
        declare(node)
    if exposures:
        for unrouted in _exposure_nodes(files_in, _producers(files_out), data_dir):
            exposure = routed(unrouted)
            nodes[exposure.node_id] = exposure
            declare(exposure)

    digraph = nx.DiGraph()
    for node_id, node in nodes.items():
        digraph.add_node(
            node_id,
            kind=node.kind,
            asn_type=node.asn_type,
            inputs=tuple(files_in[node_id]),
            outputs=tuple(files_out[node_id]),
            optional=tuple(optional[node_id]),
            module=module(node).name,
        )
    external = _connect(digraph, files_in, _producers(files_out))
    _refuse_cycles(digraph)
    for _, _, data in digraph.edges(data=True):
        data["files"] = tuple(data["files"])
    return DependencyGraph(
        digraph,
        nodes,
        {f: tuple(sorted(readers)) for f, readers in sorted(external.items())},
        calibration,
    )


def _association_nodes(loaded: list[LoadedAssociation]) -> Iterator[tuple[LoadedAssociation, Node]]:
    """One node per association file; two files with one id are refused."""
    seen: dict[str, LoadedAssociation] = {}
    for item in loaded:
        node_id = item.node_id
        if node_id in seen:
            raise GraphError(
                f"two association files share the id {node_id!r}: {seen[node_id].path} and {item.path}",
                path=str(item.path),
            )
        seen[node_id] = item
        yield item, Node(node_id, ASSOCIATION, str(item.data["asn_type"]), item.path, item.data)


def _exposure_nodes(
    files_in: Mapping[str, list[str]], producers: Mapping[str, str], data_dir: str | os.PathLike[str] | None
) -> list[Node]:
    """The detector1 layer: one node per raw exposure whose products (_rate, ...) nothing else makes."""
    wanted: dict[str, list[str]] = {}
    for inputs in files_in.values():
        for file_name in inputs:
            if file_name not in producers and file_suffix(file_name) in DETECTOR1_SUFFIXES:
                wanted.setdefault(f"{file_root(file_name)}_uncal", []).append(file_name)
    return [
        Node(
            node_id=f"{DETECTOR1}:{uncal_stem}",
            kind=EXPOSURE,
            asn_type=DETECTOR1,
            path=Path(data_dir) / f"{uncal_stem}.fits" if data_dir is not None else None,
            association=None,
            wanted=tuple(sorted(set(products))),
        )
        for uncal_stem, products in sorted(wanted.items())
    ]


def _connect(
    digraph: nx.DiGraph, files_in: Mapping[str, list[str]], producers: Mapping[str, str]
) -> dict[str, list[str]]:
    """An edge from each file's producer to each node reading it; returns the files nothing makes, with readers."""
    external: dict[str, list[str]] = {}
    for node_id, inputs in files_in.items():
        for file_name in inputs:
            producer = producers.get(file_name)
            if producer is None:
                external.setdefault(file_name, []).append(node_id)
            elif digraph.has_edge(producer, node_id):
                digraph.edges[producer, node_id]["files"].append(file_name)
            else:
                digraph.add_edge(producer, node_id, files=[file_name])
    return external


def _as_loaded(items: Iterable[LoadedAssociation | str | os.PathLike[str]]) -> list[LoadedAssociation]:
    loaded: list[LoadedAssociation] = []
    paths: list[str | os.PathLike[str]] = []
    for item in items:
        if isinstance(item, LoadedAssociation):
            loaded.append(item)
        else:
            paths.append(item)
    if paths:
        loaded.extend(load_associations(paths))
    return loaded


def _producers(files_out: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """file -> the node writing it; two writers of one file are refused."""
    producers: dict[str, str] = {}
    clashes: list[str] = []
    for node_id, outputs in files_out.items():
        for file_name in outputs:
            if PLACEHOLDER.search(file_name):
                continue  # resolved at run time and terminal: no reader can name it
            other = producers.setdefault(file_name, node_id)
            if other != node_id:
                clashes.append(f"{file_name} ({other} and {node_id})")
    if clashes:
        raise GraphError(f"files with two producers: {_name_some(clashes)}")
    return producers


def _refuse_cycles(digraph: nx.DiGraph) -> None:
    try:
        cycle = nx.find_cycle(digraph)
    except nx.NetworkXNoCycle:
        return
    steps = [f"{u} -> {v} ({', '.join(digraph.edges[u, v]['files'])})" for u, v in cycle]
    raise GraphError(f"dependency cycle: {'; '.join(steps)}")


def _name_some(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_NAMED])
    more = len(items) - _MAX_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def describe_missing(missing: Mapping[str, Sequence[str]]) -> str:
    """One line naming missing external inputs and who needs them."""
    items = [
        f"{f} (needed by {', '.join(readers[:2])}{' ...' if len(readers) > 2 else ''})"
        for f, readers in missing.items()
    ]
    return f"{len(missing)} input file(s) are neither produced by any node nor on disk: {_name_some(items)}"


def refuse_unavailable(graph: DependencyGraph, node_ids: Iterable[str]) -> None:
    """Raise one GraphError line when nodes that would run need jwst and it is not installed.

    Checked before any node runs: a run that cannot finish should not start.
    Other unavailable modules (an asn_type with no module configured) fail
    their own nodes when they run, and the rest of the graph goes on.
    """
    if importlib.util.find_spec("jwst") is not None:
        return
    needs_jwst = {n: m for n, (m, _) in graph.unavailable(node_ids).items() if m.startswith("jwst:")}
    if needs_jwst:
        modules = ", ".join(sorted(set(needs_jwst.values())))
        raise GraphError(
            f"jwst is not installed, and {len(needs_jwst)} node(s) need it ({modules}): "
            f"{_name_some(list(needs_jwst))}; pip install 'asnflow[jwst]'"
        )
