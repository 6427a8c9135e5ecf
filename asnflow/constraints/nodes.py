"""Executable constraint trees: what a compiled rule tests an exposure with.

The semantics are jwst's constraint trees (reference §3), reproduced exactly,
because the order in which values get pinned decides the output:

* an attribute test reads the first of its columns that holds a valid value;
* a *pinning* test fixes its value (and column) to the first value it
  matches, so later exposures must be equal;
* ``all`` stops at the first plain failure, ``any`` stops at the first match
  (later siblings are neither tested nor pinned);
* values pinned during an attempt that fails as a whole are rolled back, but
  values pinned in a failed branch of an attempt that succeeds are kept.

An association holds one state slot per test that can change (pinned value,
column, values found, last result). An attempt works on a copy-on-write view
of those slots (:class:`Attempt`) that is committed only when the whole tree
matches, which replaces jwst's snapshot-every-constraint rollback.
"""

from __future__ import annotations

import re
from ast import literal_eval
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from asnflow.constraints.queue import BOTH, ProcessList
from asnflow.constraints.rows import INVALID_VALUES, Row
from asnflow.constraints.state import ConstraintState

NO_REPROCESS: tuple = ()
_EMPTY_SET: frozenset = frozenset()


@lru_cache(maxsize=4096)
def full_match(pattern: str) -> re.Pattern:
    # jwst anchors each alternative list as "^" + pattern + "$" without
    # grouping, so "a|b|c" means: starts with a, or starts with b, or is c.
    # That quirk changes which values match, so it is kept on purpose.
    return re.compile("^" + pattern + "$", re.IGNORECASE)


@lru_cache(maxsize=4096)
def evaluate(value: str) -> Any:
    """jwst's ``evaluate``: a Python literal if the cell is one, else the text.

    Cached (cells repeat a lot); callers must not change what it returns.
    """
    try:
        return literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


def _first_valid(values: tuple[str, ...], indexes: Iterable[int | None]) -> tuple[int | None, Any]:
    """The first of these columns holding a valid value, and that value; (None, None) when none does."""
    for index in indexes:
        if index is not None:
            cell = values[index]
            if cell not in INVALID_VALUES:
                return index, cell
    return None, None


def is_list_like(value: Any) -> bool:
    # jwst's is_iterable: tuples and strings do not count.
    return not isinstance(value, (str, tuple)) and hasattr(value, "__iter__")


class Attempt:
    """One try of one exposure against one association: a copy-on-write view of its state."""

    __slots__ = ("asn", "row", "states", "_owned")

    def __init__(self, asn, row: Row) -> None:
        self.asn = asn
        self.row = row
        self.states = asn.states
        self._owned = False

    def put(self, slot: int, state) -> None:
        if not self._owned:
            self.states = list(self.states)
            self._owned = True
        self.states[slot] = state

    @property
    def changed(self) -> bool:
        return self._owned


