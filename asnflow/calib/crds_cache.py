"""Write a small, self-contained CRDS cache that crds can use with no server.

Used by ``asnflow demo`` (its reference files) and by tests of
:class:`~asnflow.calib.refs.CrdsRefs`. The layout is what ``crds sync``
leaves behind, reduced to one context:

    config/jwst/server_config          the last "server info" (latest context)
    mappings/jwst/jwst_0001.pmap       instrument -> imap
    mappings/jwst/jwst_<ins>_0001.imap reftype -> rmap, or N/A
    mappings/jwst/jwst_<ins>_<type>_0001.rmap   Match(parkeys) -> UseAfter -> file, or N/A
    references/jwst/<ins>/<file>       the reference files (.fits, or .asdf)

Every mapping carries the sha1 checksum crds verifies on load. A reference
type CRDS answers "N/A" for is either N/A for the whole instrument (an imap
entry, like real CRDS for types another instrument uses) or for some
parameter values (an rmap match whose model is None). A match value of
``N/A`` is CRDS's "any value".
"""

from __future__ import annotations

import hashlib
import os
import pprint
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asnflow.calib.modelio import save_model
from asnflow.errors import InputError

CONTEXT = "jwst_0001.pmap"
USEAFTER = "2014-01-01 00:00:00"
ASDF_REFTYPES = frozenset(
    {"distortion", "filteroffset", "specwcs", "regions", "wavelengthrange", "sirskernel", "abvegaoffset"}
)
NOT_APPLICABLE = "N/A"
# The instrument folders crds keeps references in ("instrument" cache mode), as crds.jwst lists them.
JWST_INSTRUMENTS = ("fgs", "miri", "nircam", "niriss", "nirspec", "system")


@dataclass(frozen=True)
class CacheReference:
    """One reference file and the parameter values that select it.

    ``match`` maps CRDS parameter names (``META.INSTRUMENT.DETECTOR``, ...) to
    values; every entry of one reftype must use the same parameter names.
    ``model`` is a stdatamodels reference model, saved as the file.
    """

    reftype: str
    match: Mapping[str, str]
    model: Any  # a stdatamodels model; a dict (an ASDF tree: pars-* files); None: CRDS answers N/A
    instrument: str | None = None  # defaults to the instrument write_crds_cache is given

    @property
    def extension(self) -> str:
        """FITS for array references; ASDF for pars-* trees and the WCS models jwst keeps in ASDF."""
        if isinstance(self.model, Mapping):
            return "asdf"
        return "asdf" if self.reftype.lower() in ASDF_REFTYPES else "fits"


def _checksummed(text: str) -> str:
    """Fill the ``'sha1sum' : ...`` header line the way crds computes it."""
    body = "".join(line for line in text.splitlines(True) if "sha1sum" not in line)
    digest = hashlib.sha1(body.encode("utf-8")).hexdigest()
    return text.replace("'sha1sum' : 'TBD'", f"'sha1sum' : '{digest}'")


def _header(name: str, mapping: str, fields: Mapping[str, str]) -> str:
    lines = [
        "header = {",
        "    'derived_from' : 'asnflow synthetic cache',",
        f"    'mapping' : '{mapping}',",
        f"    'name' : '{name}',",
        "    'observatory' : 'JWST',",
    ]
    lines += [f"    '{key}' : {value}," for key, value in fields.items()]
    lines += ["    'sha1sum' : 'TBD',", "}", ""]
    return "\n".join(lines)


def _rmap_text(instrument: str, reftype: str, entries: Sequence[CacheReference], files: Sequence[str | None]) -> str:
    name = f"jwst_{instrument}_{reftype}_0001.rmap"
    keys = tuple(entries[0].match)
    header = _header(
        name,
        "REFERENCE",
        {
            "classes": "('Match', 'UseAfter')",
            "filekind": repr(reftype.upper()),
            "instrument": repr(instrument.upper()),
            "parkey": repr((keys, ("META.OBSERVATION.DATE", "META.OBSERVATION.TIME"))),
        },
    )
    lines = ["selector = Match({"]
    for entry, filename in zip(entries, files, strict=True):
        values = tuple(str(entry.match[key]).upper() for key in keys)
        if filename is None:
            lines += [f"    {values!r} : '{NOT_APPLICABLE}',"]
        else:
            lines += [f"    {values!r} : UseAfter({{", f"        '{USEAFTER}' : '{filename}',", "    }),"]
    lines += ["})", ""]
    return _checksummed(header + "\n" + "\n".join(lines))


def staging_prefix(folder: Path) -> str:
    """Name prefix of the temporary folder :func:`write_crds_cache` assembles ``folder`` in."""
    return f".{folder.name}.staging-"


def _save_reference(entry: CacheReference, path: Path) -> None:
    if isinstance(entry.model, Mapping):  # a step-parameter (pars-*) file: a plain ASDF tree
        import asdf

        asdf.AsdfFile(dict(entry.model)).write_to(path)
        return
    # keep the model's own DATE (stdatamodels would stamp "now"), so a cache
    # written twice from the same models is the same bytes
    save_model(entry.model, path, str(entry.model.meta.date))


