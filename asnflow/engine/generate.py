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
import time
from collections.abc import Callable, Iterable
from dataclasses import field

from asnflow import __version__
from asnflow.assoc_rules.compile import RuleSet
from asnflow.constraints.rows import Row
from asnflow.dask_clients import DEFAULT_TIMEOUT
from asnflow.engine.association import Association, RunState
from asnflow.engine.finalize import finalize_one, settle_early, settle_product_names
from asnflow.engine.passes import Pass, RunCache, run_cache
from asnflow.engine.prune import DupNamer, asns_equal, merge_level2, prune, resequence
from asnflow.naming.asn_names import timestamp
from asnflow.pool import candidates as cands
from asnflow.records import record

log = logging.getLogger("asnflow.generate")

CANDIDATE_REGISTRY = "candidate"
DISCOVER_REGISTRY = "discover"


@record(frozen=True)
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


@record
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


def _why_dropped(asn: Association) -> str:
    failed = [name for name, passed in asn.validity.items() if not passed]
    if failed:
        return "not valid: " + ", ".join(failed)
    return "dropped by finalize (" + ", ".join(asn.rule.finalize) + ")"


def _version(option: str | bool | None) -> str | None:
    # --version-id with no value: jwst takes a fresh timestamp in each pass.
    if option is True:
        return timestamp()
    return option or None  # False: not given


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


@record(frozen=True)
class Unit:
    """One pass to run: a candidate's sub-pool, or discovery over the whole pool."""

    registry: str
    candidate: tuple[str, str] | None
    version_id: str | None
    skip_invalid: bool
    items: int  # how many exposures it starts with (for progress and scheduling)
    # A candidate pass: where its rows are in the pool (pool.candidates.positions_of_candidate);
    # None: worked out when it runs. Discovery reads every row. Not shown: a mosaic's are the pool.
    row_positions: tuple[int, ...] | None = field(default=None, repr=False)


@record
class Plan:
    """What generate() will run for a pool, decided before anything runs."""

    units: list[Unit]
    pairs: list[tuple[str, str]]
    missing: list[str]
    discover: bool
    all_candidates: bool


def bind_rows(pool, ruleset: RuleSet) -> tuple[dict[str, int], list[Row]]:
    columns = {name: index for index, name in enumerate(pool.columns)}
    return columns, [
        Row(values, columns, line, (index, None))
        for index, (values, line) in enumerate(zip(pool.rows, pool.lines, strict=True))
    ]


def plan(rows: list[Row], options: Options, pool_name: str = "") -> Plan:
    discover, all_candidates = options.modes()
    wanted = list(options.ids) if options.ids is not None else None
    if options.dms and wanted is not None:
        for cid in cands.background_candidates_of(rows, wanted):
            if cid not in wanted:
                wanted.append(cid)
    by_cell = cands.rows_by_cell(rows)
    by_type = cands.ids_by_type(list(by_cell))  # the distinct cells, in order of first appearance
    pairs, missing = cands.candidate_list(by_type, wanted)
    for cid in missing:
        log.info("candidate id %s not found in pool %s", cid, pool_name)
    # Rules whose associations can never be valid for a candidate type are not
    # tried in its pass: finalize would drop them, and the survivors are
    # renumbered. jwst quirk, reproduced: with --no-finalize (with or without
    # discovery) jwst still makes those associations, numbers them with the
    # valid ones (creation counters, or resequence after discovery), then
    # fails to save them ("Cannot serialize association"), so the written
    # _NNNNN counters have gaps; every rule is tried then, and the writer
    # skips what is not valid.
    skip_invalid = options.finalize
    units = []
    for cid, ctype in pairs:
        positions = cands.positions_of_candidate(by_cell, cid)
        units.append(Unit(CANDIDATE_REGISTRY, (cid, ctype), _version(options.version_id), skip_invalid,
                          len(positions), positions))
    if discover:
        units.append(Unit(DISCOVER_REGISTRY, None, _version(options.version_id), skip_invalid, len(rows)))
    return Plan(units, pairs, missing, discover, all_candidates)


def run_unit(unit: Unit, ruleset: RuleSet, rows: list[Row], columns: dict[str, int], run: RunState,
             on_item: Callable[[], None] | None = None, cache: RunCache | None = None) -> list[Association]:
    """The associations one pass makes, in creation order."""
    if unit.candidate is None:
        items: Iterable[Row] = rows
    else:
        positions = unit.row_positions
        if positions is None:
            positions = cands.positions_of_candidate(cands.rows_by_cell(rows), unit.candidate[0])
        items = cands.candidate_rows(rows, positions, *unit.candidate)
    one = Pass(ruleset, unit.registry, run, unit.version_id, unit.candidate, columns, on_item, unit.skip_invalid,
               cache)
    if log.isEnabledFor(logging.DEBUG):
        for index, why in one.skipped.items():
            log.debug("%s: rule %s not tried: %s", unit_label(unit), ruleset.rules[index].name, why)
    made = one.run_items(items)
    if log.isEnabledFor(logging.DEBUG):
        for asn in made:
            log.debug("%s: %s made %s %s with %d exposures", unit_label(unit), asn.rule.name, asn.asn_type,
                      asn.acid.id, len(asn.filenames))
    heads: dict[tuple, str] = {}
    for asn in made:
        asn.pass_over()
        settle_early(asn, heads)
    return made


