"""Reading and writing DMS exposure and product file names.

Exposure (stage 0-2) names::

    jw<ppppp><ooo><vvv>_<gg><s><aa>_<eeeee>[-seg<nnn>]_<detector>[_<suffix>][.<ext>]

e.g. ``jw93065002001_02101_00001_nrca1_rate.fits``. Without suffix and
extension this is a level-2 product name, and parses too.

Level-3 product names::

    jw<ppppp>-<acid>_<target>[-<source>][-epoch<n>]_<instrument>[_<optics>][_<suffix>[-<act>]][.<ext>]

where ``<target>`` may be missing when ``<source>`` is given (NIRSpec MOS),
and ``<optics>`` is ``-``-joined optical elements, then fixed slits, then a
subarray, then ``image3`` (NIRCam coronagraphic image3) or a detector
(wavefront-sensing combined images, which also carry ``-<act>``). Open
placeholders (``{source_id}``, ``{slit_name}``, ``{suffix}``) are accepted
where their values would be.

The optics part cannot always be split without knowing the pool values:
asnflow reads the first token as an optical element, every fixed-slit name
(or ``{slit_name}``) after the optical elements as a slit, and what follows
the slits as the subarray. With no slits, a last token that is a known
subarray name (``subarrays.txt``) or starts with ``sub`` is the subarray.
Names are matched case-insensitively and kept as given.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, asdict, dataclass, fields, replace
from typing import Any, ClassVar

from asnflow.errors import InputError
from asnflow.naming.source_id import FIXED_SLITS
from asnflow.naming.suffix import KNOWN_SUFFIXES, _read_word_list

KNOWN_SUBARRAYS: frozenset[str] = _read_word_list("subarrays.txt")
INSTRUMENTS: frozenset[str] = frozenset({"nircam", "niriss", "nirspec", "miri", "fgs"})

# Level-3 suffixes that are not in jwst's remove_suffix list (WFSS source
# segmentation maps, AMI products) plus the open placeholder.
_EXTRA_PRODUCT_SUFFIXES = frozenset({"segm", "amimulti-oi", "amilg", "{suffix}"})
PRODUCT_SUFFIXES: frozenset[str] = KNOWN_SUFFIXES | _EXTRA_PRODUCT_SUFFIXES

_SLIT_TOKENS = frozenset(FIXED_SLITS) | {"{slit_name}"}

_EXPOSURE_HINT = "exposures look like jwPPPPPOOOVVV_GGSAA_EEEEE_DETECTOR[_SUFFIX][.EXT]"
_PRODUCT_HINT = "level-3 products look like jwPPPPP-ACID_TARGET_INSTRUMENT[_OPTICS][_SUFFIX][.EXT]"

_EXPOSURE = re.compile(
    r"jw(?P<program>[0-9]{5})(?P<observation>[0-9]{3})(?P<visit>[0-9]{3})"
    r"_(?P<visit_group>[0-9]{2})(?P<parallel_sequence>[0-9])(?P<activity>[0-9a-z]{2})"
    r"_(?P<exposure>[0-9]{5})(?:-seg(?P<segment>[0-9]{3}))?"
    r"_(?P<detector>[a-z0-9]+)(?:_(?P<suffix>[a-z0-9][a-z0-9_-]*))?",
    re.IGNORECASE,
)
# The ACID's letter is absent when jwst writes level-3 names without finalizing
# (`asn_generate --no-finalize` gives e.g. "jw99009-1000_t001_nircam_clear-f090w").
_PRODUCT_HEAD = re.compile(r"jw(?P<program>[0-9]{5,})-(?P<acid>[a-z]?[0-9]{3,})", re.IGNORECASE)
_SOURCE = r"\{source_id\}|[sbv][0-9]+"
_PRODUCT_SUBJECT = re.compile(
    rf"(?:(?P<target>t[0-9]+(?:-[0-9]+)*)(?:-(?P<source>{_SOURCE}))?|(?P<source_only>{_SOURCE}))"
    r"(?:-epoch(?P<epoch>[0-9]+))?",
    re.IGNORECASE,
)
_ACTIVITY_TAIL = re.compile(r"(?P<suffix>.+)-(?P<activity>[0-9a-z]{2})", re.IGNORECASE)


@dataclass(frozen=True)
class ExposureName:
    """The parts of an exposure file name (or of a level-2 product name, with no suffix)."""

    kind: ClassVar[str] = "exposure"

    program: str
    observation: str
    visit: str
    visit_group: str
    parallel_sequence: str
    activity: str
    exposure: str
    detector: str
    suffix: str = ""
    extension: str = ""
    segment: str = ""
    path: str = ""

    @property
    def visit_id(self) -> str:
        """``ppppp`` + ``ooo`` + ``vvv``: the visit the exposure belongs to."""
        return f"{self.program}{self.observation}{self.visit}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    def __str__(self) -> str:
        return format_exposure_name(self)


@dataclass(frozen=True)
class ProductName:
    """The parts of a level-3 product name (see the module notes on the optics part)."""

    kind: ClassVar[str] = "product"

    program: str
    acid: str
    target: str
    source_id: str
    instrument: str
    optical_elements: tuple[str, ...]
    slit: str
    subarray: str
    suffix: str
    extension: str
    epoch: str = ""
    image3: bool = False
    detector: str = ""
    activity: str = ""
    path: str = ""

    @property
    def template(self) -> str:
        """Which jwst template shape the name has (a key of ``LEVEL3_TEMPLATES``, or ``wfscmb``)."""
        if self.detector:
            return "wfscmb"
        if self.image3:
            return "coronimage"
        if not self.optical_elements:
            return "noopt"
        if not self.target:
            return "sources"
        if self.source_id:
            return "nrsfs_sources"
        return "default"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["optical_elements"] = list(self.optical_elements)
        return {"kind": self.kind, **data, "template": self.template}

    def __str__(self) -> str:
        return format_product_name(self)


def parse_name(name: str) -> ExposureName | ProductName:
    """Read a DMS exposure, level-2 product or level-3 product file name.

    A leading folder is kept in ``path``. Raises :class:`InputError` (one line
    naming the file) for anything else, e.g. ``jw_00001_uncal.fits``.
    """
    path, base = _split_path(name)
    stem, extension = _split_extension(base)
    exposure = _EXPOSURE.fullmatch(stem)
    if exposure is not None:
        parts = {key: value or "" for key, value in exposure.groupdict().items()}
        return ExposureName(**parts, extension=extension, path=path)
    if _PRODUCT_HEAD.match(stem):
        return _parse_product(name, stem, extension, path)
    raise InputError("not a DMS exposure or product file name", path=name, hint=f"{_EXPOSURE_HINT}; {_PRODUCT_HINT}")


def format_exposure_name(name: ExposureName | None = None, /, **changes: Any) -> str:
    """The file name of an exposure: the inverse of :func:`parse_name`.

    Give an :class:`ExposureName`, keyword parts, or both (the keywords
    replace parts: ``format_exposure_name(parsed, suffix="cal")``). Numbers
    may be given as integers; they are zero-padded to their fields.
    """
    if name is None:
        name = ExposureName(**_checked_parts(changes, complete=True))
    elif changes:
        name = replace(name, **_checked_parts(changes, complete=False))
    widths = {"program": 5, "observation": 3, "visit": 3, "visit_group": 2, "parallel_sequence": 1,
              "activity": 2, "exposure": 5}
    parts = {key: _padded(key, getattr(name, key), width) for key, width in widths.items()}
    segment = f"-seg{_padded('segment', name.segment, 3)}" if name.segment != "" else ""
    suffix = f"_{name.suffix}" if name.suffix else ""
    text = (
        f"{name.path}jw{parts['program']}{parts['observation']}{parts['visit']}"
        f"_{parts['visit_group']}{parts['parallel_sequence']}{parts['activity']}"
        f"_{parts['exposure']}{segment}_{name.detector}{suffix}{name.extension}"
    )
    _, base = _split_path(text)
    stem, _ = _split_extension(base)
    if not _EXPOSURE.fullmatch(stem) or (name.extension and not name.extension.startswith(".")):
        raise InputError(f"the parts {name!r} do not make an exposure name")
    return text


def format_product_name(name: ProductName) -> str:
    """The file name of a level-3 product: the inverse of :func:`parse_name`."""
    subject = name.target
    if name.source_id:
        subject = f"{name.target}-{name.source_id}" if name.target else name.source_id
    if name.epoch:
        subject += f"-epoch{name.epoch}"
    parts = [f"jw{name.program}-{name.acid}_{subject}", name.instrument]
    if name.optical_elements:
        optics = list(name.optical_elements)
        optics += [part for part in (name.slit, name.subarray) if part]
        if name.image3:
            optics.append("image3")
        if name.detector:
            optics.append(name.detector)
        parts.append("-".join(optics))
    if name.suffix:
        parts.append(f"{name.suffix}-{name.activity}" if name.activity else name.suffix)
    return name.path + "_".join(parts) + name.extension


# -- internals ---------------------------------------------------------------


def _split_path(name: str) -> tuple[str, str]:
    slash = name.rfind("/")
    return name[: slash + 1], name[slash + 1 :]


def _split_extension(base: str) -> tuple[str, str]:
    dot = base.find(".")
    if dot <= 0:
        return base, ""
    return base[:dot], base[dot:]


def _refuse_product(name: str, why: str) -> InputError:
    return InputError(f"not a DMS product file name: {why}", path=name, hint=_PRODUCT_HINT)


def _split_outside_braces(text: str, separator: str) -> list[str]:
    """``text.split(separator)``, except inside ``{...}`` (placeholders such as ``{source_id}``)."""
    parts = [""]
    depth = 0
    for char in text:
        if char == separator and depth == 0:
            parts.append("")
            continue
        depth += (char == "{") - (char == "}")
        parts[-1] += char
    return parts


def _parse_product(name: str, stem: str, extension: str, path: str) -> ProductName:
    parts = _split_outside_braces(stem, "_")
    head = _PRODUCT_HEAD.fullmatch(parts[0])
    if head is None:
        raise _refuse_product(name, f"{parts[0]!r} is not jwPPPPP-ACID")
    if len(parts) < 3:
        raise _refuse_product(name, "the target and instrument are missing")
    subject = _PRODUCT_SUBJECT.fullmatch(parts[1])
    if subject is None:
        raise _refuse_product(name, f"{parts[1]!r} is not a target (tNNN) or source id")
    if parts[2].lower() not in INSTRUMENTS:
        raise _refuse_product(name, f"{parts[2]!r} is not an instrument ({', '.join(sorted(INSTRUMENTS))})")

    optics, suffix, activity = _optics_and_suffix(parts[3:])
    if optics is None:
        elements: tuple[str, ...] = ()
        slit = subarray = detector = ""
        image3 = False
    else:
        if "" in optics.split("-"):
            raise _refuse_product(name, f"the optics part {optics!r} has an empty element")
        elements, slit, subarray, image3, detector = _split_optics(optics.split("-"), wfscmb=bool(activity))
    return ProductName(
        program=head["program"],
        acid=head["acid"],
        target=subject["target"] or "",
        source_id=subject["source"] or subject["source_only"] or "",
        instrument=parts[2],
        optical_elements=elements,
        slit=slit,
        subarray=subarray,
        suffix=suffix,
        extension=extension,
        epoch=subject["epoch"] or "",
        image3=image3,
        detector=detector,
        activity=activity,
        path=path,
    )


def _suffix_and_activity(text: str) -> tuple[str, str] | None:
    """``x1d`` -> (x1d, ""); ``{suffix}-04`` -> ({suffix}, 04); None if ``text`` is no product suffix."""
    if text.lower() in PRODUCT_SUFFIXES:
        return text, ""
    tail = _ACTIVITY_TAIL.fullmatch(text)
    if tail is not None and tail["suffix"].lower() in PRODUCT_SUFFIXES:
        return tail["suffix"], tail["activity"]
    return None


def _optics_and_suffix(rest: list[str]) -> tuple[str | None, str, str]:
    """Split what follows the instrument into (optics or None, suffix, activity)."""
    if not rest:
        return None, "", ""
    whole = _suffix_and_activity("_".join(rest))
    if whole is not None:  # no optics (MIRI MRS style), only a suffix
        return None, *whole
    rest = list(rest)
    # Some subarray names hold an underscore (sub17stripe_soss): glue them back.
    while len(rest) > 1:
        joined = rest[0].rsplit("-", 1)[-1] + "_" + rest[1].split("-", 1)[0]
        if joined.lower() not in KNOWN_SUBARRAYS:
            break
        rest[0:2] = [rest[0] + "_" + rest[1]]
    optics, tail = rest[0], rest[1:]
    if not tail:
        return optics, "", ""
    suffix_text = "_".join(tail)
    split = _suffix_and_activity(suffix_text)
    return optics, *(split if split is not None else (suffix_text, ""))


def _is_slit(token: str) -> bool:
    return token.lower() in _SLIT_TOKENS


def _is_subarray(token: str) -> bool:
    lowered = token.lower()
    return lowered in KNOWN_SUBARRAYS or lowered.startswith("sub")


def _split_optics(tokens: list[str], *, wfscmb: bool) -> tuple[tuple[str, ...], str, str, bool, str]:
    """Optics tokens -> (optical elements, slit, subarray, image3, detector)."""
    detector = ""
    image3 = False
    if wfscmb and len(tokens) > 1:
        detector = tokens.pop()
    elif len(tokens) > 1 and tokens[-1].lower() == "image3":
        image3 = True
        tokens.pop()
    # The first token is always an optical element: jwst writes "clear" when none is known.
    first_slit = next((i for i in range(1, len(tokens)) if _is_slit(tokens[i])), len(tokens))
    elements, rest = tokens[:first_slit], tokens[first_slit:]
    slits: list[str] = []
    for token in rest:
        # jwst never repeats a slit, and {slit_name} stands for all of them.
        if not _is_slit(token) or token.lower() in slits or "{slit_name}" in slits:
            break
        slits.append(token.lower())
    subarray_tokens = rest[len(slits) :]
    if not rest and len(elements) > 1 and _is_subarray(elements[-1]):
        subarray_tokens = [elements.pop()]
    return tuple(elements), "-".join(rest[: len(slits)]), "-".join(subarray_tokens), image3, detector


def _padded(key: str, value: object, width: int) -> str:
    text = str(value)
    allowed = text.isalnum() if key == "activity" else text.isdigit()
    if not text.isascii() or not allowed or len(text) > width:
        raise InputError(f"exposure name part {key}={value!r} does not fit {width} characters")
    return text.rjust(width, "0")


def _checked_parts(parts: dict[str, Any], *, complete: bool) -> dict[str, Any]:
    known = {field.name: field for field in fields(ExposureName)}
    unknown = sorted(set(parts) - set(known))
    if unknown:
        raise InputError(f"unknown exposure name part(s): {', '.join(unknown)}")
    missing = [name for name, field in known.items() if field.default is MISSING and name not in parts]
    if complete and missing:
        raise InputError(f"exposure name part(s) missing: {', '.join(missing)}")
    return parts
