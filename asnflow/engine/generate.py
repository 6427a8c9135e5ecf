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
from collections.abc import Callable
from dataclasses import dataclass, field

from asnflow import __version__
from asnflow.assoc_rules.compile import CompiledRule, RuleSet
from asnflow.engine import candidates as cands
from asnflow.engine.association import Association, RunState
from asnflow.engine.finalize import finalize_one, settle_product_names
from asnflow.engine.items import Row
from asnflow.engine.match import AttrTest
from asnflow.engine.prune import DupNamer, asns_equal, merge_level2, prune, resequence
from asnflow.engine.queue import BOTH, EXISTING, NONSCIENCE, RULES, ProcessList, ProcessQueue, carry_over
from asnflow.naming.asn_names import timestamp

log = logging.getLogger("asnflow.generate")

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
    """One generation pass over a list of exposures with one registry."""

    def __init__(self, ruleset: RuleSet, registry: str, run: RunState, version_id: str | None,
                 candidate_id: str | None, columns: dict[str, int],
                 on_item: Callable[[], None] | None = None) -> None:
        self.ruleset = ruleset
        self.rules = ruleset.rules
        self.registry = registry
        self.run = run
        self.version_id = version_id
        self.roots = [
            rule.root_with(candidate_test(rule, candidate_id, columns) if candidate_id is not None else None)
            for rule in self.rules
        ]
        self.associations: list[Association] = []
        self.on_item = on_item

    def run_items(self, items: list[Row]) -> list[Association]:
        all_rules = tuple(range(len(self.rules)))
        queue = ProcessQueue()
        queue.extend([ProcessList(list(items), all_rules, BOTH)])
        for process_list in queue:
            allowed = frozenset(process_list.rules or all_rules)
            work_over = process_list.work_over
            for row in process_list.items:
                queued = self._offer(row, allowed, work_over)
                if queued:
                    kept = [pl for pl in (carry_over(p, work_over) for p in queued) if pl is not None]
                    if kept:
                        queue.extend(kept)
                if self.on_item is not None:
                    self.on_item()
        return self.associations

    def _offer(self, row: Row, allowed: frozenset[int], work_over: int) -> list:
        queued: list = []
        joined: set[int] = set()
        if work_over in (BOTH, EXISTING, NONSCIENCE):
            for asn in [a for a in self.associations if a.rule.index in allowed]:
                matched, reprocess = asn.add(row)
                if reprocess:
                    queued.extend(reprocess)
                if matched:
                    joined.add(asn.rule.index)
        if work_over in (BOTH, RULES):
            for rule in self.rules:
                if rule.index in allowed and rule.index not in joined:
                    asn = Association(rule, self.registry, self.run, self.version_id, self.roots[rule.index])
                    matched, reprocess = asn.add(row)
                    if reprocess:
                        queued.extend(reprocess)
                    if matched:
                        asn.created()
                        self.associations.append(asn)
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


def generate(pool, ruleset: RuleSet, options: Options = Options(),
             progress: Callable[[int], None] | None = None) -> Result:
    """All associations of ``pool`` (an :class:`asnflow.engine.pool.Pool`), as asn_generate makes them."""
    columns = {name: index for index, name in enumerate(pool.columns)}
    ruleset.bind(columns)
    rows = [Row(values, columns, line) for values, line in zip(pool.rows, pool.lines)]
    run = RunState(vocab=ruleset.vocab, pool_name=pool.name, code_version=__version__, columns=tuple(pool.columns))
    discover, all_candidates = options.modes()
    on_item = (lambda: progress(1)) if progress is not None else None

    wanted = list(options.ids) if options.ids is not None else None
    if options.dms and wanted is not None:
        for cid in cands.background_candidates_of(rows, wanted):
            if cid not in wanted:
                wanted.append(cid)
    by_type = cands.ids_by_type([row["asn_candidate"] for row in rows])
    pairs, missing = cands.candidate_list(by_type, wanted)
    for cid in missing:
        log.warning("candidate id %s not found in pool %s", cid, pool.name)

    associations: list[Association] = []
    created: list[Association] = []
    for cid, ctype in pairs:
        items = cands.rows_of_candidate(rows, cid, ctype)
        one = Pass(ruleset, CANDIDATE_REGISTRY, run, _version(options.version_id), cid, columns, on_item)
        associations.extend(one.run_items(items))
    created.extend(associations)

    if discover:
        found = Pass(ruleset, DISCOVER_REGISTRY, run, _version(options.version_id), None, columns, on_item)
        discovered = found.run_items(rows)
        created.extend(discovered)
        associations = filter_discovered(associations, discovered, keep_candidates=all_candidates)
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
    return Result(associations, warnings, missing, pairs, created=created, dropped=dropped, pruned=dups.pruned,
                  merged_into=merged_into)


def filter_discovered(candidates: list[Association], discovered: list[Association],
                      keep_candidates: bool) -> list[Association]:
    """jwst filter_discovered_only: drop discovered associations equal to a candidate one.

    jwst's equality requires the same candidate level (``a`` vs ``o``/``c``),
    so in practice nothing is dropped; the test is kept, cheap because the
    level is compared first.
    """
    for asn in candidates + discovered:
        settle_product_names(asn)
    kept = discovered
    for candidate in candidates:
        if not kept:
            break
        kept = [d for d in kept if not asns_equal(d, candidate)]
    return kept + candidates if keep_candidates else list(kept)
