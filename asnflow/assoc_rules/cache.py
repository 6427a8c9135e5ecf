"""Parsed rule files and rules.yaml, remembered between runs.

Building the parser and parsing the shipped rules takes about a second,
longer than generating associations for a small pool, so the parsed form
(the syntax-tree records of ast.py) is kept in a cache folder as JSON: data
only, never code, so a planted or damaged entry can at worst be ignored.
An entry is named by a digest of the rule file's bytes, its path, the
grammar and the asnflow version, so it is never stale; it carries a digest
of its own body, and entries that fail it, or do not decode into the syntax-tree
classes, are ignored and replaced. rules.yaml's data is kept the same way
(:func:`cached_data`): importing PyYAML and parsing it was a tenth of the
instructions of a small pool's whole run.

The folder is used only when it belongs to the user running asnflow and
nobody else may write in it (it is created private). A cache that cannot be
read or written is simply not used; writing goes through a temporary file
that is removed on any failure, so a full disk leaves nothing behind.
``ASNFLOW_CACHE_DIR`` chooses the folder (empty: no cache); the default is
``$XDG_CACHE_HOME/asnflow`` or ``~/.cache/asnflow``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asnflow import __version__
from asnflow.assoc_rules import ast
from asnflow.assoc_rules.node import Node
from asnflow.assoc_rules.source import read_rule_bytes
from asnflow.errors import AsnflowError

GRAMMAR = Path(__file__).with_name("grammar.lark")
FORMAT = "asnflow-rules-ast-2"
DATA_FORMAT = "asnflow-data-1"
KEEP_ENTRIES = 64  # older entries are removed when a new one is written

# The classes an entry may name: the syntax-tree records and nothing else.
_CLASSES = {cls.__name__: cls for cls in vars(ast).values()
            if isinstance(cls, type) and issubclass(cls, Node) and cls.__module__ == ast.__name__}
_FIELDS = {name: cls._fields for name, cls in _CLASSES.items()}
_FIELD_SETS = {name: set(fields) for name, fields in _FIELDS.items()}


def cache_folder() -> Path | None:
    configured = os.environ.get("ASNFLOW_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "asnflow"


def _key(path: Path, data: bytes, fmt: str = FORMAT) -> str:
    digest = hashlib.sha256()
    grammar = GRAMMAR.read_bytes() if fmt == FORMAT else b""
    for part in (fmt.encode(), __version__.encode(), grammar, str(path).encode(), data):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()[:32]


def _parse(path: Path) -> ast.RuleFile:
    from asnflow.assoc_rules.parse import parse_file  # builds the lark parser: only on a miss

    return parse_file(path)


def parsed_file(path: str | os.PathLike[str]) -> ast.RuleFile:
    """The parsed rule file, from the cache when this exact text was parsed before."""
    path = Path(path)
    folder = cache_folder()
    if folder is None:
        return _parse(path)
    data = read_rule_bytes(path)
    key = _key(path, data)
    entry = folder / f"rules-{key}.json"
    usable = _trusted_folder(folder)
    if usable:
        found = _read_entry(entry, FORMAT, key, lambda body: _decode(body, str(path)))
        if isinstance(found, ast.RuleFile) and found.path == str(path):
            return found
    parsed = _parse(path)
    if usable is not False:  # a folder we may not trust is neither read nor written
        _write_entry(folder, entry, FORMAT, key, lambda: _encode(parsed, parsed.path))
    return parsed


def cached_data(path: str | os.PathLike[str], data: bytes, make: Callable[[], Any]) -> Any:
    """What ``make()`` makes of the file ``path`` holding ``data``, from the cache when these bytes
    were seen before. Only plain JSON data that reads back equal is kept (YAML's dates or integer
    keys are made anew each time)."""
    folder = cache_folder()
    if folder is None:
        return make()
    path = Path(path)
    key = _key(path, data, DATA_FORMAT)
    entry = folder / f"data-{key}.json"
    usable = _trusted_folder(folder)
    if usable:
        found = _read_entry(entry, DATA_FORMAT, key, lambda body: json.loads(body)["value"])
        if found is not None:
            return found
    made = make()
    if usable is not False:
        def encoded():
            if json.loads(json.dumps(made)) != made:
                raise ValueError("not plain JSON data")
            return {"value": made}

        _write_entry(folder, entry, DATA_FORMAT, key, encoded)
    return made


# ---------------------------------------------------------------------- the folder
def _trusted_folder(folder: Path) -> bool | None:
    """True: ours and writable by nobody else; None: missing (may be created); False: not to be used."""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _read_entry(entry: Path, fmt: str, key: str, decode: Callable[[bytes], Any]) -> Any:
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
        if header != {"format": fmt, "key": key, "sha256": hashlib.sha256(body).hexdigest()}:
            return None
        return decode(body)
    except Exception:  # damaged, planted or from another version: made again
        return None
    finally:
        if fd >= 0:
            os.close(fd)


def _write_entry(folder: Path, entry: Path, fmt: str, key: str, encoded: Callable[[], Any]) -> None:
    from asnflow.fsutil import atomic_write_text

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted_folder(folder):
            return
        body = json.dumps(encoded(), separators=(",", ":"), ensure_ascii=False)
        header = json.dumps({"format": fmt, "key": key,
                             "sha256": hashlib.sha256(body.encode("utf-8")).hexdigest()})
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


# ---------------------------------------------------------------------- AST <-> JSON
def _encode(value, path: str):
    if isinstance(value, ast.Pos):
        return [value.line, value.column] if value.path == path else [value.line, value.column, value.path]
    if isinstance(value, Node):
        name = type(value).__name__
        return {"_": name, **{field: _encode(getattr(value, field), path) for field in _FIELDS[name]}}
    if isinstance(value, tuple):
        return {"t": [_encode(item, path) for item in value]}
    if value is None or isinstance(value, (str, bool, int)):
        return value
    raise ValueError(f"cannot store {type(value).__name__} in the rule cache")


def _decode(body: bytes | str, path: str):
    """The tree an entry's body holds, built as the JSON decoder meets each object (innermost first).

    In the encoding every JSON list is a position and every object a node or a
    tuple, so lists are turned into positions as their object is built.
    """
    def position(value):
        if isinstance(value, list):
            if len(value) == 2:
                return ast.Pos(path, int(value[0]), int(value[1]))
            return ast.Pos(str(value[2]), int(value[0]), int(value[1]))
        return value

    def node(value: dict):
        if "t" in value and len(value) == 1:
            return tuple(map(position, value["t"]))
        name = value.pop("_")
        cls = _CLASSES[name]
        if value.keys() != _FIELD_SETS[name]:
            raise ValueError("fields do not match")
        made = cls.__new__(cls)
        vars(made).update((field, position(value[field])) for field in _FIELDS[name])
        return made

    found = json.loads(body, object_hook=node)
    if not isinstance(found, ast.RuleFile):
        raise ValueError("not a rule file")
    return found
