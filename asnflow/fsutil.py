"""Writing files so that a failed or killed run leaves nothing half-written.

Everything asnflow writes goes through here. The rules:

* A file is written under a temporary name in its own folder and renamed
  over its destination (atomic on one file system). A set of files for one
  folder is staged in a hidden ``.asnflow-staging-*`` folder *inside* that
  folder, every destination is checked, and only then are the files moved
  in (a folder that does not exist yet is staged beside its name and
  renamed into place in one step). Several folders (``generate A B``) are
  staged and checked together before any of them is touched.
* Nothing is written through, or replaces, a symbolic link, a folder, a
  FIFO or a read-only file; a replaced file keeps its mode (and owner, where
  allowed).
* An existing output folder is kept as it is (never removed and recreated);
  a folder this module created for a write that then failed is removed.
* Staging folders and temporary files hold an advisory lock while in use.
  Debris of a killed run (an unlocked one) is found by the next write into
  the same folder: a staging folder whose files were all staged is moved
  into place (the killed run had decided them), anything else is removed.
* OS errors (no space, name too long, permission denied, read-only file
  system...) become one :class:`~asnflow.errors.OutputError` line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Container, Iterator, Sequence
from dataclasses import field
from pathlib import Path

from asnflow.errors import AsnflowError, OutputError
from asnflow.fsread import kind_of
from asnflow.records import record

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks; debris is then left alone
    fcntl = None  # type: ignore[assignment]

STAGING_PREFIX = ".asnflow-staging-"
TEMP_PREFIX = ".asnflow-tmp-"
_STAGED_ALL = ".asnflow-staged-all"  # marker: every file of the staging folder is in it
_SETTLING_SECONDS = 10

_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.EISDIR: "a folder stands in the way",
    errno.ENOTDIR: "a file stands in the path",
    errno.EEXIST: "something else already exists there",
    errno.ELOOP: "too many symbolic links",
    errno.EXDEV: "the staging folder is on another file system",
}


def os_error(exc: OSError, doing: str, path: str | os.PathLike[str] | None = None) -> OutputError:
    """One line for an OS error met while ``doing`` something (``"cannot write the file"``)."""
    reason = (_REASONS.get(exc.errno) if exc.errno is not None else None) or (exc.strerror or str(exc)).lower()
    where = os.fspath(path) if path is not None else (exc.filename if isinstance(exc.filename, str) else None)
    return OutputError(f"{doing}: {reason}", path=where)


def _named(option: str | None, thing: str) -> str:
    return f"{option} names {thing}" if option else f"is {thing}"


# --------------------------------------------------------------------------- checks


def check_output_file(path: str | os.PathLike[str], *, option: str | None = None) -> os.stat_result | None:
    """Refuse ``path`` as a file to (re)write: a folder, a link, a FIFO, a read-only file.

    Returns the status of the file it would replace (None when there is
    none). Call it before doing any work so a bad ``-o`` fails at once; the
    writers below call it again just before writing.
    """
    where = os.fspath(path)
    try:
        status = os.lstat(where)
    except FileNotFoundError:
        _check_parent(Path(where), option)
        return None
    except OSError as exc:
        raise os_error(exc, "cannot write there", where) from None
    if stat.S_ISLNK(status.st_mode):
        raise OutputError(
            _named(option, "a symbolic link") + "; asnflow does not write through or replace links",
            path=where,
            hint="name the link's target, or remove the link",
        )
    if stat.S_ISDIR(status.st_mode):
        raise OutputError(_named(option, "a folder") + ", not a file", path=where,
                          hint="give the name of the file to write")
    if not stat.S_ISREG(status.st_mode):
        raise OutputError(_named(option, kind_of(status.st_mode)) + ", not a regular file", path=where)
    if not status.st_mode & 0o222 or not os.access(where, os.W_OK):
        raise OutputError("the file is read-only; not replacing it", path=where,
                          hint="make it writable first if it should be replaced")
    _check_writable_folder(Path(where).parent, where)
    return status


def _check_parent(path: Path, option: str | None) -> None:
    """The nearest existing ancestor of ``path`` must be a folder we may write in."""
    ancestor = path.parent
    while True:
        try:
            status = os.stat(ancestor if str(ancestor) else ".")
        except FileNotFoundError:
            if ancestor == ancestor.parent:
                return
            ancestor = ancestor.parent
            continue
        except OSError as exc:
            raise os_error(exc, "cannot write there", path) from None
        break
    if not stat.S_ISDIR(status.st_mode):
        raise OutputError(f"cannot write there: {ancestor} is a file, not a folder", path=str(path))
    _check_writable_folder(ancestor, str(path))


def _check_writable_folder(folder: Path, where: str) -> None:
    folder_name = str(folder) if str(folder) else "."
    if not _writable_folder(folder_name):
        raise OutputError(f"cannot write there: the folder {folder_name} is read-only", path=where)


def _writable_folder(folder: str) -> bool:
    # A folder nobody may write to is read-only even for root, who os.access() lets through.
    try:
        mode = os.stat(folder).st_mode
    except OSError:
        return False
    return bool(mode & 0o222) and os.access(folder, os.W_OK | os.X_OK)


def check_output_folder(folder: str | os.PathLike[str], *, option: str | None = None) -> None:
    """Refuse ``folder`` as an output folder: a file, or a folder we may not write in."""
    where = os.fspath(folder)
    try:
        status = os.stat(where)
    except FileNotFoundError:
        _check_parent(Path(where), option)
        return
    except OSError as exc:
        raise os_error(exc, "cannot use the output folder", where) from None
    if not stat.S_ISDIR(status.st_mode):
        kind = "a file" if stat.S_ISREG(status.st_mode) else kind_of(status.st_mode)
        given = f", given with {option}" if option else ""
        raise OutputError(f"the output path exists and is not a folder ({kind}{given})", path=where)
    if not _writable_folder(where):
        raise OutputError("the output folder is read-only", path=where,
                          hint="make it writable, or choose another output folder")


# ----------------------------------------------------------------------- one file


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, option: str | None = None) -> Path:
    """Write ``data`` to ``path`` through a temporary file in its folder and an atomic rename.

    The folders leading to ``path`` are created if needed. A replaced file
    keeps its mode and owner; links, folders and read-only files are refused.
    """
    target = Path(path)
    existing = check_output_file(target, option=option)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = target.parent if str(target.parent) else Path(".")
    created = _make_folders(folder, str(target))
    try:
        _clear_debris(folder)
        _write_replacing(folder, target, payload, existing)
    except BaseException:
        _remove_created(created)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, *, option: str | None = None) -> Path:
    """:func:`atomic_write` of UTF-8 text (line ends as given)."""
    return atomic_write(path, text, option=option)


def _write_replacing(folder: Path, target: Path, payload: bytes, existing: os.stat_result | None) -> None:
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    except OSError as exc:
        raise os_error(exc, "cannot write the file", target) from None
    try:
        _lock(descriptor)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(descriptor, view):]
            os.fsync(descriptor)
            _give_attributes(descriptor, temporary, existing)
        except OSError as exc:
            raise os_error(exc, "cannot write the file", target) from None
        # The destination may have changed since it was checked (a link planted meanwhile).
        now = check_output_file(target)
        if (now is None) != (existing is None):
            existing = now
            _give_attributes(descriptor, temporary, existing)
        try:
            os.replace(temporary, target)
        except OSError as exc:
            raise os_error(exc, "cannot write the file", target) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    finally:
        os.close(descriptor)


def _give_attributes(descriptor: int, temporary: str, existing: os.stat_result | None) -> None:
    """The mode (and owner) of the file being replaced, or the usual mode for a new file."""
    if existing is None:
        os.chmod(temporary, usual_mode(0o666))  # mkstemp makes files private
        return
    os.chmod(temporary, stat.S_IMODE(existing.st_mode))
    if hasattr(os, "fchown"):
        with contextlib.suppress(OSError):  # only root may give a file away; the group may still be kept
            os.fchown(descriptor, existing.st_uid, existing.st_gid)


def usual_mode(mode: int) -> int:
    """``mode`` with the process's umask applied, as open() would create it."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


