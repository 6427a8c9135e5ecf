"""An association pool from the primary headers of FITS exposures (jwst's mkpool).

Every primary-header keyword becomes a lower-cased column (COMMENT, HISTORY
and blank cards dropped) and ``filename`` holds each path as given. The
columns the rules read but headers lack get jwst's defaults:

==============  ==========================================================
asn_candidate   ``[('oNNN', 'observation')]`` from OBSERVTN, plus extras
dms_note        empty
is_imprt        ``f``
pntgtype        ``science``
mostilno        ``1``
dithptin        ``1``
targetid        a counter over the distinct TARGNAME values, in file order
==============  ==========================================================

A value given on the command line wins over the header, and the header over
the default (jwst overwrites header values with its defaults). Cells a file
has no keyword for are ``null``.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from asnflow.errors import InputError

IGNORED_KEYWORDS = frozenset({"", "COMMENT", "HISTORY"})
NULL = "null"
DELIMITER = "|"

# Columns the rules read that FITS headers do not carry, with mkpool's defaults.
NON_HEADER_DEFAULTS: Mapping[str, str] = {
    "asn_candidate": "",
    "dms_note": "",
    "is_imprt": "f",
    "pntgtype": "science",
    "targetid": "1",
    "mostilno": "1",
    "dithptin": "1",
}

_CANDIDATE_ID = re.compile(r"[a-z]\d+")
_CANDIDATE_TYPE = re.compile(r"[a-z_]+")


@dataclass(frozen=True)
class PoolTable:
    """A pool as columns and rows of strings, ready to write."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def to_text(self) -> str:
        """The pool file: a ``|``-separated header line, then one line per exposure."""
        lines = [DELIMITER.join(self.columns)]
        lines.extend(DELIMITER.join(_cell(value) for value in row) for row in self.rows)
        return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    # Quote like astropy's ascii writer (which jwst uses) where a bare value
    # would be misread: a delimiter or quote inside, or a leading '#' that
    # would turn the line into a comment.
    if DELIMITER in value or '"' in value or value.startswith("#"):
        return '"' + value.replace('"', '""') + '"'
    return value


def parse_candidate_option(text: str) -> list[tuple[str, str]]:
    """Extra candidates: ``[('c1000', 'background'), ...]`` or ``c1000:background``."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = None
        if not isinstance(value, list) or not all(
            isinstance(item, tuple) and len(item) == 2 and all(isinstance(part, str) for part in item)
            for item in value
        ):
            raise InputError(
                f"--asn-candidate {text!r} is not a list of (id, type) pairs",
                hint="write [('c1000', 'background')] or c1000:background",
            )
        pairs = value
    else:
        candidate_id, colon, candidate_type = stripped.partition(":")
        if not colon:
            raise InputError(
                f"--asn-candidate {text!r} has no type",
                hint="write c1000:background or [('c1000', 'background')]",
            )
        pairs = [(candidate_id, candidate_type)]
    checked = []
    for candidate_id, candidate_type in pairs:
        candidate_id, candidate_type = candidate_id.strip(), candidate_type.strip()
        if not _CANDIDATE_ID.fullmatch(candidate_id.lower()) or not _CANDIDATE_TYPE.fullmatch(candidate_type.lower()):
            raise InputError(
                f"--asn-candidate: ({candidate_id!r}, {candidate_type!r}) is not a candidate",
                hint="an id is a letter and digits (c1000), a type a word (background, mosaic, group)",
            )
        checked.append((candidate_id, candidate_type))
    return checked


def read_primary_header(path: str | os.PathLike[str]):
    """The primary header of a FITS file, or one clear error naming the file."""
    from astropy.io import fits

    from asnflow.fsread import check_regular

    where = os.fspath(path)
    check_regular(where, "file")
    try:
        with fits.open(where, memmap=False, lazy_load_hdus=True) as hdus:
            return hdus[0].header.copy()
    except FileNotFoundError:
        raise InputError("file not found", path=where) from None
    except PermissionError:
        raise InputError("cannot read the file: permission denied", path=where) from None
    except (OSError, ValueError, IndexError, TypeError, EOFError) as exc:
        raise InputError(f"not a FITS file ({_reason(exc)})", path=where) from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def header_values(header) -> dict[str, str]:
    """Lower-cased keyword -> text, as mkpool reads a header (``str(value)``)."""
    from astropy.io.fits.card import Undefined

    values = {}
    for keyword, value in header.items():
        if keyword in IGNORED_KEYWORDS:
            continue
        values[keyword.lower()] = NULL if isinstance(value, Undefined) else str(value)
    return values


def observation_candidate(header, where: str) -> tuple[str, str]:
    """``('oNNN', 'observation')`` from OBSERVTN."""
    if "OBSERVTN" not in header:
        raise InputError(
            "no OBSERVTN keyword in the primary header; cannot name the observation candidate",
            path=where,
        )
    observation = header["OBSERVTN"]
    # Headers hold OBSERVTN as text ('001'); an integer is padded the same way.
    text = (
        f"{observation:03d}" if isinstance(observation, int) and not isinstance(observation, bool) else str(observation)
    )
    return (f"o{text.strip()}", "observation")


def make_pool(
    files: Sequence[str | os.PathLike[str]],
    *,
    asn_candidates: Iterable[tuple[str, str]] = (),
    dms_note: str | None = None,
    is_imprt: str | None = None,
    pntgtype: str | None = None,
    names_only: bool = False,
) -> PoolTable:
    """Build a pool from the primary headers of ``files`` (see the module notes).

    ``names_only`` writes bare file names in ``filename`` instead of the paths
    as given.
    """
    if not files:
        raise InputError("no FITS files given")
    extra_candidates = list(asn_candidates)
    given = {
        name: value
        for name, value in (("dms_note", dms_note), ("is_imprt", is_imprt), ("pntgtype", pntgtype))
        if value is not None
    }
    records = []
    target_ids: dict[str, str] = {}
    for path in files:
        where = os.fspath(path)
        header = read_primary_header(where)
        record = dict(NON_HEADER_DEFAULTS)
        record.update(header_values(header))
        record.update(given)
        record["filename"] = Path(where).name if names_only else where
        record["asn_candidate"] = str([observation_candidate(header, where), *extra_candidates])
        target_name = record.get("targname", NULL)
        target_ids.setdefault(target_name, str(len(target_ids) + 1))
        record["targetid"] = target_ids[target_name]
        records.append(record)
    columns = tuple(sorted(set().union(*records)))
    rows = tuple(tuple(record.get(column, NULL) for column in columns) for record in records)
    return PoolTable(columns=columns, rows=rows)


def write_pool(table: PoolTable, path: str | os.PathLike[str]) -> Path:
    """Write the pool through an atomic rename (a failed run leaves nothing behind)."""
    from asnflow.fsutil import atomic_write_text

    return atomic_write_text(Path(path), table.to_text(), option="-o")
