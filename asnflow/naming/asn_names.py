"""Association candidate ids (ACIDs) and association file names.

An association file is named ``jw{program}-{acid}[_{stamp}]_{type}_{sequence:05d}_asn``
(``.json`` added when written), lower-cased: ``jw00009-o167_image3_00001_asn``,
``jw99009-o001_20250316t033413_image2_00001_asn``.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime

from asnflow.errors import InputError
from asnflow.records import record

TIMESTAMP_FORMAT = "%Y%m%dt%H%M%S"


@record(frozen=True)
class ACID:
    """An association candidate: ``id`` (``o001``, ``c1000``, ``a3001``) and ``type`` (``observation``...)."""

    id: str
    type: str

    def __str__(self) -> str:
        return self.id

    @classmethod
    def parse(cls, text: str) -> ACID:
        """Read the pool's form of one candidate, ``"('o001', 'observation')"``."""
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
        if (
            isinstance(value, tuple | list)
            and len(value) == 2
            and all(isinstance(part, str) for part in value)
        ):
            return cls(value[0], value[1])
        raise InputError(
            f"{text!r} is not an association candidate",
            hint="expected a pair like ('o001', 'observation')",
        )


def asn_file_stem(
    program: str, acid: str | ACID, asn_type: str, sequence: int, version_id: str | None = None
) -> str:
    """The association file name without ``.json``, lower-cased.

    ``program`` is already formatted (``00009``, or ``noprogram``); the stamp
    is ``version_id`` when it is non-empty.
    """
    return f"{asn_file_stem_head(program, acid, asn_type, version_id)}{sequence:05d}_asn"


def asn_file_stem_head(program: str, acid: str | ACID, asn_type: str, version_id: str | None = None) -> str:
    """The association file name up to its sequence number (``jw00009-o001_image2_``), lower-cased."""
    acid_id = acid.id if isinstance(acid, ACID) else acid
    stamp = f"_{version_id}" if version_id else ""
    return f"jw{program}-{acid_id}{stamp}_{asn_type}_".lower()


def timestamp(now: datetime | None = None) -> str:
    """A version id: UTC time as ``%Y%m%dt%H%M%S``. A naive ``now`` is taken as UTC."""
    moment = datetime.now(UTC) if now is None else now
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIMESTAMP_FORMAT)


@record(frozen=True)
class AsnFileName:
    """The parts of an association file name."""

    program: str
    acid: str
    version_id: str | None
    asn_type: str
    sequence: int
    extension: str = ""
    path: str = ""

    def __str__(self) -> str:
        stem = asn_file_stem(self.program, self.acid, self.asn_type, self.sequence, self.version_id)
        return f"{self.path}{stem}{self.extension}"


# No ACID letter when jwst writes without finalizing (`asn_generate --no-finalize`).
_ASN_FILE_NAME = re.compile(
    r"(?P<path>.*/)?jw(?P<program>[0-9]{5,}|noprogram)-(?P<acid>[a-z]?[0-9]+)"
    r"(?:_(?P<stamp>[^_/]+))?_(?P<type>[a-z0-9-]+)_(?P<sequence>[0-9]{3,})_asn(?P<extension>\.[a-z0-9]+)?"
)


def parse_asn_file_name(name: str) -> AsnFileName | None:
    """Split an association file name into its parts; ``None`` if it is not one."""
    match = _ASN_FILE_NAME.fullmatch(name)
    if match is None:
        return None
    return AsnFileName(
        program=match["program"],
        acid=match["acid"],
        version_id=match["stamp"],
        asn_type=match["type"],
        sequence=int(match["sequence"]),
        extension=match["extension"] or "",
        path=match["path"] or "",
    )