# ---------------------------------------------------------------------- nodes
class Node:
    """Base of all tests. ``check`` returns (matched, process lists to queue)."""

    name: str | None = None
    kind = "node"
    # Where this test's state sits in an association's state list (set by the
    # compiler for tests that keep state; -1: none).
    slot: int = -1
    pos = None

    def check(self, attempt: Attempt) -> tuple[bool, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def walk(self):
        """Depth-first, in the order jwst looks constraints up by name."""
        yield self


class AttrTest(Node):
    """jwst's DMSAttrConstraint: a test on pool columns, optionally pinning.

    State slot: a :class:`ConstraintState`. A check that changes nothing
    leaves the slot as it is, so unchanged state stays the same object. The
    columns a test reads in one pool are bound by the run
    (``asn.bound[slot]``), never stored here: a compiled rule serves every pool.
    """

    kind = "attr"

    def __init__(
        self,
        *,
        name: str | None,
        sources: tuple[str, ...],
        patterns: tuple[str, ...] | None = None,
        dynamic: Callable[[Attempt], Any] | None = None,
        pin: bool = True,
        required: bool = True,
        undefined: bool = False,
        onlyif: Callable[[Attempt], bool] | None = None,
        reprocess: int | None = None,
        evaluate_cell: bool = False,
        is_acid: bool = False,
        pos=None,
        value_text: str | None = None,
    ) -> None:
        self.name = name
        self.sources = sources
        self.patterns = patterns
        self.compiled = tuple(full_match(p) for p in patterns) if patterns is not None else None
        self.dynamic = dynamic
        self.pin = pin
        self.required = required
        self.undefined = undefined
        self.onlyif = onlyif
        self.reprocess = reprocess
        self.evaluate_cell = evaluate_cell
        self.is_acid = is_acid
        self.pos = pos
        self.value_text = value_text
        self.slot = -1
        self.track_found = False
        self.track_matched = False
        self.onlyif_deps: frozenset[str] = frozenset()
        self.onlyif_columns: tuple[str, ...] = ()

    def column_indexes(self, columns: dict[str, int]) -> tuple[int | None, ...]:
        """Where this test's columns are in a pool with these columns (None: absent)."""
        return tuple(columns.get(source) for source in self.sources)

    def initial_state(self) -> ConstraintState:
        return ConstraintState(None, None, self.pin, _EMPTY_SET, False)

    def _fail(self, attempt: Attempt, state: ConstraintState | None) -> tuple[bool, Any]:
        if self.track_matched and state is not None and state.matched:
            attempt.put(self.slot, state._replace(matched=False))
        return False, NO_REPROCESS

    def check(self, attempt: Attempt) -> tuple[bool, Any]:
        state = attempt.states[self.slot]
        if state is None:
            pinned, indexes, pinning, found = None, attempt.asn.bound[self.slot], self.pin, _EMPTY_SET
        else:
            pinned, indexes, pinning, found, _ = state
            if indexes is None:
                indexes = attempt.asn.bound[self.slot]
        row = attempt.row

        if self.onlyif is not None and not self.onlyif(attempt):
            self._note_matched(attempt, state, pinned, indexes, pinning, found)
            if self.reprocess is not None:
                return True, [ProcessList([row], None, self.reprocess, True)]
            return True, NO_REPROCESS

        source, cell = _first_valid(row.values, indexes)
        if source is None:
            if self.required and not self.undefined:
                return self._fail(attempt, state)
            self._note_matched(attempt, state, pinned, indexes, pinning, found)
            return True, NO_REPROCESS
        if self.undefined:
            return self._fail(attempt, state)

        evaled = evaluate(cell) if self.evaluate_cell else cell
        reprocess: Any = NO_REPROCESS
        if pinned is None and self.compiled is None and self.dynamic is None:
            if self.evaluate_cell and is_list_like(evaled):
                # A list-valued cell with nothing to match: offer one copy of
                # the exposure per element instead (jwst reprocess_multivalue).
                self._fail(attempt, state)
                return False, [self._copies(row, source, evaled)]
            value = str(evaled)
        else:
            options = evaled if is_list_like(evaled) else [evaled]
            chosen = self._choose(attempt, options, pinned)
            if chosen is None:
                return self._fail(attempt, state)
            value = str(chosen[0])
            others = [option for option in options if option != chosen[0]]
            if others:
                reprocess = [self._copies(row, source, others)]

        self._record_match(attempt, state, value, source, pinned, indexes, pinning, found)
        if self.reprocess is not None:
            reprocess = list(reprocess)
            reprocess.append(ProcessList([row], None, self.reprocess, True))
        return True, reprocess

    def _record_match(self, attempt: Attempt, state: ConstraintState | None, value: str, source: int,
                      pinned: str | None, indexes: tuple[int | None, ...], pinning: bool,
                      found: frozenset[str]) -> None:
        """Store what matching ``value`` (read from column ``source``) changed: found values, pin, matched flag."""
        changed = state is None or not state.matched
        if self.track_found and value not in found:
            # Found values are kept raw here and escaped when read (escaped()).
            found = found | {value}
            changed = True
        if pinning:
            pinned, indexes, pinning = value.lower(), (source,), False
            changed = True
        if changed:
            attempt.put(self.slot, ConstraintState(pinned, indexes, pinning, found, True))

    def _note_matched(self, attempt: Attempt, state: ConstraintState | None, pinned: str | None,
                      indexes: tuple[int | None, ...], pinning: bool, found: frozenset[str]) -> None:
        """Record a match that read no value (test skipped, or column empty and allowed)."""
        if self.track_matched and (state is None or not state.matched):
            attempt.put(self.slot, ConstraintState(pinned, indexes, pinning, found, True))

    def _choose(self, attempt: Attempt, options: Iterable[Any], pinned: str | None) -> tuple[Any] | None:
        """The first option equal to the pinned value (or, unpinned, matching the test), boxed; None if none."""
        for option in options:
            text = str(option)
            if pinned is not None:
                if text.lower() == pinned:
                    return (option,)
            elif self._matches(attempt, text):
                return (option,)
        return None

    def _matches(self, attempt: Attempt, text: str) -> bool:
        if self.dynamic is not None:
            wanted = self.dynamic(attempt)
            patterns = wanted if is_list_like(wanted) else [wanted]
            return any(full_match(str(p)).match(text) for p in patterns)
        if self.compiled is None:  # (check() asks only a test that has patterns or a dynamic value)
            return False
        return any(p.match(text) for p in self.compiled)

    @staticmethod
    def _copies(row: Row, index: int, options) -> ProcessList:
        values = row.values
        items = [Row(values[:index] + (str(o),) + values[index + 1 :], row.columns, row.line) for o in options]
        # (copies differing in another cell than ASN_CANDIDATE have no origin: they travel whole)
        return ProcessList(items, None, BOTH, False)


class CheckTest(Node):
    """A computed yes/no test (jwst SimpleConstraint with a test function)."""

    kind = "check"

    def __init__(self, *, name: str | None, test: Callable[[Attempt], bool], reprocess=None, pos=None,
                 text: str | None = None) -> None:
        self.name = name
        self.test = test
        self.reprocess = reprocess  # (category, on_match: bool, rules: tuple | None) or None
        self.pos = pos
        self.text = text
        self.slot = -1
        self.deps: frozenset[str] = frozenset({"item"})  # what the test reads (set by the compiler)
        self.column_names: tuple[str, ...] = ()  # pool columns the test reads directly
        # Tests compiled from one statement (a fragment or frame used by many
        # rules) compute the same thing; they share answers through this key.
        self.source_key = (pos.path, pos.line, pos.column) if pos is not None else id(self)

    def check(self, attempt: Attempt) -> tuple[bool, Any]:
        matched = bool(self.test(attempt))
        reprocess = self.reprocess
        if reprocess is not None and reprocess[1] == matched:
            return matched, [ProcessList([attempt.row], reprocess[2], reprocess[0], False)]
        return matched, NO_REPROCESS


class SetTest(Node):
    """Always matches and records a fixed value (jwst's target "000" for WFSS parallel)."""

    kind = "set"

    def __init__(self, *, name: str, value: str, pos=None) -> None:
        self.name = name
        self.value = value
        self.pos = pos
        self.slot = -1
        self.track_found = True

    def initial_state(self) -> ConstraintState:
        return ConstraintState(None, None, True, _EMPTY_SET, False)

    def check(self, attempt: Attempt) -> tuple[bool, Any]:
        state = attempt.states[self.slot]
        if state is None or self.value not in state.found:
            attempt.put(self.slot, ConstraintState(self.value, None, False, frozenset({self.value}), True))
        return True, NO_REPROCESS


# The state of a ``report_unmatched`` test once it ran: the association reports "not matched" from then on.
REPORTS_UNMATCHED = ConstraintState(None, None, False, _EMPTY_SET, True)


class ReportUnmatched(Node):
    """jwst's ``force_match`` constraint: always matches, and from then on the
    association reports every later add as "not matched" although the exposure
    is added (the MIRI LRS nod rule uses it so the other nod position still
    starts its own association)."""

    kind = "unmatched"
    name = "force_match"

    def __init__(self, *, pos=None) -> None:
        self.pos = pos
        self.slot = -1

    def check(self, attempt: Attempt) -> tuple[bool, Any]:
        if attempt.states[self.slot] is None:
            attempt.put(self.slot, REPORTS_UNMATCHED)
        return True, NO_REPROCESS


class Group(Node):
    """all / any / none (not any) / notall (not all) over child tests."""

    kind = "group"

    def __init__(self, *, reduce: str, children: list[Node], name: str | None = None, reprocess=None,
                 pos=None) -> None:
        self.reduce = reduce
        self.children = children
        self.name = name
        self.reprocess = reprocess  # (category, on_match, rules) or None
        self.pos = pos

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def check(self, attempt: Attempt) -> tuple[bool, Any]:
        if self.reduce in ("all", "notall"):
            matched, reprocess = _all(self.children, attempt)
        else:
            matched, reprocess = _any(self.children, attempt)
        if self.reduce in ("none", "notall"):
            matched = not matched
        rule = self.reprocess
        if rule is not None and rule[1] == matched:
            reprocess = list(reprocess)
            reprocess.append(ProcessList([attempt.row], rule[2], rule[0], False))
        return matched, reprocess


def _all(children: list[Node], attempt: Attempt) -> tuple[bool, Any]:
    if not children:
        return False, NO_REPROCESS
    positive: list = []
    negative = None
    matched_all = True
    for child in children:
        matched, reprocess = child.check(attempt)
        if matched:
            if matched_all and reprocess:
                positive.extend(reprocess)
            continue
        matched_all = False
        if not reprocess:
            # A plain failure ends the test; lists queued by an earlier
            # failure are dropped too.
            return False, NO_REPROCESS
        if negative is None:
            negative = reprocess
    if not matched_all:
        return False, negative if negative is not None else NO_REPROCESS
    return True, positive or NO_REPROCESS


def _any(children: list[Node], attempt: Attempt) -> tuple[bool, Any]:
    if not children:
        return False, NO_REPROCESS
    failed: list = []
    for child in children:
        matched, reprocess = child.check(attempt)
        if matched:
            return True, reprocess
        if reprocess:
            failed.extend(reprocess)
    return False, failed or NO_REPROCESS
