"""NIRSpec fixed-slit source numbers and filling ``{source_id}``/``{slit_name}``.

Since build 10.0 (jwst 1.12, #7879) every open fixed slit is its own source:
assign_wcs gives the slit holding the target (``FXD_SLIT``, the primary)
source 1 and every other slit ``10 * number(primary) + number(slit)``. spec3
then groups by source, so an S200A1/S200A2 nod of one target is one source
(1) seen through two slits.

Association product names leave ``{source_id}`` and ``{slit_name}`` open;
calwebb_spec3 fills them per source. Two naming profiles are known:

- ``jwst-3.0``: ``s`` + the number zero-padded to nine (``s000000001``);
- ``build10``: ``s`` + the number zero-padded to five (``s00031``).

What asnflow decides for identifiers that are not plain numbers:

- a string of digits (with an optional ``-``) is the number it spells;
- a negative number is a MOS virtual slit: ``v`` + its magnitude, padded the
  same way (jwst's spec3 rule for virtual slitlets);
- any other string (a MOS ``b…`` background or ``v…`` virtual id that is
  already formatted) is used as given, lower-cased, in both profiles: jwst's
  ``s`` rule only ever sees numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from asnflow.errors import InputError
from asnflow.naming.template import render_template

FIXED_SLIT_NUMBERS: Mapping[str, int] = {
    "none": 0,
    "s200a1": 1,
    "s200a2": 2,
    "s400a1": 3,
    "s1600a1": 4,
    "s200b1": 5,
}
FIXED_SLITS: tuple[str, ...] = tuple(name for name in FIXED_SLIT_NUMBERS if name != "none")

NAMING_PROFILES: Mapping[str, int] = {"jwst-3.0": 9, "build10": 5}  # profile -> digits in the source id
DEFAULT_PROFILE = "jwst-3.0"

_INTEGER = re.compile(r"-?[0-9]+")
MAX_SOURCE_ID_DIGITS = 19  # source ids are 64-bit integers in the data products


def _slit_number(slit: str, *, role: str, allow_none: bool) -> int:
    key = slit.strip().lower()
    if key == "none" and not allow_none:
        key = ""
    try:
        return FIXED_SLIT_NUMBERS[key]
    except KeyError:
        choices = ", ".join(name.upper() for name in FIXED_SLIT_NUMBERS if allow_none or name != "none")
        raise InputError(f"{slit!r} is not a NIRSpec fixed slit ({role})", hint=f"one of {choices}") from None


def fixed_slit_source_id(slit: str, primary_slit: str) -> int:
    """Source id assign_wcs gives ``slit`` when the target is in ``primary_slit``.

    The primary slit is source 1; any other slit is ``10 * number(primary) +
    number(slit)``: S200A2 with S200A1 primary is 12, S200A1 with S400A1
    primary is 31. ``primary_slit`` may be ``NONE`` (no target slit), which
    makes every slit its own number. Names are case-insensitive.
    """
    primary_number = _slit_number(primary_slit, role="primary slit", allow_none=True)
    slit_number = _slit_number(slit, role="slit", allow_none=False)
    if slit_number == primary_number:
        return 1
    return 10 * primary_number + slit_number


def format_source_id(source_id: int | str, profile: str = DEFAULT_PROFILE) -> str:
    """The ``{source_id}`` text for a source in a naming profile (see the module notes)."""
    width = _profile_width(profile)
    if isinstance(source_id, bool):
        raise InputError(f"source id {source_id!r} is not a number or an identifier")
    if isinstance(source_id, str):
        text = source_id.strip()
        if _INTEGER.fullmatch(text):
            if len(text.lstrip("-")) > MAX_SOURCE_ID_DIGITS:
                raise InputError(f"source id {text[:24]}... has {len(text.lstrip('-'))} digits "
                                 f"(at most {MAX_SOURCE_ID_DIGITS})")
            source_id = int(text)
        elif text:
            return text.lower()
        else:
            raise InputError("the source id is empty")
    if not isinstance(source_id, int):
        raise InputError(f"source id {source_id!r} is not a number or an identifier")
    prefix = "v" if source_id < 0 else "s"
    return prefix + str(abs(source_id)).rjust(width, "0")


def fill_source_placeholders(
    product_name: str,
    *,
    source_id: int | str,
    slit_names: Sequence[str] = (),
    profile: str = DEFAULT_PROFILE,
) -> str:
    """Fill ``{source_id}`` and ``{slit_name}`` in a product name, as calwebb_spec3 does.

    ``slit_names`` are the slits of the source's exposures, in order; the
    unique ones (lower-cased) are ``-``-joined (``s200a1-s200a2``). With no
    slit names ``{slit_name}`` stays open. Placeholders the name does not
    have are not added, and other placeholders (``{suffix}``) stay.
    """
    values: dict[str, str] = {"source_id": format_source_id(source_id, profile)}
    unique: list[str] = []
    for name in slit_names:
        lowered = name.strip().lower()
        if lowered and lowered not in unique:
            unique.append(lowered)
    if unique:
        values["slit_name"] = "-".join(unique)
    return render_template(product_name, values, append_unused=False)


def _profile_width(profile: str) -> int:
    try:
        return NAMING_PROFILES[profile]
    except KeyError:
        raise InputError(
            f"unknown naming profile {profile!r}", hint=f"one of {', '.join(NAMING_PROFILES)}"
        ) from None
