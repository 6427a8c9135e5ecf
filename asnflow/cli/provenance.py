"""``asnflow provenance``: what made a product, and which nodes failed."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "provenance",
        help="what made a product (association, module, version, parameters, inputs, references), or what failed",
        description=(
            "Read the provenance store a run keeps in its data folder (asnflow-provenance.sqlite). "
            "With FILE: every execution that wrote it, oldest first: node, association file, module and "
            "version, parameters, CRDS context, reference files and input files with their content hashes, "
            "host, start, duration, status. With --failed: the nodes whose last execution failed, with the reason."
        ),
    )
    parser.add_argument(
        "file", nargs="?", metavar="FILE", help="a product file (its folder is the data folder unless --data)"
    )
    parser.add_argument("--failed", action="store_true", help="list the nodes whose last execution failed")
    parser.add_argument("--node", metavar="NODE", help="every execution of one node instead of one file's")
    parser.add_argument(
        "--data", metavar="DIR", help="the data folder (default: FILE's folder, else the current folder)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from asnflow.errors import InputError
    from asnflow.workflow.provenance import STORE_NAME, ProvenanceStore, iter_rows

    if sum(bool(x) for x in (args.file, args.failed, args.node)) != 1:
        raise InputError("give one of FILE, --failed or --node NODE")
    data_dir = Path(args.data) if args.data else Path(args.file).parent if args.file else Path(".")
    if not data_dir.is_dir():
        raise InputError("the data folder does not exist", path=str(data_dir))
    if not (data_dir / STORE_NAME).exists():
        raise InputError(
            f"no provenance store ({STORE_NAME}) here: nothing has been run in this folder", path=str(data_dir)
        )
    with ProvenanceStore.open(data_dir) as store:
        if args.failed:
            executions = store.failed()
        elif args.node:
            executions = store.node_history(args.node)
        else:
            executions = store.history(Path(args.file).name)
    if args.format == "json":
        print(json.dumps(list(iter_rows(executions)), indent=2))
        return 0
    if args.failed:
        for e in executions:
            print(f"{e.node_id}  {e.started}  run {e.run_id}  {e.reason}")
        print(f"{len(executions)} failed node(s)")
        return 0
    if not executions:
        what = args.node or Path(args.file).name
        raise InputError(f"the provenance store has no record of {what}", path=str(data_dir))
    for number, e in enumerate(executions, 1):
        if number > 1:
            print()
        print(_describe(e))
    return 0


def _describe(e) -> str:
    lines = [
        f"{e.node_id}: {e.status} in run {e.run_id} ({e.reason})"
        if e.reason
        else f"{e.node_id}: {e.status} in run {e.run_id}",
        f"  started    {e.started} on {e.host}, {e.duration:.2f} s, {e.attempts} attempt(s)",
        f"  module     {e.module} {e.version}".rstrip(),
        f"  parameters {e.parameters}",
    ]
    if e.association_file:
        lines.append(f"  association {e.association_file}")
    if e.crds_context or e.references:
        lines.append(f"  CRDS context {e.crds_context or '(none)'}")
    for reftype, (path, digest) in sorted(e.references.items()):
        lines.append(f"  reference  {reftype}: {path}  {digest[:16]}")
    for name, digest in sorted(e.inputs.items()):
        lines.append(f"  input      {name}  {digest[:16] or '(not on disk)'}")
    for name, digest in sorted(e.outputs.items()):
        lines.append(f"  output     {name}  {digest[:16]}")
    return "\n".join(lines)
