"""Names that become part of a file path: one check for all of them.

Product names, member file names, candidate ids, program ids, version ids
and asn_type values all end up in the name of a file asnflow (or a
calibration module) writes. Each is checked here, once, where it enters --
the pool, a rule file, an association file or the command line -- so the
message can say where the bad value came from, and nothing downstream ever
joins a path that could leave its folder.
"""

from __future__ import annotations

import re

from asnflow.errors import AsnflowError, InputError

# The longest file name common file systems take (NAME_MAX, in bytes).
NAME_MAX = 255
# Room left for what is added to a name before it becomes a file name
# (``_asn.json``, ``_segm.fits``, a version stamp...).
SUFFIX_ROOM = 64
_SHOWN_CHARS = 40
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def name_problem(value: object, *, limit: int = NAME_MAX - SUFFIX_ROOM) -> str | None:
    """Why ``value`` cannot be one component of a path, or None if it can."""
    if not isinstance(value, str):
        return "is not text"
    if not value:
        return "is empty"
    if value in (".", ".."):
        return "is a reference to a folder"
    if "/" in value or "\\" in value:
        return "holds a folder separator"
    if _CONTROL.search(value):
        return "holds a control or line-break character"
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > limit:
        return f"is too long for a file name ({size} bytes; at most {limit})"
    return None


_ABSOLUTE = "is an absolute path"
_CLIMBS = "climbs out of its folder with '..'"


def relative_path_problem(value: object) -> str | None:
    """Why ``value`` cannot be a path inside a folder (``sub/x.fits`` can), or None."""
    if not isinstance(value, str):
        return "is not text"
    if not value:
        return "is empty"
    if value.startswith(("/", "\\")) or (len(value) > 1 and value[1] == ":"):
        return _ABSOLUTE
    parts = value.replace("\\", "/").split("/")
    if ".." in parts:
        return _CLIMBS
    for part in parts:
        if part and part != ".":
            problem = name_problem(part, limit=NAME_MAX)
            if problem:
                return problem
    return None


def shown(value: object) -> str:
    """A value quoted for a message, cut short if long."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def check_name(value: object, what: str, *, limit: int = NAME_MAX - SUFFIX_ROOM, **place) -> str:
    """Return ``value`` if it can be one component of a file name; else raise.

    ``what`` names the value (``"product name"``, ``"FILENAME"``). ``place``
    says where it was read: ``path``, ``line``, ``column`` and/or ``option``
    (the command-line option that gave it); ``error`` is the exception class
    to raise (default :class:`~asnflow.errors.InputError`).
    """
    problem = name_problem(value, limit=limit)
    if problem is None:
        return value  # type: ignore[return-value]
    raise _refusal(value, what, "is not a plain file name", problem, **place)


def check_names(values: list, what: str, *, limit: int = NAME_MAX - SUFFIX_ROOM, **place) -> None:
    """:func:`check_name` of each of ``values``; the first that is not a plain file name is refused.

    A pool's 100,000 file names are checked at once: their joined text is
    scanned for what no name may hold, and one name at a time only when
    something is found there.
    """
    if _all_plain(values, limit):
        return
    for value in values:
        check_name(value, what, limit=limit, **place)


def _all_plain(values: list, limit: int) -> bool:
    """Whether :func:`name_problem` finds nothing in any of ``values`` (False: maybe it does)."""
    try:
        text = "/".join(values)  # joined by what no name may hold: each "/" is a boundary
    except TypeError:  # something that is not text
        return False
    if text.count("/") != len(values) - 1 or "\\" in text or _CONTROL.search(text):
        return False
    if "" in values or "." in values or ".." in values:
        return False
    if text.isascii():
        return max(map(len, values), default=0) <= limit
    return max((len(value.encode("utf-8", "surrogatepass")) for value in values), default=0) <= limit


def check_relative_path(value: object, what: str, *, outside_hint: str | None = None, **place) -> str:
    """Return ``value`` if it is a path that stays inside its folder (``sub/x.fits``); else raise.

    ``place`` is as for :func:`check_name`; ``outside_hint`` replaces the
    hint for a path that is absolute or climbs out with ``..`` (the caller
    knows how such a value came about).
    """
    problem = relative_path_problem(value)
    if problem is None:
        return value  # type: ignore[return-value]
    if outside_hint is None:
        outside_hint = "give the path relative to the folder, inside it"
    hint = outside_hint if problem in (_ABSOLUTE, _CLIMBS) else None
    raise _refusal(value, what, "is not a path inside its folder", problem, hint=hint, **place)


def _refusal(value: object, what: str, verdict: str, problem: str, *, path: str | None = None,
             line: int | None = None, column: int | None = None, option: str | None = None,
             error: type[AsnflowError] = InputError, hint: str | None = None) -> AsnflowError:
    subject = f"{option} {what}" if option else what
    return error(
        f"{subject} {shown(value)} {verdict}: it {problem}",
        path=path,
        line=line,
        column=column,
        hint=hint or "use letters, digits and - _ . + only",
    )
