"""asnflow rules check|list|show|doc : read, check and document rule files."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="check, list, show and document association rules",
        description="Tools for rule authors: check rule files for mistakes, list the rules, show one rule with "
        "its fragments expanded, and write the Markdown rule catalogue.",
    )
    commands = parser.add_subparsers(dest="rules_command", metavar="ACTION")
    commands.required = True

    check = commands.add_parser(
        "check", help="report mistakes in rule files (default: the shipped rules and rules.yaml)",
        description="Check rule files: syntax, unknown names (fragments, lists, tables, hooks, pool columns), "
        "regular expressions, duplicate names, conflicting pins, unused definitions. Files given are checked "
        "next to the default rule set, as generate -r loads them. Exit status 2 when there is an error.")
    check.add_argument("files", nargs="*", metavar="FILE", help="rule files to check")
    check.add_argument("--config", metavar="YAML", help="a rules.yaml to use instead of the shipped one")
    check.add_argument("--ignore-default", action="store_true", help="register only the given files' rules")
    check.add_argument("--brief", action="store_true", help="one line per finding, without the source line")
    check.add_argument("--warnings-as-errors", action="store_true", help="exit 2 on warnings too")
    check.set_defaults(handler=run_check)

    listing = commands.add_parser("list", help="the rules in the order they are tried",
                                  description="One line per rule: name, level, asn_type, description.")
    _rule_set_options(listing)
    listing.add_argument("--level", choices=("2b", "3"), help="only rules of this level")
    listing.set_defaults(handler=run_list)

    show = commands.add_parser("show", help="one rule with its frame and fragments expanded",
                               description="Print a rule's settings (defaults filled in, hooks explained) and its "
                               "constraints with every fragment and frame expanded, each line with the file:line "
                               "it comes from, then the lists, tables and predicates it names.")
    show.add_argument("names", nargs="+", metavar="NAME", help="rule name(s)")
    _rule_set_options(show)
    show.set_defaults(handler=run_show)

    doc = commands.add_parser("doc", help="the Markdown rule catalogue",
                              description="Write the Markdown catalogue of the rule set (the one committed as "
                              "docs/rules.md is made from the shipped rules).")
    doc.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    doc.add_argument("--check", metavar="FILE", help="compare with FILE; exit 1 if it is not current")
    doc.add_argument("--language", action="store_true",
                     help="the language reference instead: refresh the hook list inside the file given with -o "
                          "or --check (docs/language.md)")
    _rule_set_options(doc)
    doc.set_defaults(handler=run_doc)


    impact = commands.add_parser(
        "impact", help="what rule files change in the associations of a set of pools",
        description="Generate each pool with the default rules and with the default rules plus the given rule "
        "files (as generate -r does), and print per pool the associations added, removed, renamed and changed, "
        "then a summary: pools affected and the counts per rule. Exit status 0 when no pool changes, 1 when "
        "some do, 2 on bad input.")
    impact.add_argument("pools", nargs="+", metavar="POOL", help="association pool files")
    impact.add_argument("-r", "--rules", action="append", required=True, metavar="FILE",
                        help="a rule file adding or replacing rules (repeatable)")
    impact.add_argument("--ignore-default", action="store_true", help="compare the given rules alone with the defaults")
    impact.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="pools in N processes (0: one per CPU)")
    impact.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    impact.set_defaults(handler=run_impact)


def _rule_set_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-r", "--rules", action="append", default=[], metavar="FILE",
                        help="a rule file adding or replacing rules (repeatable)")
    parser.add_argument("--ignore-default", action="store_true", help="drop the default rules (use with -r)")


def _load(args: argparse.Namespace):
    from asnflow.config import load_config
    from asnflow.engine.session import rule_set
    from asnflow.errors import AsnflowError

    if args.ignore_default and not args.rules:
        raise AsnflowError("--ignore-default leaves no rules", hint="give rule files with -r")
    return rule_set(args.rules, args.ignore_default), load_config()


def run_check(args: argparse.Namespace) -> int:
    from asnflow.assoc_rules.check import check_rule_files, render

    result = check_rule_files(args.files, config_path=args.config, ignore_default=args.ignore_default)
    for diagnostic in result.diagnostics:
        print(diagnostic.one_line() if args.brief else render(diagnostic, result.source_line(diagnostic)))
    errors, warnings = len(result.errors), len(result.warnings)
    checked = len(args.files) if args.files else len(result.files)
    summary = (f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''} "
               f"in {checked} rule file{'s' if checked != 1 else ''}")
    print(summary, file=sys.stderr)
    if errors or (warnings and args.warnings_as_errors):
        return 2
    return 0


def run_list(args: argparse.Namespace) -> int:
    from asnflow.assoc_rules.show import format_rule_list, list_rules

    rules, _ = _load(args)
    summaries = [s for s in list_rules(rules) if args.level is None or s.level == args.level]
    print(format_rule_list(summaries))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from asnflow.assoc_rules.check import close_names
    from asnflow.assoc_rules.show import show_rule
    from asnflow.errors import AsnflowError

    rules, config = _load(args)
    by_name = {rule.name: rule for rule in rules.rules}
    for name in args.names:
        if name not in by_name:
            raise AsnflowError(f"no rule named {name}", hint=close_names(name, by_name) or "see `asnflow rules list`")
    texts = [show_rule(by_name[name], rules, config.calibration) for name in args.names]
    print("\n".join(texts), end="")
    return 0


def run_doc(args: argparse.Namespace) -> int:
    from asnflow.assoc_rules.doc import catalogue, with_hook_reference
    from asnflow.errors import InputError
    from asnflow.fsread import read_text
    from asnflow.fsutil import atomic_write_text, check_output_file

    if args.output:
        check_output_file(args.output, option="-o")
    if args.language:
        source = args.check or args.output
        if source is None:
            raise InputError("--language rewrites a file: give it with -o or --check")
        try:
            text = with_hook_reference(read_text(source, "language reference"))
        except ValueError as exc:
            raise InputError(str(exc), path=source) from None
    else:
        rules, config = _load(args)
        text = catalogue(rules, config)
    if args.check:
        current = read_text(args.check, "rule catalogue")
        if current != text:
            again = "--language " if args.language else ""
            print(f"{args.check} is not current; write it with `asnflow rules doc {again}-o {args.check}`",
                  file=sys.stderr)
            return 1
        return 0
    if args.output:
        atomic_write_text(args.output, text, option="-o")
    else:
        sys.stdout.write(text)
    return 0


def run_impact(args: argparse.Namespace) -> int:
    import json
    import os

    from asnflow.diagnose.impact import rules_impact
    from asnflow.errors import InputError

    if args.jobs < 0:
        raise InputError(f"-j must be 0 or more, not {args.jobs}")
    jobs = args.jobs or (os.cpu_count() or 1)
    impact = rules_impact(args.pools, args.rules, ignore_default=args.ignore_default, jobs=jobs)
    if args.format == "json":
        print(json.dumps(impact.as_json(), indent=2))
    else:
        print("\n".join(impact.lines()))
    return 1 if impact.affected else 0
