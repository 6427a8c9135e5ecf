"""The entries of an association as its file lists them: products, and their members.

Both read as the file's mappings (``product["members"]``, ``member["exptype"]``),
so rule hooks and finalize steps use them as jwst uses its dicts; both keep
their fields in slots. A large pool has about one product and five members
per exposure, and dicts for them were a third of a million-row run's memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asnflow.constraints.rows import Row


class _Absent:
    """A member field the entry does not have (exposerr may be None, written as null)."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "ABSENT"  # the one instance, also after pickling to another process

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


class Member(Mapping):
    """A member entry as written to the file, remembering the pool row it came from (``item``).

    It reads as a mapping of the fields a DMS member has, in file order:
    expname, exptype, exposerr, asn_candidate (level 3); a finalize step's
    entries (catalogs, segmentation maps) have the first two only. Fields
    live in slots: a dict per member was a quarter of a large pool's
    memory (about 190 bytes each); this takes 88.
    """

    __slots__ = ("expname", "exptype", "exposerr", "asn_candidate", "item")

    def __init__(self, data: Mapping, item: Row | None = None) -> None:
        self.expname = self.exptype = self.exposerr = self.asn_candidate = ABSENT
        for key, value in data.items():
            self[key] = value
        self.item = item

    @classmethod
    def of(cls, expname: str, exptype: str, exposerr, asn_candidate=ABSENT, item: Row | None = None) -> Member:
        """A member from its fields (the engine's way: no dict made on the way)."""
        member = cls.__new__(cls)
        member.expname = expname
        member.exptype = exptype
        member.exposerr = exposerr
        member.asn_candidate = asn_candidate
        member.item = item
        return member

    def fields(self) -> tuple[Any, Any, Any, Any]:
        """expname, exptype, exposerr, asn_candidate (absent ones as the absent marker)."""
        return (self.expname, self.exptype, self.exposerr, self.asn_candidate)

    def __getitem__(self, key: str):
        if key in MEMBER_FIELDS:
            value = getattr(self, key)
            if value is not ABSENT:
                return value
        raise KeyError(key)

    def get(self, key: str, default=None):
        if key in MEMBER_FIELDS:
            value = getattr(self, key)
            if value is not ABSENT:
                return value
        return default

    def __setitem__(self, key: str, value) -> None:
        if key not in MEMBER_FIELDS:
            raise KeyError(f"a member has the fields {', '.join(MEMBER_FIELDS)}, not {key!r}")
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in MEMBER_FIELDS and getattr(self, key) is not ABSENT

    def __iter__(self):
        return (name for name in MEMBER_FIELDS if getattr(self, name) is not ABSENT)

    def __len__(self) -> int:
        return sum(value is not ABSENT for value in self.fields())

    def as_dict(self) -> dict:
        """The entry as a plain dict, fields in file order."""
        # Written out for the members the engine makes (every document lists them all).
        if self.expname is not ABSENT and self.exptype is not ABSENT and self.exposerr is not ABSENT:
            if self.asn_candidate is not ABSENT:
                return {"expname": self.expname, "exptype": self.exptype, "exposerr": self.exposerr,
                        "asn_candidate": self.asn_candidate}
            return {"expname": self.expname, "exptype": self.exptype, "exposerr": self.exposerr}
        return {name: value for name, value in zip(MEMBER_FIELDS, self.fields(), strict=True) if value is not ABSENT}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Member):
            return self.fields() == other.fields()
        return isinstance(other, Mapping) and self.as_dict() == dict(other.items())

    __hash__ = None  # type: ignore[assignment]  # equal by value and changeable, as a dict

    def __repr__(self) -> str:
        return f"Member({self.as_dict()!r})"

    def copy_member(self) -> Member:
        return Member.of(*self.fields(), item=self.item)


MEMBER_FIELDS = ("expname", "exptype", "exposerr", "asn_candidate")


class Product(Mapping):
    """A product of an association: its name and its members, read as the file's mapping
    (``product["members"]``). Slots rather than a dict: a large pool has about one product
    per exposure, and a two-key dict took four times this."""

    __slots__ = ("name", "members")

    def __init__(self, name: str | None, members: list[Member]) -> None:
        self.name = name
        self.members = members

    def __getitem__(self, key: str):
        if key == "name":
            return self.name
        if key == "members":
            return self.members
        raise KeyError(key)

    def __setitem__(self, key: str, value) -> None:
        if key not in PRODUCT_FIELDS:
            raise KeyError(f"a product has the fields name and members, not {key!r}")
        setattr(self, key, value)

    def __iter__(self):
        return iter(PRODUCT_FIELDS)

    def __len__(self) -> int:
        return 2

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Product({self.name!r}, {self.members!r})"


PRODUCT_FIELDS = ("name", "members")
