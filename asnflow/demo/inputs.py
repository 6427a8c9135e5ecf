"""Writing a program's inputs: the pool, the raw ramps and a CRDS cache.

Each file is written through a temporary name and an atomic rename. A
manifest (:data:`MANIFEST`) records which generator made the inputs and the
content hash of each, so a second run (or a run after a kill) reuses inputs
only when this generator made them and nobody changed them since: a folder
made by another asnflow version, or holding an edited or truncated input, is
brought up to date instead of silently calibrating stale inputs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from asnflow.calib.crds_cache import staging_prefix
from asnflow.demo import program

if TYPE_CHECKING:
    from asnflow.demo.raw import Program

CRDS_FOLDER = "crds"
STAGING_PREFIX = ".asnflow-demo-"  # temporary names the demo writes through
MANIFEST = "asnflow-demo-inputs.json"
# packages whose versions change the bytes of the written FITS and ASDF files
_WRITERS = ("asnflow", "stdatamodels", "asdf", "astropy", "numpy", "crds")


@dataclass(frozen=True)
class DemoInputs:
    pool: Path
    raw: tuple[Path, ...]
    crds_cache: Path
    written: int  # how many of them this call wrote (0 when all existed)


def remove_stale_staging(folder: Path) -> None:
    """Remove temporary files or folders a killed demo run left behind."""
    prefixes = (
        STAGING_PREFIX,
        staging_prefix(folder / CRDS_FOLDER),
        staging_prefix(folder / f"{STAGING_PREFIX}{CRDS_FOLDER}"),  # see _replace_cache
    )
    for entry in folder.iterdir() if folder.is_dir() else ():
        if entry.name.startswith(prefixes):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def generator_fingerprint(programs: Sequence[Program]) -> str:
    """What decides the bytes of the inputs: the demo's code, the writers' versions, the programs."""
    digest = hashlib.sha256()
    sources = sorted(Path(__file__).parent.glob("*.py"))
    from asnflow.calib import crds_cache, modelio

    for module in (*sources, Path(crds_cache.__file__), Path(modelio.__file__)):
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    for package in _WRITERS:
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        digest.update(f"{package}={version}\0".encode())
    digest.update(repr(sorted(repr(item) for item in programs)).encode())
    return digest.hexdigest()


def content_hash(path: Path) -> str | None:
    """sha256 of a file, or of a folder's files and their relative names; None if absent."""
    if path.is_symlink() or not path.exists():
        return None
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _read_manifest(folder: Path, fingerprint: str) -> dict[str, str]:
    """Recorded hashes of the inputs, empty unless this very generator wrote them."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("generator") != fingerprint:
        return {}
    hashes = manifest.get("inputs")
    return {str(k): str(v) for k, v in hashes.items()} if isinstance(hashes, dict) else {}


def _write_manifest(folder: Path, fingerprint: str, hashes: dict[str, str]) -> None:
    temporary = folder / f"{STAGING_PREFIX}manifest.json"
    text = json.dumps({"generator": fingerprint, "inputs": hashes}, indent=1, sort_keys=True) + "\n"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, folder / MANIFEST)


def _up_to_date(path: Path, recorded: dict[str, str]) -> bool:
    expected = recorded.get(path.name)
    return expected is not None and content_hash(path) == expected


def _replace_file(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through a temporary sibling renamed over it."""
    temporary = path.with_name(f"{STAGING_PREFIX}{path.name}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _replace_cache(cache: Path, write: Callable[[Path], None]) -> None:
    """Write a CRDS cache folder beside ``cache``, then swap it in and remove the old one."""
    fresh = cache.with_name(f"{STAGING_PREFIX}{cache.name}")
    old = cache.with_name(f"{STAGING_PREFIX}{cache.name}-old")
    for leftover in (fresh, old):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
    write(fresh)
    if cache.is_symlink() or cache.is_file():
        cache.unlink()
    elif cache.exists():
        os.replace(cache, old)
    os.replace(fresh, cache)
    shutil.rmtree(old, ignore_errors=True)


def write_inputs(folder: Path) -> DemoInputs:
    """Make sure ``folder`` holds the demo pool, raw ramps and CRDS cache."""
    return write_program_inputs(folder, [program.DEMO])


def write_program_inputs(folder: Path, programs: Sequence[Program]) -> DemoInputs:
    """Make sure ``folder`` holds each realistic program's pool and raw ramps, and one CRDS cache for all.

    An input is (re)written unless the manifest shows this generator wrote
    it and its content is unchanged (see the module docstring); the cache
    covers every program's instrument, with N/A for the types CRDS answers
    N/A for.
    """
    from asnflow.calib.crds_cache import write_crds_cache
    from asnflow.calib.modelio import save_model
    from asnflow.demo import raw, references

    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(folder)
    fingerprint = generator_fingerprint(programs)
    recorded = _read_manifest(folder, fingerprint)
    hashes: dict[str, str] = {}
    written = 0

    def ensure(
        path: Path, replace: Callable[[Path, Callable[[Path], None]], None], write: Callable[[Path], None]
    ) -> None:
        nonlocal written
        if not _up_to_date(path, recorded):
            replace(path, write)
            written += 1
        hashes[path.name] = content_hash(path) or ""

    pools, uncal = [], []
    for item in programs:
        pool = folder / raw.pool_name(item)

        def write_pool(temporary: Path, item: Program = item) -> None:
            temporary.write_text(raw.pool_text(item), encoding="utf-8")

        ensure(pool, _replace_file, write_pool)
        pools.append(pool)
        for exposure in item.exposures():
            path = folder / exposure.uncal_name

            def write_raw(temporary: Path, exposure: raw.Exposure = exposure, path: Path = path, item=item) -> None:
                with item.raw_model(exposure) as model:
                    save_model(model, temporary, program.FILE_DATE, filename=path.name)

            ensure(path, _replace_file, write_raw)
            uncal.append(path)

    cache = folder / CRDS_FOLDER

    def write_cache(target: Path) -> None:
        refs = [ref for item in programs for ref in item.cache_references()]
        write_crds_cache(target, None, refs, not_applicable=references.not_applicable([p.setup for p in programs]))

    ensure(cache, _replace_cache, write_cache)
    if written or not recorded:
        _write_manifest(folder, fingerprint, hashes)
    return DemoInputs(pools[0], tuple(uncal), cache, written)
