"""Writing a program's inputs: the pool, the raw ramps and a CRDS cache.

Every input is written only when it is missing, each file through a
temporary name and an atomic rename, so a second run (or a run after a
kill) reuses what is there and the dispatcher sees unchanged timestamps.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class DemoInputs:
    pool: Path
    raw: tuple[Path, ...]
    crds_cache: Path
    written: int  # how many of them this call wrote (0 when all existed)


def remove_stale_staging(folder: Path) -> None:
    """Remove temporary files or folders a killed demo run left behind."""
    prefixes = (STAGING_PREFIX, staging_prefix(folder / CRDS_FOLDER))
    for entry in folder.iterdir() if folder.is_dir() else ():
        if entry.name.startswith(prefixes):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _write_once(path: Path, write: Callable[[Path], None]) -> bool:
    """Write ``path`` through a temporary sibling unless it exists; True if written."""
    if path.exists():
        return False
    temporary = path.with_name(f"{STAGING_PREFIX}{path.name}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return True


def write_inputs(folder: Path) -> DemoInputs:
    """Make sure ``folder`` holds the demo pool, raw ramps and CRDS cache."""
    return write_program_inputs(folder, [program.DEMO])


def write_program_inputs(folder: Path, programs: Sequence[Program]) -> DemoInputs:
    """Make sure ``folder`` holds each realistic program's pool and raw ramps, and one CRDS cache for all.

    Only missing files are written (see the module docstring); the cache
    covers every program's instrument, with N/A for the types CRDS answers
    N/A for.
    """
    from asnflow.calib.crds_cache import write_crds_cache
    from asnflow.calib.modelio import save_model
    from asnflow.demo import raw, references

    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(folder)
    written = 0
    pools, uncal = [], []
    for item in programs:
        pool = folder / raw.pool_name(item)
        written += _write_once(pool, lambda p, item=item: p.write_text(raw.pool_text(item), encoding="utf-8"))
        pools.append(pool)
        for exposure in item.exposures():
            path = folder / exposure.uncal_name

            def write_raw(temporary: Path, exposure: raw.Exposure = exposure, path: Path = path, item=item) -> None:
                with item.raw_model(exposure) as model:
                    save_model(model, temporary, program.FILE_DATE, filename=path.name)

            written += _write_once(path, write_raw)
            uncal.append(path)

    cache = folder / CRDS_FOLDER
    if not cache.exists():
        refs = [ref for item in programs for ref in item.cache_references()]
        write_crds_cache(cache, None, refs, not_applicable=references.not_applicable([p.setup for p in programs]))
        written += 1
    return DemoInputs(pools[0], tuple(uncal), cache, written)
