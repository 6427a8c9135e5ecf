"""Parsed rule files, remembered between runs (in the folder of :mod:`asnflow.file_cache`).

Building the parser and parsing the shipped rules takes about a second,
longer than generating associations for a small pool, so the parsed form
(the syntax-tree records of ast.py) is kept in a cache folder as JSON: data
only, never code, so a planted or damaged entry can at worst be ignored.
An entry is named by a digest of the rule file's bytes, its path, the
grammar and the asnflow version, so it is never stale; it carries a digest
of its own body, and entries that fail it, or do not decode into the syntax-tree
classes, are ignored and replaced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from asnflow.assoc_rules import ast
from asnflow.assoc_rules.node import Node
from asnflow.assoc_rules.source import read_rule_bytes
from asnflow.file_cache import cache_folder, entry_key, read_entry, trusted_folder, write_entry

GRAMMAR = Path(__file__).with_name("grammar.lark")
FORMAT = "asnflow-rules-ast-3"

# The classes an entry may name: the syntax-tree records and nothing else.
_CLASSES = {cls.__name__: cls for cls in vars(ast).values()
            if isinstance(cls, type) and issubclass(cls, Node) and cls.__module__ == ast.__name__}
_FIELDS = {name: cls._fields for name, cls in _CLASSES.items()}
_FIELD_SETS = {name: set(fields) for name, fields in _FIELDS.items()}


def _key(path: Path, data: bytes) -> str:
    return entry_key(FORMAT, GRAMMAR.read_bytes(), str(path).encode(), data)


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
    usable = trusted_folder(folder)
    if usable:
        found = read_entry(entry, FORMAT, key, lambda body: _decode(body, str(path)))
        if isinstance(found, ast.RuleFile) and found.path == str(path):
            return found
    parsed = _parse(path)
    if usable is not False:  # a folder we may not trust is neither read nor written
        write_entry(folder, entry, FORMAT, key, lambda: _encode(parsed, parsed.path))
    return parsed


# ---------------------------------------------------------------------- AST <-> JSON
# Every JSON object of an entry is a node, a tuple or a position, so the JSON decoder's
# object hook builds the whole tree as it meets each object (innermost first). Positions
# are objects too, not lists: no field value needs looking at twice, which took a third
# of the time of reading the shipped rules.
def _encode(value, path: str):
    if isinstance(value, ast.Pos):
        return {"@": [value.line, value.column] if value.path == path else [value.line, value.column, value.path]}
    if isinstance(value, Node):
        name = type(value).__name__
        return {"_": name, **{field: _encode(getattr(value, field), path) for field in _FIELDS[name]}}
    if isinstance(value, tuple):
        return {"t": [_encode(item, path) for item in value]}
    if value is None or isinstance(value, (str, bool, int)):
        return value
    raise ValueError(f"cannot store {type(value).__name__} in the rule cache")


def _decode(body: bytes | str, path: str):
    """The tree an entry's body holds."""
    new = object.__new__
    position_class = ast.Pos

    def made_of(value: dict):
        if len(value) == 1:
            if "@" in value:
                found = value["@"]
                position = new(position_class)
                vars(position).update(path=path if len(found) == 2 else str(found[2]), line=int(found[0]),
                                      column=int(found[1]))
                return position
            if "t" in value:
                return tuple(value["t"])
        name = value.pop("_")
        cls = _CLASSES[name]
        if value.keys() != _FIELD_SETS[name]:
            raise ValueError("fields do not match")
        node = new(cls)
        vars(node).update(value)
        return node

    found = json.loads(body, object_hook=made_of)
    if not isinstance(found, ast.RuleFile):
        raise ValueError("not a rule file")
    return found
