"""One generation pass: every exposure offered to the open associations and to the rules.

This is jwst's generator/generate.py loop, reproduced exactly: exposures in
pool order, each offered first to the existing associations of the allowed
rules (in creation order), then to every allowed rule it did not already
join (in registry order); the exposures constraints ask to see again are
queued by category (:mod:`asnflow.constraints.queue`).

What asnflow adds is never trying what cannot match: associations are found
through an :class:`~asnflow.engine.index.AssociationIndex`, rules are tried
only on exposures that meet their static conditions, and a test of an
association in an unchanged state reuses the answer for an exposure that
agrees on every column the test reads. Each gives exactly the result of
trying everything.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, NamedTuple

from asnflow.assoc_rules.compile import CompiledRule, RuleSet
from asnflow.constraints.nodes import AttrTest, full_match
from asnflow.constraints.queue import BOTH, EXISTING, NONSCIENCE, RULES, ProcessList, ProcessQueue, carry_over
from asnflow.constraints.rows import INVALID_VALUES, Row, cells_reader
from asnflow.constraints.state import ConstraintState
from asnflow.engine import guards
from asnflow.engine.association import Association, RunState
from asnflow.engine.index import AssociationIndex, CheckAnswers
from asnflow.pool.candidates import candidate_cell


def candidate_test(rule: CompiledRule) -> AttrTest:
    """jwst's global candidate constraint, appended to each rule's top constraint.

    jwst builds it anew for each candidate, with the pattern ``.+(ID).+``.
    Here one per rule serves every candidate pass of a run: it asks for the
    candidate of the association's own pass (``Association.pass_candidate``),
    so a pool with hundreds of candidates builds its rules' roots once, not
    once per pass.
    """
    test = AttrTest(name="asn_candidate", sources=("asn_candidate",), dynamic=pass_candidate_pattern,
                    pin=True, evaluate_cell=True, is_acid=True)
    test.slot = rule.acid_slot  # the run binds this slot to the pool's asn_candidate column
    test.track_found = True
    return test


def pass_candidate_pattern(attempt) -> str:
    """The pattern jwst's candidate constraint matches: the pass's candidate id, anywhere but at either end."""
    return _candidate_pattern(attempt.asn.pass_candidate)


@lru_cache(maxsize=4096)
def _candidate_pattern(candidate_id: str) -> str:
    # jwst does not escape the id. Pools with ids that would read as patterns are refused
    # (pool.read), and for any other id escaping changes nothing; it keeps a pool made some
    # other way from running a pattern nobody wrote.
    return f".+({re.escape(candidate_id)}).+"


class RunCache:
    """What the passes of one run share: static rule conditions and exposure-test answers.

    All of it depends only on the rules and the pool's columns, so a process
    that generates pool after pool keeps it for the next pool with the same
    header (see :func:`run_cache`).
    """

    def __init__(self, ruleset: RuleSet, columns: dict[str, int], run: RunState) -> None:
        self.ruleset = ruleset
        self.columns = columns
        self.exposure_columns = ("pntgtype", "exp_type") + tuple(c for _, c in ruleset.vocab.modifiers)
        # Tests of the exposure alone run on this stand-in association (they
        # read only the run's vocabulary through it).
        rule = ruleset.rules[0]
        self.view = guards._StateView(Association(rule, "", run, None, rule.root), [])
        self.checks = CheckAnswers(columns, self.exposure_columns, self.view)
        self._starts: dict[tuple, _Starts] = {}
        self._shapes: dict[bool, tuple] = {}
        self.rows_served = 0  # by the runs it served (see run_cache)

    def roots(self, with_candidate: bool) -> list:
        """Per rule, the root its associations test: with the candidate constraint in candidate passes."""
        return _rule_shapes(self.ruleset, with_candidate, self.exposure_columns).roots

    def starts(self, key: tuple, build: Callable[[], _Starts]) -> _Starts:
        found = self._starts.get(key)
        if found is None:
            found = self._starts[key] = build()
        return found

    def shapes(self, with_candidate: bool) -> tuple[list[bool], list[tuple[int, ...] | None]]:
        """Per rule: whether it can be indexed, and the columns its tests read (None: never reuse answers)."""
        found = self._shapes.get(with_candidate)
        if found is None:
            shapes = _rule_shapes(self.ruleset, with_candidate, self.exposure_columns)
            signatures = [None if names is None else tuple(self.columns[n] for n in names if n in self.columns)
                          for names in shapes.signature_names]
            found = self._shapes[with_candidate] = (shapes.indexable, signatures)
        return found


class _RuleShapes(NamedTuple):
    """What the passes of one kind (candidate or discovery) need from the rules alone, per rule."""

    roots: list  # the root its associations test
    indexable: list[bool]  # whether the index can file its associations
    signature_names: list[tuple[str, ...] | None]  # the columns its tests read (None: never reuse answers)


def _rule_shapes(ruleset: RuleSet, with_candidate: bool, exposure_columns: tuple[str, ...]) -> _RuleShapes:
    """The rule set's :class:`_RuleShapes`, worked out once: it took a small pool longer than its passes."""
    key = ("passes", with_candidate, exposure_columns)
    found = ruleset.derived.get(key)
    if found is None:
        roots = [rule.root_with(candidate_test(rule) if with_candidate else None) for rule in ruleset.rules]
        found = ruleset.derived[key] = _RuleShapes(
            roots,
            [not guards.may_queue_on_failure(root) and not guards.reads_volatile_state(root) for root in roots],
            [guards.signature_columns(root, exposure_columns) for root in roots],
        )
    return found


