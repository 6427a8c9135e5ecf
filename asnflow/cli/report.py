"""``asnflow report DIR``: one self-contained HTML page about a folder of associations and its run."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write one self-contained HTML page: associations, graph, run state, orphans, previews",
        description=(
            "Write one HTML file (no server, no network: styles, script, graph and pictures inline) about the "
            "association files in DIR: a filterable, sortable table of associations (asn_type, rule, candidate, "
            "product, member counts), each one's members and products, the dependency graph as SVG coloured by "
            "the last run's status (from asnflow-run.jsonl in the data folder, when there is one), the nodes' "
            "statuses, the orphans with their reasons (with --pool) and previews of the _i2d mosaics. "
            "Exit status: 0 written, 2 bad input."
        ),
    )
    parser.add_argument("folder", metavar="DIR", help="folder of association files (*_asn.json, *_asn.yaml)")
    parser.add_argument("-o", "--output", metavar="FILE", help="where to write (default: DIR/asnflow-report.html)")
    parser.add_argument("--data", metavar="DATA", help="the data folder with the run log and products (default: DIR)")
    parser.add_argument("--pool", action="append", default=[], metavar="POOL",
                        help="the pool the associations came from: list its orphans with their reasons (repeatable)")
    parser.add_argument("-r", "--rules", action="append", default=[], metavar="FILE",
                        help="user rule files the associations were generated with (for the orphans)")
    parser.add_argument("--config", metavar="RULES_YAML", help="a rules.yaml whose rules and calibration table to use")
    parser.add_argument("--quiet", "-q", action="store_true", help="do not print the report's path")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from asnflow.report import write_report

    path = write_report(
        args.folder, args.output, data_dir=args.data, pools=args.pool, rules=args.rules, config=args.config
    )
    if not args.quiet:
        print(path)
    return 0
