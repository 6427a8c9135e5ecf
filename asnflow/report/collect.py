"""What a report shows, gathered from a folder: associations, the graph, the run's state, orphans, previews.

Everything is read, nothing is written: the run state comes from the run log
beside the data (absent log: nothing ran yet), previews from the ``_i2d``
mosaics in the data folder, orphans only when the pool is given.
"""

from __future__ import annotations

import base64
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asnflow.workflow.draw.style import GraphView, NodeStatus


@dataclass(frozen=True)
class AssociationRow:
    node_id: str
    file_name: str
    asn_type: str
    rule: str
    candidate: str
    products: tuple[str, ...]
    members: int
    science: int
    member_types: Mapping[str, int]
    status: NodeStatus | None
    content: Mapping[str, Any]


@dataclass(frozen=True)
class NodeRow:
    node_id: str
    kind: str
    asn_type: str
    status: NodeStatus | None
    time: str


@dataclass(frozen=True)
class Preview:
    product: str
    png: bytes | None  # None: no picture (no matplotlib, or it could not be drawn)
    note: str = ""

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png or b"").decode("ascii")


@dataclass(frozen=True)
class ReportFacts:
    title: str
    folder: str
    data_dir: str
    associations: tuple[AssociationRow, ...]
    nodes: tuple[NodeRow, ...]
    graph_svg: str
    run_log: str | None  # the log's file name when there is one
    runs: tuple[str, ...]  # run ids in the log, oldest first
    orphans: tuple[Any, ...] | None  # None: no pool given
    pools: tuple[str, ...]
    previews: tuple[Preview, ...]
    status_counts: Mapping[str, int] = field(default_factory=dict)


def collect(
    folder: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    pools: Sequence[str | os.PathLike[str]] = (),
    rules: Sequence[str] = (),
    config: str | None = None,
    previews: bool = True,
) -> ReportFacts:
    from asnflow.config import load_config
    from asnflow.errors import InputError
    from asnflow.workflow.dispatch import RUN_LOG, read_run_log
    from asnflow.workflow.draw import render
    from asnflow.workflow.graph import build_graph, load_associations

    folder = Path(folder)
    data = Path(data_dir) if data_dir is not None else folder
    if not data.is_dir():
        raise InputError("the data folder does not exist", path=str(data))
    loaded = load_associations([folder])
    graph = build_graph(loaded, calibration=load_config(config).calibration, data_dir=data)
    logged = read_run_log(data)
    statuses = {n: NodeStatus(s.status, s.reason) for n, s in logged.items() if n in graph}
    view = GraphView(data_dir=str(data), missing=graph.missing_inputs(data), statuses=statuses)

    rows = tuple(_association_row(item, statuses.get(item.node_id)) for item in loaded)
    nodes = tuple(
        NodeRow(n, graph.node(n).kind, graph.node(n).asn_type, statuses.get(n), logged[n].time if n in logged else "")
        for n in graph.topological_order()
    )
    orphans = None
    if pools:
        orphans = tuple(_orphans(pools, rules, config))
    return ReportFacts(
        title=f"asnflow report: {folder.resolve().name}",
        folder=str(folder),
        data_dir=str(data),
        associations=rows,
        nodes=nodes,
        graph_svg=str(render(graph, "svg", view)),
        run_log=RUN_LOG if (data / RUN_LOG).is_file() else None,
        runs=tuple(dict.fromkeys(s.run for s in sorted(logged.values(), key=lambda s: s.time) if s.run)),
        orphans=orphans,
        pools=tuple(sorted({str(item.data.get("asn_pool", "")) for item in loaded} - {""})),
        previews=tuple(_previews(data)) if previews else (),
        status_counts=dict(Counter(s.category for s in statuses.values())),
    )


def _association_row(item, status: NodeStatus | None) -> AssociationRow:
    data = item.data
    products = data.get("products") or []
    members = [m for p in products for m in p.get("members") or []]
    types = Counter(str(m.get("exptype", "?")) for m in members)
    return AssociationRow(
        node_id=item.node_id,
        file_name=item.path.name,
        asn_type=str(data.get("asn_type", "")),
        rule=str(data.get("asn_rule", "")),
        candidate=str(data.get("asn_id", "")),
        products=tuple(str(p.get("name", "")) for p in products),
        members=len(members),
        science=types.get("science", 0),
        member_types=dict(sorted(types.items())),
        status=status,
        content=data,
    )


def _orphans(pools: Sequence[str | os.PathLike[str]], rules: Sequence[str], config: str | None) -> list:
    from asnflow.diagnose.orphans import find_orphans
    from asnflow.engine.session import rule_set
    from asnflow.pool.read import read_pool

    rule_files = rule_set(list(rules), config_path=config)
    found = []
    for path in pools:
        found.extend(find_orphans(read_pool(path), rule_files))
    return found


def _previews(data: Path) -> list[Preview]:
    """One per ``_i2d.fits``: its PNG preview beside it if up to date, else drawn now (with matplotlib)."""
    from asnflow.report.preview import matplotlib_available, product_name, render_preview

    found = []
    for mosaic in sorted(data.glob("*_i2d.fits")):
        if not mosaic.is_file():
            continue
        name = product_name(mosaic)
        picture = mosaic.with_name(f"{name}_i2d.png")
        if picture.is_file() and picture.stat().st_mtime_ns >= mosaic.stat().st_mtime_ns:
            found.append(Preview(name, picture.read_bytes()))
        elif matplotlib_available():
            catalog = mosaic.with_name(f"{name}_cat.ecsv")
            try:
                found.append(Preview(name, render_preview(mosaic, catalog if catalog.is_file() else None)))
            except Exception as exc:  # a damaged mosaic must not cost the whole report
                found.append(Preview(name, None, f"could not draw: {type(exc).__name__}: {exc}"))
        else:
            found.append(Preview(name, None, "no preview: pip install 'asnflow[plot]'"))
    return found
