"""asnflow generate POOL… : associations from association pools, as jwst's asn_generate."""

from __future__ import annotations

import argparse
import sys

from asnflow.dask_clients import DEFAULT_TIMEOUT, positive_seconds


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="make association files from a pool (as jwst asn_generate)",
        description="Generate JWST associations from an association pool, with jwst 3.0.0's rules and "
        "options; the files are the ones asn_generate writes.",
    )
    parser.add_argument("pool", nargs="+",
                        help="association pool file(s) (| separated; gzip allowed); with several, "
                        "-p gets one folder per pool")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("-i", "--ids", nargs="+", metavar="ID", help="only these association candidates")
    modes.add_argument("--discover", action="store_true", help="only discovered associations")
    modes.add_argument("--all-candidates", action="store_true", help="only candidate associations (no discovery)")
    parser.add_argument("-p", "--path", default=".", help="output folder (default: the current folder)")
    parser.add_argument("--DMS", dest="dms", action="store_true",
                        help="DMS conditions: with -i, also background candidates, and keep only the given ids")
    parser.add_argument("--version-id", nargs="?", const=True, default=None, metavar="ID",
                        help="version stamp in file names; without a value, the current UTC time")
    parser.add_argument("-r", "--rules", action="append", default=[], metavar="FILE",
                        help="a rule file adding or replacing rules (repeatable)")
    parser.add_argument("--ignore-default", action="store_true", help="drop the default rules (use with -r)")
    parser.add_argument("--dry-run", action="store_true",
                        help="generate but write nothing; print the paths of the files it would write")
    parser.add_argument("-d", "--delimiter", default="|", help="pool cell delimiter (default: |)")
    parser.add_argument("--no-finalize", action="store_true", help="skip finalize (nod splits, pruning, ...)")
    parser.add_argument("--merge", action="store_true", help="merge level-2 associations per candidate and type")
    parser.add_argument("--format", choices=("json", "yaml"), default="json", help="file format (default: json)")
    parser.add_argument("-j", "--jobs", type=_jobs, default=1, metavar="N",
                        help="run in N processes: whole pools when several are given, else the candidates' passes "
                        "and then the writing of the files (with --scheduler: the writing only; 0: one per CPU; "
                        "never more than the CPUs or the work); the files are the same")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the pools (or one pool's candidates) on a Dask distributed scheduler "
                        "(tcp://host:8786) instead")
    parser.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"how long to try to reach --scheduler (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--strict", action="store_true",
                        help="warnings about -r rule files, and a -r rule that makes no association, are errors "
                        "(exit status 2, nothing written)")
    parser.add_argument("--orphans", metavar="FILE", help="write the exposures that ended in no association, each "
                        "with a one-line reason (tab-separated; JSON for a .json name)")
    parser.add_argument("--remove-stale", action="store_true",
                        help="delete association files in the output folder that this run did not make")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log progress (INFO): each pass with its exposures, associations and time; finalize")
    parser.add_argument("-D", "--debug", action="store_true",
                        help="debug log (DEBUG: also each association made and each rule not tried, and why); "
                        "keep pruned duplicates as dupNNNNN_… files, as jwst does")
    parser.set_defaults(handler=run)


def _jobs(text: str) -> int:
    import os

    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of processes: {text!r}") from None
    if jobs < 0:
        raise argparse.ArgumentTypeError("the number of processes cannot be negative")
    return jobs or (os.cpu_count() or 1)


