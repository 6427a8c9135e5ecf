"""Running generation in parallel: local processes or a Dask cluster.

Two units of work. With several pools in one command, a pool is the unit: a
worker reads it, generates it whole and stages its files into the folders the
parent opened for the run (a Dask worker, which may not share this machine's disks,
sends back their names and bytes instead); they move into place only when
every pool is done. With one pool, the
passes (one per candidate, plus discovery) are the units: they are
independent, so they can run anywhere; each process takes the next group of
passes when it is free, the parent reads the associations as they come back, and
finalizes them in pass order. Either way the output is identical to a
serial run.

Local processes are forked: they inherit the compiled rules and the pool,
and send back associations (their rule is named by its position in the rule
set). With one pool the parent runs groups of passes too, between reading
what the workers sent, so ``-j N`` is N processes and only the workers'
results are pickled. A Dask worker gets the parsed rule files and the pool
once, compiles the rules itself, and keeps them (by a digest of their text)
for later passes and later commands on the same cluster.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from asnflow.assoc_rules.compile import RuleSet
from asnflow.dask_clients import ANOTHER_ASNFLOW, ANOTHER_ASNFLOW_HINT, DEFAULT_TIMEOUT, code_digest, dask_client
from asnflow.engine.collection import paused_collections
from asnflow.errors import AsnflowError, CarriedError
from asnflow.workers import claim_end, forked_pool, prompt_results, shared_ends, worker_count

_T = TypeVar("_T")


class _PassWork(NamedTuple):
    """What a forked worker of one pool's passes inherits."""

    ruleset: RuleSet
    rows: list
    columns: dict  # column name -> position, as the rows hold it
    pool_name: str
    column_names: tuple[str, ...]
    groups: list  # groups of (unit index, unit)
    claimed: object  # how many groups were taken from each end (workers.claim_end)


_INHERITED: _PassWork | None = None


def _inherited(value: _T | None, name: str) -> _T:
    """A module global the parent sets before it forks workers (None only if a worker started without it)."""
    if value is None:
        raise RuntimeError(f"{name} is not set: a worker started outside a parallel run")
    return value

# What a Dask worker has set up, by the digest of what it was sent: the last few only. A
# standing cluster serves pool after pool, and keeping every pool's rows and caches grew each
# worker by every pool it had ever run.
WORKER_KEEPS = 2
_PREPARED: OrderedDict[str, tuple] = OrderedDict()  # one pool's passes: rules, rows, caches
_RUN_INFO: dict = {}
_CACHE: tuple | None = None  # a forked pass worker's (rule set, RunCache)
# A Dask worker runs one task of ours at a time: the engine's caches (of a
# rule set, of a pool's rows) are not made for threads, and several threads
# in one worker would gain nothing under the GIL.
# While it runs, the worker's garbage collector is paused, as in a local
# run (see engine/collection.py): with the default thresholds a pool took
# about a quarter longer on a worker than in a local run.
_ONE_AT_A_TIME = threading.Lock()


def _run_state(ruleset, pool_name, column_names):
    from asnflow import __version__
    from asnflow.engine.association import RunState

    return RunState(vocab=ruleset.vocab, pool_name=pool_name, code_version=__version__, columns=column_names)


# Rows travel as references: (position in the pool, replaced ASN_CANDIDATE
# cell or None), resolved against the receiving process's rows. A reducer per
# type (rather than a persistent_id hook, which pickle calls for every
# object) keeps the cost to the rows and members themselves.
_LOADING: tuple[list, dict] | None = None  # (rows, per-candidate copies) while results are read


def _row_at(index: int, cell: str | None):
    rows, copies = _inherited(_LOADING, "_LOADING")
    if cell is None:
        return rows[index]
    row = copies.get((index, cell))
    if row is None:
        row = copies[(index, cell)] = rows[index].replace("asn_candidate", cell)
    return row


def _reduce_row(row):
    if row.origin is None:
        return row.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    return _row_at, row.origin


def _reduce_member(member):
    return _member_of, (*member.fields(), member.item)


def _member_of(*fields):
    from asnflow.engine.entries import Member

    return Member.of(*fields)


def _reduce_association(asn):
    """An association with its members packed: per product, the members' fields and, apart, where
    their rows are in the pool. A mosaic has thousands of members; rebuilding each through its
    own reducer cost more than the rest of the association."""
    state = asn.__getstate__()  # (rule index, products, the rest): see Association.TRAVELLING
    products = [(product.name, [member.fields() for member in product.members],
                 [_row_reference(member.item) for member in product.members])
                for product in state[1]]
    return _unpack_association, (type(asn), state[0], products, state[2:])


