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
import signal
import sys
import threading

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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that clean-up code runs as for Ctrl-C."""


def _stop(signum, frame) -> None:
    # One signal stops the run; more of them must not interrupt its clean-up
    # (removing a staging folder, stopping worker processes).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    previous = {}
    if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread
        previous = {signum: signal.signal(signum, _stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = args.handler(args)
    except AsnflowError as exc:
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("asnflow: terminated (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("asnflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