# A process that generates pool after pool (several pools in one command, a standing Dask
# worker, operations' loop) meets the same header again and again: the archive writes every
# pool with the same columns. Working out the rules' static conditions took a small pool
# longer than its passes.
RUN_CACHES_KEPT = 4
# The answer tables grow with the distinct cells a cache has seen, so a cache serves at most
# this many rows before it is made afresh.
RUN_CACHE_ROWS = 1_000_000
# Rules' conditions on a new association, kept with the rule set per rule and column
# positions (see Pass._fresh_conditions): about a hundred entries per header.
FRESH_CONDITIONS_KEPT = 4096
_NOT_KEPT = object()
# By (thread, rule set, header); a kept cache holds its rule set, so the set's id stays its own.
_RUN_CACHES: OrderedDict[tuple, RunCache] = OrderedDict()


def run_cache(ruleset: RuleSet, columns: dict[str, int], run: RunState, rows: int) -> RunCache:
    """The RunCache for a run over ``rows`` rows with these rules and columns: the one kept from an
    earlier run with the same header, or a new one (the last :data:`RUN_CACHES_KEPT` are kept).

    Runs in different threads never share one: a cache evaluates exposure tests on one
    stand-in association, whose current exposure two runs at once would overwrite.
    """
    key = (threading.get_ident(), id(ruleset), tuple(columns))
    cache = _RUN_CACHES.get(key)
    if cache is None or cache.rows_served + rows > RUN_CACHE_ROWS:
        cache = _RUN_CACHES[key] = RunCache(ruleset, columns, run)
    _RUN_CACHES.move_to_end(key)
    while len(_RUN_CACHES) > RUN_CACHES_KEPT:
        _RUN_CACHES.popitem(last=False)
    cache.rows_served += rows
    return cache


class _Starts:
    """Which rules an exposure could start: static conditions per rule, answers per cell combination."""

    def __init__(self, rules: list[tuple[int, list[tuple]]], skipped: dict[int, str], checks: CheckAnswers,
                 columns_of: Callable[[tuple], Iterable[tuple[int, bool]]]) -> None:
        # Conditions shared by many rules (one program, one instrument, ...) are
        # numbered once; within an alternative the most selective kinds come first.
        numbers: dict[tuple, int] = {}
        order = {"match": 0, "check": 1, "eq": 2, "opt": 3, "present": 4}
        self.rules = [
            (index, [tuple(numbers.setdefault(c, len(numbers))
                           for c in sorted(alternative, key=lambda c: order.get(c[0], 5)))
                     for alternative in alternatives])
            for index, alternatives in rules
        ]
        self.conditions = list(numbers)
        self.tests = [_condition_test(c, checks) for c in self.conditions]
        self.skipped = skipped
        self.checks = checks
        # The answer depends on the cells of the columns whose value matters,
        # and on whether the others hold a value at all.
        condition_columns = [tuple(columns_of(c)) for c in self.conditions]
        read: dict[int, bool] = {}
        for pairs in condition_columns:
            for index, value_matters in pairs:
                read[index] = read.get(index, False) or value_matters
        self.columns = tuple(read.items())
        self._read_values = cells_reader([index for index, value_matters in self.columns if value_matters])
        self._presence = tuple(index for index, value_matters in self.columns if not value_matters)
        self._answers: dict[Any, tuple[int, ...]] = {}
        # A column that only conditions on it alone read matters through their answers, not
        # its cell: a discovery pass reads ASN_CANDIDATE for one pattern, and a pool has a
        # different cell for nearly every exposure. An exposure whose cells are new is looked
        # up again with such cells replaced by those answers (see _answer).
        readers: dict[int, list[int]] = {}
        for number, pairs in enumerate(condition_columns):
            for index, _ in pairs:
                readers.setdefault(index, []).append(number)
        self._parts = [
            (index, tuple(self.tests[n] for n in readers[index])
             if all({i for i, _ in condition_columns[n]} == {index} for n in readers[index]) else None)
            for index, value_matters in self.columns if value_matters
        ]
        self._classes: dict[tuple[int, str], tuple[bool, ...]] = {}
        self._class_answers: dict[Any, tuple[int, ...]] = {}

    def startable(self, row: Row) -> tuple[int, ...]:
        values = row.values
        signature = self._read_values(values)
        presence = None
        if self._presence:
            presence = tuple([values[i] not in INVALID_VALUES for i in self._presence])
            signature = (signature, presence)
        rules = self._answers.get(signature)
        if rules is None:
            rules = self._answers[signature] = self._answer(row, presence)
        return rules

    def _answer(self, row: Row, presence: tuple[bool, ...] | None) -> tuple[int, ...]:
        """The rules for a row whose cells are new: known for cells that give the same answers, else worked out."""
        values = row.values
        classes = self._classes
        parts: list = []
        for index, tests in self._parts:
            cell = values[index]
            if tests is None:
                parts.append(cell)
                continue
            found = classes.get((index, cell))
            if found is None:
                found = classes[(index, cell)] = tuple([test(row) for test in tests])
            parts.append(found)
        key = (tuple(parts), presence)
        rules = self._class_answers.get(key)
        if rules is None:
            rules = self._class_answers[key] = self._evaluate(row)
        return rules

    def _evaluate(self, row: Row) -> tuple[int, ...]:
        known: dict[int, bool] = {}
        tests = self.tests

        def met(number: int) -> bool:
            answer = known.get(number)
            if answer is None:
                answer = known[number] = tests[number](row)
            return answer

        return tuple(
            index for index, alternatives in self.rules
            if any(all(met(n) for n in alternative) for alternative in alternatives)
        )


