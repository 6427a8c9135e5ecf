"""What every renderer shares: colours, short labels and the extra facts shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# Fill colour per asn_type; unknown types take the fallback.
TYPE_COLOURS: Mapping[str, str] = {
    "detector1": "#d9d9d9",
    "image2": "#a6cee3",
    "tso-image2": "#8fb8d8",
    "spec2": "#b2df8a",
    "tso-spec2": "#98c977",
    "nrslamp-spec2": "#c7e9b4",
    "image3": "#1f78b4",
    "spec3": "#33a02c",
    "coron3": "#fb9a99",
    "ami3": "#fdbf6f",
    "tso3": "#ff7f00",
    "wfs-image3": "#cab2d6",
}
FALLBACK_COLOUR = "#ffff99"
# Outline colour per status as shown: the run log's "skipped" splits into
# "up to date" (nothing to do) and "upstream failed" (could not run), which
# mean opposite things and so never share a colour.
SUCCEEDED = "succeeded"
UP_TO_DATE = "up to date"
UPSTREAM_FAILED = "upstream failed"
FAILED = "failed"
SKIPPED = "skipped"
STATUS_COLOURS: Mapping[str, str] = {
    SUCCEEDED: "#1a9641",
    UP_TO_DATE: "#762a83",
    UPSTREAM_FAILED: "#e66101",
    FAILED: "#d7191c",
    SKIPPED: "#878787",
}
# Worst first: a group of nodes is outlined by its worst member.
STATUS_ORDER = (FAILED, UPSTREAM_FAILED, SKIPPED, SUCCEEDED, UP_TO_DATE)

_ASN_PREFIX = re.compile(r"^jw\d{5}-(?P<candidate>[a-z]\d{3,4})_")


def type_colour(asn_type: str) -> str:
    return TYPE_COLOURS.get(asn_type, FALLBACK_COLOUR)


def short_label(node_id: str) -> str:
    """A label that fits in a box: ``jw87800-o017_image2_00001_asn`` -> ``o017 image2_00001``."""
    if ":" in node_id:  # detector1:<root>_uncal
        label = node_id.split(":", 1)[1]
        return label[: -len("_uncal")] if label.endswith("_uncal") else label
    label = node_id[: -len("_asn")] if node_id.endswith("_asn") else node_id
    match = _ASN_PREFIX.match(label)
    if match:
        label = f"{match['candidate']} {label[match.end():]}"
    return label


def status_category(status: str, reason: str = "") -> str:
    """How a logged (status, reason) is shown: see :data:`STATUS_COLOURS`."""
    if status == SKIPPED:
        if reason.startswith("upstream") and reason.endswith("failed"):
            return UPSTREAM_FAILED
        if reason.startswith(UP_TO_DATE):
            return UP_TO_DATE
    return status


def status_colour(category: str) -> str:
    return STATUS_COLOURS.get(category, "#000000")


@dataclass(frozen=True)
class NodeStatus:
    status: str
    reason: str = ""

    @property
    def category(self) -> str:
        return status_category(self.status, self.reason)


@dataclass(frozen=True)
class GraphView:
    """Facts about the graph that come from a data folder rather than from the associations."""

    data_dir: str | None = None
    missing: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # file -> readers
    statuses: Mapping[str, NodeStatus] = field(default_factory=dict)  # node -> last run status
