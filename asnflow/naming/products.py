"""Level-3 product names, built from the values an association pinned.

The helpers turn found constraint values into name parts exactly as jwst
3.0.0 does (``DMSBaseMixin.get_*``); :func:`level3_product_name` puts the parts
into one of jwst's templates. Values are used verbatim: if the caller passes
regex-escaped values (jwst's ``found_values`` are), the escapes end up in the
name, as they do in jwst.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from asnflow.constraints.rows import INVALID_VALUES  # pool values that mean "not set"
from asnflow.errors import RuleError
from asnflow.naming.template import fill_template

# Template text per name. "default" and "wfss" give the same text; jwst fills
# the first with str.format and the second with FormatTemplate, which only
# differ for values asnflow never passes.
LEVEL3_TEMPLATES: Mapping[str, str] = {
    "default": "jw{program}-{acid}_{target}_{instrument}_{opt_elem}{slit_name}{subarray}",
    "noopt": "jw{program}-{acid}_{target}_{instrument}",
    "sources": "jw{program}-{acid}_{source_id}_{instrument}_{opt_elem}{slit_name}{subarray}",
    "wfss": "jw{program}-{acid}_{target}_{instrument}_{opt_elem}{slit_name}{subarray}",
    # jwst 1.19+: the target and a {source_id} to be filled by calwebb_spec3.
    "nrsfs_sources": "jw{program}-{acid}_{target}-{source_id}_{instrument}_{opt_elem}-{slit_name}{subarray}",
    # The same product as jwst 1.12 (build 10.0) named it: no target.
    "nrsfs_sources_build10": "jw{program}-{acid}_{source_id}_{instrument}_{opt_elem}-{slit_name}{subarray}",
    # "-image3" keeps NIRCam coronagraphic image3 products apart from coron3's (#7826).
    "coronimage": "jw{program}-{acid}_{target}_{instrument}_{opt_elem}{subarray}-image3",
}

# Fields each template leaves open for calwebb_spec3 to fill.
_OPEN_FIELDS: Mapping[str, frozenset[str]] = {
    "sources": frozenset({"source_id"}),
    "nrsfs_sources": frozenset({"source_id", "slit_name"}),
    "nrsfs_sources_build10": frozenset({"source_id", "slit_name"}),
}

WFSCMB_TEMPLATE = "{existing}-{detector}_{suffix}-{expspcin}"


def program_id(program: str) -> str:
    """The program as it appears in names: zero-padded to five characters (``747`` -> ``00747``)."""
    return str(program).rjust(5, "0")


def target_id(values: Sequence[str]) -> str:
    """``t`` + the found target values ``-``-joined, zero-padded to three (``[] -> t000``)."""
    return "t" + "-".join(values).rjust(3, "0")


def _sorted_join(values: Sequence[str]) -> str:
    return "-".join(sorted(values, key=str.lower))


def opt_elem(groups: Sequence[Sequence[str]]) -> str:
    """The optical-element part: one group per constraint (``opt_elem``, ``opt_elem2``).

    Each group is sorted case-insensitively and ``-``-joined, dropped if that
    is an invalid value; the surviving group strings are sorted the same way
    and ``-``-joined. ``clear`` when nothing survives.
    """
    parts = [joined for joined in (_sorted_join(group) for group in groups) if joined not in INVALID_VALUES]
    return _sorted_join(parts) or "clear"


def slit_name(groups: Sequence[Sequence[str]]) -> str:
    """The fixed-slit part: one group per constraint (``fxd_slit``, ``fxd_slit2``); ``""`` if none.

    Like :func:`opt_elem`, except that a group string equal to one already
    taken (compared exactly, so ``S200A1`` and ``s200a1`` both stay) is
    dropped, and nothing stands in for an empty result.
    """
    parts: list[str] = []
    for joined in (_sorted_join(group) for group in groups):
        if joined not in INVALID_VALUES and joined not in parts:
            parts.append(joined)
    return _sorted_join(parts)


def subarray(values: Sequence[str]) -> str:
    """The subarray part: the values ``-``-joined, ``""`` when that is exactly ``full``.

    The comparison is case-sensitive (``FULL`` stays, and is lower-cased with
    the rest of the name), and invalid values such as ``null`` are kept: jwst
    checks neither.
    """
    joined = "-".join(values)
    return "" if joined == "full" else joined


def exposure_part(values: Sequence[str]) -> str:
    """The activity part jwst computes (``get_exposure``): ``""`` or the activity padded to two.

    No jwst 3.0.0 template places it in the name; it is kept for rules that
    want it.
    """
    joined = "-".join(values)
    return "" if joined in INVALID_VALUES else joined.rjust(2, "0")


def level3_product_name(
    template: str,
    *,
    program: str,
    acid: str,
    target: str,
    instrument: str,
    opt_elem: str,
    slit_name: str = "",
    subarray: str = "",
    exposure: str = "",
) -> str:
    """A level-3 product name from already-formatted parts, lower-cased.

    ``template`` is a key of :data:`LEVEL3_TEMPLATES`. ``program``, ``target``,
    ``opt_elem``, ``slit_name`` and ``subarray`` are what :func:`program_id`,
    :func:`target_id`, :func:`opt_elem`, :func:`slit_name` and :func:`subarray`
    return; the ``-`` before a non-empty slit name or subarray is added here.
    The ``sources`` and ``nrsfs_sources`` templates leave ``{source_id}`` (and
    ``{slit_name}`` for fixed slits) open, as jwst does; ``exposure`` is
    accepted but no jwst template uses it.
    """
    try:
        text = LEVEL3_TEMPLATES[template]
    except KeyError:
        known = ", ".join(LEVEL3_TEMPLATES)
        raise RuleError(f"unknown product name template {template!r}", hint=f"one of {known}") from None
    del exposure  # computed by jwst, then never placed
    values = {
        "program": program,
        "acid": acid,
        "target": target,
        "instrument": instrument,
        "opt_elem": opt_elem,
        "slit_name": f"-{slit_name}" if slit_name else "",
        "subarray": f"-{subarray}" if subarray else "",
    }
    open_fields = _OPEN_FIELDS.get(template, frozenset())
    values = {key: value for key, value in values.items() if key not in open_fields}
    return fill_template(text, **_only_placed(text, values)).lower()


def _only_placed(template: str, values: dict[str, str]) -> dict[str, str]:
    """Drop values the template has no place for (jwst's calls never pass those)."""
    return {key: value for key, value in values.items() if "{" + key + "}" in template}


def wfscmb_product_name(existing: str, detector: str, act_id: str) -> str:
    """Asn_Lv3WFSCMB's name: ``{existing}-{detector}_{suffix}-{expspcin}``, ``{suffix}`` left open.

    ``existing`` is the default level-3 name; ``act_id`` is padded to two
    characters with ``0``.
    """
    return fill_template(WFSCMB_TEMPLATE, existing=existing, detector=detector, expspcin=act_id).lower()
