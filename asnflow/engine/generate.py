"""Turn a pool into associations: per-candidate passes, discovery, finalize.

One *pass* offers every exposure, in pool order, to the open associations
and to every rule (jwst generator/generate.py); the queue then replays the
exposures constraints asked to see again. jwst's ``asn_generate`` runs one
pass per association candidate, one discovery pass over the whole pool,
keeps both, finalizes, prunes and renumbers (generate_per_candidate.py);
:func:`generate` does the same with the same options.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from asnflow import __version__
from asnflow.assoc_rules.compile import CompiledRule, RuleSet
from asnflow.engine import candidates as cands
from asnflow.engine import guards
from asnflow.engine.association import Association, RunState
from asnflow.engine.finalize import finalize_one, settle_product_names
from asnflow.engine.items import INVALID_VALUES, Row
from asnflow.engine.match import AttrTest
from asnflow.engine.prune import DupNamer, asns_equal, merge_level2, prune, resequence
from asnflow.engine.queue import BOTH, EXISTING, NONSCIENCE, RULES, ProcessList, ProcessQueue, carry_over
from asnflow.naming.asn_names import timestamp

log = logging.getLogger("asnflow.generate")

_ANY = object()  # an index key part that any filed value fits
CANDIDATE_REGISTRY = "candidate"
DISCOVER_REGISTRY = "discover"


@dataclass(frozen=True)
class Options:
    """The generator options of ``asn_generate``, with jwst's defaults."""

    ids: tuple[str, ...] | None = None  # -i: only these candidates
    discover: bool = False  # --discover
    all_candidates: bool = False  # --all-candidates
    version_id: str | bool | None = None  # --version-id [ID]; True: a timestamp per pass
    finalize: bool = True  # not --no-finalize
    merge: bool = False  # --merge
    dms: bool = False  # --DMS
    keep_duplicates: bool = False  # -D: keep pruned associations as dupNNNNN_…

    def modes(self) -> tuple[bool, bool]:
        """(discover, all_candidates) as jwst decides them: neither flag nor -i means both."""
        if not self.discover and not self.all_candidates and self.ids is None:
            return True, True
        return self.discover, self.all_candidates


@dataclass
class Result:
    """What a run produced, and what it dropped on the way (for explain and orphans)."""

    associations: list[Association]
    warnings: list[str] = field(default_factory=list)
    missing_ids: list[str] = field(default_factory=list)
    candidates: list[tuple[str, str]] = field(default_factory=list)
    created: list[Association] = field(default_factory=list)  # every association made, before finalize
    dropped: list[tuple[Association, str]] = field(default_factory=list)  # (association, why)
    pruned: list[tuple[Association, Association | None, str]] = field(default_factory=list)
    merged_into: dict[int, Association] = field(default_factory=dict)  # id(merged away) -> container


def candidate_test(rule: CompiledRule, candidate_id: str, columns: dict[str, int]) -> AttrTest:
    """jwst's global candidate constraint, appended to each rule's top constraint."""
    test = AttrTest(name="asn_candidate", sources=("asn_candidate",), patterns=(f".+({candidate_id}).+",),
                    pin=True, evaluate_cell=True, is_acid=True)
    test.slot = rule.acid_slot
    test.track_found = True
    test.bind(columns)
    return test


