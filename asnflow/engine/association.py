"""One association while it is being built: its state, members and jwst bookkeeping.

:class:`Association` reproduces what jwst's DMSLevel2bBase / DMS_Level3_Base
do on each add (init hook, member naming, validity, sequence counters); the
per-rule differences come from the compiled rule (exposure-type policy,
shapes that get ``ints`` suffixes, validity checks, product template,
finalize steps), which name hooks in :mod:`asnflow.hooks`.
"""

from __future__ import annotations

import re
from ast import literal_eval
from dataclasses import field
from functools import lru_cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from asnflow.constraints import vocabulary
from asnflow.constraints.nodes import Attempt
from asnflow.constraints.queue import ProcessList
from asnflow.constraints.rows import INVALID_VALUES, Row, cells_reader, memo_key
from asnflow.constraints.state import ConstraintState, escaped
from asnflow.engine.entries import Member, Product
from asnflow.naming.asn_names import ACID, asn_file_stem_head
from asnflow.naming.members import level2_product_name, level2a_member_name, level2b_member_name
from asnflow.records import record

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

    from asnflow.assoc_rules.compile import CompiledRule

DEGRADED_OK = "No known degraded exposures in association."
DEGRADED_NOTOK = (
    "One or more members have an error associated with them.\n"
    "Details can be found in the member.exposerr attribute."
)
DISCOVERED_ACID = ACID("a3001", "DISCOVERED")
_UNSET = object()
# After the pass nothing is added any more; one shared empty set that cannot be added to.
_NO_MEMBER_KEYS: Any = frozenset()


@lru_cache(maxsize=1024)
def _program_text(program: str) -> str:
    # One string per program, not one per association (a million of them at a million rows).
    return f"{program:0>5s}"


@lru_cache(maxsize=1024)
def _acid_from_found(found: frozenset) -> ACID:
    # jwst ACID: the candidate constraint's found values, escaped, joined with
    # "-", backslashes removed: "('o001', 'observation')".
    text = re.sub(r"\\", "", "-".join(escaped(found)))
    try:
        acid_id, acid_type = literal_eval(text)
    except (ValueError, SyntaxError, TypeError):
        return DISCOVERED_ACID
    return ACID(str(acid_id), str(acid_type))


# CPython keeps an object's attributes compact (values inline, their names shared by the class)
# only while the class's instances use at most this many attribute names between them; past it
# every association has a dict of its own: 1.6 KB instead of 0.3 KB, 1.3 GB more at a million
# rows. Association's own, and ``rule_index`` set on one received from another process.
ATTRIBUTES_AT_MOST = 29


class Counter:
    """jwst's lib/counter.Counter: ``next`` adds one, then returns the value."""

    __slots__ = ("value",)

    def __init__(self, start: int = 0) -> None:
        self.value = start

    def __next__(self) -> int:
        self.value += 1
        return self.value


@record
class RunState:
    """What one generator run shares between its associations.

    jwst keeps these as class attributes (process-wide); asnflow keeps them per
    run. The level-2 counter starts at 1 so the first association gets 2 —
    visible only with --no-finalize, where sequences are not renumbered.
    """

    vocab: vocabulary.Vocabulary
    pool_name: str
    code_version: str
    columns: tuple[str, ...] = ()
    level2_sequence: Counter = field(default_factory=lambda: Counter(1))
    level3_sequences: dict[str, Counter] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    warned: set[str] = field(default_factory=set)
    _bindings: dict[int, tuple] = field(default_factory=dict, repr=False)

    def binding(self, rule: CompiledRule) -> tuple:
        """Per state slot of ``rule``, the positions of the columns its test reads in this pool.

        Compiled rules are shared by every pool (and every run), so the pool's
        column positions live here, not in the rule.
        """
        found = self._bindings.get(id(rule))
        if found is None or found[0] is not rule:
            positions = {name: index for index, name in enumerate(self.columns)}
            slots: list = [()] * rule.n_slots
            for test in rule.attr_tests:
                slots[test.slot] = test.column_indexes(positions)
            # The candidate constraint appended to a rule in a candidate pass.
            slots[rule.acid_slot] = (positions.get("asn_candidate"),)
            found = self._bindings[id(rule)] = (rule, tuple(slots))
        return found[1]


