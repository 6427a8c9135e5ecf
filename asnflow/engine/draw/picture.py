"""A PNG or SVG picture drawn with matplotlib (the optional ``[plot]`` extra).

Generations run left to right; boxes are filled by asn_type and, when a run
log is known, outlined by the node's last status.
"""

from __future__ import annotations

import io

from asnflow.engine.draw.style import STATUS_COLOURS, GraphView, short_label, type_colour
from asnflow.errors import AsnflowError

_COLUMN_WIDTH = 3.2  # inches per generation
_ROW_HEIGHT = 0.4  # inches per node in the fullest generation
_BOX_WIDTH = 0.8  # in generations
_BOX_HEIGHT = 0.7  # in rows


def render_picture(graph, fmt: str, view: GraphView) -> bytes:
    try:
        from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure state
        from matplotlib.lines import Line2D
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    except ImportError:
        raise AsnflowError(
            f"drawing a {fmt} picture needs matplotlib (pip install 'asnflow[plot]'); "
            "--format dot, mermaid, json and text need nothing extra"
        ) from None

    generations = graph.generations()
    tallest = max((len(g) for g in generations), default=1)
    positions: dict[str, tuple[float, float]] = {}
    for x, group in enumerate(generations):
        if x:  # place each node near its producers, so fewer arrows cross
            group = sorted(group, key=lambda n: -_mean_height(graph.predecessors(n), positions))
        for row, node_id in enumerate(group):
            positions[node_id] = (float(x), (len(group) - 1) / 2.0 - row)

    width = max(4.0, _COLUMN_WIDTH * len(generations))
    height = max(2.5, _ROW_HEIGHT * tallest + 1.2)
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.add_subplot()
    axes.set_axis_off()
    order = graph.topological_order()
    font_size = 7 if tallest < 40 else 5
    for u in order:
        for v in graph.successors(u):
            (xu, yu), (xv, yv) = positions[u], positions[v]
            axes.add_patch(FancyArrowPatch(
                (xu + _BOX_WIDTH / 2, yu), (xv - _BOX_WIDTH / 2, yv), arrowstyle="-|>",
                mutation_scale=7, linewidth=0.6, color="#777777", shrinkA=0, shrinkB=1,
            ))
    for node_id in order:
        x, y = positions[node_id]
        status = view.statuses.get(node_id)
        axes.add_patch(FancyBboxPatch(
            (x - _BOX_WIDTH / 2, y - _BOX_HEIGHT / 2), _BOX_WIDTH, _BOX_HEIGHT,
            boxstyle="round,pad=0,rounding_size=0.05",
            facecolor=type_colour(graph.node(node_id).asn_type),
            edgecolor=STATUS_COLOURS.get(status.status, "black") if status else "#444444",
            linewidth=2.5 if status else 0.6,
        ))
        axes.text(x, y, short_label(node_id), ha="center", va="center", fontsize=font_size)
    half = tallest / 2.0
    axes.set_xlim(-0.5, len(generations) - 0.5)
    axes.set_ylim(-half, half)

    handles = [Patch(facecolor=type_colour(t), edgecolor="#444444", label=t)
               for t in sorted({graph.node(n).asn_type for n in order})]
    for status in sorted({s.status for s in view.statuses.values()}):
        handles.append(Line2D([], [], color=STATUS_COLOURS.get(status, "black"), linewidth=3, label=status))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    axes.set_title(graph.summary().line(), fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt)
    return buffer.getvalue()


def _mean_height(node_ids: list[str], positions: dict[str, tuple[float, float]]) -> float:
    heights = [positions[n][1] for n in node_ids if n in positions]
    return sum(heights) / len(heights) if heights else 0.0
