"""Drawing a :class:`~asnflow.workflow.graph.DependencyGraph`: kept apart from the graph itself.

Every renderer takes the graph plus a :class:`GraphView` (what is known beyond
the graph: missing inputs in a data folder, node statuses from a run log) and
returns text, or bytes for pictures. Pictures (SVG, PNG) are drawn from a
:class:`~asnflow.workflow.draw.layout.Drawing`, which groups large graphs.
"""

from __future__ import annotations

from asnflow.workflow.draw.layout import GROUPINGS
from asnflow.workflow.draw.style import GraphView

TEXT_FORMATS = ("text", "json", "dot", "mermaid")
PICTURE_FORMATS = ("png", "svg")
FORMATS = TEXT_FORMATS + PICTURE_FORMATS


def render(graph, fmt: str, view: GraphView | None = None, grouping: str = "auto") -> str | bytes:
    """Render ``graph`` in one of :data:`FORMATS` (``grouping``, one of :data:`GROUPINGS`, for pictures)."""
    view = view or GraphView()
    if fmt == "text":
        from asnflow.workflow.draw.printer import render_text

        return render_text(graph, view)
    if fmt == "json":
        from asnflow.workflow.draw.node_link import render_json

        return render_json(graph, view)
    if fmt == "dot":
        from asnflow.workflow.draw.dot import render_dot

        return render_dot(graph, view)
    if fmt == "mermaid":
        from asnflow.workflow.draw.mermaid import render_mermaid

        return render_mermaid(graph, view)
    if fmt in PICTURE_FORMATS:
        from asnflow.workflow.draw.layout import build_drawing

        drawing = build_drawing(graph, view, grouping)
        if fmt == "svg":
            from asnflow.workflow.draw.svg import render_svg

            return render_svg(drawing)
        from asnflow.workflow.draw.picture import render_png

        return render_png(drawing)
    raise ValueError(f"unknown graph format {fmt!r}; choose from {', '.join(FORMATS)}")


__all__ = ["FORMATS", "GROUPINGS", "PICTURE_FORMATS", "TEXT_FORMATS", "GraphView", "render"]