def _row_reference(item):
    """A pool row's (index, replaced cell); anything else (no row, a row made here) as itself."""
    origin = getattr(item, "origin", None)
    return origin if origin is not None else (None, item)


def _unpack_association(kind, rule_index, products, rest):
    from asnflow.engine.entries import Member, Product

    rows, copies = _inherited(_LOADING, "_LOADING")
    unpacked = []
    for name, members, references in products:
        items = []
        for index, cell in references:
            if index is None:
                items.append(cell)  # the item itself (see _row_reference)
            elif cell is None:
                items.append(rows[index])
            else:
                items.append(_row_at(index, cell))
        unpacked.append(Product(name, [Member.of(expname, exptype, exposerr, candidate, item)
                                       for (expname, exptype, exposerr, candidate), item
                                       in zip(members, items, strict=True)]))
    asn = kind.__new__(kind)
    asn.__setstate__((rule_index, unpacked, *rest))
    return asn


def _dumps(made, warnings) -> bytes:
    from asnflow.constraints.rows import Row
    from asnflow.engine.association import Association
    from asnflow.engine.entries import Member

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {Row: _reduce_row, Member: _reduce_member, Association: _reduce_association}
    pickler.dump((made, warnings))
    return buffer.getvalue()


def _loads(blob: bytes, rows: list, copies: dict):
    global _LOADING
    _LOADING = (rows, copies)
    try:
        return pickle.loads(blob)
    finally:
        _LOADING = None


def _run_forked(unit):
    from asnflow.engine.generate import run_unit

    work = _inherited(_INHERITED, "_INHERITED")
    run = _run_state(work.ruleset, work.pool_name, work.column_names)
    cache = _cache(work.ruleset, work.columns, run, len(work.rows))
    made = run_unit(unit, work.ruleset, work.rows, work.columns, run, cache=cache)
    return _dumps(made, run.warnings)


def _cache(ruleset, columns, run, rows: int):
    """The RunCache of a forked worker's passes (they share it; the worker serves one run)."""
    global _CACHE
    from asnflow.engine.passes import run_cache

    if _CACHE is None or _CACHE[0] is not ruleset:
        _CACHE = (ruleset, run_cache(ruleset, columns, run, rows))
    return _CACHE[1]


def _kept(table: OrderedDict, key: str, make: Callable[[], Any]) -> Any:
    """``table[key]``, made if missing; the table keeps the :data:`WORKER_KEEPS` used last."""
    found = table.get(key)
    if found is None:
        found = table[key] = make()
        while len(table) > WORKER_KEEPS:
            table.popitem(last=False)
    else:
        table.move_to_end(key)
    return found


# What every Dask worker of a run gets once, scattered, with a digest naming it: a worker keeps
# what it made of it (compiled rules, a pool's rows) by the digest. Tasks take the two as plain
# arguments, which every version of distributed resolves.


def _run_remote(rules_digest: str, rules_payload: bytes, pool_digest: str, pool_payload: bytes, unit):
    """Run one pass on a Dask worker (rules compiled once per worker, the pool prepared once per run)."""
    with _ONE_AT_A_TIME, paused_collections():
        return _run_remote_locked(rules_digest, rules_payload, pool_digest, pool_payload, unit)


def _run_remote_group(rules_digest: str, rules_payload: bytes, pool_digest: str, pool_payload: bytes,
                      indexed_units) -> list[tuple[int, bytes]] | CarriedError:
    """Run a group of passes on a Dask worker, one after the other (an error: carried back)."""
    try:
        return [(index, _run_remote(rules_digest, rules_payload, pool_digest, pool_payload, unit))
                for index, unit in indexed_units]
    except AsnflowError as error:
        return CarriedError(error)


def _run_remote_locked(rules_digest: str, rules_payload: bytes, pool_digest: str, pool_payload: bytes, unit):
    from asnflow.engine.generate import run_unit

    ruleset, rows, columns, pool_name, column_names, cache = _kept(
        _PREPARED, pool_digest, lambda: _prepare(_compiled(rules_digest, rules_payload), pool_payload))
    run = _run_state(ruleset, pool_name, column_names)
    made = run_unit(unit, ruleset, rows, columns, run, cache=cache)
    return _dumps(made, run.warnings)