class Pass:
    """One generation pass over a list of exposures with one registry.

    Associations are found through an index (:mod:`asnflow.engine.guards`):
    each is filed under the values its state requires of an exposure, so an
    exposure is offered only to those it could join, in creation order, and
    to the associations that already hold it. Rules are tried only on
    exposures that meet their static conditions. Both give exactly the result
    of trying everything, which is what jwst does.
    """

    def __init__(self, ruleset: RuleSet, registry: str, run: RunState, version_id: str | None,
                 candidate: tuple[str, str] | None, columns: dict[str, int],
                 on_item: Callable[[], None] | None = None, skip_invalid: bool = True) -> None:
        self.rules = ruleset.rules
        self.registry = registry
        self.run = run
        self.version_id = version_id
        candidate_id = candidate[0] if candidate else None
        self.roots = [
            rule.root_with(candidate_test(rule, candidate_id, columns) if candidate_id is not None else None)
            for rule in self.rules
        ]
        self.associations: list[Association] = []
        self.on_item = on_item
        self.indexable = [
            not guards.may_queue_on_failure(root) and not guards.reads_volatile_state(root) for root in self.roots
        ]
        self._view = guards._StateView(Association(self.rules[0], registry, run, version_id, self.roots[0]), [])
        # Which rules an exposure could start, decided from the columns their
        # conditions read (memoised per distinct combination of those cells).
        acid_type = candidate[1] if candidate else "DISCOVERED"
        self.skipped: dict[int, str] = {}
        self._creation: list[tuple[int, list[tuple]]] = []
        read: dict[int, bool] = {}
        exposure_columns = ("pntgtype", "exp_type") + tuple(c for _, c in ruleset.vocab.modifiers)
        self._columns = columns
        self._exposure_columns = exposure_columns
        for rule, root in zip(self.rules, self.roots):
            impossible = [name for name, check in rule.validity_checks.items()
                          if getattr(check, "impossible_for", None) and check.impossible_for(acid_type)]
            if skip_invalid and impossible:
                self.skipped[rule.index] = f"a {acid_type} candidate never passes {', '.join(impossible)}"
                continue
            fresh = Association(rule, registry, run, version_id, root)
            alternatives = guards.necessary(root, fresh, fresh.states)
            if alternatives is None:
                self.skipped[rule.index] = "its constraints can never match in this pass"
                continue
            self._creation.append((rule.index, alternatives))
            for alternative in alternatives:
                for condition in alternative:
                    for index, value_matters in guards.columns_read(condition, columns, exposure_columns):
                        read[index] = read.get(index, False) or value_matters
        self._creation_columns = tuple(read.items())
        self._creation_memo: dict[tuple, tuple[int, ...]] = {}
        # Answers of tests, shared by the associations of a rule (None: the
        # rule's tests read state that changes outside adds, never reused).
        self._memos: list[dict | None] = []
        self._signatures: list[tuple[int, ...]] = []
        self._initial: list[list] = [[None] * rule.n_slots for rule in self.rules]
        for root in self.roots:
            names = guards.signature_columns(root, exposure_columns)
            self._memos.append(None if names is None else {})
            self._signatures.append(tuple(columns[n] for n in names if n in columns) if names else ())
        # The association index: rule -> shape -> key -> {creation order: association},
        # and per rule the associations every exposure must be offered to.
        self._buckets: dict[int, dict[tuple, dict[tuple, dict[int, Association]]]] = {}
        self._always: dict[int, dict[int, Association]] = {}
        self._active: list[int] = []  # rules with associations, in registry order
        self._by_file: dict[str, list[Association]] = {}
        self._filing_memo: dict[tuple, tuple] = {}
        self._key_functions: dict[tuple, Callable[[Row], tuple]] = {}

    # ------------------------------------------------------------ index
    def _file(self, asn: Association) -> None:
        """(Re)file an association under the conditions its current state puts on exposures."""
        basis = (asn.states, asn.science_count > 0)
        if asn.guard_basis is not None and asn.guard_basis[0] is basis[0] and asn.guard_basis[1] == basis[1]:
            return  # nothing the conditions depend on has changed
        asn.guard_basis = basis
        rule = asn.rule.index
        buckets = self._buckets.setdefault(rule, {})
        always = self._always.setdefault(rule, {})
        for shape, key in asn.index_slot or ():
            if shape is None:
                always.pop(asn.order, None)
            else:
                bucket = buckets[shape].get(key)
                if bucket is not None:
                    bucket.pop(asn.order, None)
        asn.index_slot = []
        if not self.indexable[rule]:
            always[asn.order] = asn
            asn.index_slot.append((None, None))
            return
        memo_key = (rule, id(asn.states), basis[1])
        known = self._filing_memo.get(memo_key)
        if known is not None and known[0] is asn.states:
            alternatives = known[1]
        else:
            alternatives = guards.necessary(asn.root, asn, asn.states)
            self._filing_memo[memo_key] = (asn.states, alternatives)
        if alternatives is None:
            return  # closed: it can only be reached through files it already holds
        slots = []
        for alternative in alternatives:
            keyed = tuple(c for c in alternative if c[0] != "match")
            if not keyed:
                always[asn.order] = asn
                asn.index_slot = [(None, None)]
                return
            shape = tuple(c[:2] for c in keyed)
            key = tuple(c[2] if c[0] in ("eq", "opt") else True for c in keyed)
            slots.append((shape, key))
        for shape, key in dict.fromkeys(slots):
            buckets.setdefault(shape, {}).setdefault(key, {})[asn.order] = asn
            asn.index_slot.append((shape, key))

    def _key_function(self, shape: tuple) -> Callable[[Row], tuple]:
        """How to read a shape's key from an exposure (built once per shape)."""
        if all(kind == "eq" for kind, _ in shape):
            if len(shape) == 1:
                column = shape[0][1]
                return lambda row: (row.values[column],)
            getter = itemgetter(*(column for _, column in shape))
            return lambda row: getter(row.values)
        parts = [self._part_function(kind, what) for kind, what in shape]
        return lambda row: tuple([part(row) for part in parts])

    def _part_function(self, kind: str, what) -> Callable[[Row], Any]:
        if kind == "eq":
            return lambda row: row.values[what]
        if kind == "opt":
            def optional(row):
                cell = row.values[what]
                return _ANY if cell in INVALID_VALUES else cell
            return optional
        if kind == "present":
            if len(what) == 1:
                (column,) = what
                return lambda row: row.values[column] not in INVALID_VALUES
            return lambda row: any(row.values[i] not in INVALID_VALUES for i in what)
        # A test of the exposure alone: its answer depends only on the cells it
        # reads, so it is remembered per distinct combination of them.
        columns = guards.columns_read(("check", what), self._columns, self._exposure_columns)
        indexes = tuple(index for index, _ in columns)
        answers: dict[tuple, bool] = {}
        view = self._view

        def check(row):
            cells = tuple([row.values[i] for i in indexes])
            answer = answers.get(cells)
            if answer is None:
                view.row = row
                answer = answers[cells] = bool(what.test(view))
            return answer

        return check

    def _candidates(self, row: Row, allowed: frozenset[int]) -> list[Association]:
        found: dict[int, Association] = {}
        functions = self._key_functions
        keys: dict[tuple, tuple] = {}
        for rule in self._active if len(allowed) > len(self._active) else allowed:
            if rule not in allowed:
                continue
            for shape, table in self._buckets.get(rule, {}).items():
                if not table:
                    continue
                key = keys.get(shape)
                if key is None:
                    function = functions.get(shape)
                    if function is None:
                        function = functions[shape] = self._key_function(shape)
                    key = keys[shape] = function(row)
                if _ANY in key:
                    # An optional test is met by an exposure without the value:
                    # every association whose other values fit is a candidate.
                    for filed, bucket in table.items():
                        if all(k is _ANY or k == f for k, f in zip(key, filed)):
                            found.update(bucket)
                    continue
                bucket = table.get(key)
                if bucket:
                    found.update(bucket)
            always = self._always.get(rule)
            if always:
                found.update(always)
        for asn in self._by_file.get(row.filename, ()):
            if asn.rule.index in allowed:
                found[asn.order] = asn
        return [found[order] for order in sorted(found)]

    # ------------------------------------------------------------ rules
    def _startable(self, row: Row) -> tuple[int, ...]:
        """The rules whose static conditions the exposure meets (in registry order)."""
        values = row.values
        signature = tuple(
            values[i] if value_matters else values[i] not in INVALID_VALUES
            for i, value_matters in self._creation_columns
        )
        rules = self._creation_memo.get(signature)
        if rules is None:
            view = self._view
            rules = tuple(
                index for index, alternatives in self._creation
                if any(all(guards.holds(c, row, view) for c in alternative) for alternative in alternatives)
            )
            self._creation_memo[signature] = rules
        return rules

    # ------------------------------------------------------------ the pass
    def run_items(self, items: list[Row]) -> list[Association]:
        all_rules = tuple(range(len(self.rules)))
        queue = ProcessQueue()
        queue.extend([ProcessList(list(items), all_rules, BOTH)])
        first = True
        for process_list in queue:
            allowed = frozenset(process_list.rules or all_rules)
            work_over = process_list.work_over
            on_item = self.on_item if first else None  # progress counts each exposure once
            first = False
            for row in process_list.items:
                queued = self._offer(row, allowed, work_over)
                if queued:
                    kept = [pl for pl in (carry_over(p, work_over) for p in queued) if pl is not None]
                    if kept:
                        queue.extend(kept)
                if on_item is not None:
                    on_item()
        return self.associations

    def _new(self, index: int) -> Association:
        asn = Association(self.rules[index], self.registry, self.run, self.version_id, self.roots[index])
        # All fresh associations of a rule start from one shared (never
        # modified in place) state list, so their first tests share answers.
        asn.states = self._initial[index]
        asn.memo = self._memos[index]
        asn.signature = self._signatures[index]
        return asn

    def _added(self, asn: Association, row: Row) -> None:
        self._by_file.setdefault(row.filename, []).append(asn)
        self._file(asn)

    def _offer(self, row: Row, allowed: frozenset[int], work_over: int) -> list:
        queued: list = []
        joined: set[int] = set()
        if work_over in (BOTH, EXISTING, NONSCIENCE):
            for asn in self._candidates(row, allowed):
                before = asn.states
                members = len(asn.filenames)
                matched, reprocess = asn.add(row)
                if reprocess:
                    queued.extend(reprocess)
                if matched:
                    joined.add(asn.rule.index)
                if len(asn.filenames) != members:
                    self._added(asn, row)
                elif asn.states is not before:
                    self._file(asn)
        if work_over in (BOTH, RULES):
            for index in self._startable(row):
                if index in allowed and index not in joined:
                    asn = self._new(index)
                    matched, reprocess = asn.add(row)
                    if reprocess:
                        queued.extend(reprocess)
                    if matched:
                        if index not in self._buckets:
                            self._buckets[index] = {}
                            self._active = sorted(self._buckets)
                        asn.order = len(self.associations)
                        self.associations.append(asn)
                        self._added(asn, row)
        return queued


