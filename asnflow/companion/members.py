"""Members named on a command line: ``FILE[:EXPTYPE[:GROUP]]``.

Only the last path component is split on ``:``, so folders may hold colons;
JWST file names never do. An empty part keeps the default (``FILE::g1`` is a
science member in group ``g1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asnflow.errors import InputError

# Member roles the generator writes and the calibration pipelines read
# (reference: member exptypes, plus the hand-added selfcal).
KNOWN_EXPTYPES = (
    "science",
    "background",
    "imprint",
    "psf",
    "target_acquisition",
    "autoflat",
    "autowave",
    "direct_image",
    "sourcecat",
    "segmap",
    "selfcal",
)

_EXPTYPE = re.compile(r"[a-z][a-z0-9_]*")
_GROUP = re.compile(r"[A-Za-z0-9_.+-]+")


@dataclass(frozen=True)
class MemberSpec:
    """One member to put in an association."""

    expname: str
    exptype: str = "science"
    group_id: str | None = None

    def as_member(self) -> dict:
        """The member mapping as written to an association file."""
        member = {"expname": self.expname, "exptype": self.exptype}
        if self.group_id is not None:
            member["group_id"] = self.group_id
        return member


def check_exptype(exptype: str, *, where: str | None = None) -> str:
    """A member role: lower-case word characters (``science``, ``target_acquisition``)."""
    if not _EXPTYPE.fullmatch(exptype):
        raise InputError(
            f"{exptype!r} is not a member exptype",
            path=where,
            hint=f"use a lower-case word such as {', '.join(KNOWN_EXPTYPES[:4])}",
        )
    return exptype


def check_group_id(group_id: str, *, where: str | None = None) -> str:
    if not _GROUP.fullmatch(group_id):
        raise InputError(
            f"{group_id!r} is not a usable group_id",
            path=where,
            hint="use letters, digits and _ . + - only",
        )
    return group_id


def parse_member(text: str, *, exptype: str = "science", group_id: str | None = None) -> MemberSpec:
    """Parse ``FILE[:EXPTYPE[:GROUP]]``; ``exptype``/``group_id`` fill parts left out."""
    folder, slash, last = text.rpartition("/")
    parts = last.split(":")
    if len(parts) > 3:
        raise InputError(
            f"too many ':' in member {text!r}",
            hint="write FILE, FILE:EXPTYPE or FILE:EXPTYPE:GROUP",
        )
    name = parts[0]
    if not name:
        raise InputError(f"no file name in member {text!r}", hint="write FILE[:EXPTYPE[:GROUP]]")
    if len(parts) > 1 and parts[1]:
        exptype = parts[1]
    if len(parts) > 2 and parts[2]:
        group_id = parts[2]
    check_exptype(exptype, where=None)
    if group_id is not None:
        check_group_id(group_id)
    return MemberSpec(expname=folder + slash + name, exptype=exptype, group_id=group_id)
