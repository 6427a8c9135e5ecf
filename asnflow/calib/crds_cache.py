"""Write a small, self-contained CRDS cache that crds can use with no server.

Used by ``asnflow demo`` (its reference files) and by tests of
:class:`~asnflow.calib.refs.CrdsRefs`. The layout is what ``crds sync``
leaves behind, reduced to one context:

    config/jwst/server_config          the last "server info" (latest context)
    mappings/jwst/jwst_0001.pmap       instrument -> imap
    mappings/jwst/jwst_<ins>_0001.imap reftype -> rmap
    mappings/jwst/jwst_<ins>_<type>_0001.rmap   Match(parkeys) -> UseAfter -> file
    references/jwst/<ins>/<file>.fits  the reference files

Every mapping carries the sha1 checksum crds verifies on load.
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


@dataclass(frozen=True)
class CacheReference:
    """One reference file and the parameter values that select it.

    ``match`` maps CRDS parameter names (``META.INSTRUMENT.DETECTOR``, ...) to
    values; every entry of one reftype must use the same parameter names.
    ``model`` is a stdatamodels reference model, saved as the file.
    """

    reftype: str
    match: Mapping[str, str]
    model: Any


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


def _rmap_text(instrument: str, reftype: str, entries: Sequence[CacheReference], files: Sequence[str]) -> str:
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
        lines += [f"    {values!r} : UseAfter({{", f"        '{USEAFTER}' : '{filename}',", "    }),"]
    lines += ["})", ""]
    return _checksummed(header + "\n" + "\n".join(lines))


def staging_prefix(folder: Path) -> str:
    """Name prefix of the temporary folder :func:`write_crds_cache` assembles ``folder`` in."""
    return f".{folder.name}.staging-"


def write_crds_cache(folder: str | os.PathLike[str], instrument: str, references: Sequence[CacheReference]) -> Path:
    """Create a CRDS cache at ``folder`` (which must not exist yet) and return it.

    The cache is assembled in a temporary folder beside ``folder`` and renamed
    into place at the end, so an interrupted write leaves no partial cache.
    """
    folder = Path(folder)
    if folder.exists():
        raise InputError("refusing to overwrite an existing folder with a CRDS cache", path=str(folder))
    instrument = instrument.lower()
    by_type: dict[str, list[CacheReference]] = {}
    for ref in references:
        by_type.setdefault(ref.reftype.lower(), []).append(ref)
    for reftype, entries in by_type.items():
        if len({tuple(entry.match) for entry in entries}) != 1:
            raise InputError(f"{reftype} references must all be selected by the same parameters")

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(folder), dir=folder.parent))
    try:
        config = staging / "config" / "jwst"
        mappings = staging / "mappings" / "jwst"
        refdir = staging / "references" / "jwst" / instrument
        for path in (config, mappings, refdir):
            path.mkdir(parents=True)

        imap = f"jwst_{instrument}_0001.imap"
        rmaps = {}
        for reftype, entries in sorted(by_type.items()):
            files = []
            for number, entry in enumerate(entries, start=1):
                filename = f"jwst_{instrument}_{reftype}_{number:04d}.fits"
                # keep the model's own DATE (stdatamodels would stamp "now"), so a cache
                # written twice from the same models is the same bytes
                save_model(entry.model, refdir / filename, str(entry.model.meta.date))
                files.append(filename)
            rmaps[reftype] = f"jwst_{instrument}_{reftype}_0001.rmap"
            (mappings / rmaps[reftype]).write_text(_rmap_text(instrument, reftype, entries, files), encoding="utf-8")

        imap_text = _header(imap, "INSTRUMENT", {"instrument": repr(instrument.upper()), "parkey": "('REFTYPE',)"})
        imap_text += "\nselector = {\n"
        imap_text += "".join(f"    '{reftype.upper()}' : '{rmap}',\n" for reftype, rmap in rmaps.items())
        imap_text += "}\n"
        (mappings / imap).write_text(_checksummed(imap_text), encoding="utf-8")

        pmap_text = _header(CONTEXT, "PIPELINE", {"parkey": "('META.INSTRUMENT.NAME',)"})
        pmap_text += f"\nselector = {{\n    '{instrument.upper()}' : '{imap}',\n}}\n"
        (mappings / CONTEXT).write_text(_checksummed(pmap_text), encoding="utf-8")

        server_info = {
            "observatory": "jwst",
            "latest_context": CONTEXT,
            "operational_context": CONTEXT,
            "edit_context": CONTEXT,
            "checked_context": CONTEXT,
            "bad_files_list": [],
            "bad_files": "",
            "mappings": [CONTEXT, imap, *rmaps.values()],
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
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder
