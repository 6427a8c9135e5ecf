"""``asnflow run``: calibrate every association (and raw exposure) in dependency order."""

from __future__ import annotations

import argparse
import os
import sys

from asnflow.dask_clients import DEFAULT_TIMEOUT, positive_seconds

EXECUTORS = ("serial", "process", "dask")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the calibration modules over association files, in dependency order",
        description=(
            "Run each association's calibration module (and detector1 for each raw exposure) once its "
            "inputs exist. A node is skipped when what made its outputs (association content, input "
            "content, module and version, parameters, reference files) is what would make them now; a "
            "failure skips everything downstream. Every execution is recorded in the provenance store "
            "(see `asnflow provenance`) and logged in DATA/asnflow-run.jsonl. Exit status: 0 all done, "
            "1 some node failed, 2 nothing ran (bad input, missing files or modules)."
        ),
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="association files (JSON or YAML) or folders of *_asn files"
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="the flat folder inputs are read from and outputs written to (default: the folder of the "
        "association files)",
    )
    parser.add_argument("--executor", choices=EXECUTORS, default="process", help="where nodes run (default: process)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="parallel workers (default: the number of CPUs)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --executor dask: a running scheduler (tcp://host:8786) instead of a local cluster",
    )
    parser.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"how long to try to reach --scheduler (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--retries", type=int, default=0, metavar="N", help="run a failed node up to N more times")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would run, in order, with the reasons, marking missing inputs and modules; run nothing "
        "(exit status 2 when something is missing)",
    )
    parser.add_argument("--force", action="store_true", help="rerun nodes whose outputs are up to date")
    talk = parser.add_mutually_exclusive_group()
    talk.add_argument("--quiet", "-q", action="store_true", help="only the summary: no progress and no line per node")
    talk.add_argument("--verbose", "-v", action="store_true", help="a line per node on stderr, up-to-date ones too")
    parser.add_argument(
        "--rebuild-provenance",
        action="store_true",
        help="set a corrupt or foreign provenance store aside (as .corrupt) and start a new one",
    )
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
    from asnflow.errors import GraphError
    from asnflow.workflow.dispatch import FAILED, check_data_folder, plan_run, run_graph
    from asnflow.workflow.graph import build_graph, describe_missing, refuse_unavailable

    data_dir = Path(args.data) if args.data is not None else _association_folder(args.paths)
    check_data_folder(data_dir)
    options = _parse_options(args.option)
    calibration = load_config(args.config).calibration
    graph = build_graph(args.paths, calibration=calibration, exposures=not args.no_exposures, data_dir=data_dir)
    provider = _reference_provider(args.crds_cache, data_dir)

    if args.dry_run:
        plan = plan_run(graph, data_dir, force=args.force, options=options, provider=provider)
        refuse_unavailable(graph, plan.to_run)
        for line in plan.lines():
            print(line)
        would_run = len(plan.to_run)
        print(f"{would_run} would run, {len(plan.steps) - would_run} up to date")
        if plan.unavailable:
            modules = sorted(set(plan.unavailable.values()))
            print(f"asnflow: error: {len(plan.unavailable)} node(s) need a module that is not available "
                  f"(marked MODULE NOT AVAILABLE above): {modules[0]}", file=sys.stderr)
        if plan.missing:
            raise GraphError(describe_missing(plan.missing) + " (marked MISSING above)", path=str(data_dir))
        return 2 if plan.unavailable else 0

    lines = _NodeLines(verbose=args.verbose, enabled=not args.quiet)
    summary = run_graph(
        graph,
        data_dir,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        options=options,
        provider=provider,
        force=args.force,
        retries=args.retries,
        progress=not args.quiet and not lines.per_node,
        timeout=args.timeout,
        on_finish=lines.show,
        rebuild_provenance=args.rebuild_provenance,
    )
    problems = [r for r in summary.results if r.status == FAILED or r.reason.startswith("upstream ")]
    if problems:
        width = max(len(r.node_id) for r in problems)
        for result in problems:
            print(f"{result.status:<9}  {result.node_id:<{width}}  {result.reason}")
    print(summary.line())
    if summary.failed:
        print(f"details: {summary.log_path}")
    if not args.quiet:
        print(f"log: {summary.log_path}", file=sys.stderr)
    return summary.exit_status


def _association_folder(paths: list[str]):
    """The one folder the association files are in: the default data folder."""
    from pathlib import Path

    from asnflow.errors import InputError

    folders = {(Path(p) if Path(p).is_dir() else Path(p).parent).resolve() for p in paths}
    if len(folders) != 1:
        raise InputError("the association files are in several folders; say which is the data folder with --data")
    return folders.pop()


class _NodeLines:
    """One line per finished node on stderr: status, time, node, reason.

    On a terminal the progress line stands in for them unless ``-v``; up-to-date
    nodes get a line only with ``-v``.
    """

    def __init__(self, *, verbose: bool, enabled: bool) -> None:
        self.verbose = verbose
        self.per_node = enabled and (verbose or not sys.stderr.isatty())

    def show(self, result) -> None:
        from asnflow.workflow.dispatch import SKIPPED

        if not self.per_node:
            return
        if result.status == SKIPPED and not result.reason.startswith("upstream ") and not self.verbose:
            return
        took = f"{result.duration:6.1f}s" if result.duration else "      -"
        print(f"{result.status:<9} {took}  {result.node_id}  {result.reason}", file=sys.stderr, flush=True)


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