def _prepare(ruleset: RuleSet, pool_payload: bytes) -> tuple:
    """What a Dask worker needs for one pool's passes: its rows and their caches."""
    from asnflow.engine.generate import bind_rows
    from asnflow.engine.passes import run_cache

    pool = pickle.loads(pool_payload)
    columns, rows = bind_rows(pool, ruleset)
    run = _run_state(ruleset, pool.name, tuple(pool.columns))
    return ruleset, rows, columns, pool.name, tuple(pool.columns), run_cache(ruleset, columns, run, len(rows))


def run_units(units, pool, ruleset: RuleSet, rows: list, jobs: int, scheduler: str | None,
              progress: Callable[[int], None] | None = None,
              timeout: float = DEFAULT_TIMEOUT) -> tuple[list[list], list[str]]:
    """The associations of each unit (in unit order), and the warnings of all.

    ``rows`` are this process's rows of the pool (bound to ``ruleset``); rows
    in the results refer to them. Each result is read as soon as it arrives,
    while the workers go on with the other units.
    """
    _RUN_INFO.update(pool_name=pool.name, columns=tuple(pool.columns))
    received: list = [None] * len(units)
    copies: dict = {}

    def keep(index: int, made: list, warnings: list[str]) -> None:
        received[index] = (made, warnings)
        if progress is not None:
            progress(units[index].items)

    def receive(index: int, blob: bytes) -> None:
        keep(index, *_loads(blob, rows, copies))

    if scheduler:
        _on_dask(units, pool, ruleset, scheduler, receive, timeout)
    else:
        _on_processes(units, ruleset, rows, jobs, receive, keep)
    outputs, warnings = [], []
    for made, said in received:
        outputs.append(made)
        warnings.extend(said)
    return outputs, warnings


def _largest_first(units) -> list[int]:
    return sorted(range(len(units)), key=lambda i: -units[i].items)


# Units are sent in groups, about this many per worker: enough for the
# workers to even out, few enough that handing them over (a millisecond or
# so each) stays small next to the passes (a pool of 300 tiny candidates).
# With 6, two of a 10,000-row pool's fourteen passes shared a group, and the
# worker sat idle while this process ran the pair last.
GROUPS_PER_WORKER = 8


def unit_groups(units, workers: int) -> list[list[int]]:
    """The units (by index) in groups of about equal exposure counts, largest group first.

    Each unit goes, largest first, to the group holding the fewest exposures
    so far; a unit larger than a group's share stays alone.
    """
    count = min(len(units), workers * GROUPS_PER_WORKER)
    loads = [0] * count
    groups: list[list[int]] = [[] for _ in range(count)]
    for index in _largest_first(units):
        least = loads.index(min(loads))
        loads[least] += max(units[index].items, 1)
        groups[least].append(index)
    order = sorted(range(count), key=lambda g: -loads[g])
    return [sorted(groups[g]) for g in order if groups[g]]


def _run_claimed_group(_token: int) -> list[tuple[int, bytes]]:
    """In a forked worker: the next unclaimed group's passes, sent back pickled (none left: [])."""
    work = _inherited(_INHERITED, "_INHERITED")
    group = claim_end(work.claimed, len(work.groups), back=False)
    if group is None:
        return []
    return [(index, _run_forked(unit)) for index, unit in work.groups[group]]