def _why_dropped(asn: Association) -> str:
    failed = [name for name, passed in asn.validity.items() if not passed]
    if failed:
        return "not valid: " + ", ".join(failed)
    return "dropped by finalize (" + ", ".join(asn.rule.finalize) + ")"


def _version(option: str | bool | None) -> str | None:
    # --version-id with no value: jwst takes a fresh timestamp in each pass.
    return timestamp() if option is True else option


def finalize_level(asns: list[Association], level: str, dups: DupNamer, warnings: list[str],
                   dropped: list | None = None) -> list[Association]:
    others, mine = [], []
    for asn in asns:
        if asn.level != level:
            others.append(asn)
            continue
        finalized = finalize_one(asn)
        if finalized:
            mine.extend(finalized)
        elif dropped is not None:
            dropped.append((asn, _why_dropped(asn)))
    for asn in mine:
        settle_product_names(asn)
    mine = prune(mine, dups, warnings)
    resequence(mine)
    return others + mine


@dataclass(frozen=True)
class Unit:
    """One pass to run: a candidate's sub-pool, or discovery over the whole pool."""

    registry: str
    candidate: tuple[str, str] | None
    version_id: str | None
    skip_invalid: bool
    items: int  # how many exposures it starts with (for progress and scheduling)


@dataclass
class Plan:
    """What generate() will run for a pool, decided before anything runs."""

    units: list[Unit]
    pairs: list[tuple[str, str]]
    missing: list[str]
    discover: bool
    all_candidates: bool


