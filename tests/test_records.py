"""asnflow.records: a record behaves as the dataclass of the same definition, without generated code."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import re
import sys
from dataclasses import field
from typing import ClassVar

import pytest

from asnflow.records import record

DECORATORS = {"dataclass": dataclasses.dataclass, "record": record}


def define(decorate, **options):
    """The same class body under both decorators."""

    @decorate(**options)
    class Sample:
        """A sample."""

        kind: ClassVar[str] = "sample"
        name: str
        size: int = 3
        tags: list[str] = field(default_factory=list)
        note: str = field(default="", repr=False, compare=False)
        cache: dict = field(init=False, default_factory=dict, repr=False, compare=False)
        seen: int = field(init=False, default=0)

    return Sample


def same_hash(first, second) -> bool:
    # Both alive at once: hashed one after the other as temporaries, two objects hashed by
    # identity could share the address of the first, freed before the second was made.
    return hash(first) == hash(second)


def behaviour(cls) -> dict:
    """Everything observable about instances of ``cls`` that a dataclass defines."""
    def outcome(call):
        try:
            return ("value", call())
        except Exception as error:  # noqa: BLE001 - the kind of error is part of the behaviour
            return ("error", type(error).__name__)

    a = cls("a", 1, ["x"], note="n")
    observed = {
        "fields": [(f.name, f.init, f.repr, f.compare) for f in dataclasses.fields(cls)],
        "match_args": cls.__match_args__,
        "values": (a.name, a.size, a.tags, a.note, a.cache, a.seen, a.kind),
        "defaults": outcome(lambda: vars(cls("b"))),
        "repr": re.sub(r" at 0x[0-9a-f]+", "", repr(a).replace(cls.__qualname__, "Sample")),
        "equal": a == cls("a", 1, ["x"], note="other"),
        "unequal": a == cls("a", 2, ["x"]),
        "other type": a == ("a", 1, ["x"]),
        "hash": outcome(lambda: same_hash(cls("a", 1, ("x",)), cls("a", 1, ("x",), note="z"))),
        "assign": outcome(lambda: setattr(a, "size", 5)),
        "assign new": outcome(lambda: setattr(a, "extra", 1)),
        "delete": outcome(lambda: delattr(a, "size")),
        "too many": outcome(lambda: cls("a", 1, [], "n", "x")),
        "missing": outcome(lambda: cls()),
        "twice": outcome(lambda: cls("a", name="b")),
        "unknown": outcome(lambda: cls("a", colour="red")),
        "not an argument": outcome(lambda: cls("a", seen=1)),
        "replace": outcome(lambda: vars(dataclasses.replace(cls("a", 1, ["x"]), size=9))),
        "asdict": dataclasses.asdict(cls("a", 1, ["x"])),
        "shallow copy": copy.copy(cls("a", 1, ["x"])) == cls("a", 1, ["x"]),
        "copy": copy.deepcopy(cls("a", 1, ["x"])) == cls("a", 1, ["x"]),
        "fresh factory": cls("a").tags is not cls("a").tags,
    }
    return observed


@pytest.mark.parametrize("options", [{}, {"frozen": True}, {"eq": False}, {"repr": False},
                                     {"frozen": True, "eq": False}], ids=str)
def test_a_record_behaves_as_the_dataclass_of_the_same_definition(options):
    expected = behaviour(define(dataclasses.dataclass, **options))
    assert behaviour(define(record, **options)) == expected


@record(frozen=True)
class Frozen:
    name: str
    sizes: tuple[int, ...] = ()
    cache: dict = field(init=False, default_factory=dict, compare=False)


@record
class Mutable:
    name: str
    items: list[str] = field(default_factory=list)


def test_records_travel_by_pickle_as_forked_and_dask_workers_send_them():
    for made in (Frozen("a", (1, 2)), Mutable("b", ["x"])):
        back = pickle.loads(pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == made and vars(back) == vars(made) and type(back) is type(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pickle.loads(pickle.dumps(Frozen("a"))).name = "b"


def test_post_init_runs_after_every_field_is_set_and_may_set_a_frozen_field_through_object():
    for decorate in DECORATORS.values():
        @decorate(frozen=True)
        class Indexed:
            columns: tuple[str, ...]
            positions: dict = field(init=False, repr=False, compare=False, hash=False)

            def __post_init__(self):
                object.__setattr__(self, "positions", {name: i for i, name in enumerate(self.columns)})

        made = Indexed(("a", "b"))
        assert made.positions == {"a": 0, "b": 1}
        assert made == Indexed(("a", "b")) and hash(made) == hash(Indexed(("a", "b")))


def test_methods_the_class_defines_itself_are_kept():
    for decorate in DECORATORS.values():
        @decorate
        class Shown:
            value: int

            def __repr__(self):
                return "mine"

            def __eq__(self, other):
                return True

        assert repr(Shown(1)) == "mine" and Shown(1) == Shown(2)
        with pytest.raises(TypeError):  # __eq__ alone: unhashable, as Python and dataclass make it
            hash(Shown(1))


def test_a_frozen_class_defining_its_own_eq_is_hashed_by_its_fields_as_dataclass_hashes_it():
    hashes = {}
    for label, decorate in DECORATORS.items():
        @decorate(frozen=True)
        class Keyed:
            value: int

            def __eq__(self, other):
                return isinstance(other, Keyed) and other.value == self.value

        hashes[label] = hash(Keyed(1)) == hash(Keyed(1)), {Keyed(1), Keyed(1)} == {Keyed(1)}
    assert hashes["record"] == hashes["dataclass"] == (True, True)


def test_a_subclass_of_a_frozen_record_may_set_its_own_attributes_but_no_field():
    @record(frozen=True)
    class Base:
        value: int

    class Child(Base):
        pass

    child = Child(1)
    child.extra = 2  # as for a frozen dataclass: only the decorated class itself refuses everything
    assert child.extra == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        child.value = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        Base(1).extra = 2


def test_an_undocumented_record_gets_a_docstring_naming_its_arguments():
    @record
    class Bare:
        first: int
        second: str = ""
        later: int = field(init=False, default=0)

    assert Bare.__doc__ == "Bare(first, second)"


def test_unsupported_fields_are_refused_when_the_class_is_defined():
    with pytest.raises(TypeError, match="keyword-only"):
        @record
        class KeywordOnly:
            value: int = field(kw_only=True)
    with pytest.raises(TypeError, match="InitVar"):
        @record
        class WithInitVar:
            value: dataclasses.InitVar[int]


def test_records_generate_no_code_when_defined(monkeypatch):
    """The point of records: dataclass compiles no method for them."""
    compiled = []
    real_create = dataclasses._create_fn  # the one place dataclass turns source into a function

    def counting(*args, **kwargs):
        compiled.append(args[0])
        return real_create(*args, **kwargs)

    monkeypatch.setattr(dataclasses, "_create_fn", counting)
    define(record, frozen=True)
    define(record)
    assert compiled == []
    define(dataclasses.dataclass, frozen=True)
    assert compiled  # the check above would see generated methods


def test_the_classes_generate_defines_as_it_starts_are_records():
    """Every dataclass `asnflow generate` defines on its way to the first pool is a record."""
    import subprocess

    probe = (
        "import dataclasses, sys\n"
        "made = []\n"
        "real = dataclasses._create_fn\n"
        "def counting(*a, **k):\n"
        "    made.append(a[0])\n"
        "    return real(*a, **k)\n"
        "dataclasses._create_fn = counting\n"
        "import asnflow.cli, asnflow.cli.generate, asnflow.engine.session, asnflow.engine.generate\n"
        "import asnflow.asnfile.files, asnflow.pool.read, asnflow.engine.parallel, asnflow.asnfile.forked_write\n"
        "print(len(made))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "0", done.stderr