# --------------------------------------------------------------------------- locks


@contextlib.contextmanager
def locked_file(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for a read-modify-write of it.

    The lock is taken on the file itself; as the writer replaces the file
    (a new inode), a waiter that then gets the lock of the old one sees that
    the name moved on and locks the new file instead. No lock file is left
    behind. Where locks are not available this does nothing.
    """
    where = os.fspath(path)
    if fcntl is None:
        yield
        return
    while True:
        try:
            descriptor = os.open(where, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
        except OSError:
            yield  # missing, a link, unreadable: the reader will say so in its own words
            return
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            mine = os.fstat(descriptor)
            try:
                current = os.lstat(where)
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
                break
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)
    try:
        yield
    finally:
        os.close(descriptor)


def _lock(descriptor: int) -> None:
    """Mark a staging folder or temporary file as in use by this process."""
    if fcntl is not None:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _abandoned(path: str) -> bool:
    """True if nobody holds the lock of a staging folder or temporary file (its run was killed).

    Something changed in the last few seconds is left alone: another run may
    have just created it and not yet taken its lock.
    """
    if fcntl is None:
        return False
    try:
        if time.time() - os.lstat(path).st_mtime < _SETTLING_SECONDS:
            return False
    except OSError:
        return False
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(descriptor)  # the lock (if taken) goes with it


def _clear_debris(folder: Path) -> None:
    """Settle what killed runs left in ``folder``: finish complete stagings, remove the rest."""
    try:
        with os.scandir(folder) as entries:
            debris = [e for e in entries if e.name.startswith((STAGING_PREFIX, TEMP_PREFIX))]
    except OSError:
        return
    for entry in debris:
        path = os.path.join(folder, entry.name)
        if entry.is_symlink() or not _abandoned(path):
            continue
        if entry.is_dir(follow_symlinks=False):
            if os.path.exists(os.path.join(path, _STAGED_ALL)):
                with contextlib.suppress(AsnflowError, OSError):
                    _move_in(Path(path), folder, _planned_moves(Path(path), folder))
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


# ------------------------------------------------------------------ staged folders


@record
class _Staging:
    destination: Path
    created: list[Path] = field(default_factory=list)
    path: Path | None = None
    descriptor: int | None = None
    whole: bool = False  # built beside a destination that did not exist, renamed into place in one step

    def discard(self) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)
            self.descriptor = None
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None


@contextlib.contextmanager
def staged_folders(destinations: Sequence[str | os.PathLike[str]],
                   left: Container[int] = ()) -> Iterator[list[Path]]:
    """Yield one empty staging folder per destination; on success move the files in, all or nothing.

    Each destination is created if needed (and removed again if this fails
    while it is still empty); an existing one is kept, with its mode. Files
    already there under the same names are replaced (keeping their mode);
    others are left alone. Before anything moves, every destination name
    is checked: a folder, link, FIFO or read-only file standing where an
    output goes stops the whole write with nothing changed.

    The destinations whose positions are in ``left`` when the caller is done
    (it may add to it meanwhile) are left as they were: their staging folders
    are discarded, and a destination made for the write goes again.
    """
    stagings = [_Staging(Path(d)) for d in destinations]
    try:
        for staging in stagings:
            _open_staging(staging)
        try:
            yield [staging.path for staging in stagings]  # type: ignore[misc]
        except OSError as exc:  # the caller's writes into the staging folders
            raise os_error(exc, "cannot write the output", _shown_path(exc, stagings)) from None
        kept = [staging for index, staging in enumerate(stagings) if index not in left]
        plans = [[] if staging.whole else _planned_moves(staging.path, staging.destination)  # type: ignore[arg-type]
                 for staging in kept]
        for staging in kept:
            if not staging.whole:
                # From here on the staged files are the run's decision: a run killed
                # while moving them is completed by the next write into this folder.
                _mark_complete(staging.path)  # type: ignore[arg-type]
        for staging, plan in zip(kept, plans, strict=True):
            if staging.whole:
                _rename_into_place(staging)
            else:
                _move_in(staging.path, staging.destination, plan)  # type: ignore[arg-type]
            staging.created = []  # written: no longer ours to remove
    finally:
        for staging in stagings:
            staging.discard()
        # Only then the folders made for the write (not moved into place): a parent that the
        # first destination made holds the other destinations' staging folders until here.
        for staging in reversed(stagings):
            _remove_created(staging.created)


@contextlib.contextmanager
def staged_folder(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """:func:`staged_folders` for one destination."""
    with staged_folders([destination]) as (staging,):
        yield staging


def _shown_path(exc: OSError, stagings: list[_Staging]) -> Path | None:
    """The destination a failed staged write was for (the staging folder's name means nothing to users)."""
    failed = Path(exc.filename) if isinstance(exc.filename, str) else None
    for staging in stagings:
        if failed is not None and staging.path is not None and failed.parent == staging.path:
            return staging.destination / failed.name
    return stagings[0].destination if stagings else None


def _open_staging(staging: _Staging) -> None:
    destination = staging.destination
    check_output_folder(destination)
    if not os.path.lexists(destination):
        # A new folder is built beside its final name and renamed into place in
        # one step (one rename instead of one per file); its debris is in the
        # parent, where the next write to this destination looks too.
        staging.whole = True
        home = destination.parent if str(destination.parent) else Path(".")
        staging.created = _make_folders(home, str(destination))
    else:
        home = destination
    _clear_debris(home)
    try:
        staging.path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=home))
        staging.descriptor = os.open(staging.path, os.O_RDONLY)
        _lock(staging.descriptor)
    except OSError as exc:
        raise os_error(exc, "cannot write into the output folder", destination) from None


