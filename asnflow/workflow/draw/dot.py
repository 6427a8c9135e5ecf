"""Graphviz DOT: one box per node, generations as ranks from left to right."""

from __future__ import annotations

from asnflow.workflow.draw.style import GraphView, short_label, status_colour, type_colour


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(graph, view: GraphView) -> str:
    lines = [
        "digraph asnflow {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [color="#555555"];',
    ]
    for number, group in enumerate(graph.generations()):
        lines.append(f"  subgraph generation_{number} {{")
        lines.append("    rank=same;")
        for node_id in group:
            node = graph.node(node_id)
            attrs = {
                "label": f"{short_label(node_id)}\\n{node.asn_type}",
                "tooltip": node_id,
                "fillcolor": type_colour(node.asn_type),
            }
            status = view.statuses.get(node_id)
            if status is not None:
                attrs["color"] = status_colour(status.category)
                attrs["penwidth"] = "3"
                attrs["tooltip"] = f"{node_id}: {status.category}" + (f" ({status.reason})" if status.reason else "")
            rendered = ", ".join(
                f"{k}={_quote(v) if k != 'label' else _quote_label(v)}" for k, v in attrs.items()
            )
            lines.append(f"    {_quote(node_id)} [{rendered}];")
        lines.append("  }")
    for u in graph.topological_order():
        for v in graph.successors(u):
            lines.append(f"  {_quote(u)} -> {_quote(v)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote_label(text: str) -> str:
    # Keep the "\n" line break the label asks for; escape only quotes.
    return '"' + text.replace('"', '\\"') + '"'
