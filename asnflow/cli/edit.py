"""``asnflow edit``: add or remove members of an association file."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Add files to, or remove files from, an association (like jwst's asn_edit).

add     appends each file, by its bare name, to every product (a file already
        in a product is not added twice). FILE may be FILE:EXPTYPE or
        FILE:EXPTYPE:GROUP as in from-list; -t/-g set the defaults.
remove  deletes every member whose file name matches (--ignore-suffix: whose
        name matches once the calibration suffix such as _cal or _rate is
        dropped); products left with no members are removed, and names not
        found are reported as a warning.

The file is rewritten in place through an atomic rename, or written to -o.
JSON stays JSON and YAML stays YAML (unless -o names a .json/.yaml file);
every other key, including each member's group_id, is kept.
"""

EPILOG = """\
examples:
  asnflow edit jw01234-o001_image3_00001_asn.json add new_cal.fits
  asnflow edit spec2_asn.json add bkg_x1d.fits -t background
  asnflow edit image3_asn.json remove jw01234001001_02101_00002_nrca1 --ignore-suffix -o trimmed_asn.json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "edit",
        help="add or remove members of an association file (like asn_edit)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("association", metavar="ASN", help="the association file (JSON or YAML)")
    parser.add_argument("operation", choices=("add", "remove"), help="what to do with the files")
    parser.add_argument("files", nargs="+", metavar="FILE", help="the files to add or remove")
    parser.add_argument("-t", "--exptype", default="science", help="the role of added files (default: science)")
    parser.add_argument("-g", "--group-id", metavar="GROUP", help="the group_id of added files")
    parser.add_argument(
        "-i", "--ignore-suffix", action="store_true", help="remove: match names without their calibration suffix"
    )
    parser.add_argument("-o", "--output", metavar="OUT", help="write here instead of rewriting ASN")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from asnflow.asnfile import files as asnfile
    from asnflow.companion.edit import add_members, remove_members
    from asnflow.companion.members import check_exptype, check_group_id, parse_member
    from asnflow.errors import InputError
    from asnflow.fsutil import check_output_file, locked_file

    if args.operation == "add":
        if args.ignore_suffix:
            raise InputError("--ignore-suffix only applies to remove")
        exptype = check_exptype(args.exptype)
        group_id = check_group_id(args.group_id) if args.group_id is not None else None
        members = [parse_member(text, exptype=exptype, group_id=group_id) for text in args.files]
    elif args.group_id is not None or args.exptype != "science":
        raise InputError("-t/--exptype and -g/--group-id only apply to add")
    output = Path(args.output) if args.output else Path(args.association)
    check_output_file(output, option="-o" if args.output else None)

    # Read, edit and write under a lock on the file: concurrent edits of one
    # association queue up instead of losing each other's changes.
    with locked_file(args.association):
        asn = asnfile.load(args.association)
        if args.operation == "add":
            result = add_members(asn, members)
        else:
            result = remove_members(asn, args.files, ignore_suffix=args.ignore_suffix)
        fmt = asnfile.detect_format(args.association)
        if output.suffix.lower() in asnfile.YAML_SUFFIXES:
            fmt = "yaml"
        elif output.suffix.lower() == ".json":
            fmt = "json"
        asnfile.write_file(result.association, output, fmt, option="-o" if args.output else None)
    for warning in result.warnings:
        print(f"asnflow: warning: {warning}", file=sys.stderr)
    member_count = sum(len(product["members"]) for product in result.association["products"])
    print(f"wrote {output} ({len(result.association['products'])} product(s), {member_count} member(s))")
    return 0