def _rename_into_place(staging: _Staging) -> None:
    """Give a wholly staged folder its final name (moving its files if the name was taken meanwhile)."""
    path = staging.path
    assert path is not None
    try:
        os.chmod(path, usual_mode(0o777))  # mkdtemp makes folders private
        os.rename(path, staging.destination)
    except OSError:
        if not os.path.isdir(staging.destination):
            raise
        plan = _planned_moves(path, staging.destination)  # someone made the folder meanwhile
        _mark_complete(path)
        _move_in(path, staging.destination, plan)
        return
    staging.path = None  # it is the destination now: not to be removed


def _make_folders(folder: Path, where: str) -> list[Path]:
    """Create ``folder`` and missing parents; return those created, deepest first."""
    missing = []
    probe = folder
    while str(probe) and not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError("cannot create the output folder: a file stands in its path", path=where) from None
    except OSError as exc:
        raise os_error(exc, "cannot create the output folder", where) from None
    return missing


def _remove_created(created: list[Path]) -> None:
    for folder in created:  # deepest first; only while empty
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _planned_moves(staging: Path, destination: Path) -> list[tuple[str, os.stat_result | None]]:
    """Every staged name with the status of the file it replaces; refuse what must not be replaced."""
    # The destination is listed once, and only names it holds are looked at: a look per staged
    # file (for a new file, a failed lstat and its exception) was tens of thousands of calls.
    try:
        present = set(os.listdir(destination))
    except OSError as exc:
        raise os_error(exc, "cannot read the output folder", destination) from None
    plan: list[tuple[str, os.stat_result | None]] = []
    for name in sorted(os.listdir(staging)):
        if name == _STAGED_ALL:
            continue
        if name not in present:
            plan.append((name, None))
            continue
        target = destination / name
        try:
            status = os.lstat(target)
        except FileNotFoundError:
            plan.append((name, None))
            continue
        except OSError as exc:
            raise os_error(exc, "cannot write the output file", target) from None
        if stat.S_ISDIR(status.st_mode):
            raise OutputError(f"a folder stands where the output file {name} goes; nothing was written",
                              path=str(destination), hint="move the folder away or choose another output folder")
        if stat.S_ISLNK(status.st_mode):
            raise OutputError(f"the output file {name} is a symbolic link; asnflow does not replace links; "
                              "nothing was written", path=str(destination))
        if not stat.S_ISREG(status.st_mode):
            raise OutputError(f"the output file {name} is {kind_of(status.st_mode)}; nothing was written",
                              path=str(destination))
        if not status.st_mode & 0o222:
            raise OutputError(f"the output file {name} is read-only; nothing was written", path=str(destination),
                              hint="make it writable first if it should be replaced")
        plan.append((name, status))
    return plan