def unit_label(unit: Unit) -> str:
    """``candidate o001 (observation)`` or ``discovery``: a pass as progress messages name it."""
    if unit.candidate is None:
        return "discovery"
    return f"candidate {unit.candidate[0]} ({unit.candidate[1]})"


def _log_pass(pool_name: str, unit: Unit, made: list, seconds: float | None) -> None:
    took = f", {seconds:.2f} s" if seconds is not None else ""
    log.info("%s: %s: %d exposures, %d associations%s", pool_name, unit_label(unit), unit.items, len(made), took)


def generate(pool, ruleset: RuleSet, options: Options = Options(),
             progress: Callable[[int], None] | None = None, jobs: int = 1, scheduler: str | None = None,
             on_plan: Callable[[int], None] | None = None, timeout: float = DEFAULT_TIMEOUT) -> Result:
    """All associations of ``pool`` (an :class:`asnflow.pool.read.Pool`), as asn_generate makes them.

    ``jobs`` > 1 runs the passes in that many processes, ``scheduler`` on a
    Dask distributed cluster (reached within ``timeout`` seconds); the result
    is the same as running them here.
    """
    columns, rows = bind_rows(pool, ruleset)
    run = RunState(vocab=ruleset.vocab, pool_name=pool.name, code_version=__version__, columns=tuple(pool.columns))
    steps = plan(rows, options, pool.name)
    if on_plan is not None:
        on_plan(sum(unit.items for unit in steps.units))
    if not scheduler:
        from asnflow.workers import worker_count

        jobs = worker_count(jobs, len(steps.units))  # no more processes than CPUs or passes
    if (jobs > 1 or scheduler) and len(steps.units) > 1:
        from asnflow.engine.parallel import run_units

        outputs, warnings = run_units(steps.units, pool, ruleset, rows, jobs, scheduler, progress, timeout)
        if log.isEnabledFor(logging.INFO):
            for unit, made in zip(steps.units, outputs, strict=True):
                _log_pass(pool.name, unit, made, None)
        for warning in warnings:
            if warning not in run.warned:
                run.warned.add(warning)
                run.warnings.append(warning)
        for associations in outputs:
            for asn in associations:
                asn.attach(asn.rule or ruleset.rules[asn.rule_index], run)  # rule: run here; index: sent
    else:
        on_item = (lambda: progress(1)) if progress is not None else None
        cache = run_cache(ruleset, columns, run, len(rows))
        outputs = []
        for unit in steps.units:
            started = time.perf_counter()
            outputs.append(run_unit(unit, ruleset, rows, columns, run, on_item, cache))
            _log_pass(pool.name, unit, outputs[-1], time.perf_counter() - started)
    for associations in outputs:
        for asn in associations:
            asn.created()
    return combine(steps, outputs, options, run)


def combine(steps: Plan, outputs: list[list[Association]], options: Options, run: RunState) -> Result:
    """Keep, finalize, prune and renumber what the passes made (in pass order)."""
    associations: list[Association] = []
    created: list[Association] = []
    for unit, made in zip(steps.units, outputs, strict=True):
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
        before = len(associations)
        associations = finalize_level(associations, "2b", dups, warnings, dropped)
        associations = finalize_level(associations, "3", dups, warnings, dropped)
        log.info("finalize: %d associations in, %d out (%d dropped, %d pruned as duplicates)", before,
                 len(associations), len(dropped), len(dups.pruned))
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

    jwst's equality requires the same asn_type and candidate level (``a`` vs
    ``o``/``c``), so in practice nothing is dropped; the test is kept, and
    only pairs that agree on those two are compared (what asns_equal tests
    first), so it costs nothing on large pools.
    """
    def key(asn: Association) -> tuple[str, str]:
        return asn.asn_type, asn.acid.id[:1]

    comparable: dict[tuple[str, str], list[Association]] = {}
    for candidate in candidates:
        comparable.setdefault(key(candidate), []).append(candidate)
    kept = discovered
    if comparable:
        kept = [d for d in discovered if not any(asns_equal(d, c) for c in comparable.get(key(d), ()))]
    return kept + candidates if keep_candidates else list(kept)
