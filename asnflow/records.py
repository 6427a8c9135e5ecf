"""Dataclasses without the start-up cost: :func:`record`.

``@dataclass`` writes the source of ``__init__``, ``__repr__``, ``__eq__``
(and for frozen classes ``__setattr__``, ``__delattr__`` and ``__hash__``)
for each class and compiles it with ``exec`` when the class is defined. For
the 19 dataclasses ``asnflow generate`` defines as it starts, that took
14 ms, a twentieth of a run on an 800-row pool. A :func:`record` is still a
dataclass to everything that reads one (``dataclasses.fields``,
``replace``, ``asdict``, ``is_dataclass``; type checkers through
``dataclass_transform``), but its methods are written once, here, and read
each class's fields when called.

They behave as the generated ones do: positional and keyword arguments in
field order, defaults and ``default_factory``, fields with ``init=False``,
``__post_init__``; equality by class and the fields that take part in
comparisons; a frozen class's hash from those fields, a mutable class
with equality unhashable; a frozen class refusing assignment with
:class:`dataclasses.FrozenInstanceError`. They are slower to make (2.8 µs
against 1.1 µs for five fields), so classes made many times over in a run
(per row or per association) should stay plain dataclasses. ``InitVar`` and
keyword-only fields are not supported.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T", bound=type)
_MISSING = dataclasses.MISSING


class _Shape:
    """What the shared methods need to know about one record class."""

    def __init__(self, cls: type) -> None:
        fields = dataclasses.fields(cls)
        for found in fields:
            if found.kw_only:
                raise TypeError(f"{cls.__name__}.{found.name}: records have no keyword-only fields")
        named = {f.name for f in fields}
        for found in cls.__dict__["__dataclass_fields__"].values():
            # Not in fields(): a ClassVar or an InitVar; only the annotation tells them apart
            # without dataclasses' private markers.
            if found.name not in named and "InitVar" in (found.type if isinstance(found.type, str)
                                                         else repr(found.type)):
                raise TypeError(f"{cls.__name__}.{found.name}: records have no InitVar fields")
        self.cls = cls
        self.name = cls.__name__
        self.field_names = frozenset(f.name for f in fields)
        self.arguments = tuple(f.name for f in fields if f.init)
        self.defaults = {f.name: f.default for f in fields if f.default is not _MISSING}
        self.factories = {f.name: f.default_factory for f in fields if f.default_factory is not _MISSING}
        # Fields outside __init__'s arguments that each object gets its own of; one with a plain
        # default is read from the class attribute dataclass leaves, as a dataclass reads it.
        self.made_fresh = tuple(f.name for f in fields if not f.init and f.name in self.factories)
        self.compared = tuple(f.name for f in fields if f.compare)
        self.hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
        self.shown = tuple(f.name for f in fields if f.repr)
        self.post_init = hasattr(cls, "__post_init__")


def _shape(instance: Any) -> _Shape:
    return type(instance).__record_shape__


def field_values(owner: str, names: tuple[str, ...], args: tuple, kwargs: dict, defaults: dict,
                 factories: dict) -> Iterator[tuple[str, Any]]:
    """(field, value) of each of ``names`` for a call ``owner(*args, **kwargs)``: positional, then
    by name, then from ``defaults`` or ``factories``; a TypeError for a call that does not fit.
    (Shared with the syntax-tree nodes of :mod:`asnflow.assoc_rules.node`.)"""
    if len(args) > len(names):
        raise TypeError(f"{owner}() takes {len(names)} arguments, {len(args)} given")
    yield from zip(names, args, strict=False)
    for name in names[len(args):]:
        if name in kwargs:
            yield name, kwargs.pop(name)
        elif name in defaults:
            yield name, defaults[name]
        elif name in factories:
            yield name, factories[name]()
        else:
            raise TypeError(f"{owner}() is missing the field {name!r}")
    if kwargs:
        name = next(iter(kwargs))
        why = "was given twice" if name in names else "is not a field"
        raise TypeError(f"{owner}(): {name!r} {why}")


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    shape = _shape(self)
    # One attribute at a time, never through self.__dict__: asking for an object's __dict__
    # makes Python 3.11 give up the compact layout whose attributes it reads fastest, and
    # the engine reads a compiled rule's attributes millions of times (2 % of a 10,000-row run).
    put = object.__setattr__
    for name, value in field_values(shape.name, shape.arguments, args, kwargs, shape.defaults, shape.factories):
        put(self, name, value)
    for name in shape.made_fresh:
        put(self, name, shape.factories[name]())
    if shape.post_init:
        self.__post_init__()


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _shape(self).shown)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    names = _shape(self).compared
    return tuple([getattr(self, n) for n in names]) == tuple([getattr(other, n) for n in names])


def _hash(self: Any) -> int:
    return hash(tuple([getattr(self, name) for name in _shape(self).hashed]))


# As a frozen dataclass: nothing is assigned on the class itself, and no field on a subclass.
def _refuse_setattr(self: Any, name: str, value: Any) -> None:
    shape = _shape(self)
    if type(self) is shape.cls or name in shape.field_names:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _refuse_delattr(self: Any, name: str) -> None:
    shape = _shape(self)
    if type(self) is shape.cls or name in shape.field_names:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)


def _make(cls: _T, frozen: bool, eq: bool, repr: bool) -> _T:
    own = dict(cls.__dict__)  # what the class body defines itself is kept, as dataclass keeps it
    undocumented = not cls.__doc__
    if undocumented:  # dataclass would word one from inspect.signature, whose first call takes ms
        cls.__doc__ = cls.__name__
    # Fields, __match_args__ and the rest of dataclass's bookkeeping, with no method to generate.
    dataclasses.dataclass(cls, init=False, repr=False, eq=False)  # the same class, amended in place
    if undocumented:
        cls.__doc__ = f"{cls.__name__}({', '.join(f.name for f in dataclasses.fields(cls) if f.init)})"
    cls.__record_shape__ = _Shape(cls)  # type: ignore[attr-defined]
    methods: dict[str, Callable | None] = {"__init__": _init}
    if repr:
        methods["__repr__"] = _repr
    if eq:
        methods["__eq__"] = _eq
        # A class body defining __eq__ alone gets __hash__ = None from Python: not an explicit hash.
        if "__hash__" not in own or (own["__hash__"] is None and "__eq__" in own):
            methods["__hash__"] = _hash if frozen else None
    if frozen:
        for name in ("__setattr__", "__delattr__"):
            if name in own:
                raise TypeError(f"cannot overwrite attribute {name} in class {cls.__name__}")
        methods["__setattr__"] = _refuse_setattr
        methods["__delattr__"] = _refuse_delattr
    for name, method in methods.items():
        # __hash__ is in the list only where the class has no hash of its own to keep.
        if name == "__hash__" or name not in own:
            setattr(cls, name, method)
    return cls


@overload
def record(cls: _T, /) -> _T: ...
@overload
def record(*, frozen: bool = False, eq: bool = True, repr: bool = True) -> Callable[[_T], _T]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: Any = None, /, *, frozen: bool = False, eq: bool = True, repr: bool = True) -> Any:
    """``@dataclass`` (with ``frozen``, ``eq`` and ``repr`` as there) without generated code."""
    def wrap(cls: _T) -> _T:
        return _make(cls, frozen, eq, repr)

    return wrap if cls is None else wrap(cls)
