"""Data made from files, remembered between runs in a private cache folder.

Entries are JSON data, never code: a planted or damaged entry can at worst
be ignored. Each is named by a digest of what it was made from (the file's
path and bytes, the entry format and the asnflow version), so it is never
stale, and starts with a header carrying a digest of its own body; an entry
that fails it is ignored and made again. The parsed rule files
(:mod:`asnflow.assoc_rules.cache`) and rules.yaml's data (:func:`cached_data`:
importing PyYAML and parsing rules.yaml was a tenth of the instructions of a
small pool's whole run) are kept here.

The folder is used only when it belongs to the user running asnflow and
nobody else may write in it (it is created private). A cache that cannot be
read or written is simply not used; writing goes through a temporary file
that is removed on any failure, so a full disk leaves nothing behind.
``ASNFLOW_CACHE_DIR`` chooses the folder (empty: no cache); the default is
``$XDG_CACHE_HOME/asnflow`` or ``~/.cache/asnflow``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asnflow import __version__
from asnflow.errors import AsnflowError

# hashlib loads OpenSSL, about 1 % of a small pool's whole run; CPython's own
# random module takes its hash from the built-in module the same way.
try:
    from _sha2 import sha256  # type: ignore[import-not-found]  # Python 3.12 and newer
except ImportError:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # Python 3.11
    except ImportError:  # pragma: no cover - an interpreter without them
        from hashlib import sha256

DATA_FORMAT = "asnflow-data-1"
KEEP_ENTRIES = 64  # older entries are removed when a new one is written


def cache_folder() -> Path | None:
    configured = os.environ.get("ASNFLOW_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "asnflow"


def entry_key(fmt: str, *parts: bytes) -> str:
    """The name of the entry made in format ``fmt`` from ``parts`` (with this asnflow version)."""
    digest = sha256()
    for part in (fmt.encode(), __version__.encode(), *parts):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()[:32]


def cached_data(path: str | os.PathLike[str], data: bytes, make: Callable[[], Any]) -> Any:
    """What ``make()`` makes of the file ``path`` holding ``data``, from the cache when these bytes
    were seen before. Only plain JSON data that reads back equal is kept (YAML's dates or integer
    keys are made anew each time)."""
    folder = cache_folder()
    if folder is None:
        return make()
    path = Path(path)
    key = entry_key(DATA_FORMAT, str(path).encode(), data)
    entry = folder / f"data-{key}.json"
    usable = trusted_folder(folder)
    if usable:
        found = read_entry(entry, DATA_FORMAT, key, lambda body: json.loads(body)["value"])
        if found is not None:
            return found
    made = make()
    if usable is not False:
        def encoded():
            if json.loads(json.dumps(made)) != made:
                raise ValueError("not plain JSON data")
            return {"value": made}

        write_entry(folder, entry, DATA_FORMAT, key, encoded)
    return made


def trusted_folder(folder: Path) -> bool | None:
    """True: ours and writable by nobody else; None: missing (may be created); False: not to be used."""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def read_entry(entry: Path, fmt: str, key: str, decode: Callable[[bytes], Any]) -> Any:
    """``decode(body)`` of a sound entry, or None (missing, not ours, damaged, planted)."""
    try:
        fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & (
                stat.S_IWGRP | stat.S_IWOTH):
            return None
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            head, _, body = handle.read().partition(b"\n")
        header = json.loads(head)
        if header != {"format": fmt, "key": key, "sha256": sha256(body).hexdigest()}:
            return None
        return decode(body)
    except Exception:  # damaged, planted or from another version: made again
        return None
    finally:
        if fd >= 0:
            os.close(fd)


def write_entry(folder: Path, entry: Path, fmt: str, key: str, encoded: Callable[[], Any]) -> None:
    from asnflow.fsutil import atomic_write_text

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not trusted_folder(folder):
            return
        body = json.dumps(encoded(), separators=(",", ":"), ensure_ascii=False)
        header = json.dumps({"format": fmt, "key": key,
                             "sha256": sha256(body.encode("utf-8")).hexdigest()})
        atomic_write_text(entry, header + "\n" + body)
        _prune(folder)
    except (OSError, ValueError, TypeError, RecursionError, AsnflowError):  # a full disk, say: optional
        pass


def _prune(folder: Path) -> None:
    entries = []
    for child in folder.iterdir():
        if child.name.startswith(("rules-", "data-")) and child.suffix in (".json", ".pickle"):
            try:
                entries.append((child.lstat().st_mtime, child))
            except OSError:
                continue
    entries.sort(reverse=True)
    stale = [child for _, child in entries[KEEP_ENTRIES:]]
    stale += [child for _, child in entries if child.suffix == ".pickle"]  # older versions' entries
    for child in stale:
        child.unlink(missing_ok=True)
