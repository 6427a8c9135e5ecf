"""Validating association documents by their shape.

asnflow's association schemas are *structural*: they say only which keys
exist, which are required and which JSON type each value has. Under such a
schema two documents of the same shape (the same keys, nesting and value
types) are valid or invalid together, so a run that writes thousands of
look-alike documents checks each shape once. The check here is the Draft 4
meaning of those few keywords applied to a shape; it answers only "valid"
or "cannot tell", and jsonschema decides (and words the error) whenever it
cannot tell. That also keeps jsonschema, a fifth of a small run's start-up,
out of runs whose documents are all valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Schema keywords that say nothing about values beyond their type and keys.
STRUCTURAL_KEYWORDS = frozenset(
    {"$schema", "$ref", "title", "description", "type", "properties", "required", "items", "definitions",
     "additionalProperties"}
)

_SCALARS = frozenset({str, int, float, bool, type(None)})
_LIST = "[]"  # first element of a list's shape; a mapping's shape is a tuple of (key, shape) pairs

# The Python types of shapes each Draft 4 type name accepts (Draft 4: an integer is never a float).
_JSON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def shape(value: Any):
    """A hashable summary of ``value``: its keys and nesting, with each scalar replaced by its type."""
    kind = type(value)
    if kind in _SCALARS:  # most values: answered before the (slower) abstract-class checks
        return kind
    if kind is dict or isinstance(value, Mapping):  # plain dicts told apart first: the usual case
        return tuple([(key, item_kind if (item_kind := type(item)) in _SCALARS else shape(item))
                      for key, item in value.items()])
    if kind is list or isinstance(value, (list, tuple)):
        return list_shape(map(shape, value))
    return kind


def list_shape(item_shapes: Iterable[Any]):
    """The shape of a list whose items have ``item_shapes`` (for callers that shape a document
    without making it: a mapping's shape is the tuple of its (key, shape) pairs)."""
    return (_LIST, frozenset(item_shapes))


def is_structural(schema: Any) -> bool:
    """Whether ``schema`` uses only :data:`STRUCTURAL_KEYWORDS` (with a boolean additionalProperties)."""
    if not isinstance(schema, dict):
        return False
    for key, value in schema.items():
        if key in ("properties", "definitions"):
            fits = isinstance(value, dict) and all(is_structural(v) for v in value.values())
        elif key == "additionalProperties":
            fits = isinstance(value, bool)
        elif key == "items":
            fits = is_structural(value)
        else:
            fits = key in STRUCTURAL_KEYWORDS
        if not fits:
            return False
    return True


def surely_valid(schema: dict, summary: Any) -> bool:
    """True when every document of shape ``summary`` is valid under the structural ``schema``;
    False when some would not be, or when this check cannot tell."""
    return _fits(schema, schema, summary)


def _fits(root: dict, node: dict, summary: Any) -> bool:
    ref = node.get("$ref")
    if ref is not None:
        target = _resolve(root, ref)
        if target is None or not _fits(root, target, summary):
            return False
    expected = node.get("type")
    if expected is not None and not _has_type(expected, summary):
        return False
    if _is_mapping(summary):
        return _mapping_fits(root, node, summary)
    if _is_list(summary) and "items" in node:
        return all(_fits(root, node["items"], item) for item in summary[1])
    return True


def _mapping_fits(root: dict, node: dict, summary: tuple) -> bool:
    keys = {key for key, _ in summary}
    if not all(type(key) is str for key in keys):  # only YAML makes other keys; let jsonschema judge
        return False
    if not all(key in keys for key in node.get("required", ())):
        return False
    properties = node.get("properties", {})
    for key, item in summary:
        if key in properties:
            if not _fits(root, properties[key], item):
                return False
        elif node.get("additionalProperties", True) is False:
            return False
    return True


def _has_type(expected: Any, summary: Any) -> bool:
    names = expected if isinstance(expected, list) else [expected]
    for name in names:
        if name == "object" and _is_mapping(summary):
            return True
        if name == "array" and _is_list(summary):
            return True
        # A shape holds the exact type, so bool (an int to Python) is never taken for an integer.
        if isinstance(summary, type) and summary in _JSON_TYPES.get(name, ()):
            return True
    return False


def _is_mapping(summary: Any) -> bool:
    return isinstance(summary, tuple) and (not summary or isinstance(summary[0], tuple))


def _is_list(summary: Any) -> bool:
    return isinstance(summary, tuple) and len(summary) == 2 and summary[0] == _LIST


def _resolve(root: dict, ref: Any) -> dict | None:
    """A ``#/definitions/NAME`` reference within the schema; None for any other kind."""
    if not isinstance(ref, str) or not ref.startswith("#/definitions/"):
        return None
    found = root.get("definitions", {}).get(ref[len("#/definitions/"):])
    return found if isinstance(found, dict) else None
