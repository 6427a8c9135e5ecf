"""What a graph picture shows and where: boxes (single nodes or groups), links, rows and columns.

Both the SVG writer and the matplotlib picture draw from one :class:`Drawing`.
Large graphs are grouped so that a picture stays readable: level-2 and
detector1 nodes by observation (one box per observation and asn_type),
level-3 nodes kept one per product; or every node by asn_type. Columns are
the generations of the drawn boxes; within a column boxes are ordered to
sit near their neighbours (barycentre sweeps), and a short column is spread
over the height of the tallest so that links do not converge into a bundle.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx

from asnflow.workflow.draw.style import STATUS_ORDER, GraphView, short_label

GROUPINGS = ("auto", "none", "observation", "asn_type")
AUTO_GROUP_ROWS = 24  # "auto" groups when a column would hold more boxes than this
_SWEEPS = 4
_OBSERVATION_ID = re.compile(r"^jw\d{5}-(?P<candidate>o\d{3})_")
_EXPOSURE_OBSERVATION = re.compile(r"^jw\d{5}(?P<observation>\d{3})\d{3}_")
_DETAIL_LINES = 12  # node ids listed in a group's hover text before "and N more"


@dataclass(frozen=True)
class Box:
    key: str
    nodes: tuple[str, ...]  # the graph nodes it stands for
    asn_type: str
    title: str
    subtitle: str
    details: tuple[str, ...]  # hover text, one line each
    status: str | None  # shown status (the worst of its nodes'), None when not run
    column: int = 0
    row: float = 0.0


@dataclass(frozen=True)
class Link:
    source: str  # box keys
    target: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Drawing:
    boxes: tuple[Box, ...]
    links: tuple[Link, ...]
    columns: int
    rows: int  # the tallest column
    grouping: str  # what was applied: none, observation or asn_type
    title: str
    statuses: Mapping[str, int] = field(default_factory=dict)  # shown status -> node count

    def box(self, key: str) -> Box:
        return next(b for b in self.boxes if b.key == key)


def is_level3(asn_type: str) -> bool:
    return asn_type.endswith("3")


def product_label(association: Mapping | None) -> str:
    """"F430M-MASKRND t004" for a level-3 product: the optical elements and the target."""
    from asnflow.naming.exposure import parse_name

    products = (association or {}).get("products") or []
    if not products:
        return ""
    name = str(products[0].get("name", ""))
    more = f" +{len(products) - 1}" if len(products) > 1 else ""
    try:
        parsed = parse_name(name)
        optics = "-".join(e for e in getattr(parsed, "optical_elements", ()) if e != "clear").upper()
        target = getattr(parsed, "target", "") or getattr(parsed, "source_id", "")
        label = " ".join(part for part in (optics, target) if part)
    except Exception:  # placeholder names ({source_id}) and the like: show the tail
        label = "_".join(name.split("_")[1:]) or name
    return (label or name) + more


def build_drawing(graph, view: GraphView | None = None, grouping: str = "auto") -> Drawing:
    """Boxes, links and positions for ``graph`` (``grouping``: one of :data:`GROUPINGS`)."""
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown grouping {grouping!r}; choose from {', '.join(GROUPINGS)}")
    view = view or GraphView()
    applied = grouping
    if grouping == "auto":
        applied = "none"
        tallest = max((len(g) for g in graph.generations()), default=0)
        if tallest > AUTO_GROUP_ROWS:
            applied = "observation"
    groups = _group_keys(graph, applied)
    if grouping == "auto" and applied == "observation" and _tallest(graph, groups) > 2 * AUTO_GROUP_ROWS:
        applied = "asn_type"
        groups = _group_keys(graph, applied)

    members: dict[str, list[str]] = {}
    for node_id in graph.topological_order():
        members.setdefault(groups[node_id], []).append(node_id)
    boxes = {key: _box(graph, view, key, nodes) for key, nodes in members.items()}

    files: dict[tuple[str, str], list[str]] = {}
    for u in graph.topological_order():
        for v in graph.successors(u):
            pair = (groups[u], groups[v])
            if pair[0] != pair[1]:
                files.setdefault(pair, []).extend(graph.edge_files(u, v))
    links = tuple(Link(s, t, tuple(f)) for (s, t), f in files.items())

    placed = _place(list(boxes), links)
    boxes = {key: _moved(box, *placed[key]) for key, box in boxes.items()}
    columns = 1 + max((b.column for b in boxes.values()), default=0)
    rows = max(Counter(b.column for b in boxes.values()).values(), default=1)
    shown = Counter(
        view.statuses[n].category for n in graph.topological_order() if n in view.statuses
    )
    title = graph.summary().line()
    if applied != "none":
        title += f" (grouped by {applied.replace('_', ' ')})"
    ordered = sorted(boxes.values(), key=lambda b: (b.column, b.row))
    return Drawing(tuple(ordered), links, columns, rows, applied, title, dict(shown))


# ---------------------------------------------------------------------------
# Grouping


def _group_keys(graph, grouping: str) -> dict[str, str]:
    """node id -> box key."""
    if grouping == "none":
        return {n: n for n in graph.topological_order()}
    if grouping == "asn_type":
        return {n: f"type:{graph.node(n).asn_type}" for n in graph.topological_order()}
    keys: dict[str, str] = {}
    # Consumers first, so an exposure can join the observation of what reads it.
    for node_id in reversed(graph.topological_order()):
        node = graph.node(node_id)
        if node.kind == "association":
            match = _OBSERVATION_ID.match(node_id)
            if is_level3(node.asn_type) or match is None:
                keys[node_id] = node_id
            else:
                keys[node_id] = f"{match['candidate']}:{node.asn_type}"
            continue
        readers = {keys[s].split(":", 1)[0] for s in graph.successors(node_id) if ":" in keys[s]}
        match = _EXPOSURE_OBSERVATION.match(node_id.split(":", 1)[-1])
        if len(readers) == 1:
            observation = readers.pop()
        elif match is not None:
            observation = f"o{match['observation']}"
        else:
            observation = "exposures"
        keys[node_id] = f"{observation}:{node.asn_type}"
    return keys


def _tallest(graph, groups: Mapping[str, str]) -> int:
    boxes = nx.DiGraph()
    boxes.add_nodes_from(set(groups.values()))
    boxes.add_edges_from(
        (groups[u], groups[v]) for u in graph.topological_order() for v in graph.successors(u) if groups[u] != groups[v]
    )
    return max((len(g) for g in nx.topological_generations(boxes)), default=0)


def _box(graph, view: GraphView, key: str, nodes: Sequence[str]) -> Box:
    first = graph.node(nodes[0])
    statuses = [view.statuses[n] for n in nodes if n in view.statuses]
    categories = Counter(s.category for s in statuses)
    worst = min(categories, key=lambda c: STATUS_ORDER.index(c) if c in STATUS_ORDER else -1) if categories else None
    if len(nodes) == 1 and key == nodes[0]:
        subtitle = ""
        if first.association is not None:
            subtitle = (
                product_label(first.association) if is_level3(first.asn_type) else _member_line(first.association)
            )
        details = [nodes[0], f"asn_type {first.asn_type}"]
        if first.association is not None:
            details.append(f"rule {first.association.get('asn_rule', '?')}")
            details += [f"product {p.get('name', '?')}" for p in first.association.get("products") or []]
            details.append(_member_line(first.association))
        else:
            details += [f"reads {', '.join(graph.inputs(nodes[0]))}", f"writes {', '.join(graph.outputs(nodes[0]))}"]
        if statuses:
            details.append(f"{statuses[0].category}" + (f": {statuses[0].reason}" if statuses[0].reason else ""))
        title = short_label(nodes[0])
        if first.association is None and "_" in title:  # an exposure: jwPPPPPOOOVVV over GGSAA_EEEEE_DETECTOR
            title, subtitle = title.split("_", 1)
        return Box(key, tuple(nodes), first.asn_type, title, subtitle, tuple(details), worst)
    label = key.split(":", 1)[0] if not key.startswith("type:") else ""
    title = f"{label} {first.asn_type} \u00d7{len(nodes)}".strip()
    subtitle = ", ".join(f"{count} {category}" for category, count in sorted(categories.items()))
    if not subtitle and is_level3(first.asn_type):
        subtitle = f"{len(nodes)} products"
    details = [title] + list(nodes[:_DETAIL_LINES])
    if len(nodes) > _DETAIL_LINES:
        details.append(f"and {len(nodes) - _DETAIL_LINES} more")
    if subtitle:
        details.append(subtitle)
    return Box(key, tuple(nodes), first.asn_type, title, subtitle, tuple(details), worst)


def _member_line(association: Mapping) -> str:
    kinds = Counter(
        str(m.get("exptype", "?")) for p in association.get("products") or [] for m in p.get("members") or []
    )
    return ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))


def _moved(box: Box, column: int, row: float) -> Box:
    return Box(box.key, box.nodes, box.asn_type, box.title, box.subtitle, box.details, box.status, column, row)


# ---------------------------------------------------------------------------
# Placement


def _place(keys: list[str], links: Sequence[Link]) -> dict[str, tuple[int, float]]:
    """box key -> (column, row); rows are floats in [0, tallest - 1]."""
    digraph = nx.DiGraph()
    digraph.add_nodes_from(keys)
    digraph.add_edges_from((link.source, link.target) for link in links)
    columns = [sorted(g) for g in nx.topological_generations(digraph)]
    column_of = {k: c for c, group in enumerate(columns) for k in group}

    # Order within columns: barycentre sweeps, right then left.
    index = {k: float(i) for group in columns for i, k in enumerate(group)}
    for _ in range(_SWEEPS):
        for c in range(1, len(columns)):
            columns[c] = _by_barycentre(columns[c], index, digraph.predecessors)
            index.update({k: float(i) for i, k in enumerate(columns[c])})
        for c in range(len(columns) - 2, -1, -1):
            columns[c] = _by_barycentre(columns[c], index, digraph.successors)
            index.update({k: float(i) for i, k in enumerate(columns[c])})

    # Rows: the tallest column is packed; the others placed near their neighbours.
    tallest = max(range(len(columns)), key=lambda c: (len(columns[c]), -c), default=0)
    rows: dict[str, float] = {}
    if columns:
        rows.update({k: float(i) for i, k in enumerate(columns[tallest])})
        limit = float(len(columns[tallest]) - 1)
        for c in range(tallest + 1, len(columns)):
            _spread(columns[c], rows, digraph.predecessors, limit)
        for c in range(tallest - 1, -1, -1):
            _spread(columns[c], rows, digraph.successors, limit)
    return {k: (column_of[k], rows[k]) for k in keys}


def _by_barycentre(group: list[str], index: Mapping[str, float], neighbours) -> list[str]:
    def centre(key: str) -> float:
        near = [index[n] for n in neighbours(key) if n in index]
        return sum(near) / len(near) if near else index[key]

    return sorted(group, key=lambda k: (centre(k), index[k]))


def _spread(group: list[str], rows: dict[str, float], neighbours, limit: float) -> None:
    """Rows for one column: each near the mean row of its placed neighbours, one apart, within [0, limit]."""
    if not group:
        return
    wanted = []
    for i, key in enumerate(group):
        near = [rows[n] for n in neighbours(key) if n in rows]
        wanted.append(sum(near) / len(near) if near else limit * (i + 0.5) / len(group))
    order = sorted(range(len(group)), key=lambda i: (wanted[i], i))
    group = [group[i] for i in order]
    wanted = [wanted[i] for i in order]
    placed: list[float] = []
    for want in wanted:  # down: at least one below the previous
        placed.append(max(want, placed[-1] + 1.0) if placed else max(want, 0.0))
    placed[-1] = min(placed[-1], limit)
    for i in range(len(placed) - 2, -1, -1):  # up: back inside the limit
        placed[i] = min(placed[i], placed[i + 1] - 1.0)
    shift = -placed[0] if placed[0] < 0 else 0.0
    for key, row in zip(group, placed, strict=True):
        rows[key] = row + shift
