"""``asnflow graph``: the dependency graph of association files, as text, JSON, DOT, Mermaid or a picture."""

from __future__ import annotations

import argparse

FORMATS = ("text", "json", "dot", "mermaid", "png", "svg")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "graph",
        help="show which associations feed which (and which raw exposures start them)",
        description=(
            "Build the dependency graph of association files: an edge P -> C wherever a member of C "
            "is an output of P, plus one detector1 node per raw exposure. The text format starts with "
            "'N associations, E association edges, G generations; X exposures'."
        ),
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="association files (JSON or YAML) or folders of *_asn files"
    )
    parser.add_argument("--format", "-f", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write here instead of standard output (needed for png/svg)"
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="the data folder: mark external inputs missing from it, and colour nodes by the status its run "
        "log records",
    )
    parser.add_argument(
        "--group",
        choices=("auto", "none", "observation", "asn_type"),
        default="auto",
        help=(
            "pictures (png, svg): draw one box per observation and asn_type (level-3 products kept apart), "
            "or one per asn_type; auto groups by observation when a column would hold more than 24 boxes"
        ),
    )
    parser.add_argument("--no-exposures", action="store_true", help="leave out the detector1 layer (raw exposures)")
    parser.add_argument("--config", metavar="RULES_YAML", help="a rules.yaml whose calibration table to use")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from asnflow.config import load_config
    from asnflow.errors import InputError
    from asnflow.fsutil import atomic_write, check_output_file
    from asnflow.workflow.dispatch import check_data_folder, read_run_log
    from asnflow.workflow.draw import PICTURE_FORMATS, GraphView, render
    from asnflow.workflow.draw.style import NodeStatus
    from asnflow.workflow.graph import build_graph

    if args.format in PICTURE_FORMATS and not args.output:
        raise InputError(f"--format {args.format} draws a picture: name the file with -o FILE")
    if args.output:
        check_output_file(args.output, option="-o")
    if args.data is not None:
        check_data_folder(args.data)
    calibration = load_config(args.config).calibration
    graph = build_graph(args.paths, calibration=calibration, exposures=not args.no_exposures, data_dir=args.data)
    view = GraphView()
    if args.data is not None:
        logged = read_run_log(args.data)
        view = GraphView(
            data_dir=str(args.data),
            missing=graph.missing_inputs(args.data),
            statuses={n: NodeStatus(s.status, s.reason) for n, s in logged.items() if n in graph},
        )
    rendered = render(graph, args.format, view, grouping=args.group)
    if args.output:
        atomic_write(args.output, rendered, option="-o")
    elif isinstance(rendered, bytes):
        sys.stdout.buffer.write(rendered)
    else:
        sys.stdout.write(rendered)
    return 0
