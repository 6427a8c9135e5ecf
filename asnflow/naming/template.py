"""Partial template filling, as jwst's ``FormatTemplate`` does it for product names.

Differences from ``str.format``:

- a placeholder with no value is left in place (``{source_id}`` stays), so a
  later stage can fill it;
- a value with no placeholder is appended, after ``separator``, in key order;
- a value given as ``None`` fills its placeholder with nothing and is never
  appended;
- each value is first passed through a per-key format (``expspcin`` is padded
  to two characters with ``0``).

Only plain names are supported as placeholders (``{name}``, ``{name:>5}``,
``{name!r}``); positional or attribute fields are refused.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence

from asnflow.errors import RuleError

# Per-key formats of jwst's ``format_product`` (rules_level3_base). Each is
# tried in turn until one accepts the value.
PRODUCT_KEY_FORMATS: Mapping[str, tuple[str, ...]] = {
    "source_id": ("{:s}",),
    "expspcin": ("{:0>2s}",),
    "slit_name": ("{:s}",),
}
DEFAULT_KEY_FORMAT: tuple[str, ...] = ("{:s}",)

# The presentation type at the end of a key format decides how the value is
# converted before formatting.
_CONVERSIONS = {
    **dict.fromkeys("bcdnoxX", int),
    **dict.fromkeys("%eEfFgG", float),
    "s": str,
}

_FORMATTER = string.Formatter()


def fill_template(template: str, separator: str = "_", **values: str | None) -> str:
    """Fill ``template`` with ``values`` using the product-name key formats.

    >>> fill_template("{existing}-{detector}_{suffix}-{expspcin}", existing="x", detector="nrca4", expspcin="4")
    'x-nrca4_{suffix}-04'
    >>> fill_template("a_{b}", c="more")
    'a_{b}_more'
    """
    return render_template(template, values, key_formats=PRODUCT_KEY_FORMATS, separator=separator)


def render_template(
    template: str,
    values: Mapping[str, object | None],
    *,
    key_formats: Mapping[str, Sequence[str]] = PRODUCT_KEY_FORMATS,
    separator: str = "_",
    append_unused: bool = True,
) -> str:
    """:func:`fill_template` with explicit key formats; ``append_unused=False`` drops extra values."""
    prepared = {key: _preformat(key, value, key_formats) for key, value in values.items()}
    used: set[str] = set()
    pieces: list[str] = []
    for literal, field, spec, conversion in _parse(template):
        pieces.append(literal)
        if field is None:
            continue
        if not field.isidentifier():
            raise RuleError(f"template {template!r}: field {{{field}}} is not a plain name")
        if spec and "{" in spec:
            raise RuleError(f"template {template!r}: nested fields in {{{field}:{spec}}} are not supported")
        used.add(field)
        value = prepared.get(field, "{" + field + "}")
        if value is None:
            value = ""
        if conversion == "r":
            value = repr(value)
        elif conversion == "a":
            value = ascii(value)
        _check_spec_size(template, field, spec)
        try:
            pieces.append(format(value, spec))
        except (ValueError, OverflowError) as exc:
            raise RuleError(f"template {template!r}: cannot format {{{field}}}: {exc}") from None
    result = "".join(pieces)
    if not append_unused:
        return result
    extras = [extra for key in sorted(set(prepared) - used) if (extra := prepared[key]) is not None]
    return separator.join([result, *extras])


# Width and precision of a field's format spec ("{source_id:>12}"): a file name
# part is never longer than a file name, so larger numbers are refused before
# format() tries to build a string that size.
MAX_FIELD_WIDTH = 255
_SPEC_SIZES = re.compile(r"^(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>[0-9]*)[_,]?(?:\.(?P<precision>[0-9]*))?")


def _check_spec_size(template: str, field: str, spec: str) -> None:
    sizes = _SPEC_SIZES.match(spec)
    for part in ("width", "precision"):
        digits = sizes.group(part) if sizes else None
        if digits and (len(digits) > 4 or int(digits) > MAX_FIELD_WIDTH):
            raise RuleError(f"template {template!r}: the {part} in {{{field}:{spec}}} is larger than "
                            f"{MAX_FIELD_WIDTH}")


def placeholders(template: str) -> list[str]:
    """The field names in ``template``, in order of appearance."""
    return [field for _literal, field, _spec, _conversion in _parse(template) if field is not None]


def _parse(template: str):
    try:
        return list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise RuleError(f"template {template!r} is malformed: {exc}") from None


def _preformat(key: str, value: object | None, key_formats: Mapping[str, Sequence[str]]) -> str | None:
    if value is None:
        return None
    formats = key_formats.get(key, DEFAULT_KEY_FORMAT)
    for key_format in formats:
        spec = next(field[2] or "" for field in _FORMATTER.parse(key_format) if field[1] is not None)
        convert = _CONVERSIONS.get(spec[-1:], str)
        try:
            return key_format.format(convert(value))
        except (ValueError, TypeError):
            continue
    raise RuleError(f"no format in {list(formats)} accepts {key}={value!r}")
