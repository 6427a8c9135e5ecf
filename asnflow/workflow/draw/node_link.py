"""The graph as networkx node-link JSON (``networkx.node_link_graph(data)`` reads it back)."""

from __future__ import annotations

import json
from typing import Any

from asnflow.workflow.draw.style import GraphView


def node_link(graph, view: GraphView) -> dict[str, Any]:
    summary = graph.summary()
    generation = {n: i for i, group in enumerate(graph.generations()) for n in group}
    asn_generation = {n: i for i, group in enumerate(graph.association_generations()) for n in group}
    nodes = []
    for node_id in graph.topological_order():
        node = graph.node(node_id)
        entry: dict[str, Any] = {
            "id": node_id,
            "kind": node.kind,
            "asn_type": node.asn_type,
            "path": str(node.path) if node.path is not None else None,
            "inputs": list(graph.inputs(node_id)),
            "outputs": list(graph.outputs(node_id)),
            "generation": generation[node_id],
            "association_generation": asn_generation.get(node_id),
        }
        if node.association is not None:
            entry["asn_rule"] = node.association.get("asn_rule")
        status = view.statuses.get(node_id)
        if status is not None:
            entry["status"] = status.status
            entry["reason"] = status.reason
        nodes.append(entry)
    edges = [
        {"source": u, "target": v, "files": list(graph.edge_files(u, v))}
        for u in graph.topological_order()
        for v in graph.successors(u)
    ]
    graph_attrs: dict[str, Any] = {
        "associations": summary.associations,
        "association_edges": summary.association_edges,
        "generations": summary.generations,
        "exposures": summary.exposures,
        "edges": summary.edges,
        "external_inputs": {f: list(readers) for f, readers in graph.external_inputs.items()},
    }
    if view.data_dir is not None:
        graph_attrs["data_dir"] = view.data_dir
        graph_attrs["missing_inputs"] = {f: list(readers) for f, readers in view.missing.items()}
    return {"directed": True, "multigraph": False, "graph": graph_attrs, "nodes": nodes, "edges": edges}


def render_json(graph, view: GraphView) -> str:
    return json.dumps(node_link(graph, view), indent=2) + "\n"