def write_crds_cache(
    folder: str | os.PathLike[str],
    instrument: str | None,
    references: Sequence[CacheReference],
    *,
    not_applicable: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Create a CRDS cache at ``folder`` (which must not exist yet) and return it.

    ``instrument`` is the instrument of references that do not name their
    own; ``not_applicable`` maps an instrument to the reference types its
    imap answers N/A for. The cache is assembled in a temporary folder
    beside ``folder`` and renamed into place at the end, so an interrupted
    write leaves no partial cache.
    """
    folder = Path(folder)
    if folder.exists():
        raise InputError("refusing to overwrite an existing folder with a CRDS cache", path=str(folder))
    by_instrument: dict[str, dict[str, list[CacheReference]]] = {}
    for ref in references:
        owner = (ref.instrument or instrument or "").lower()
        if not owner:
            raise InputError(f"{ref.reftype} reference names no instrument")
        by_instrument.setdefault(owner, {}).setdefault(ref.reftype.lower(), []).append(ref)
    inapplicable = {ins.lower(): sorted({t.lower() for t in types}) for ins, types in (not_applicable or {}).items()}
    for ins in inapplicable:
        by_instrument.setdefault(ins, {})
    for by_type in by_instrument.values():
        for reftype, entries in by_type.items():
            if len({tuple(entry.match) for entry in entries}) != 1:
                raise InputError(f"{reftype} references must all be selected by the same parameters")

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(folder), dir=folder.parent))
    try:
        config = staging / "config" / "jwst"
        mappings = staging / "mappings" / "jwst"
        for path in (config, mappings):
            path.mkdir(parents=True)
        imaps = {}
        all_mappings = [CONTEXT]
        for ins, by_type in sorted(by_instrument.items()):
            refdir = staging / "references" / "jwst" / ins
            refdir.mkdir(parents=True)
            selector = {}
            for reftype, entries in sorted(by_type.items()):
                files: list[str | None] = []
                number = 0
                for entry in entries:
                    if entry.model is None:
                        files.append(None)
                        continue
                    number += 1
                    filename = f"jwst_{ins}_{reftype}_{number:04d}.{entry.extension}"
                    _save_reference(entry, refdir / filename)
                    files.append(filename)
                rmap = f"jwst_{ins}_{reftype}_0001.rmap"
                (mappings / rmap).write_text(_rmap_text(ins, reftype, entries, files), encoding="utf-8")
                selector[reftype] = rmap
                all_mappings.append(rmap)
            for reftype in inapplicable.get(ins, ()):
                selector.setdefault(reftype, NOT_APPLICABLE)
            imap = f"jwst_{ins}_0001.imap"
            imap_text = _header(imap, "INSTRUMENT", {"instrument": repr(ins.upper()), "parkey": "('REFTYPE',)"})
            imap_text += "\nselector = {\n"
            imap_text += "".join(f"    '{reftype.upper()}' : '{rmap}',\n" for reftype, rmap in sorted(selector.items()))
            imap_text += "}\n"
            (mappings / imap).write_text(_checksummed(imap_text), encoding="utf-8")
            imaps[ins] = imap
            all_mappings.append(imap)

        pmap_text = _header(CONTEXT, "PIPELINE", {"parkey": "('META.INSTRUMENT.NAME',)"})
        pmap_text += "\nselector = {\n"
        pmap_text += "".join(f"    '{ins.upper()}' : '{imap}',\n" for ins, imap in sorted(imaps.items()))
        pmap_text += "}\n"
        (mappings / CONTEXT).write_text(_checksummed(pmap_text), encoding="utf-8")

        _write_cache_config(staging, all_mappings)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _write_cache_config(staging: Path, all_mappings: list[str]) -> None:
    """What crds reads of a cache besides its mappings and references, as ``crds sync`` leaves it."""
    config = staging / "config" / "jwst"
    server_info = {
        "observatory": "jwst",
        "latest_context": CONTEXT,
        "operational_context": CONTEXT,
        "edit_context": CONTEXT,
        "checked_context": CONTEXT,
        "bad_files_list": [],
        "bad_files": "",
        "mappings": all_mappings,
        "force_remote_mode": False,
        "effective_mode": "local",
        "connected": False,
        "status": "cache",
        "last_synced": USEAFTER,
        "reference_url": {},
    }
    (config / "server_config").write_text(pprint.pformat(server_info) + "\n", encoding="utf-8")
    # crds writes this on first use when missing; writing it now keeps the cache read-only afterwards
    (config / "ref_cache_subdir_mode").write_text("instrument", encoding="utf-8")
    # So with the instrument folders: crds makes the missing ones on first use, and two
    # processes starting at once on a new cache could both try to make the same one.
    for name in JWST_INSTRUMENTS:
        (staging / "references" / "jwst" / name).mkdir(parents=True, exist_ok=True)