class Association:
    """An association of one rule, in one registry ("candidate" or "discover")."""

    def __init__(self, rule: CompiledRule, registry: str, run: RunState, version_id: str | None, root) -> None:
        self.rule = rule
        self.root = root
        self.registry = registry
        self.run = run
        # The candidate of the pass that made it (None in discovery): what the candidate constraint looks for.
        self.pass_candidate: str | None = None
        self.version_id = version_id
        self.states: list[ConstraintState | None] = [None] * rule.n_slots
        self.bound = run.binding(rule)
        self.products: list[Product] = []
        # The pool files of its members: a set while the pass adds, a tuple after (see pass_over).
        self.filenames: set[str] | tuple[str, ...] = set()
        # The validity checks not passed yet: the rule's own tuple until one passes (most
        # associations share it), then a shorter one, then the shared empty tuple.
        self.failing: tuple[str, ...] = rule.validity
        self.original_exposure_type: str | None = None
        self.degraded = False
        self.sequence: int | None = None
        self.asn_type = rule.asn_type
        self.program = "noprogram"
        self.target_raw: str | None = None
        self.product_name_override: str | None = None
        self.dup_name: str | None = None
        self.order = -1  # creation order within its pass
        self.index_slot = None  # where the pass's index files it
        self.member_keys: set[tuple[str, str]] = set()  # (expname, exptype) of the current product
        # (state it was worked out from, ACID); (None, ACID) once the pass is over and it is fixed.
        self._acid_cache: tuple | None = None
        self.memo: dict | None = None  # answers shared by the pass (see _test_remembered)
        # Reads the cells the rule's tests read, for the memo's keys (set by the pass with ``memo``).
        self.read_signature: Callable[[tuple], Hashable] = cells_reader(())
        self.guard_basis: tuple | None = None  # what the index filing was computed from
        self.science_count = 0
        # Worked out where the pass ran, once it is over (engine.finalize.settle_early): the print of
        # the members (prune) and the file name up to its sequence number. None: not worked out.
        # One attribute for both: see ATTRIBUTES_AT_MOST.
        self.settled: tuple[int, str] | None = None

    # ------------------------------------------------------------ identity
    @property
    def level(self) -> str:
        return self.rule.level

    @property
    def asn_rule(self) -> str:
        return f"{self.registry}_{self.rule.name}" if self.registry else self.rule.name

    def acid_from(self, states: list) -> ACID:
        state = states[self.rule.acid_slot]
        if state is None or not state.found:
            return DISCOVERED_ACID
        cached = self._acid_cache
        if cached is not None and cached[0] is state:
            return cached[1]
        acid = self._parse_acid(state)
        self._acid_cache = (state, acid)
        return acid

    @staticmethod
    def _parse_acid(state: ConstraintState) -> ACID:
        return _acid_from_found(state.found)

    @property
    def acid(self) -> ACID:
        # Combining asks every association's ACID several times over: once the pass is over it is
        # fixed, one attribute away rather than four (each a likely cache miss among 100,000 associations).
        cached = self._acid_cache
        if cached is not None and cached[0] is None:
            return cached[1]
        return self.acid_from(self.states)

    # ------------------------------------------------------------ state lookups
    def found_values(self, name: str, states: list | None = None) -> list[str]:
        node = self.rule.lookup.get(name)
        if node is None:
            raise KeyError(name)
        state = (states or self.states)[node.slot] if node.slot >= 0 else None
        return sorted(escaped(state.found)) if state is not None else []

    def state_of(self, name: str, states: list | None = None) -> ConstraintState | None:
        """The state of the first constraint called ``name`` (None: no such constraint, or untouched)."""
        node = self.rule.lookup.get(name)
        if node is None or node.slot < 0:
            return None
        return (states if states is not None else self.states)[node.slot]

    def pinned_value(self, name: str) -> str | None:
        """The escaped pinned value of the first constraint called ``name`` (jwst ``.value``)."""
        node = self.rule.lookup.get(name)
        if node is None or node.slot < 0:
            raise KeyError(name)
        state = self.states[node.slot]
        if state is None or state.pinned is None:
            return None
        return re.escape(state.pinned)

    def target_values(self) -> list[str]:
        # jwst get_target: the first constraint named "target" with values found.
        for node in self.rule.target_nodes:
            state = self.states[node.slot]
            if state is not None and state.found:
                return escaped(state.found)
        return []

    # ------------------------------------------------------------ members
    @property
    def members(self) -> list[Member]:
        return self.products[-1].members if self.products else []

    @staticmethod
    def new_member(data: dict) -> Member:
        """A member made by a finalize step (a level-3 catalog, say), from no pool row."""
        return Member(data)

    @staticmethod
    def new_product(name: str, members: list[Member]) -> Product:
        """A product made by a finalize step (one nod of a split association, say)."""
        return Product(name, members)

    def has_science(self) -> bool:
        return self.science_count > 0

    def exposure_type(self, row: Row, attempt_states: list | None = None) -> str:
        policy = self.rule.exposure_policy
        if not getattr(policy, "pure", False):
            return policy(self, row, attempt_states)
        # A policy reading only the exposure is answered once per exposure.
        memo = row.memo
        if memo is None:
            memo = row.memo = {}
        key = ("exptype", policy)
        found = memo.get(key)
        if found is None:
            found = memo[memo_key(key)] = policy(self, row, attempt_states)
        return found

    def uses_integrations(self, row: Row) -> bool:
        """Whether members get the ``ints`` suffix: coronagraphy, AMI or TSO (as the rule allows)."""
        pinned = None
        node = self.rule.is_tso_node
        if node is not None:
            state = self.states[node.slot]
            pinned = state.pinned if state is not None else None
        memo = row.memo
        if memo is None:
            memo = row.memo = {}
        key = ("ints", self.rule.ints_for, pinned)
        answer = memo.get(key)
        if answer is None:
            answer = memo[memo_key(key)] = self._uses_integrations(row, pinned)
        return answer

    def _uses_integrations(self, row: Row, pinned: str | None) -> bool:
        vocab = self.run.vocab
        shapes = self.rule.ints_for
        if "coron" in shapes and vocabulary.is_coron(vocab, row):
            return True
        if "ami" in shapes and vocabulary.is_ami(vocab, row):
            return True
        if "tso" in shapes:
            return vocabulary.is_tso(vocab, row, pinned)
        return False

    def make_member(self, row: Row) -> Member:
        exposerr = row.get("exposerr")
        exptype = self.exposure_type(row)
        integrations = self.uses_integrations(row)
        filename = row.filename
        level = self.rule.level
        memo = row.memo
        if memo is None:
            memo = row.memo = {}
        key = ("expname", level, exptype, integrations)
        name = memo.get(key, _UNSET)
        if name is _UNSET:
            if level == "3":
                name = level2b_member_name(
                    filename, exp_type=row.get("exp_type"), member_exptype=exptype, integrations=integrations
                )
            else:
                name = level2a_member_name(filename, integrations)
            memo[memo_key(key)] = name
        if name is None:
            # jwst warns and keeps the name; asnflow reports each such file once per run.
            warning = f"FILENAME {filename!r} is not a level-1b (_uncal) name; used unchanged as a member name"
            if warning not in self.run.warned:
                self.run.warned.add(warning)
                self.run.warnings.append(warning)
            name = filename
        # A member holds the pool's own row, not a candidate pass's copy of it:
        # the copy differs only in its ASN_CANDIDATE cell, which nothing reads
        # after the pass (the level-3 entry took it), so the copies go as the
        # pass moves on. At 20,000 rows they were a tenth of the peak.
        item = row if row.base is None else row.base
        if level == "3":
            return Member.of(name, exptype, exposerr, row.get("asn_candidate"), item)
        return Member.of(name, exptype, exposerr, item=item)

    # ------------------------------------------------------------ adding
    def add(self, row: Row) -> tuple[bool, Any]:
        """jwst Association.add: test, then (on a match) initialise and add the member."""
        if row.filename in self.filenames:
            return True, ()
        memo = self.memo
        if memo is None:
            matched, reprocess = self._test(row)
        else:
            matched, reprocess = self._test_remembered(row, memo)
        if reprocess:
            own = (self.rule.index,)
            for process_list in reprocess:
                if process_list.rules is None:
                    process_list.rules = own
        if matched:
            if not self.products:  # the first match: _init_hook adds the product
                self._init_hook(row)
            self._add_member(row)
        node = self.rule.force_match_node
        if node is not None and self.states[node.slot] is not None:
            matched = False  # report_unmatched ran: every later add reports "not matched"
        return matched, reprocess

    def _test(self, row: Row) -> tuple[bool, Any]:
        attempt = Attempt(self, row)
        matched, reprocess = self.root.check(attempt)
        if matched and attempt.changed:
            self.states = attempt.states
        return matched, reprocess

    def _test_remembered(self, row: Row, memo: dict) -> tuple[bool, Any]:
        """Test, reusing the answer for an earlier exposure that agrees on every column the test reads.

        The answer depends only on the state (the same list object), whether
        the association has its science, and those columns; queued exposures
        are rebuilt for this row.
        """
        key = (id(self.states), self.science_count > 0, self.read_signature(row.values))
        known = memo.get(key)
        if known is not None and known[0] is self.states:
            _, matched, queued, states = known
            if matched:
                self.states = states
            if not queued:
                return matched, ()
            return matched, [ProcessList([row], rules, work_over, only) for rules, work_over, only in queued]
        before = self.states
        attempt = Attempt(self, row)
        matched, reprocess = self.root.check(attempt)
        if all(len(pl.items) == 1 and pl.items[0] is row for pl in reprocess):
            queued = tuple((pl.rules, pl.work_over, pl.only_on_match) for pl in reprocess)
            memo[key] = (before, matched, queued, attempt.states if matched else before)
        if matched and attempt.changed:
            self.states = attempt.states
        return matched, reprocess

    def _init_hook(self, row: Row) -> None:
        self.program = _program_text(row.get("program", ""))
        if self.level != "3":
            self.target_raw = row.get("targetid")
        self.products.append(Product(None, []))

    def _add_member(self, row: Row) -> None:
        member = self.make_member(row)
        members = self.members
        key = (member.expname, member.exptype)
        if key in self.member_keys:
            return
        self.member_keys.add(key)
        if member.exptype == "science":
            self.science_count += 1
        if self.rule.level == "3":
            self._update_validity(member)
            members.append(member)
        else:
            members.append(member)
            self._update_validity(member)
        self.filenames.add(row.filename)  # type: ignore[union-attr]  # a set while the pass adds
        if member.exposerr not in INVALID_VALUES and member.exposerr is not None:
            self.degraded = True

    def pass_over(self) -> None:
        """The pass that built this association has ended: let go of what only adding needs
        (the pass's shared answers, its index filing, the keys of the members added), and fix
        its ACID.

        The file names stay, as a tuple: one file's set took three times its
        tuple, and most level-2 associations hold one file.
        """
        self.filenames = tuple(self.filenames)
        self.memo = None
        self.index_slot = None
        self.guard_basis = None
        self.member_keys = _NO_MEMBER_KEYS
        self._acid_cache = (None, self.acid_from(self.states))

    def _update_validity(self, member: Member) -> None:
        failing = self.failing
        if failing:
            checks = self.rule.validity_checks
            still = tuple([name for name in failing if not checks[name](self, member)])
            if still != failing:
                self.failing = still

    @property
    def validity(self) -> dict[str, bool]:
        """Per validity check of the rule, whether it has passed (jwst's ``validity``)."""
        return {name: name not in self.failing for name in self.rule.validity}

    def created(self) -> None:
        """jwst DMSBaseMixin.create: the creating add takes the next sequence number.

        Level 2 rules share one counter, level 3 counts per asn_type; jwst
        starts them when the process starts. asnflow numbers the associations
        of all passes in pass order after they ran (so passes can run in
        parallel), which gives the same numbers.
        """
        if self.level == "3":
            counter = self.run.level3_sequences.setdefault(self.asn_type, Counter(0))
        else:
            counter = self.run.level2_sequence
        self.sequence = next(counter)

    # ------------------------------------------------------------ moving between processes
    # What an association's state is, in this order: its rule's position in the rule set, its
    # products, then the rest of what travels (the ACID fixed at the end of the pass, in
    # ``_acid_cache``, among them). The run-bound names stay behind: attach() joins them again.
    # A tuple, unpacked into the attributes in one statement: receiving a 10,000-row pool's
    # associations took half as long again when a dict of them was set name by name.
    _RUN_BOUND = ("rule", "root", "run", "bound", "memo", "read_signature", "index_slot", "guard_basis")
    TRAVELLING = ("products", "registry", "pass_candidate", "version_id", "states", "filenames", "failing",
                  "original_exposure_type", "degraded", "sequence", "asn_type", "program", "target_raw",
                  "product_name_override", "dup_name", "order", "member_keys", "_acid_cache", "science_count",
                  "settled")
    _travelling = attrgetter(*TRAVELLING)

    def __getstate__(self) -> tuple:
        return (self.rule.index, *self._travelling(self))  # an attrgetter: not bound to self

    def __setstate__(self, state: tuple) -> None:
        # Attribute by attribute, in one statement: filling self.__dict__ would cost the object
        # Python's compact attribute layout, and every later read of an attribute with it.
        # The order is TRAVELLING's (tests/test_association_layout.py holds the two together).
        (self.rule_index, self.products, self.registry, self.pass_candidate, self.version_id, self.states,
         self.filenames, self.failing, self.original_exposure_type, self.degraded, self.sequence, self.asn_type,
         self.program, self.target_raw, self.product_name_override, self.dup_name, self.order, self.member_keys,
         self._acid_cache, self.science_count, self.settled) = state
        # Until attach() joins this process's rule and run:
        self.rule = self.root = self.run = self.bound = None  # type: ignore[assignment]
        self.memo = self.read_signature = self.index_slot = self.guard_basis = None  # type: ignore[assignment]

    def attach(self, rule, run: RunState) -> None:
        """Join this process's rule set and run after coming from another process."""
        self.rule = rule
        self.root = rule.root
        self.run = run
        self.bound = run.binding(rule)

    # ------------------------------------------------------------ validity, names
    @property
    def is_valid(self) -> bool:
        return not self.failing

    def product_name(self) -> str:
        if self.product_name_override is not None:
            return self.product_name_override
        return self.rule.product_template(self)

    def level2_default_product_name(self) -> str:
        for member in self.members:
            if member.exptype == "science":
                return level2_product_name(member.expname)
        return "undefined"

    def file_stem(self) -> str:
        head = self.settled[1] if self.settled is not None else self.file_stem_head()
        stem = f"{head}{self.sequence or 0:05d}_asn"
        return f"{self.dup_name}_{stem}" if self.dup_name else stem

    def file_stem_head(self) -> str:
        """The file name up to its sequence number (naming.asn_names.asn_file_stem_head)."""
        return asn_file_stem_head(self.program, self.acid.id, self.asn_type, self.version_id)

    def clone(self) -> Association:
        """A deep copy for finalize steps that split one association into several."""
        twin = object.__new__(Association)
        twin.__dict__.update(self.__dict__)  # not copy.copy: pickling drops run-bound links
        twin.products = [
            Product(p.name, [m.copy_member() for m in p.members]) for p in self.products
        ]
        twin.filenames = tuple(self.filenames)  # built: nothing adds to it any more
        return twin

    def __repr__(self) -> str:
        return f"<Association {self.asn_rule} {self.acid.id} {len(self.members)} members>"
