"""Sizes and positions shared by the SVG and PNG pictures (in pixels, y down)."""

from __future__ import annotations

from asnflow.workflow.draw.layout import Box, Drawing
from asnflow.workflow.draw.style import STATUS_COLOURS, status_colour, type_colour

BOX_WIDTH = 220
BOX_HEIGHT = 40
COLUMN_PITCH = 320
ROW_PITCH = 52
MARGIN = 16
HEADER = 64  # title and legend
TITLE_CHARS = 27  # what fits in a box at the title's size (bold)
SUBTITLE_CHARS = 33


def box_origin(box: Box) -> tuple[float, float]:
    return MARGIN + box.column * COLUMN_PITCH, HEADER + box.row * ROW_PITCH


def picture_size(drawing: Drawing) -> tuple[int, int]:
    width = MARGIN * 2 + (drawing.columns - 1) * COLUMN_PITCH + BOX_WIDTH
    height = HEADER + (drawing.rows - 1) * ROW_PITCH + BOX_HEIGHT + MARGIN
    return max(width, 640), int(height)


def box_lines(box: Box) -> list[tuple[str, float, str]]:
    """("title" or "subtitle", baseline below the box's top, text fitted to the box) for each line of a box."""
    if not box.subtitle:
        return [("title", 24.0, fit(box.title, TITLE_CHARS))]
    return [("title", 16.0, fit(box.title, TITLE_CHARS)), ("subtitle", 31.0, fit(box.subtitle, SUBTITLE_CHARS))]


def legend_entries(drawing: Drawing) -> list[tuple[str, str, bool]]:
    """(label, colour, is a status outline) for each asn_type fill and each status shown."""
    entries = [(asn_type, type_colour(asn_type), False) for asn_type in sorted({b.asn_type for b in drawing.boxes})]
    for status in STATUS_COLOURS:
        if status in drawing.statuses:
            entries.append((f"{status} ({drawing.statuses[status]})", status_colour(status), True))
    return entries


def legend_layout(drawing: Drawing, width: int) -> list[tuple[float, float, str, str, bool]]:
    """(x, y of the text baseline, label, colour, is a status outline), wrapped to ``width``."""
    placed = []
    x, y = float(MARGIN), float(MARGIN + 28)
    for label, colour, outline in legend_entries(drawing):
        step = 36 + 7.0 * len(label)
        if x + step > width - MARGIN and x > MARGIN:
            x, y = float(MARGIN), y + 18
        placed.append((x, y, label, colour, outline))
        x += step
    return placed


def fit(text: str, limit: int) -> str:
    """Shorten from the middle, so both the start and the distinctive end stay readable."""
    if len(text) <= limit:
        return text
    keep = limit - 1
    return text[: keep - keep // 2] + "\u2026" + text[len(text) - keep // 2 :]


def is_dark(colour: str) -> bool:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * red + 0.587 * green + 0.114 * blue < 140
