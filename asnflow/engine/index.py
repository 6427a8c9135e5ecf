"""The open associations of one pass, filed by what their state requires of an exposure.

An association that pinned detector nrca1 and filter f090w is filed under
("eq" detector, "eq" filter) = (nrca1, f090w); an exposure is looked up
under the same key and meets only associations it could join
(:mod:`asnflow.engine.guards` derives the conditions conservatively), plus
those that already hold it (jwst answers "yes" for a member without testing)
and those whose conditions cannot be keyed. Candidates come back in creation
order, the order jwst tries associations in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from operator import itemgetter
from typing import Any

from asnflow.constraints.rows import INVALID_VALUES, Row, cells_reader
from asnflow.engine import guards

_ANY = object()  # a key part that any filed value fits (an optional test without a value)
_ALWAYS = "always"  # filing: offered every exposure
_CLOSED = "closed"  # filing: reached only through the files it holds
# Exposures' lookups kept per pass, at most (one per combination of the cells
# the shapes read: a few hundred in a large program, one per exposure at worst).
PLANS_KEPT = 4096


class AssociationIndex:
    """shape -> key -> {creation order: association}, plus those offered every exposure, and by file.

    Associations of all rules share the tables: many rules put the same
    shape of conditions on exposures, so an exposure's key for a shape is
    read once and looked up once, whichever rules filed under it.
    """

    def __init__(self, indexable: list[bool], checks: CheckAnswers) -> None:
        self.indexable = indexable
        self.checks = checks
        self._tables: dict[int, dict[tuple, dict[int, Any]]] = {}  # by shape number
        self._always: dict[int, Any] = {}
        self._by_file: dict[str, list] = {}
        self._filings: dict[tuple, tuple] = {}  # (rule, id(states), has science) -> (states, filing)
        # Shapes are numbered: a shape is a tuple of tuples, whose hash Python
        # recomputes on every lookup, and exposures are looked up by shape a lot.
        self._shape_numbers: dict[tuple, int] = {}
        self._shape_rules: list[set[int]] = []  # the rules that filed associations under each shape
        # Per shape, what a lookup needs, in one tuple: (table, key function,
        # whether keys can hold _ANY, the rules filed under it).
        self._lookups: list[tuple[dict, Callable[[Row], tuple], bool, set[int]]] = []
        # An exposure's keys depend only on the cells the shapes read, and
        # exposures share those cells a lot (an instrument, a filter, a
        # detector...): its lookups are kept by those cells (see _lookups_for).
        self._signature_columns: set[int] = set()
        self._read_signature: Callable[[tuple], Hashable] = cells_reader(())
        self._plans: dict[Hashable, list[tuple[dict, Any, bool, set[int]]]] = {}

    # ------------------------------------------------------------ filing
    def holds(self, asn, row: Row) -> None:
        """Record that ``asn`` took ``row`` (and refile it if its state changed)."""
        self._by_file.setdefault(row.filename, []).append(asn)
        self.file(asn)

    def file(self, asn) -> None:
        """(Re)file an association under the conditions its current state puts on exposures."""
        states = asn.states
        science = asn.science_count > 0
        basis = asn.guard_basis
        if basis is not None and basis[0] is states and basis[1] == science:
            return  # nothing the conditions depend on has changed
        asn.guard_basis = (states, science)
        order = asn.order
        for shape, key in asn.index_slot or ():
            if shape is _ALWAYS:
                self._always.pop(order, None)
                continue
            table = self._tables[shape]
            bucket = table[key]
            bucket.pop(order, None)
            if not bucket:
                del table[key]  # keeps the scans of keys with optional parts short
        filing = self._filing(asn, asn.rule.index, states, science)
        if filing is _ALWAYS:
            self._always[order] = asn
            asn.index_slot = ((_ALWAYS, None),)
        elif filing is _CLOSED:
            asn.index_slot = ()
        else:
            tables = self._tables
            for shape, key in filing:
                tables[shape].setdefault(key, {})[order] = asn
                self._shape_rules[shape].add(asn.rule.index)
            asn.index_slot = filing

    def _filing(self, asn, rule: int, states, science: bool):
        memo_key = (rule, id(states), science)
        known = self._filings.get(memo_key)
        if known is not None and known[0] is states:
            return known[1]
        if not self.indexable[rule]:
            filing: Any = _ALWAYS
        else:
            alternatives = guards.necessary(asn.root, asn, states)
            filing = _CLOSED if alternatives is None else self._numbered(_slots(alternatives))
        self._filings[memo_key] = (states, filing)
        return filing

    def _numbered(self, slots):
        """The slots with each shape replaced by its number."""
        if slots is _ALWAYS:
            return slots
        numbered = []
        for shape, key in slots:
            number = self._shape_numbers.get(shape)
            if number is None:
                number = self._shape_numbers[shape] = len(self._lookups)
                rules: set[int] = set()
                self._shape_rules.append(rules)
                self._lookups.append((self._tables.setdefault(number, {}), self._key_function(shape),
                                      any(kind == "opt" for kind, _ in shape), rules))
                self._read_cells_of(shape)
            numbered.append((number, key))
        return tuple(numbered)

    # ------------------------------------------------------------ looking up
    def candidates(self, row: Row, allowed: frozenset[int]) -> list:
        """The associations of the allowed rules an exposure must be offered to, in creation order."""
        found: dict[int, Any] = {}
        some_rules = len(allowed) < len(self.indexable)  # an exposure queued again for some rules only
        for table, key, scan, rules in self._lookups_for(row, allowed, some_rules):
            if not table or (some_rules and allowed.isdisjoint(rules)):
                continue
            if scan:  # an optional part without a value: every filed value fits it
                for filed, bucket in table.items():
                    if all(k is _ANY or k == f for k, f in zip(key, filed, strict=True)):
                        found.update(bucket)
                continue
            filed_here = table.get(key)
            if filed_here:
                found.update(filed_here)
        if self._always:
            found.update(self._always)
        for asn in self._by_file.get(row.filename, ()):
            found[asn.order] = asn
        if some_rules:
            found = {order: asn for order, asn in found.items() if asn.rule.index in allowed}
        if len(found) < 2:
            return list(found.values())
        return [found[order] for order in sorted(found)]

    def _lookups_for(self, row: Row, allowed: frozenset[int], some_rules: bool) -> Iterable[tuple]:
        """Per shape: (its table, the exposure's key, whether that key must be scanned for, its rules).

        Kept for the exposure's cells when it is offered to every rule (its
        first offer in a pass); when it is offered again for some rules only,
        a kept plan serves, or only the keys those rules need are worked out.
        """
        signature = self._read_signature(row.values)
        plan = self._plans.get(signature)
        lookups = self._lookups
        if plan is not None and len(plan) == len(lookups):
            return plan
        if some_rules:
            return self._keys_now(row, allowed)
        plan = list(plan or ())
        for table, key_of, optional, rules in lookups[len(plan):]:
            key = key_of(row)
            plan.append((table, key, optional and _ANY in key, rules))
        if len(self._plans) < PLANS_KEPT or signature in self._plans:
            self._plans[signature] = plan
        return plan

    def _keys_now(self, row: Row, allowed: frozenset[int]) -> Iterator[tuple]:
        """The lookups of the allowed rules' shapes that hold associations, keys worked out now."""
        for table, key_of, optional, rules in self._lookups:
            if table and not allowed.isdisjoint(rules):
                key = key_of(row)
                yield table, key, optional and _ANY in key, rules

    def _read_cells_of(self, shape: tuple) -> None:
        """Make the signature cover the cells a new shape's key reads (plans made without them go)."""
        read = {index for condition in shape
                for index, _ in guards.columns_read(condition, self.checks.columns, self.checks.exposure_columns)}
        if not read <= self._signature_columns:
            self._signature_columns |= read
            self._read_signature = cells_reader(sorted(self._signature_columns))
            self._plans.clear()

    def _key_function(self, shape: tuple) -> Callable[[Row], tuple]:
        """How to read a shape's key from an exposure (built once per shape).

        The cells of "eq" and "opt" parts are read in one go; only the parts
        that are not plain cells are then worked out one by one.
        """
        cells = [what for kind, what in shape if kind in ("eq", "opt")]
        if not cells:
            parts = [self._part_function(kind, what) for kind, what in shape]
            return lambda row: tuple([part(row) for part in parts])
        getter = itemgetter(*cells) if len(cells) > 1 else (lambda values, column=cells[0]: (values[column],))
        if len(cells) == len(shape) and all(kind == "eq" for kind, _ in shape):
            return lambda row: getter(row.values)
        optional = [position for position, (kind, _) in enumerate(shape) if kind == "opt"]
        others = [(position, self._part_function(kind, what))
                  for position, (kind, what) in enumerate(shape) if kind not in ("eq", "opt")]

        def key(row: Row) -> tuple:
            read = getter(row.values)
            if not others:
                for position in optional:
                    if read[position] in INVALID_VALUES:
                        break
                else:
                    return read  # every optional cell has a value: the cells are the key
                parts = list(read)
            else:
                parts = list(read)
                for position, part in others:  # in shape order, so positions line up
                    parts.insert(position, part(row))
            for position in optional:
                if parts[position] in INVALID_VALUES:
                    parts[position] = _ANY
            return tuple(parts)

        return key

    def _part_function(self, kind: str, what) -> Callable[[Row], Any]:
        """A part of a key that is not a plain cell ("eq" and "opt" parts are read by the getter)."""
        if kind == "present":
            if len(what) == 1:
                (column,) = what
                return lambda row: row.values[column] not in INVALID_VALUES
            return lambda row: any(row.values[i] not in INVALID_VALUES for i in what)
        return self.checks.function(what)