def _on_processes(units, ruleset, rows, jobs, receive: Callable[[int, bytes], None],
                  keep: Callable[[int, list, list[str]], None]) -> None:
    """Every unit on ``jobs`` processes: this one and ``jobs - 1`` forked workers. Each takes the
    next group of units when it is free: pass times differ too much from unit to unit to deal them
    all out beforehand. This process keeps what it made as it is and reads the workers' results
    between its own groups; only theirs are pickled.

    The groups are ordered largest first; the workers take them from the front, this process from
    the back. A small candidate's pass makes an association per exposure or so, which costs
    about as much to send as a third of the pass (10,000 rows: 46 ms for a pass of 880
    exposures, 17 ms to pickle and read back its 897 associations); a mosaic or discovery pass
    makes a few large ones (197 ms, and 29 ms). Taken from one end, either process got either.
    """
    global _INHERITED
    from asnflow.engine.generate import run_unit
    from asnflow.engine.passes import run_cache

    columns = rows[0].columns if rows else {}
    pool_name, column_names = _RUN_INFO["pool_name"], _RUN_INFO["columns"]
    processes = worker_count(jobs, len(units))
    groups = [[(i, units[i]) for i in group] for group in unit_groups(units, processes)]
    claimed = shared_ends()
    _INHERITED = _PassWork(ruleset, rows, columns, pool_name, column_names, groups, claimed)
    workers = _forked_pool(processes - 1)
    try:
        # One token per group: a worker holding a token claims the next group left, if any.
        results = workers.imap_unordered(_run_claimed_group, range(len(groups)))
        cache = run_cache(ruleset, columns, _run_state(ruleset, pool_name, column_names), len(rows))
        with prompt_results():
            while (group := claim_end(claimed, len(groups), back=True)) is not None:
                for index, unit in groups[group]:
                    run = _run_state(ruleset, pool_name, column_names)
                    keep(index, run_unit(unit, ruleset, rows, columns, run, cache=cache), run.warnings)
                _receive_ready(results, receive, wait=False)
        _receive_ready(results, receive, wait=True)
        workers.close()
    finally:
        # On an error or an interruption (Ctrl-C, SIGTERM) the workers are
        # stopped at once rather than left to finish their passes.
        workers.terminate()
        workers.join()
        _INHERITED = None


def _receive_ready(results, receive: Callable[[int, bytes], None], wait: bool) -> None:
    """Read the workers' results that have arrived (with ``wait``, all of them)."""
    import multiprocessing

    while True:
        try:
            ready = results.next() if wait else results.next(timeout=0)
        except (StopIteration, multiprocessing.TimeoutError):
            return
        for index, blob in ready:
            receive(index, blob)


def _on_dask(units, pool, ruleset, scheduler, receive: Callable[[int, bytes], None],
             timeout: float = DEFAULT_TIMEOUT) -> None:
    as_completed = _dask_as_completed()
    rules_digest, rules_payload = _rules_shipped(ruleset)
    pool_payload = pickle.dumps(pool, protocol=pickle.HIGHEST_PROTOCOL)
    # What a worker prepares for the pool (rows, the rule set's caches on them) is for these rules.
    pool_digest = hashlib.sha256(rules_digest.encode() + pool_payload).hexdigest()
    with dask_client(scheduler, timeout=timeout) as client:
        rules_shared = client.scatter(rules_payload, broadcast=True)
        pool_shared = client.scatter(pool_payload, broadcast=True)
        groups = unit_groups(units, max(2, len(client.nthreads())))
        futures = [client.submit(_run_remote_group, rules_digest, rules_shared, pool_digest, pool_shared,
                                 [(i, units[i]) for i in group], pure=False)
                   for group in groups]
        for future in as_completed(futures):
            result = future.result()
            if isinstance(result, CarriedError):
                raise result.error()
            for index, blob in result:
                receive(index, blob)


# ---------------------------------------------------------------- whole pools
# With several pools, a pool is the unit of work: a worker reads it (a Dask worker from the
# file's bytes, which need not be on its disks), generates it,
# validates and serialises its files and stages them (a Dask worker sends back
# their names and bytes, which the parent stages as they arrive), and sends back the few
# facts the summary lines need. The staged files move into place at the end,
# all or nothing, as a serial run's do. Staging in the forked workers keeps
# the writing off the parent, which otherwise wrote every pool's files after
# the last pool was done: 36 ms of the 40-pool corpus's 0.9 s at -j 2.

_POOLS: tuple | None = None  # what forked workers inherit: (pools, ruleset, options, delivery)
_RULES: OrderedDict[str, RuleSet] = OrderedDict()  # a Dask worker's rule sets, by the digest of their text


class PoolFile(NamedTuple):
    """A pool not read yet: the worker that generates it reads it, from the file (a forked
    worker) or from ``data``, the file's bytes read here (a Dask worker, which need not share
    this machine's disks).

    With several pools the parent parses none of them: reading every pool
    before the first worker started was serial work (the 40-pool corpus: 22 ms
    of a 0.5 s run at ``-j 2``; 400 pools, 0.45 s) and held every pool in
    memory at once.
    """

    path: str
    delimiter: str = "|"
    data: bytes | None = None


class UnreadPool(CarriedError):
    """A pool its worker could not read: reported before any other pool's error, as a serial run
    reads every pool before it generates any."""


