"""Parsed rule files, remembered between runs.

Building the parser and parsing the shipped rules takes longer than
generating associations for a small pool, so the parsed form (the AST
dataclasses) is kept in a cache folder, keyed by the rule file's bytes, the
grammar and the asnflow version. A cache that cannot be read or written is
simply not used. ``ASNFLOW_CACHE_DIR`` chooses the folder (empty: no cache);
the default is ``$XDG_CACHE_HOME/asnflow`` or ``~/.cache/asnflow``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from asnflow import __version__
from asnflow.assoc_rules import ast
from asnflow.assoc_rules.source import read_rule_bytes

GRAMMAR = Path(__file__).with_name("grammar.lark")


def cache_folder() -> Path | None:
    configured = os.environ.get("ASNFLOW_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "asnflow"


def _key(path: Path, data: bytes) -> str:
    digest = hashlib.sha256()
    for part in (__version__.encode(), GRAMMAR.read_bytes(), str(path).encode(), data):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()[:32]


def _parse(path: Path) -> ast.RuleFile:
    from asnflow.assoc_rules.parse import parse_file  # builds the lark parser: only on a miss

    return parse_file(path)


def parsed_file(path: str | Path) -> ast.RuleFile:
    """The parsed rule file, from the cache when this exact text was parsed before."""
    path = Path(path)
    folder = cache_folder()
    if folder is None:
        return _parse(path)
    data = read_rule_bytes(path)
    entry = folder / f"rules-{_key(path, data)}.pickle"
    try:
        with open(entry, "rb") as handle:
            found = pickle.load(handle)
        if isinstance(found, ast.RuleFile):
            return found
    except Exception:  # a missing, stale or unreadable entry: parse again
        pass
    parsed = _parse(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".rules-", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(parsed, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, entry)
    except OSError:
        pass
    return parsed
