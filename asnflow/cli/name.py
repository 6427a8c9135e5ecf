"""``asnflow name``: read DMS file names, number NIRSpec fixed-slit sources, fill product names."""

from __future__ import annotations

import argparse
import json
import sys

DESCRIPTION = "DMS file names: read them, number NIRSpec fixed-slit sources, fill spec3 product names."

PARSE_EPILOG = """\
Each name is read on its own: names that are not DMS names (such as the
jw_00001_uncal.fits of test pools) get one error line each on stderr, the
others are still printed, and the exit status is 2 if any name was refused.
Folders are kept and shown; the files need not exist.

examples:
  asnflow name parse jw01234001001_02101_00001_nrca1_uncal.fits
  asnflow name parse --json jw99009-o001_t001-{source_id}_nirspec_f100lp-g140m-{slit_name}-s200a2
"""

FILL_EPILOG = """\
naming profiles:
  jwst-3.0  s + the source number padded to 9 digits (s000000001)
  build10   s + the source number padded to 5 digits (s00031)
The default is the profile in the shipped rules.yaml. A source id that is not
a number (a MOS b.../v... id) is used as given.

example:
  asnflow name fill 'jw01234-o003_t001-{source_id}_nirspec_f100lp-g140h-{slit_name}' \\
      --source-id 1 --slit S200A1 S200A2
"""

_EXPOSURE_LABELS = {
    "program": "program",
    "observation": "observation",
    "visit": "visit",
    "visit_group": "visit group",
    "parallel_sequence": "parallel sequence",
    "activity": "activity",
    "exposure": "exposure",
    "segment": "segment",
    "detector": "detector",
    "suffix": "suffix",
    "extension": "extension",
    "path": "folder",
}
_PRODUCT_LABELS = {
    "program": "program",
    "acid": "association id",
    "target": "target",
    "source_id": "source id",
    "epoch": "epoch",
    "instrument": "instrument",
    "optical_elements": "optical elements",
    "slit": "slit",
    "subarray": "subarray",
    "image3": "coron image3",
    "detector": "detector",
    "activity": "activity",
    "suffix": "suffix",
    "extension": "extension",
    "template": "template",
    "path": "folder",
}
_ASSOCIATION_LABELS = {
    "program": "program",
    "acid": "association id",
    "version_id": "version id",
    "asn_type": "association type",
    "sequence": "sequence",
    "extension": "extension",
    "path": "folder",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "name",
        help="read DMS file names; fixed-slit source ids; fill product names",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="name_action", metavar="ACTION")
    actions.required = True

    parse = actions.add_parser(
        "parse",
        help="print the fields of DMS file names",
        description="Print the fields of DMS exposure, product and association file names.",
        epilog=PARSE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("names", nargs="+", metavar="FILE", help="file names (the files need not exist)")
    parse.add_argument("--json", action="store_true", help="print a JSON list instead of aligned text")
    parse.set_defaults(handler=run_parse)

    source = actions.add_parser(
        "source-id",
        help="the build-10.0 source id of a NIRSpec fixed slit",
        description=(
            "Print the source id assign_wcs gives SLIT when the target is in the primary slit: "
            "1 for the primary slit itself, otherwise 10 * number(primary) + number(SLIT), with "
            "S200A1=1, S200A2=2, S400A1=3, S1600A1=4, S200B1=5 (and NONE=0 for the primary)."
        ),
    )
    source.add_argument("slit", metavar="SLIT", help="S200A1, S200A2, S400A1, S1600A1 or S200B1")
    source.add_argument("--primary", required=True, metavar="SLIT", help="the slit holding the target (FXD_SLIT)")
    source.set_defaults(handler=run_source_id)

    fill = actions.add_parser(
        "fill",
        help="fill {source_id} and {slit_name} in a product name",
        description="Fill {source_id} and {slit_name} in a spec3 product name, as calwebb_spec3 does.",
        epilog=FILL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fill.add_argument("product_name", metavar="PRODUCT_NAME")
    fill.add_argument("--source-id", required=True, metavar="N", help="the source number (or a MOS b.../v... id)")
    fill.add_argument(
        "--slit",
        dest="slits",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="the slits of the source's exposures, in order (repeated ones count once)",
    )
    fill.add_argument("--naming", metavar="PROFILE", help="jwst-3.0 or build10 (default: rules.yaml's profile)")
    fill.set_defaults(handler=run_fill)


def run_parse(args: argparse.Namespace) -> int:
    from asnflow.errors import AsnflowError
    from asnflow.naming.asn_names import parse_asn_file_name
    from asnflow.naming.exposure import parse_name

    records: list[tuple[str, str, dict]] = []
    refused = 0
    for name in args.names:
        try:
            parsed = parse_name(name)
        except AsnflowError as exc:
            association = parse_asn_file_name(name)
            if association is None:
                print(exc.one_line(), file=sys.stderr)
                refused += 1
                continue
            fields = {key: getattr(association, key) for key in _ASSOCIATION_LABELS}
            records.append((name, "association", fields))
            continue
        records.append((name, parsed.kind, parsed.as_dict()))

    if args.json:
        document = [{"name": name, "kind": kind, **fields} for name, kind, fields in records]
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for index, (name, kind, fields) in enumerate(records):
            if index:
                print()
            print(_text_block(name, kind, fields))
    return 2 if refused else 0


def _text_block(name: str, kind: str, fields: dict) -> str:
    labels = {"exposure": _EXPOSURE_LABELS, "product": _PRODUCT_LABELS, "association": _ASSOCIATION_LABELS}[kind]
    rows = [("kind", kind)] + [(label, _shown(fields.get(key))) for key, label in labels.items()]
    width = max(len(label) for label, _ in rows)
    return "\n".join([name] + [f"  {label:<{width}}  {value}" for label, value in rows])


def _shown(value: object) -> str:
    if value is None or value == "" or value == [] or value is False:
        return "-"
    if value is True:
        return "yes"
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    return str(value)


def run_source_id(args: argparse.Namespace) -> int:
    from asnflow.naming.source_id import fixed_slit_source_id

    print(fixed_slit_source_id(args.slit, args.primary))
    return 0


def run_fill(args: argparse.Namespace) -> int:
    from asnflow.naming.source_id import fill_source_placeholders

    profile = args.naming
    if profile is None:
        from asnflow.config import load_config

        profile = load_config().naming_profile
    print(fill_source_placeholders(args.product_name, source_id=args.source_id, slit_names=args.slits, profile=profile))
    return 0