class Delivery(NamedTuple):
    """What a worker sends back for each pool: its files rendered in ``fmt`` (without ``files``,
    only their names), and what ``diagnose`` makes of the run's result (see session.generate_documents).

    With ``into`` (an open :class:`~asnflow.asnfile.files.StagedWrite`, one folder per pool), a
    forked worker stages the files itself and sends back only their names and what each turned
    out to be: the parent then has nothing left to write when the last pool is done. Dask workers
    need not share this machine's disks, so they send the files, and the parent stages each
    pool's as they arrive.
    """

    fmt: str = "json"
    files: bool = True
    diagnose: Callable | None = None
    into: Any = None


def _outcome_of(pool, ruleset: RuleSet, options, delivery: Delivery):
    from asnflow.engine.session import rendered_outcome

    try:
        return rendered_outcome(pool, ruleset, options, delivery.fmt, delivery.files, delivery.diagnose)
    except AsnflowError as error:
        return CarriedError(error)


def _pool_forked(index: int):
    pools, ruleset, options, delivery = _inherited(_POOLS, "_POOLS")
    pool = pools[index]
    if isinstance(pool, PoolFile):
        return index, _read_and_generate(pool, ruleset, options, delivery, index)
    return index, _generated_and_staged(pool, ruleset, options, delivery, index)


def _read_and_generate(source: PoolFile, ruleset: RuleSet, options, delivery: Delivery, index: int):
    """A forked worker's pool read from its file, then generated; the outcome carries what the
    summary needs of the pool (``pool_shape``). An empty pool is not generated (``pool_rows`` 0)."""
    from asnflow.engine.session import Outcome
    from asnflow.pool.read import parse_pool, read_pool

    try:
        if source.data is None:
            pool = read_pool(source.path, delimiter=source.delimiter)
        else:
            pool = parse_pool(source.data, source.path, delimiter=source.delimiter)
    except AsnflowError as error:
        return UnreadPool(error)
    outcome = _generated_and_staged(pool, ruleset, options, delivery, index) if len(pool) else Outcome([])
    if not isinstance(outcome, CarriedError):
        outcome.pool_shape = pool.shape()
    return outcome


def _generated_and_staged(pool, ruleset: RuleSet, options, delivery: Delivery, index: int):
    outcome = _outcome_of(pool, ruleset, options, delivery)
    if isinstance(outcome, CarriedError):
        return outcome
    if delivery.into is not None:
        try:
            _stage(outcome, delivery.into, index)
        except AsnflowError as error:
            return CarriedError(error)
    return outcome


def _stage(outcome, into, index: int) -> None:
    """Stage an outcome's rendered files into folder ``index`` of ``into``; keep only their names."""
    if outcome.rendered is not None:
        outcome.staged = into.put_rendered(index, outcome.rendered)
        outcome.file_names, outcome.rendered = outcome.rendered.names, None


def _pool_remote(rules_digest: str, rules_payload: bytes, pool, options, delivery: Delivery):
    """One whole pool on a Dask worker (the rules compiled once per worker)."""
    with _ONE_AT_A_TIME, paused_collections():
        try:
            ruleset = _compiled(rules_digest, rules_payload)
        except AsnflowError as error:
            return CarriedError(error)
        if isinstance(pool, PoolFile):
            return _read_and_generate(pool, ruleset, options, delivery, 0)
        return _outcome_of(pool, ruleset, options, delivery)


