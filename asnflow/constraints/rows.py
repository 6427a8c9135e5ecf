"""Exposures as the engine sees them: one immutable row of pool cells.

A :class:`Row` is a tuple of cell strings plus a shared column map, so the hot
loop reads a cell by a pre-computed index and hooks can still ask for a
column by name (``row["targetid"]``, raising KeyError when the pool has no
such column, as a jwst pool row does).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from operator import itemgetter

# jwst's "not specified" values (lib/dms_base.py _EMPTY). A value in this set
# counts as if the column were absent. Pool cells are already lower-cased, so
# the lower-case spellings are the ones that matter; the others are kept so
# the set reads like jwst's.
INVALID_VALUES = frozenset(
    {"", "NULL", "Null", "null", "--", "N", "n", "F", "f", "FALSE", "false", "False", "N/A", "n/a"}
)

_MEMO_KEYS: dict[tuple, tuple] = {}
# A run has a few dozen distinct keys, but some hold a pool's cell (a pinned
# TSO flag): a process serving pool after pool stops sharing past this many
# rather than keep every value it was ever shown.
MEMO_KEYS_KEPT = 4096


def memo_key(key: tuple) -> tuple:
    """The one tuple kept for a key of rows' memos (store under it; any equal tuple finds it).

    A tuple per row per key was a tenth of a gigabyte at a million rows.
    """
    found = _MEMO_KEYS.get(key)
    if found is None:
        if len(_MEMO_KEYS) >= MEMO_KEYS_KEPT:
            return key
        found = _MEMO_KEYS[key] = key
    return found


def _no_cells(values: tuple) -> tuple:
    return ()


def cells_reader(indexes: Sequence[int]) -> Callable[[tuple], Hashable]:
    """A function reading the cells at ``indexes`` from a row's values as one hashable key.

    The key's form depends on how many cells are read (one cell: the cell
    itself), so keys from different readers must not share a table.
    """
    if not indexes:
        return _no_cells
    return itemgetter(*indexes)


class Row:
    """One exposure: cell values aligned with the pool's columns."""

    __slots__ = ("values", "columns", "line", "memo", "origin", "base", "filename")
    filename: str

    def __init__(self, values: tuple[str, ...], columns: Mapping[str, int], line: int = 0,
                 origin: tuple[int, str | None] | None = None) -> None:
        self.values = values
        self.columns = columns
        self.line = line
        # Read once: the passes ask for it a few dozen times per exposure. A
        # row without the column (never one of a pool) has no filename at all.
        at = columns.get("filename")
        if at is not None:
            self.filename = values[at]
        # Answers that depend on the row alone, not its ASN_CANDIDATE cell
        # (exposure type, member names, tests of the exposure).
        self.memo: dict | None = None
        # (position in the pool, replaced ASN_CANDIDATE cell or None) when the
        # row is a pool row or a per-candidate copy of one; lets processes
        # refer to rows instead of sending them.
        self.origin = origin
        # For a copy with one cell replaced: the row it was copied from (None: not a copy).
        self.base: Row | None = None

    def __getstate__(self):
        return (self.values, self.columns, self.line, self.origin)  # the memo stays behind

    def __setstate__(self, state) -> None:
        Row.__init__(self, *state)

    def __getitem__(self, name: str) -> str:
        return self.values[self.columns[name]]

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def get(self, name: str, default=None):
        index = self.columns.get(name)
        return default if index is None else self.values[index]

    def valid(self, *names: str) -> str | None:
        """The first of ``names`` that is present with a valid value (jwst getattr_from_list)."""
        for name in names:
            index = self.columns.get(name)
            if index is not None:
                value = self.values[index]
                if value not in INVALID_VALUES:
                    return value
        return None

    def replace(self, name: str, value: str) -> Row:
        """A copy with one cell changed (the column must exist)."""
        cells = list(self.values)  # one copy; slicing a wide row around the cell made three
        cells[self.columns[name]] = value
        values = tuple(cells)
        origin = None
        if name == "asn_candidate" and self.origin is not None:
            origin = (self.origin[0], value)
        copy = Row(values, self.columns, self.line, origin)
        copy.base = self if self.base is None else self.base
        if name == "asn_candidate":
            # What is remembered about a row (exposure type, member names) does
            # not depend on its candidate cell: per-candidate copies share it.
            if self.memo is None:
                self.memo = {}
            copy.memo = self.memo
        return copy

    def as_dict(self) -> dict[str, str]:
        return {name: self.values[index] for name, index in self.columns.items()}

    def __repr__(self) -> str:
        return f"Row({self.get('filename')!r}, line {self.line})"
