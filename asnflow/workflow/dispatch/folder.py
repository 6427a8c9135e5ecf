"""The data folder of a run: checked before anything is written, locked while a run holds it.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from asnflow.calib.base import PLACEHOLDER
from asnflow.errors import DispatchError
from asnflow.fsread import kind_of
from asnflow.workflow.dispatch.runlog import RUN_LOG
from asnflow.workflow.provenance import STORE_NAME

SCRATCH_DIR = ".asnflow-scratch"


def check_data_folder(data_dir: str | os.PathLike[str], option: str = "--data") -> None:
    """Refuse a data folder that does not exist or is not a folder, saying which."""
    where = os.fspath(data_dir)
    try:
        mode = os.stat(where).st_mode
    except FileNotFoundError:
        raise DispatchError("the data folder does not exist", path=where) from None
    except OSError as exc:
        raise DispatchError(f"cannot use the data folder: {exc.strerror}", path=where) from None
    if not stat.S_ISDIR(mode):
        raise DispatchError(f"{option} names {kind_of(mode)}, not a folder", path=where)


def refuse_planted_links(data_dir: Path) -> None:
    """The run log, the provenance store and the scratch folder are asnflow's own: never follow a link planted there."""
    for name, kind in ((RUN_LOG, stat.S_ISREG), (SCRATCH_DIR, stat.S_ISDIR), (STORE_NAME, stat.S_ISREG)):
        try:
            mode = os.lstat(data_dir / name).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            raise DispatchError(f"{name} in the data folder is a symbolic link; asnflow does not write through links",
                                path=str(data_dir), hint=f"remove the link {data_dir / name}")
        if not kind(mode):
            raise DispatchError(f"{name} in the data folder is {kind_of(mode)}; asnflow keeps its "
                                f"{'scratch work' if name == SCRATCH_DIR else 'run records'} there",
                                path=str(data_dir), hint=f"move {data_dir / name} away")


@contextlib.contextmanager
def exclusive_use(data_dir: Path) -> Iterator[None]:
    """Lock the data folder itself, so two runs never clear each other's scratch.

    The lock is on the folder (no lock file to leave behind) and the kernel
    drops it when the process dies, even by SIGKILL.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: run without the guard
        yield
        return
    descriptor = os.open(data_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DispatchError("another asnflow run is using this data folder", path=str(data_dir)) from None
        yield
    finally:
        os.close(descriptor)  # releases the lock


def folder_listing(data_dir: Path) -> frozenset[str]:
    try:
        return frozenset(entry.name for entry in os.scandir(data_dir) if entry.is_file())
    except FileNotFoundError:
        return frozenset()
    except NotADirectoryError:
        raise DispatchError("the data folder is not a folder", path=str(data_dir)) from None


def matching_files(name: str, listing: frozenset[str]) -> list[str]:
    """``name`` itself, or every file matching it when it holds run-time placeholders."""
    if not PLACEHOLDER.search(name):
        return [name] if name in listing else []
    pattern = _placeholder_pattern(name)
    return sorted(f for f in listing if pattern.fullmatch(f))


def _placeholder_pattern(name: str) -> re.Pattern[str]:
    parts = PLACEHOLDER.split(name)
    return re.compile("[^/]+".join(re.escape(p) for p in parts))
