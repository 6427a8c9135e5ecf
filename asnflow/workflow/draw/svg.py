"""An SVG picture of a :class:`~asnflow.workflow.draw.layout.Drawing`, written directly (no matplotlib).

Every box and link carries a ``<title>``, which browsers show as hover text:
the node ids, rule, products, members and run status behind a box, the files
flowing along a link. The SVG stands alone and can be inlined in HTML.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

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
from asnflow.workflow.draw.layout import Box, Drawing, Link
from asnflow.workflow.draw.style import status_colour, type_colour

_FILES_LISTED = 10

_STYLE = """
.asnflow-graph text { font-family: Helvetica, Arial, sans-serif; fill: #222; }
.asnflow-graph .box text.title { font-size: 12px; font-weight: bold; }
.asnflow-graph .box text.subtitle { font-size: 11px; }
.asnflow-graph .box text.light { fill: #ffffff; }
.asnflow-graph .link { fill: none; stroke: #7f7f7f; stroke-opacity: 0.45; }
.asnflow-graph .link:hover { stroke: #000000; stroke-opacity: 0.9; }
.asnflow-graph .box:hover rect { stroke: #000000; stroke-width: 3; }
.asnflow-graph .legend text { font-size: 11px; }
.asnflow-graph .heading { font-size: 14px; font-weight: bold; }
"""


def render_svg(drawing: Drawing) -> str:
    width, height = picture_size(drawing)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="asnflow-graph" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f"<title>{escape(drawing.title)}</title>",
        f"<style>{_STYLE}</style>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text class="heading" x="{MARGIN}" y="{MARGIN + 8}">{escape(drawing.title)}</text>',
    ]
    out += _legend(drawing, width)
    boxes = {b.key: b for b in drawing.boxes}
    out.append('<g class="links">')
    out += [_link(link, boxes) for link in drawing.links]
    out.append("</g>")
    out.append('<g class="boxes">')
    out += [_box(box) for box in drawing.boxes]
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _legend(drawing: Drawing, width: int) -> list[str]:
    out = ['<g class="legend">']
    for x, y, label, colour, outline in legend_layout(drawing, width):
        fill, stroke, stroke_width = ("#ffffff", colour, 3) if outline else (colour, "#555555", 1)
        out.append(
            f'<rect x="{x}" y="{y - 10}" width="18" height="12" rx="3" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{stroke_width}"/>'
        )
        out.append(f'<text x="{x + 24}" y="{y}">{escape(label)}</text>')
    out.append("</g>")
    return out


def _link(link: Link, boxes: dict[str, Box]) -> str:
    source, target = boxes[link.source], boxes[link.target]
    sx, sy = box_origin(source)
    tx, ty = box_origin(target)
    x1, y1 = sx + BOX_WIDTH, sy + BOX_HEIGHT / 2
    x2, y2 = tx, ty + BOX_HEIGHT / 2
    bend = (x2 - x1) / 2
    width = 1.0 + min(3.0, math.log2(len(link.files))) if link.files else 1.0
    listed = list(link.files[:_FILES_LISTED])
    if len(link.files) > _FILES_LISTED:
        listed.append(f"and {len(link.files) - _FILES_LISTED} more")
    hover = f"{source.title} \u2192 {target.title}: {len(link.files)} file(s)\n" + "\n".join(listed)
    return (
        f'<path class="link" d="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} '
        f'{x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" '
        f'stroke-width="{width:.1f}"><title>{escape(hover)}</title></path>'
    )


def _box(box: Box) -> str:
    x, y = box_origin(box)
    fill = type_colour(box.asn_type)
    stroke, stroke_width = (status_colour(box.status), 3) if box.status else ("#555555", 1)
    text_class = " light" if is_dark(fill) else ""
    parts = [
        f'<g class="box" data-nodes={quoteattr(" ".join(box.nodes))} data-status={quoteattr(box.status or "")}>',
        f"<title>{escape(chr(10).join(box.details))}</title>",
        f'<rect x="{x}" y="{y:.1f}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{stroke_width}"/>',
    ]
    centre = x + BOX_WIDTH / 2
    for kind, baseline, line in box_lines(box):
        parts.append(_text(kind + text_class, centre, y + baseline, line))
    parts.append("</g>")
    return "".join(parts)


def _text(css_class: str, x: float, y: float, text: str) -> str:
    return f'<text class="{css_class}" x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{escape(text)}</text>'