def run(args: argparse.Namespace) -> int:
    from asnflow.engine.collection import paused_collections

    with paused_collections():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import logging

    from asnflow.engine.session import rule_set

    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    _check_arguments(args)
    rules = rule_set(args.rules, args.ignore_default, strict=args.strict)
    work = _pools_and_folders(args)
    show_progress = not args.quiet and level > logging.INFO
    # Every pool is generated before anything is moved into place: a pool
    # that fails leaves every output folder as it was.
    with _staged_as_generated(args, work) as staged:
        outcomes = _generate(args, rules, work, show_progress, staged)
        if args.dry_run:
            for _pool, folder, outcome, _idle in outcomes:
                for name in outcome.names(args.format):
                    print(folder / name)
        reports = [None] * len(outcomes) if args.dry_run else _write(args, outcomes, staged)
    for (pool, folder, outcome, idle), report in zip(outcomes, reports, strict=True):
        _summarise_pool(args, rules, pool, folder, outcome, idle, report)
    if args.orphans:
        from asnflow.diagnose.orphans import write_orphans

        orphans = [orphan for _, _, outcome, _ in outcomes for orphan in outcome.diagnosis]
        write_orphans(args.orphans, orphans, option="--orphans")
        if not args.quiet:
            print(f"{len(orphans)} orphaned exposures listed in {args.orphans}", file=sys.stderr)
    from asnflow.cli import hold_to_exit

    hold_to_exit(work, outcomes)
    return 0


def _options(args: argparse.Namespace):
    from asnflow.engine.generate import Options

    return Options(
        ids=tuple(args.ids) if args.ids else None,
        discover=args.discover,
        all_candidates=args.all_candidates,
        version_id=args.version_id,
        finalize=not args.no_finalize,
        merge=args.merge,
        dms=args.dms,
        keep_duplicates=args.debug,
    )


def _check_arguments(args: argparse.Namespace) -> None:
    from asnflow.errors import AsnflowError
    from asnflow.fsutil import check_output_file

    if args.ignore_default and not args.rules:
        raise AsnflowError("--ignore-default leaves no rules", hint="give rule files with -r")
    _check_names(args)
    if args.orphans:
        check_output_file(args.orphans, option="--orphans")


def _pools_and_folders(args: argparse.Namespace) -> list:
    """Each pool with rows and the folder it writes into (one per pool when several are given).

    The pools are read here, except when several run in parallel: then each is
    a :class:`~asnflow.engine.parallel.PoolFile` that its worker reads (a Dask
    worker from the file's bytes, read here), and an empty one is only found
    out (and left out) once the workers are done.
    """
    from pathlib import Path

    from asnflow.errors import AsnflowError
    from asnflow.fsutil import check_output_folder

    output = Path(args.path)
    several = len(args.pool) > 1
    stems = [Path(path).name.split(".")[0] for path in args.pool]
    if several:
        repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
        if repeated:
            raise AsnflowError(f"two pools would write into the same folder {output / repeated[0]}",
                               hint="give pools with different file names")
    folders = [output / stem if several else output for stem in stems]
    if not args.dry_run:
        for folder in folders:
            check_output_folder(folder, option="-p")
    if _whole_pools_in_parallel(args, len(args.pool)):
        from asnflow.engine.parallel import PoolFile
        from asnflow.pool.read import read_pool_bytes

        # Dask workers need not share this machine's disks: they get each file's bytes
        return [(PoolFile(str(path), args.delimiter, read_pool_bytes(path, args.delimiter) if args.scheduler else None),
                 folder) for path, folder in zip(args.pool, folders, strict=True)]
    from asnflow.pool.read import read_pool

    pools = [read_pool(path, delimiter=args.delimiter) for path in args.pool]
    for pool in pools:
        _say_if_empty(pool)
    return [(pool, folder) for pool, folder in zip(pools, folders, strict=True) if len(pool)]


def _say_if_empty(pool) -> None:
    if not len(pool):
        print(f"{pool.name}: the pool has a header and no rows: no associations, nothing written",
              file=sys.stderr)


def _staged_as_generated(args: argparse.Namespace, work: list):
    """The folders' write, opened before the pools run when there are several: each pool's files
    are then staged as soon as it is done (here, by a forked worker, or here as a Dask worker's
    arrive), so a run holds no more than one pool's documents (one per worker) however many
    pools it is given. Otherwise (one pool, a dry run) nothing (None)."""
    import contextlib

    if args.dry_run or len(work) < 2:
        return contextlib.nullcontext()
    from asnflow.asnfile.files import staged_write

    return staged_write([folder for _, folder in work], remove_stale=args.remove_stale)