def _mark_complete(staging: Path) -> None:
    try:
        os.close(os.open(staging / _STAGED_ALL, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise os_error(exc, "cannot write into the output folder", staging.parent) from None


def _move_in(staging: Path, destination: Path, plan: list[tuple[str, os.stat_result | None]]) -> None:
    with _open_folders(staging, destination) as (source, target):
        for name, existing in plan:
            try:
                if existing is not None:
                    staged = staging / name
                    os.chmod(staged, stat.S_IMODE(existing.st_mode))
                    with contextlib.suppress(OSError):
                        os.chown(staged, existing.st_uid, existing.st_gid)
                if source is None:  # pragma: no cover - platforms whose rename takes no dir_fd
                    os.replace(staging / name, destination / name)
                else:
                    os.replace(name, name, src_dir_fd=source, dst_dir_fd=target)
            except OSError as exc:
                raise os_error(exc, "cannot move the output file into place", destination / name) from None


def open_folder(folder: str | os.PathLike[str]) -> int:
    """A descriptor of ``folder``, for making and moving files in it by name (``dir_fd``)."""
    return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


@contextlib.contextmanager
def _open_folders(*folders: Path) -> Iterator[list[int | None]]:
    """The folders opened, for moving files between them by name: the kernel then walks neither
    path again for each of tens of thousands of files. Nones where ``rename`` takes no folders."""
    if os.rename not in os.supports_dir_fd:  # pragma: no cover
        yield [None] * len(folders)
        return
    opened: list[int | None] = []
    try:
        for folder in folders:
            try:
                opened.append(open_folder(folder))
            except OSError as exc:
                raise os_error(exc, "cannot write into the output folder", folder) from None
        yield opened
    finally:
        for descriptor in opened:
            if descriptor is not None:
                os.close(descriptor)
