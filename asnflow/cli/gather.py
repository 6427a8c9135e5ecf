"""``asnflow gather``: copy an association and its member files into one folder."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Copy an association's member files and the association itself into DIR (like
jwst's asn_gather, with plain file copies instead of rsync). Members are
looked up relative to the association file's folder (or -s SOURCE_FOLDER);
absolute member paths and paths climbing out with '..' are refused. In the
copied association every expname is the bare file name, and every other key
(group_id, ...) is kept.

Members whose files are missing stop the gather with one error listing them
and nothing copied, unless --allow-missing. A file already in DIR with the
same size and not older than its source is not copied again.
"""

EPILOG = """\
examples:
  asnflow gather run1/jw01234-o001_image3_00001_asn.json -o work/
  asnflow gather spec2_asn.json -o bkg_only/ -t background
  asnflow gather image3_asn.json -o here/ -s ../archive/cal -x target_acquisition
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gather",
        help="copy an association and its member files into a folder (like asn_gather)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("association", metavar="ASN", help="the association file (JSON or YAML)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder to copy into")
    parser.add_argument("-s", "--source", metavar="SOURCE_FOLDER", help="where the members are (default: ASN's folder)")
    parser.add_argument(
        "-t", "--exp-type", action="append", dest="exp_types", metavar="EXPTYPE",
        help="gather only members of this exptype (repeatable)",
    )
    parser.add_argument(
        "-x", "--exclude-type", action="append", dest="exclude_types", default=[], metavar="EXPTYPE",
        help="leave out members of this exptype (repeatable)",
    )
    parser.add_argument("--allow-missing", action="store_true", help="gather what exists; report the missing files")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from asnflow.companion.gather import gather

    show_progress = not args.quiet and sys.stderr.isatty()

    def progress(done: int, total: int, name: str) -> None:
        end = "\n" if done == total else ""
        print(f"\rgather: {done}/{total} {name[:60]:<60}", end=end, file=sys.stderr, flush=True)

    result = gather(
        args.association,
        args.output,
        source_folder=args.source,
        exp_types=args.exp_types,
        exclude_types=args.exclude_types,
        allow_missing=args.allow_missing,
        progress=progress if show_progress else None,
    )
    for path in result.missing:
        print(f"asnflow: warning: member file not found, not gathered: {path}", file=sys.stderr)
    print(
        f"wrote {result.association}: {len(result.copied)} file(s) copied, "
        f"{len(result.up_to_date)} already up to date, {len(result.missing)} missing"
    )
    return 0