def bind_rows(pool, ruleset: RuleSet) -> tuple[dict[str, int], list[Row]]:
    columns = {name: index for index, name in enumerate(pool.columns)}
    ruleset.bind(columns)
    return columns, [
        Row(values, columns, line, (index, None))
        for index, (values, line) in enumerate(zip(pool.rows, pool.lines))
    ]


def plan(rows: list[Row], options: Options, pool_name: str = "") -> Plan:
    discover, all_candidates = options.modes()
    wanted = list(options.ids) if options.ids is not None else None
    if options.dms and wanted is not None:
        for cid in cands.background_candidates_of(rows, wanted):
            if cid not in wanted:
                wanted.append(cid)
    by_type = cands.ids_by_type([row["asn_candidate"] for row in rows])
    pairs, missing = cands.candidate_list(by_type, wanted)
    for cid in missing:
        log.info("candidate id %s not found in pool %s", cid, pool_name)
    # Rules whose associations can never be valid for a candidate type are not
    # tried in its pass. Without finalize and discovery, jwst's raw creation
    # counters show in the file names, so then every rule is tried.
    skip_invalid = options.finalize or discover
    units = []
    cells = Counter(row["asn_candidate"] for row in rows)
    for cid, ctype in pairs:
        count = sum(n for cell, n in cells.items() if cid in cell)
        units.append(Unit(CANDIDATE_REGISTRY, (cid, ctype), _version(options.version_id), skip_invalid, count))
    if discover:
        units.append(Unit(DISCOVER_REGISTRY, None, _version(options.version_id), skip_invalid, len(rows)))
    return Plan(units, pairs, missing, discover, all_candidates)


