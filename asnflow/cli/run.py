"""``asnflow run``: calibrate every association (and raw exposure) in dependency order."""

from __future__ import annotations

import argparse
import os

from asnflow.engine.scheduler import DEFAULT_TIMEOUT, positive_seconds

EXECUTORS = ("serial", "process", "dask")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the calibration modules over association files, in dependency order",
        description=(
            "Run each association's calibration module (and detector1 for each raw exposure) once its "
            "inputs exist. Nodes whose outputs are newer than their inputs are skipped; a failure skips "
            "everything downstream. Every node is logged in DATA/asnflow-run.jsonl. Exit status: 0 all "
            "done, 1 some node failed, 2 nothing ran (bad input, missing files)."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="association files (JSON or YAML) or folders of *_asn files")
    parser.add_argument("--data", required=True, metavar="DIR", help="the flat folder inputs are read from and outputs written to")
    parser.add_argument("--executor", choices=EXECUTORS, default="process", help="where nodes run (default: process)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, metavar="N", help="parallel workers (default: the number of CPUs)"
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="with --executor dask: a running scheduler (tcp://host:8786) instead of a local cluster"
    )
    parser.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"how long to try to reach --scheduler (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--retries", type=int, default=0, metavar="N", help="run a failed node up to N more times")
    parser.add_argument("--dry-run", action="store_true", help="print what would run, in order, with the reasons; run nothing")
    parser.add_argument("--force", action="store_true", help="rerun nodes whose outputs are up to date")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress line on stderr")
    parser.add_argument("--no-exposures", action="store_true", help="leave out detector1: _rate files must be in DIR")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option for the calibration modules, e.g. maximum_cores=1 (repeatable; VALUE is read as YAML)",
    )
    parser.add_argument(
        "--crds-cache",
        metavar="DIR",
        help="a synced CRDS cache to take reference files from, offline (default: a crds/ cache in DIR, "
        "else $CRDS_PATH)",
    )
    parser.add_argument("--config", metavar="RULES_YAML", help="a rules.yaml whose calibration table to use")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from asnflow.config import load_config
    from asnflow.engine.dispatch import FAILED, check_data_folder, plan_run, run_graph
    from asnflow.engine.graph import build_graph, describe_missing
    from asnflow.errors import GraphError

    data_dir = Path(args.data)
    check_data_folder(data_dir)
    options = _parse_options(args.option)
    calibration = load_config(args.config).calibration
    graph = build_graph(args.paths, calibration=calibration, exposures=not args.no_exposures, data_dir=data_dir)

    if args.dry_run:
        plan = plan_run(graph, data_dir, force=args.force)
        if plan.missing:
            raise GraphError(describe_missing(plan.missing), path=str(data_dir))
        for line in plan.lines():
            print(line)
        would_run = len(plan.to_run)
        print(f"{would_run} would run, {len(plan.steps) - would_run} up to date")
        return 0

    summary = run_graph(
        graph,
        data_dir,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        options=options,
        provider=_reference_provider(args.crds_cache, data_dir),
        force=args.force,
        retries=args.retries,
        progress=not args.quiet,
        timeout=args.timeout,
    )
    problems = [r for r in summary.results if r.status == FAILED or r.reason.startswith("upstream ")]
    if problems:
        width = max(len(r.node_id) for r in problems)
        for result in problems:
            print(f"{result.status:<9}  {result.node_id:<{width}}  {result.reason}")
    print(summary.line())
    if summary.failed:
        print(f"details: {summary.log_path}")
    return summary.exit_status


def _parse_options(items: list[str]) -> dict[str, object]:
    import yaml

    from asnflow.errors import InputError

    options: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--option {item!r} is not KEY=VALUE")
        try:
            options[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            options[key.strip()] = value
    return options


def _reference_provider(crds_cache: str | None, data_dir):
    """Reference files from a CRDS cache used offline; modules that need none never ask.

    Without ``--crds-cache``, a cache in the data folder's ``crds/`` (what
    ``asnflow demo`` and the parity harness write beside their data) comes
    before ``$CRDS_PATH``.
    """
    from pathlib import Path

    from asnflow.errors import InputError

    if crds_cache is not None and not Path(crds_cache).is_dir():
        raise InputError("the CRDS cache folder does not exist", path=crds_cache)
    beside = Path(data_dir) / "crds"
    if crds_cache is None and (beside / "config" / "jwst" / "server_config").is_file():
        crds_cache = str(beside)
    try:
        from asnflow.calib.refs import CrdsRefs
    except ImportError:
        return None
    return CrdsRefs(cache=Path(crds_cache).resolve() if crds_cache else None)
