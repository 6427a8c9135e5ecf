"""A PNG of a :class:`~asnflow.workflow.draw.layout.Drawing`, drawn with matplotlib (the ``[plot]`` extra).

It has the SVG's geometry: one figure pixel per SVG pixel, the same boxes,
links, labels and legend (a PNG has no hover text; the SVG does).
"""

from __future__ import annotations

import io
import math

from asnflow.errors import AsnflowError
from asnflow.workflow.draw.geometry import (
    BOX_HEIGHT,
    BOX_WIDTH,
    MARGIN,
    box_lines,
    box_origin,
    is_dark,
    legend_layout,
    picture_size,
)
from asnflow.workflow.draw.layout import Drawing
from asnflow.workflow.draw.style import status_colour, type_colour

_DPI = 100
_POINTS_PER_PIXEL = 72 / _DPI


def render_png(drawing: Drawing) -> bytes:
    try:
        from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure state
        from matplotlib.patches import FancyBboxPatch, PathPatch, Rectangle
        from matplotlib.path import Path
    except ImportError:
        raise AsnflowError(
            "drawing a png picture needs matplotlib (pip install 'asnflow[plot]'); "
            "--format svg, dot, mermaid, json and text need nothing extra"
        ) from None

    width, height = picture_size(drawing)
    figure = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_axis_off()
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)  # y down, as in the SVG

    def text(x: float, y: float, label: str, size_px: float, **kwargs) -> None:
        axes.text(x, y, label, fontsize=size_px * _POINTS_PER_PIXEL, family="DejaVu Sans", **kwargs)

    text(MARGIN, MARGIN + 8, drawing.title, 14, weight="bold", va="baseline")
    for x, y, label, colour, outline in legend_layout(drawing, width):
        axes.add_patch(Rectangle(
            (x, y - 10), 18, 12, facecolor="#ffffff" if outline else colour,
            edgecolor=colour if outline else "#555555", linewidth=(3 if outline else 1) * _POINTS_PER_PIXEL,
        ))
        text(x + 24, y, label, 11, va="baseline")

    boxes = {b.key: b for b in drawing.boxes}
    for link in drawing.links:
        (sx, sy), (tx, ty) = box_origin(boxes[link.source]), box_origin(boxes[link.target])
        x1, y1, x2, y2 = sx + BOX_WIDTH, sy + BOX_HEIGHT / 2, tx, ty + BOX_HEIGHT / 2
        bend = (x2 - x1) / 2
        curve = Path([(x1, y1), (x1 + bend, y1), (x2 - bend, y2), (x2, y2)], [Path.MOVETO] + [Path.CURVE4] * 3)
        stroke = 1.0 + min(3.0, math.log2(len(link.files))) if link.files else 1.0
        axes.add_patch(
            PathPatch(curve, facecolor="none", edgecolor="#7f7f7f", alpha=0.45, linewidth=stroke * _POINTS_PER_PIXEL)
        )

    for box in drawing.boxes:
        x, y = box_origin(box)
        fill = type_colour(box.asn_type)
        axes.add_patch(FancyBboxPatch(
            (x, y), BOX_WIDTH, BOX_HEIGHT, boxstyle="round,pad=0,rounding_size=6", facecolor=fill,
            edgecolor=status_colour(box.status) if box.status else "#555555",
            linewidth=(3 if box.status else 1) * _POINTS_PER_PIXEL,
        ))
        colour = "#ffffff" if is_dark(fill) else "#222222"
        centre = x + BOX_WIDTH / 2
        for kind, baseline, line in box_lines(box):
            weight = "bold" if kind == "title" else "normal"
            text(centre, y + baseline, line, 12 if kind == "title" else 11, weight=weight, ha="center", va="baseline",
                 color=colour)

    buffer = io.BytesIO()
    # no "Software" entry: the same graph always gives the same bytes
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