def _condition_test(condition: tuple, checks: CheckAnswers) -> Callable[[Row], bool]:
    """A fast test of one static condition on a row (answers for a cell remembered)."""
    kind = condition[0]
    if kind == "match":
        indexes, patterns = condition[1], condition[2]
        answers: dict[str, bool] = {}

        def match(row: Row) -> bool:
            values = row.values
            for i in indexes:
                cell = values[i]
                if cell not in INVALID_VALUES:
                    answer = answers.get(cell)
                    if answer is None:
                        answer = answers[cell] = any(full_match(p).match(cell) for p in patterns)
                    return answer
            return False

        return match
    if kind == "present":
        indexes = condition[1]
        return lambda row: any(row.values[i] not in INVALID_VALUES for i in indexes)
    if kind == "check":
        return checks.function(condition[1])
    return lambda row: checks.holds(condition, row)


class Pass:
    """One generation pass over a list of exposures with one registry."""

    def __init__(self, ruleset: RuleSet, registry: str, run: RunState, version_id: str | None,
                 candidate: tuple[str, str] | None, columns: dict[str, int],
                 on_item: Callable[[], None] | None = None, skip_invalid: bool = True,
                 cache: RunCache | None = None) -> None:
        self.rules = ruleset.rules
        self.registry = registry
        self.run = run
        self.version_id = version_id
        self.cache = cache if cache is not None else RunCache(ruleset, columns, run)
        self.candidate_id = candidate[0] if candidate else None
        self.roots = self.cache.roots(candidate is not None)
        self.associations: list[Association] = []
        self.on_item = on_item
        # A candidate pass offers copies of the rows with this cell (pool.candidates.candidate_rows).
        self.cell = candidate_cell(*candidate) if candidate else None
        acid_type = candidate[1] if candidate else "DISCOVERED"
        with_candidate = candidate is not None
        self.starts = self.cache.starts((acid_type, skip_invalid, with_candidate),
                                        lambda: self._plan_starts(acid_type, skip_invalid))
        indexable, signatures = self.cache.shapes(with_candidate)
        self.index = AssociationIndex(indexable, self.cache.checks)
        # Answers of tests, shared by the associations of a rule in this pass
        # (None: the rule's tests read state that changes outside adds).
        self._memos: list[dict | None] = [None if signature is None else {} for signature in signatures]
        self._signature_readers = [cells_reader(signature or ()) for signature in signatures]
        self._initial: list[list[ConstraintState | None]] = [[None] * rule.n_slots for rule in self.rules]

    @property
    def skipped(self) -> dict[int, str]:
        """Rules not tried in this pass, and why."""
        return self.starts.skipped

    def _plan_starts(self, acid_type: str, skip_invalid: bool) -> _Starts:
        rules: list[tuple[int, list[tuple]]] = []
        skipped: dict[int, str] = {}
        for rule, root in zip(self.rules, self.roots, strict=True):
            impossible = [name for name, check in rule.validity_checks.items()
                          if (never := getattr(check, "impossible_for", None)) is not None and never(acid_type)]
            if skip_invalid and impossible:
                article = "an" if acid_type[:1].lower() in "aeiou" else "a"
                skipped[rule.index] = f"{article} {acid_type} candidate never passes {', '.join(impossible)}"
                continue
            alternatives = self._fresh_conditions(rule, root)
            if alternatives is None:
                skipped[rule.index] = "its constraints can never match in this pass"
                continue
            rules.append((rule.index, alternatives))
        cache = self.cache
        return _Starts(rules, skipped, cache.checks,
                       lambda condition: guards.columns_read(condition, cache.columns, cache.exposure_columns))

    def _fresh_conditions(self, rule: CompiledRule, root) -> list[tuple] | None:
        """What a new association of ``rule`` asks of an exposure (guards.necessary).

        It depends only on the rule, on whether the candidate constraint is
        there, and on where the pool holds the columns its tests read: pool
        after pool with the same header ask the same, so the answer is kept
        with the rule set.
        """
        bound = self.run.binding(rule)
        kept = self.cache.ruleset.derived.setdefault("fresh conditions", {})
        key = (rule.index, self.candidate_id is not None, bound)
        found = kept.get(key, _NOT_KEPT)
        if found is _NOT_KEPT:
            if len(kept) >= FRESH_CONDITIONS_KEPT:
                kept.clear()
            fresh = Association(rule, self.registry, self.run, self.version_id, root)
            fresh.pass_candidate = self.candidate_id
            found = kept[key] = guards.necessary(root, fresh, fresh.states)
        return found

    # ------------------------------------------------------------ the pass
    def run_items(self, items: Iterable[Row]) -> list[Association]:
        """Offer every exposure to every rule, in order, then what constraints queued again.

        jwst puts the exposures in its queue as the first list, and that list
        is served first; offering them straight from ``items`` is the same,
        and per-candidate copies made as they are reached can go as soon as
        nothing needs them any more.
        """
        all_rules = tuple(range(len(self.rules)))
        queue = ProcessQueue()
        self._offer_each(items, frozenset(all_rules), BOTH, queue, self.on_item)
        for process_list in queue:  # progress counts each exposure once: not again here
            self._offer_each(self._copies(process_list.items), frozenset(process_list.rules or all_rules),
                             process_list.work_over, queue, None)
        return self.associations

    # Exposures queued again wait as pool rows and are copied anew when served:
    # a mosaic candidate queues nearly all of its exposures, and their copies
    # (a whole row each) were a tenth of a large pool's peak memory.
    def _queued(self, process_list: ProcessList) -> ProcessList:
        if self.cell is not None:
            process_list.items = [row if row.base is None else row.base for row in process_list.items]
        return process_list

    def _copies(self, rows: list[Row]) -> Iterable[Row]:
        cell = self.cell
        if cell is None:
            return rows
        return (row.replace("asn_candidate", cell) for row in rows)

    def _offer_each(self, items: Iterable[Row], allowed: frozenset[int], work_over: int, queue: ProcessQueue,
                    on_item: Callable[[], None] | None) -> None:
        for row in items:
            queued = self._offer(row, allowed, work_over)
            if queued:
                kept = [self._queued(pl) for pl in (carry_over(p, work_over) for p in queued) if pl is not None]
                if kept:
                    queue.extend(kept)
            if on_item is not None:
                on_item()

    def _new(self, index: int) -> Association:
        asn = Association(self.rules[index], self.registry, self.run, self.version_id, self.roots[index])
        asn.pass_candidate = self.candidate_id
        # All fresh associations of a rule start from one shared (never
        # modified in place) state list, so their first tests share answers.
        asn.states = self._initial[index]
        asn.memo = self._memos[index]
        asn.read_signature = self._signature_readers[index]
        return asn

    def _offer(self, row: Row, allowed: frozenset[int], work_over: int) -> list:
        queued: list = []
        joined: set[int] = set()
        index = self.index
        if work_over in (BOTH, EXISTING, NONSCIENCE):
            for asn in index.candidates(row, allowed):
                before = asn.states
                members = len(asn.filenames)
                matched, reprocess = asn.add(row)
                if reprocess:
                    queued.extend(reprocess)
                if matched:
                    joined.add(asn.rule.index)
                if len(asn.filenames) != members:
                    index.holds(asn, row)
                elif asn.states is not before:
                    index.file(asn)
        if work_over in (BOTH, RULES):
            for rule in self.starts.startable(row):
                if rule in allowed and rule not in joined:
                    asn = self._new(rule)
                    matched, reprocess = asn.add(row)
                    if reprocess:
                        queued.extend(reprocess)
                    if matched:
                        asn.order = len(self.associations)
                        self.associations.append(asn)
                        index.holds(asn, row)
        return queued
