"""``asnflow demo [DIR]``: a synthetic NIRISS imaging program, from raw ramps to mosaics."""

from __future__ import annotations

import argparse

DEFAULT_FOLDER = "asnflow-demo"
EXECUTORS = ("serial", "process", "dask")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="write and calibrate a small synthetic NIRISS imaging program",
        description=(
            "Write a small synthetic NIRISS imaging program into DIR (a pool, six raw 64x64 ramps in two "
            "filters with stars, a saturated star and cosmic rays, and a CRDS cache of reference files), "
            "generate its associations, draw the dependency graph, and run detector1, image2 and image3 "
            "on two workers. Run it again on the same DIR to resume: up-to-date nodes are skipped with "
            "their reason. With matplotlib installed it also writes the graph picture and a PNG preview "
            "of each _i2d mosaic. It ends by writing DIR/asnflow-report.html (see 'asnflow report') and "
            "printing its path. Exit status: 0 all done, 1 some node failed, 2 bad input."
        ),
    )
    parser.add_argument(
        "folder", nargs="?", default=DEFAULT_FOLDER, metavar="DIR", help=f"where to work (default: ./{DEFAULT_FOLDER})"
    )
    parser.add_argument("--executor", choices=EXECUTORS, default="process", help="where nodes run (default: process)")
    parser.add_argument("--workers", type=int, default=2, metavar="N", help="parallel workers (default: 2)")
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="print only the closing summary line (no progress, graph or node list)",
    )
    parser.add_argument("--no-pictures", action="store_true", help="do not write PNG pictures even with matplotlib")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import io

    from asnflow.demo import run_demo

    result = run_demo(
        args.folder,
        executor=args.executor,
        workers=args.workers,
        quiet=args.quiet,
        out=io.StringIO() if args.quiet else None,
        pictures=not args.no_pictures,
    )
    if args.quiet:  # only how it went, and where to look
        report = f"; report {result.report}" if result.report else ""
        print(f"{result.summary.line()}; run log {result.summary.log_path}{report}")
    return result.exit_status