def _rules_shipped(ruleset: RuleSet) -> tuple[str, bytes]:
    """The rule set as Dask workers get it: its parsed files, and which of them register rules.

    Parsed files travel, not their text: a worker compiles them in about
    20 ms, where parsing the text again took 0.2 s (0.5 s for the first,
    while lark builds its parser). The digest is of the files' text, with
    the registering files in a fixed order: taken over a set, whose order
    changes from process to process, it gave the same rules two names, and
    each worker of a standing cluster compiled and kept them twice.

    The digest of this process's asnflow code travels too, and names the
    rules with theirs: a worker compiles only rules sent by the same code.
    """
    registered = tuple(sorted({rule.path for rule in ruleset.rules}))
    code = code_digest()
    text = pickle.dumps(([(f.path, f.lines) for f in ruleset.files], registered, code),
                        protocol=pickle.HIGHEST_PROTOCOL)
    payload = pickle.dumps((ruleset.files, registered, code), protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(text).hexdigest(), payload


def _compiled(digest: str, payload: bytes) -> RuleSet:
    """On a Dask worker: the rule set shipped as ``payload``, compiled once and kept by its digest."""
    return _kept(_RULES, digest, lambda: _compile_parsed(payload))


def _compile_parsed(payload: bytes) -> RuleSet:
    from asnflow.assoc_rules.compile import compile_files

    files, registered, code = pickle.loads(payload)
    if code != code_digest():
        raise AsnflowError(ANOTHER_ASNFLOW, hint=ANOTHER_ASNFLOW_HINT)
    return compile_files(files, [f for f in files if f.path in registered])


def generate_pools(pools: list, ruleset: RuleSet, options, delivery: Delivery | None = None,
                   jobs: int = 1, scheduler: str | None = None,
                   progress: Callable[[int], None] | None = None, timeout: float = DEFAULT_TIMEOUT) -> list:
    """The :class:`~asnflow.engine.session.Outcome` of each pool (in the order given), pools run in
    ``jobs`` processes or on the Dask ``scheduler``; each carries what ``delivery`` asks for.

    A pool may be given as a :class:`PoolFile` (on Dask, with its ``data``):
    its worker reads it, and its outcome's ``pool_shape`` says what it held;
    an empty one has ``pool_rows`` 0 and nothing generated. ``progress`` is called with 1 as
    each pool is done. The first pool (in the order given) that could not be
    read raises its error; failing that, the first that failed.
    """
    delivery = delivery or Delivery()
    if scheduler and any(isinstance(pool, PoolFile) and pool.data is None for pool in pools):
        raise ValueError("Dask workers need not share this machine's disks: send them the pools' bytes")
    sizes = [_size(pool) for pool in pools]
    order = sorted(range(len(pools)), key=lambda i: -sizes[i])  # largest first: the last to finish is small
    if scheduler:
        results = _pools_on_dask(pools, order, ruleset, options, delivery, scheduler, progress, timeout)
    else:
        results = _pools_on_processes(pools, order, ruleset, options, delivery, jobs, progress)
    failures = [result for result in results if isinstance(result, CarriedError)]
    if failures:
        unread = [failure for failure in failures if isinstance(failure, UnreadPool)]
        raise (unread or failures)[0].error()
    return results


def _size(pool) -> int:
    """How much work a pool is, roughly: its rows, or a file not read yet by its size in bytes."""
    if not isinstance(pool, PoolFile):
        return len(pool)
    if pool.data is not None:
        return len(pool.data)
    try:
        return os.stat(pool.path).st_size
    except OSError:  # its worker says what is wrong with it
        return 0


def _pools_on_processes(pools, order, ruleset, options, delivery, jobs, progress) -> list:
    global _POOLS
    _POOLS = (pools, ruleset, options, delivery)
    results: list = [None] * len(pools)
    workers = _forked_pool(worker_count(jobs, len(pools)))
    try:
        for index, outcome in workers.imap_unordered(_pool_forked, order):
            results[index] = outcome
            if progress is not None:
                progress(1)
        workers.close()
    finally:
        workers.terminate()
        workers.join()
        _POOLS = None
    return results


def _pools_on_dask(pools, order, ruleset, options, delivery, scheduler, progress, timeout) -> list:
    """Each pool on a Dask worker. The workers send their files back (they need not share this
    machine's disks); with ``delivery.into`` this process stages each pool's as it arrives."""
    as_completed = _dask_as_completed()
    rules_digest, rules_payload = _rules_shipped(ruleset)
    into, sent = delivery.into, delivery._replace(into=None)
    with dask_client(scheduler, timeout=timeout) as client:
        rules_shared = client.scatter(rules_payload, broadcast=True)
        futures = {client.submit(_pool_remote, rules_digest, rules_shared, pools[i], options, sent, pure=False): i
                   for i in order}
        results: list = [None] * len(pools)
        for future in as_completed(list(futures)):
            index = futures[future]
            outcome = results[index] = future.result()
            if into is not None and not isinstance(outcome, CarriedError):
                _stage(outcome, into, index)
            if progress is not None:
                progress(1)
        return results


def _forked_pool(processes: int):
    try:
        return forked_pool(processes)
    except ValueError:  # pragma: no cover - platforms without fork
        raise AsnflowError("--jobs needs a platform that can fork processes; use --jobs 1") from None


def _dask_as_completed():
    try:
        from distributed import as_completed
    except ImportError:
        raise AsnflowError("--scheduler needs Dask distributed", hint="pip install 'asnflow[dask]'") from None
    return as_completed
