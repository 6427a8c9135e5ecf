"""``asnflow <command>``: argument parsing only.

Each module of this package listed in :data:`COMMANDS` defines
``register(subparsers)``, which adds one sub-command; the handler it sets with
``set_defaults(handler=...)`` does the work by calling into the library.
Modules here import nothing heavy at the top so that ``asnflow --help`` and
``asnflow generate`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from typing import NoReturn

from asnflow import __version__
from asnflow.errors import AsnflowError

# Each sub-command and the module of this package that registers it, in the
# order of the help listing. Listed rather than discovered: finding modules
# (pkgutil) and registering all fourteen for every command line took about a
# tenth of a small run's start-up. A test holds this table to the modules
# that define ``register``.
COMMANDS = {
    "demo": "demo",
    "diff": "diff",
    "edit": "edit",
    "explain": "explain",
    "from-list": "from_list",
    "gather": "gather",
    "generate": "generate",
    "graph": "graph",
    "make-pool": "make_pool",
    "name": "name",
    "provenance": "provenance",
    "report": "report",
    "rules": "rules",
    "run": "run",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command, or of ``command`` alone when it names one
    (the only one a command line starting with it can reach)."""
    parser = argparse.ArgumentParser(
        prog="asnflow",
        description="JWST associations from declarative rules: generate, explain, graph and calibrate.",
    )
    parser.add_argument("--version", action="version", version=f"asnflow {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    modules = [COMMANDS[command]] if command in COMMANDS else list(COMMANDS.values())
    for name in modules:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
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
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(words[0] if words else None)
    if not words:
        parser.print_help()
        return 0
    args = parser.parse_args(words)
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


# Commands that end with everything written and closed: once they return, the
# interpreter's teardown (every module and object freed one by one) only costs
# time: 0.03 s after a small pool, 0.4 s once Dask distributed is loaded.
QUICK_EXIT = frozenset({"generate"})

# What the running command holds to the quick exit (see :func:`hold_to_exit`); None when no
# quick exit follows the command.
_held: list | None = None


def hold_to_exit(*objects) -> None:
    """Keep ``objects`` alive until the process ends, when a quick exit follows the command.

    Freed as the command returns, a large run's rows, associations and
    documents go one object at a time just before the process ends anyway:
    0.02 s after 10,000 rows, 0.14 s after 100,000. Called where no quick
    exit follows (the library, tests calling :func:`main`), it keeps nothing.
    """
    if _held is not None:
        _held.extend(objects)


def command_line() -> NoReturn:
    """The ``asnflow`` program (and ``python -m asnflow``): :func:`main`, then the exit."""
    words = sys.argv[1:]
    if not words or words[0] not in QUICK_EXIT:
        sys.exit(main(words))
    from asnflow.engine.collection import paused_collections

    global _held
    # The garbage collector stays paused to the quick exit (the command pauses it while it
    # generates anyway): resumed, its first collection would walk every object the run
    # still holds (the rules, their caches), only for the process to end.
    _held = []
    with paused_collections():
        status = main(words)
        if threading.active_count() == 1:
            _quick_exit(status)
    _held = None  # no quick exit after all: what the command held goes as everything else does
    sys.exit(status)


def _quick_exit(status: int) -> NoReturn:
    """Leave without the teardown (see :func:`asnflow.workers.exit_now`)."""
    from asnflow.workers import exit_now

    exit_now(status)


if __name__ == "__main__":  # pragma: no cover
    command_line()
