"""Immutable records for the rule language's syntax tree: a frozen dataclass without the cost.

Every asnflow command that reads rules defines the tree's 34 node types when
it starts. Python 3.11's ``@dataclass(frozen=True)`` compiles six methods per
class (``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``,
``__delattr__``); for these 34 that took about 45 ms, a sixth of the start-up
of ``asnflow generate``. :class:`Node` gives subclasses the same behaviour
from methods defined once here: fields in annotation order, defaults from
class attributes, equality and hashing by type and field values, no
assignment after construction. Type checkers treat subclasses as frozen
dataclasses (``dataclass_transform``).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar, dataclass_transform

from asnflow.records import field_values


class FrozenNodeError(AttributeError):
    """Raised on assigning to or deleting a field of a node."""


@dataclass_transform(eq_default=True, frozen_default=True)
class Node:
    """Base of syntax-tree records. A subclass's annotated names are its fields, after its bases'.

    Only annotations of Node subclasses count: a plain mixin (such as the
    ``Expr`` marker) may annotate attributes its records define.
    """

    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}
    _hidden: ClassVar[frozenset[str]] = frozenset()  # fields left out of repr()

    def __init_subclass__(cls, hidden: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        inherited = cls._fields
        own = [name for name, annotation in cls.__dict__.get("__annotations__", {}).items()
               if name not in inherited and not str(annotation).startswith(("ClassVar", "typing.ClassVar"))]
        cls._fields = inherited + tuple(own)
        defaults = dict(cls._defaults)
        defaults.update((name, cls.__dict__[name]) for name in own if name in cls.__dict__)
        cls._defaults = defaults
        cls._hidden = cls._hidden | frozenset(hidden)
        with_default = False
        for name in cls._fields:  # as in a dataclass: no required field after one with a default
            if name in defaults:
                with_default = True
            elif with_default:
                raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        put = object.__setattr__  # past the refusal below
        for name, value in field_values(type(self).__name__, self._fields, args, kwargs, self._defaults, {}):
            put(self, name, value)

    def _values(self) -> tuple:
        values = self.__dict__
        return tuple([values[name] for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={self.__dict__[name]!r}" for name in self._fields if name not in self._hidden)
        return f"{type(self).__name__}({shown})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenNodeError(f"cannot assign to field {name!r} of {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise FrozenNodeError(f"cannot delete field {name!r} of {type(self).__name__}")


N = TypeVar("N", bound="Node")


def replace(node: N, **changes: Any) -> N:
    """A copy of ``node`` with some fields changed (``dataclasses.replace`` for nodes)."""
    unknown = set(changes).difference(node._fields)
    if unknown:
        raise TypeError(f"{type(node).__name__} has no field {sorted(unknown)[0]!r}")
    return type(node)(**{name: changes.get(name, node.__dict__[name]) for name in node._fields})


def fields(node_or_class: Any) -> tuple[str, ...]:
    """The field names of a node or node class, in order."""
    return node_or_class._fields