def run_unit(unit: Unit, ruleset: RuleSet, rows: list[Row], columns: dict[str, int], run: RunState,
             on_item: Callable[[], None] | None = None) -> list[Association]:
    """The associations one pass makes, in creation order."""
    if unit.candidate is None:
        items = rows
    else:
        items = cands.rows_of_candidate(rows, *unit.candidate)
    one = Pass(ruleset, unit.registry, run, unit.version_id, unit.candidate, columns, on_item, unit.skip_invalid)
    return one.run_items(items)


def generate(pool, ruleset: RuleSet, options: Options = Options(),
             progress: Callable[[int], None] | None = None, jobs: int = 1, scheduler: str | None = None,
             on_plan: Callable[[int], None] | None = None) -> Result:
    """All associations of ``pool`` (an :class:`asnflow.engine.pool.Pool`), as asn_generate makes them.

    ``jobs`` > 1 runs the passes in that many processes, ``scheduler`` on a
    Dask distributed cluster; the result is the same as running them here.
    """
    columns, rows = bind_rows(pool, ruleset)
    run = RunState(vocab=ruleset.vocab, pool_name=pool.name, code_version=__version__, columns=tuple(pool.columns))
    steps = plan(rows, options, pool.name)
    if on_plan is not None:
        on_plan(sum(unit.items for unit in steps.units))
    if (jobs > 1 or scheduler) and len(steps.units) > 1:
        from asnflow.engine.parallel import run_units

        outputs, warnings = run_units(steps.units, pool, ruleset, rows, jobs, scheduler, progress)
        run.warnings.extend(warnings)
        for associations in outputs:
            for asn in associations:
                asn.attach(ruleset.rules[asn.rule_index], run)
    else:
        on_item = (lambda: progress(1)) if progress is not None else None
        outputs = [run_unit(unit, ruleset, rows, columns, run, on_item) for unit in steps.units]
    for associations in outputs:
        for asn in associations:
            asn.created()
    return combine(steps, outputs, options, run)


def combine(steps: Plan, outputs: list[list[Association]], options: Options, run: RunState) -> Result:
    """Keep, finalize, prune and renumber what the passes made (in pass order)."""
    associations: list[Association] = []
    created: list[Association] = []
    for unit, made in zip(steps.units, outputs):
        created.extend(made)
        if unit.registry == CANDIDATE_REGISTRY:
            associations.extend(made)
    if steps.discover:
        discovered = outputs[-1]
        associations = filter_discovered(associations, discovered, keep_candidates=steps.all_candidates)
        resequence(associations)

    warnings = run.warnings
    dups = DupNamer(options.keep_duplicates)
    dropped: list = []
    if options.finalize and associations:
        associations = finalize_level(associations, "2b", dups, warnings, dropped)
        associations = finalize_level(associations, "3", dups, warnings, dropped)
    for asn in associations:
        settle_product_names(asn)
    merged_into: dict[int, Association] = {}
    if options.merge:
        associations = merge_level2(associations, merged_into)
    if options.dms and options.ids is not None:
        kept = [a for a in associations if any(cid in a.acid.id for cid in options.ids)]
        kept_ids = {id(a) for a in kept}
        dropped.extend(
            (a, "--DMS: not one of the requested candidates") for a in associations if id(a) not in kept_ids
        )
        associations = kept
    return Result(associations, warnings, steps.missing, steps.pairs, created=created, dropped=dropped,
                  pruned=dups.pruned, merged_into=merged_into)


def filter_discovered(candidates: list[Association], discovered: list[Association],
                      keep_candidates: bool) -> list[Association]:
    """jwst filter_discovered_only: drop discovered associations equal to a candidate one.

    jwst's equality requires the same candidate level (``a`` vs ``o``/``c``),
    so in practice nothing is dropped; the test is kept, cheap because the
    level is compared first.
    """
    kept = discovered
    for candidate in candidates:
        if not kept:
            break
        kept = [d for d in kept if not asns_equal(d, candidate)]
    return kept + candidates if keep_candidates else list(kept)
