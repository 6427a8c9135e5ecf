"""A plain-text listing: the summary line, each generation, then the external inputs."""

from __future__ import annotations

from collections import Counter

from asnflow.workflow.draw.style import GraphView


def render_text(graph, view: GraphView) -> str:
    lines = [graph.summary().line()]
    exposures = graph.exposure_ids()
    if exposures:
        lines.append("")
        lines.append(f"exposures (detector1): {len(exposures)}")
        for node_id in exposures:
            lines.append(f"  {node_id}{_status(view, node_id)}  -> {', '.join(graph.outputs(node_id))}")
    for number, group in enumerate(graph.association_generations(), start=1):
        kinds = Counter(graph.node(n).asn_type for n in group)
        lines.append("")
        lines.append(f"generation {number}: " + ", ".join(f"{t} x{c}" for t, c in sorted(kinds.items())))
        width = max(len(n) for n in group)
        for node_id in group:
            needs = [p for p in graph.predecessors(node_id) if graph.node(p).kind == "association"]
            from_exposures = len(graph.predecessors(node_id)) - len(needs)
            if from_exposures:
                needs.append(f"{from_exposures} exposure{'s' if from_exposures != 1 else ''}")
            after = f"  <- {', '.join(needs)}" if needs else ""
            lines.append(f"  {node_id:<{width}}  {graph.node(node_id).asn_type}{_status(view, node_id)}{after}")
    external = graph.external_inputs
    lines.append("")
    lines.append(f"external inputs: {len(external)}" + (f" ({len(view.missing)} missing)" if view.data_dir else ""))
    for file_name, readers in external.items():
        mark = "  MISSING" if file_name in view.missing else ""
        lines.append(f"  {file_name}{mark}  -> {', '.join(readers)}")
    return "\n".join(lines) + "\n"


def _status(view: GraphView, node_id: str) -> str:
    status = view.statuses.get(node_id)
    if status is None:
        return ""
    return f"  [{status.status}{': ' + status.reason if status.reason else ''}]"
