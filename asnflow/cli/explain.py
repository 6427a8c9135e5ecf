"""asnflow explain POOL EXPOSURE : why an exposure is (or is not) in each rule's associations."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="why an exposure did or did not end up in each rule's associations",
        description="Generate the pool as `asnflow generate` does (same options), then say where one exposure "
        "ended: the associations that took it and as which member type, and one line per asn_type that did "
        "not take it: what happened to an association that held it (dropped, pruned, merged), or the rule that "
        "came nearest and the constraint that stopped it (column, the exposure's value, what the rule wanted, "
        "where the rule says so). --full gives that for every rule. A legend of the notation closes the output.",
    )
    parser.add_argument("pool", help="association pool file")
    parser.add_argument("exposure", help="the exposure's FILENAME as in the pool (a unique prefix is enough)")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("-i", "--ids", nargs="+", metavar="CANDIDATE", help="only these association candidates")
    modes.add_argument("--discover", action="store_true", help="only discovered associations")
    modes.add_argument("--all-candidates", action="store_true", help="only candidate associations (no discovery)")
    parser.add_argument("--rule", action="append", default=[], metavar="NAME",
                        help="only this rule (repeatable)")
    parser.add_argument("-r", "--rules", action="append", default=[], metavar="FILE",
                        help="a rule file adding or replacing rules (repeatable)")
    parser.add_argument("--ignore-default", action="store_true", help="drop the default rules (use with -r)")
    parser.add_argument("--DMS", dest="dms", action="store_true", help="DMS conditions, as for generate")
    parser.add_argument("--no-finalize", action="store_true", help="skip finalize, as for generate")
    parser.add_argument("--merge", action="store_true", help="merge level-2 associations, as for generate")
    parser.add_argument("--full", action="store_true",
                        help="every rule, with every alternative that failed (default: one line per asn_type)")
    parser.add_argument("-d", "--delimiter", default="|", help="pool cell delimiter (default: |)")
    parser.add_argument("--format", choices=("json", "yaml"), default="json",
                        help="association file names as written in this format (default: json)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from asnflow.diagnose.explain import explain, format_explanation
    from asnflow.engine.generate import Options
    from asnflow.engine.session import rule_set
    from asnflow.errors import AsnflowError
    from asnflow.pool.read import read_pool

    if args.ignore_default and not args.rules:
        raise AsnflowError("--ignore-default leaves no rules", hint="give rule files with -r")
    rules = rule_set(args.rules, args.ignore_default)
    options = Options(ids=tuple(args.ids) if args.ids else None, discover=args.discover,
                      all_candidates=args.all_candidates, finalize=not args.no_finalize, merge=args.merge,
                      dms=args.dms)
    pool = read_pool(args.pool, delimiter=args.delimiter)
    explanation = explain(pool, rules, args.exposure, options, args.rule or None, fmt=args.format)
    print(format_explanation(explanation, full=args.full), end="")
    return 0
