"""Writing files so that a failed run leaves nothing half-written.

Everything asnflow writes goes through here: files are first written into a
hidden staging folder beside their destination (same file system, so the final
move is an atomic rename) and moved into place only once all of them exist.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from asnflow.errors import InputError

# A file name asnflow may create: no folder parts, nothing hidden, no "..".
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_{}+=,@-][A-Za-z0-9._{}+=,@-]*$")


def check_file_name(name: str) -> str:
    """Refuse a generated file name that could land outside its folder."""
    if not _SAFE_NAME.match(name) or ".." in name:
        raise InputError(f"refusing to write a file named {name!r}: it is not a plain file name")
    return name


@contextmanager
def staged_folder(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty staging folder; on success move its files into ``destination``.

    ``destination`` is created if needed. Files already in ``destination`` with
    the same names are replaced; others are left alone. If the body raises,
    the staging folder is removed and ``destination`` is untouched (apart from
    being created). When ``destination`` does not exist yet (or is an empty
    folder), the staging folder is built beside it and renamed into place in
    one step, which saves one rename per file on large outputs.
    """
    destination = Path(destination)
    if destination.exists() and not destination.is_dir():
        raise InputError("output path exists and is not a folder", path=str(destination))
    fresh = not destination.exists() or not any(destination.iterdir())
    parent = destination.parent if fresh else destination
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".asnflow-staging-", dir=parent))
    except (FileExistsError, NotADirectoryError):
        raise InputError("cannot create the output folder: a file stands in its path", path=str(destination)) from None
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror}", path=str(destination)) from None
    try:
        yield staging
        if fresh:
            _usual_permissions(staging)
            try:
                if destination.exists():
                    destination.rmdir()  # empty: replaced by the staged folder
                os.rename(staging, destination)
                return
            except OSError:
                destination.mkdir(parents=True, exist_ok=True)  # raced with someone: move files one by one
        for entry in sorted(staging.iterdir()):
            os.replace(entry, destination / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _usual_mode(mode: int) -> int:
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def _usual_permissions(folder: Path) -> None:
    # mkdtemp makes folders private (0700); an output folder gets the usual mode.
    os.chmod(folder, _usual_mode(0o777))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, _usual_mode(0o666))  # mkstemp makes the file private; keep the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
