"""``asnflow diff OLD NEW``: two sets of associations compared by meaning."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="compare two association folders (or files) by meaning, not bytes",
        description=(
            "Compare two folders of association files (or two files) by what they say: associations added, "
            "removed, renamed (same members under another file name) and changed (members added or removed, "
            "exptype, product name or asn_type changes). Formatting, key order and version stamps do not count. "
            "Exit status: 0 equal, 1 different, 2 bad input (like diff)."
        ),
    )
    parser.add_argument("old", metavar="OLD", help="association folder or file")
    parser.add_argument("new", metavar="NEW", help="association folder or file")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from asnflow.asnfile.compare import compare_paths, dumps

    comparison = compare_paths(args.old, args.new)
    if args.format == "json":
        print(dumps(comparison))
    else:
        for line in comparison.lines():
            print(line)
        print(comparison.counts() if not comparison.equal else "no differences")
    return 0 if comparison.equal else 1
