"""Mermaid flowchart text (renders on GitHub and in most Markdown viewers)."""

from __future__ import annotations

from asnflow.workflow.draw.style import GraphView, short_label, status_colour, type_colour


def _class_name(asn_type: str) -> str:
    return "t_" + "".join(c if c.isalnum() else "_" for c in asn_type)


def render_mermaid(graph, view: GraphView) -> str:
    order = graph.topological_order()
    ids = {node_id: f"n{i}" for i, node_id in enumerate(order)}
    lines = ["flowchart LR"]
    for node_id in order:
        node = graph.node(node_id)
        label = f"{short_label(node_id)}<br/>{node.asn_type}".replace('"', "#quot;")
        lines.append(f'  {ids[node_id]}["{label}"]:::{_class_name(node.asn_type)}')
    for u in order:
        for v in graph.successors(u):
            lines.append(f"  {ids[u]} --> {ids[v]}")
    for asn_type in sorted({graph.node(n).asn_type for n in order}):
        lines.append(f"  classDef {_class_name(asn_type)} fill:{type_colour(asn_type)},stroke:#333")
    for node_id in order:
        status = view.statuses.get(node_id)
        if status is not None:
            colour = status_colour(status.category)
            lines.append(f"  style {ids[node_id]} stroke:{colour},stroke-width:3px")
    for node_id in order:  # the full ids, for readers who need them
        lines.append(f"  %% {ids[node_id]} = {node_id}")
    return "\n".join(lines) + "\n"