def _slots(alternatives: list[tuple]):
    """Where an association is filed: one (shape, key) per alternative, or "always"."""
    slots = []
    for alternative in alternatives:
        keyed = tuple(c for c in alternative if c[0] != "match")
        if not keyed:
            return _ALWAYS  # an alternative that cannot be keyed: every exposure may fit
        shape = tuple(c[:2] for c in keyed)
        key = tuple(c[2] if c[0] in ("eq", "opt") else True for c in keyed)
        slots.append((shape, key))
    return tuple(dict.fromkeys(slots))


class CheckAnswers:
    """Answers of tests that read only the exposure, remembered per combination of the cells they read."""

    def __init__(self, columns: dict[str, int], exposure_columns: tuple[str, ...], view) -> None:
        self.columns = columns
        self.exposure_columns = exposure_columns
        self.view = view
        self._functions: dict[Any, Callable[[Row], bool]] = {}

    def function(self, test) -> Callable[[Row], bool]:
        found = self._functions.get(test.source_key)
        if found is not None:
            return found
        columns = guards.columns_read(("check", test), self.columns, self.exposure_columns)
        indexes = tuple(index for index, _ in columns)
        answers: dict[tuple, bool] = {}
        view = self.view
        memo_key = ("check", test.source_key)
        reads_candidate = self.columns.get("asn_candidate") in indexes

        def check(row: Row) -> bool:
            memo = row.memo
            if memo is not None and not reads_candidate:
                answer = memo.get(memo_key)
                if answer is not None:
                    return answer
            cells = tuple([row.values[i] for i in indexes])
            answer = answers.get(cells)
            if answer is None:
                view.row = row
                answer = answers[cells] = bool(test.test(view))
            if memo is not None and not reads_candidate:
                memo[memo_key] = answer
            return answer

        self._functions[test.source_key] = check
        return check

    def holds(self, condition: tuple, row: Row) -> bool:
        if condition[0] == "check":
            return self.function(condition[1])(row)
        return guards.holds(condition, row, self.view)
