"""``asnflow <command>``: argument parsing only.

Every module in this package that defines ``register(subparsers)`` adds one
sub-command; the handler it sets with ``set_defaults(handler=...)`` does the
work by calling into the library. Modules here import nothing heavy at the top
so that ``asnflow --help`` and ``asnflow generate`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from asnflow import __version__
from asnflow.errors import AsnflowError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asnflow",
        description="JWST associations from declarative rules: generate, explain, graph and calibrate.",
    )
    parser.add_argument("--version", action="version", version=f"asnflow {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    try:
        status = args.handler(args)
    except AsnflowError as exc:
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("asnflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