def _generate(args: argparse.Namespace, rules, work: list, show_progress: bool, staged=None) -> list:
    """(pool, folder, outcome, idle user rules) of each pool, generated whole pools at a time in
    parallel when there are several, else pool by pool. With --orphans, each outcome's diagnosis
    holds the orphans found in that run's own result."""
    from asnflow.errors import AsnflowError

    options = _options(args)
    diagnose = None
    if args.orphans:
        from asnflow.diagnose.orphans import find_orphans

        diagnose = find_orphans
    if _whole_pools_in_parallel(args, len(work)):
        generated = _generate_in_parallel(args, rules, options, work, diagnose, show_progress, staged)
        work = _read_by_workers(work, generated, staged)
        generated = [outcome for outcome in generated if outcome.pool_rows]
    else:
        generated = [_generate_one(args, rules, options, pool, diagnose, show_progress, staged, index)
                     for index, (pool, _) in enumerate(work)]
    outcomes = []
    for (pool, folder), outcome in zip(work, generated, strict=True):
        idle = _idle_user_rules(rules, args.rules, outcome)
        if idle and args.strict:
            first = idle[0]
            raise AsnflowError(f"rule {first.name} made no association"
                               + (f" (nor did {len(idle) - 1} more of the -r rules)" if len(idle) > 1 else ""),
                               path=first.path, line=first.source.pos.line,
                               hint=f"see `asnflow explain {pool.name} EXPOSURE --rule {first.name}`")
        outcomes.append((pool, folder, outcome, idle))
    return outcomes


def _read_by_workers(work: list, generated: list, staged=None) -> list:
    """The pools the workers read themselves, as they found them (their shapes); the empty ones
    are said and left out, their folders left as they were."""
    kept = []
    for index, ((pool, folder), outcome) in enumerate(zip(work, generated, strict=True)):
        pool = outcome.pool_shape if outcome.pool_shape is not None else pool
        if outcome.pool_rows:
            kept.append((pool, folder))
            continue
        _say_if_empty(pool)
        if staged is not None:
            staged.leave(index)
    return kept


def _generate_in_parallel(args: argparse.Namespace, rules, options, work: list, diagnose,
                          show_progress: bool, staged=None) -> list:
    """Several pools: each pool is a unit of work, generated whole by a worker.

    Spreading a dominant pool's passes instead was tried and measured: its
    passes then fill the row caches twice over (each worker its own), and the
    40-pool corpus took longer with it than without.
    """
    from asnflow.engine.parallel import Delivery, generate_pools
    from asnflow.progress import ProgressBar

    pools = [pool for pool, _ in work]
    with ProgressBar("generate", len(pools), "pools", enabled=show_progress) as bar:
        return generate_pools(pools, rules, options, Delivery(args.format, not args.dry_run, diagnose, staged),
                              jobs=args.jobs, scheduler=args.scheduler, progress=bar.advance, timeout=args.timeout)


def _generate_one(args: argparse.Namespace, rules, options, pool, diagnose, show_progress: bool,
                  staged=None, index: int = 0):
    """One pool's outcome; with ``staged``, its files are staged into folder ``index`` at once and
    only their names kept."""
    from asnflow.engine.session import generate_documents
    from asnflow.progress import ProgressBar

    with ProgressBar(pool.name, 0, enabled=show_progress) as bar:
        outcome = generate_documents(pool, rules, options, progress=bar.advance, jobs=args.jobs,
                                     scheduler=args.scheduler, on_plan=bar.restart, timeout=args.timeout,
                                     diagnose=diagnose)
    if staged is not None:
        outcome.file_names, outcome.staged = staged.put_batch(index, outcome.documents, args.format)
        outcome.documents = []
    return outcome


