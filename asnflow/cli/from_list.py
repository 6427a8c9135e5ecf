"""``asnflow from-list``: an association from files named on the command line."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Write an association listing the given files, as jwst's asn_from_list does.

Level 3 (the default rule DMS_Level3_Base, or any Asn_Lv3* rule name): one
product, named with --product-name, holding every file.
Level 2 (-r DMSLevel2bBase, or any Asn_Lv2* rule name): one product per file,
named after the file without its calibration suffix (_rate, _cal, ...).

The output is the file asn_from_list writes (same keys, order, values and
formatting), except that -i sets asn_id (asn_from_list ignores it and writes
a3001) and code_version is asnflow's.
"""

EPILOG = """\
members:
  FILE                 a science member
  FILE:EXPTYPE         a member with that role, e.g. x_rate.fits:background
  FILE:EXPTYPE:GROUP   ... and a group_id, e.g. x_cal.fits:science:g1
  FILE::GROUP          a science member with a group_id
  Only the file-name part is split on ':', so folders may contain colons.
  --exptype and --group-id set the role and group of members that do not
  give their own. group_id is the user-supplied grouping that tweakreg and
  skymatch use to treat members as one rigid set (e.g. one detector's
  exposures taken together).

examples:
  asnflow from-list -o mosaic_asn.json --product-name my_mosaic *_cal.fits
  asnflow from-list -o spec2_asn.json -r DMSLevel2bBase -i c1000 \\
      sci_rate.fits bkg_rate.fits:background
  asnflow from-list -o a_asn.json --product-name m a_cal.fits::g1 b_cal.fits::g1 c_cal.fits::g2
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "from-list",
        help="write an association listing the given files (like asn_from_list)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE[:EXPTYPE[:GROUP]]", help="the members (see below)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="the association file to write")
    parser.add_argument(
        "--product-name", metavar="NAME", help="the product name (required for level 3; not used at level 2)"
    )
    parser.add_argument(
        "-r",
        "--rule",
        default="DMS_Level3_Base",
        metavar="NAME",
        help="DMS_Level3_Base (default), DMSLevel2bBase, or an Asn_Lv3*/Asn_Lv2* rule name; written as asn_rule",
    )
    parser.add_argument(
        "-i",
        "--id",
        dest="acid",
        metavar="ACID",
        help="the association id written as asn_id: oNNN (observation) or cNNNN (background, level 2: needs "
        "a background member); level 3 also takes aNNNN and rNNNN. Default: a3001, as jwst writes",
    )
    parser.add_argument(
        "-t", "--exptype", default="science", help="the role of members that do not give one (default: science)"
    )
    parser.add_argument("-g", "--group-id", metavar="GROUP", help="the group_id of members that do not give one")
    parser.add_argument(
        "-f",
        "--format",
        choices=("json", "yaml"),
        help="the file format (default: yaml if OUT ends in .yaml/.yml, else json)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from asnflow.asnfile import files as asnfile
    from asnflow.companion.from_list import from_list, rule_level
    from asnflow.companion.members import check_exptype, check_group_id, parse_member
    from asnflow.fsutil import check_output_file
    from asnflow.pathnames import check_name

    check_output_file(args.output, option="-o")
    if args.product_name is not None:
        check_name(args.product_name, "value", option="--product-name")
    exptype = check_exptype(args.exptype)
    group_id = check_group_id(args.group_id) if args.group_id is not None else None
    members = [parse_member(text, exptype=exptype, group_id=group_id) for text in args.files]
    if args.product_name is not None and rule_level(args.rule) == 2:
        print("asnflow: warning: --product-name is not used at level 2 (one product per file)", file=sys.stderr)
    asn = from_list(members, rule=args.rule, product_name=args.product_name, acid=args.acid)
    path = asnfile.write_file(asn, args.output, args.format, option="-o")
    count = sum(len(product["members"]) for product in asn["products"])
    print(f"wrote {path} ({len(asn['products'])} product(s), {count} member(s))")
    return 0
