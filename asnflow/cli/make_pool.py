"""``asnflow make-pool``: an association pool from the headers of FITS exposures."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Write an association pool (a '|'-separated table, one row per exposure) from
the primary headers of FITS files, as jwst's asn_make_pool does, ready for
`asnflow generate POOL`.

Every header keyword becomes a lower-cased column; filename is the path as
given (or the bare name with --names-only). Columns headers lack get these
values unless the header has them:
  asn_candidate  [('oNNN', 'observation')] from OBSERVTN, plus --asn-candidate
  dms_note       empty (--dms-note)
  is_imprt       f (--is-imprt)
  pntgtype       science (--pntgtype)
  mostilno, dithptin   1
  targetid       1, 2, ... one per distinct TARGNAME, in file order
Options given here win over header values. Missing cells are "null".
"""

EPILOG = """\
examples:
  asnflow make-pool data/*_uncal.fits -o my_pool.csv
  asnflow make-pool sci*_uncal.fits bkg*_uncal.fits -o pool.csv --asn-candidate c1000:background
  asnflow make-pool ta_uncal.fits -o ta_pool.csv --pntgtype target_acquisition
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "make-pool",
        help="write an association pool from FITS headers (like asn_make_pool)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FITS_FILE", help="the exposures, one pool row each")
    parser.add_argument("-o", "--output", required=True, metavar="POOL", help="the pool file to write (replaced)")
    parser.add_argument(
        "--asn-candidate",
        action="append",
        default=[],
        metavar="S",
        help="extra candidates for every exposure: c1000:background or \"[('c1000', 'background'), ...]\"; "
        "repeatable",
    )
    parser.add_argument("--dms-note", metavar="S", help="the dms_note column (e.g. wfsc_los_jitter)")
    parser.add_argument("--is-imprt", choices=("t", "f"), help="t marks NIRSpec imprint exposures (default f)")
    parser.add_argument("--pntgtype", metavar="S", help="science (default) or target_acquisition")
    parser.add_argument("--names-only", action="store_true", help="write bare file names in the filename column")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from asnflow.companion.make_pool import make_pool, parse_candidate_option, write_pool
    from asnflow.fsutil import check_output_file

    check_output_file(args.output, option="-o")

    candidates = [pair for text in args.asn_candidate for pair in parse_candidate_option(text)]
    table = make_pool(
        args.files,
        asn_candidates=candidates,
        dms_note=args.dms_note,
        is_imprt=args.is_imprt,
        pntgtype=args.pntgtype,
        names_only=args.names_only,
    )
    path = write_pool(table, args.output)
    print(f"wrote {path} ({len(table.rows)} exposure(s), {len(table.columns)} columns)")
    return 0