def _write(args: argparse.Namespace, outcomes: list, staged=None) -> list:
    """Write every pool's files (all or nothing); the report of each folder. With ``staged``, they
    were staged as each pool was done: what each file turned out to be is recorded, and the files
    move into place as ``staged`` closes."""
    from asnflow.asnfile.files import write_folders

    if staged is not None:
        reports = []
        for _pool, folder, outcome, _idle in outcomes:
            index = staged.index(folder)  # empty pools have none of the outcomes, but a folder each
            staged.record(index, outcome.file_names, outcome.staged)
            outcome.written = staged.reports[index].paths
            reports.append(staged.reports[index])
        return reports
    written = write_folders([(outcome.rendered or outcome.documents, folder) for _, folder, outcome, _ in outcomes],
                            args.format, remove_stale=args.remove_stale, jobs=args.jobs)
    for (_pool, _folder, outcome, _idle), report in zip(outcomes, written, strict=True):
        outcome.written = report.paths
    return list(written)


def _summarise_pool(args: argparse.Namespace, rules, pool, folder, outcome, idle, report) -> None:
    from asnflow.diagnose.needed_columns import pool_warning

    for cid in outcome.missing_ids:
        print(f"{pool.name}: warning: candidate {cid} is not in the pool", file=sys.stderr)
    if args.quiet:
        return
    _summarise_warnings(pool.name, outcome.warnings)
    lacking = pool_warning(rules.rules, pool, bool(outcome.made))
    if lacking:
        print(f"{pool.name}: warning: {lacking}", file=sys.stderr)
    for rule in idle:
        print(f"{pool.name}: warning: rule {rule.name} ({rule.path}:{rule.source.pos.line}) "
              "made no association", file=sys.stderr)
    counts = ", ".join(f"{t} {n}" for t, n in sorted(outcome.counts().items()))
    where = "(dry run, nothing written)" if args.dry_run else f"in {folder}"
    print(f"{pool.name}: {outcome.pool_rows} exposures, {len(outcome.made)} associations"
          f"{' (' + counts + ')' if counts else ''} {where}", file=sys.stderr)
    if report is None:
        return
    print(f"{pool.name}: {report.line()}", file=sys.stderr)
    if args.verbose:
        verb = "removed" if report.removed else "not made by this run"
        for name in report.removed or report.stale:
            print(f"{pool.name}: {verb}: {folder / name}", file=sys.stderr)


def _whole_pools_in_parallel(args: argparse.Namespace, pools: int) -> bool:
    """Whether the pools themselves are the units of parallel work (several pools, and -j or --scheduler)."""
    if pools < 2:
        return False
    if args.scheduler:
        return True
    from asnflow.workers import worker_count

    return worker_count(args.jobs, pools) > 1


def _idle_user_rules(rules, user_files: list[str], outcome) -> list:
    """The rules of the -r files (as given) that made none of the written associations."""
    from pathlib import Path

    if not user_files:
        return []
    given = {Path(path).resolve() for path in user_files}
    made = {rule for _, rule in outcome.made}
    return [rule for rule in rules.rules if Path(rule.path).resolve() in given and rule.name not in made]


def _check_names(args: argparse.Namespace) -> None:
    """Values from the command line that become part of file names."""
    from asnflow.pathnames import check_name

    if isinstance(args.version_id, str):
        check_name(args.version_id, "value", option="--version-id")
    for candidate_id in args.ids or ():
        check_name(candidate_id, "candidate id", option="-i")


def _summarise_warnings(pool_name: str, warnings: list[str], shown: int = 3) -> None:
    """The engine's warnings on stderr (each once), a few in full and the count of the rest."""
    warnings = list(dict.fromkeys(warnings))
    for warning in warnings[:shown]:
        print(f"{pool_name}: warning: {warning}", file=sys.stderr)
    if len(warnings) > shown:
        print(f"{pool_name}: warning: ... and {len(warnings) - shown} more like these", file=sys.stderr)
