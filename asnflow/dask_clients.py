"""Dask distributed clients: one place that opens them, with the timeout and the messages.

Used by ``generate --scheduler`` and ``run --executor dask [--scheduler]``. An
address nobody answers at fails after ``timeout`` seconds (distributed's own
default is tens of seconds) with the address in the message.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from collections.abc import Iterator
from typing import Any

from asnflow.errors import AsnflowError

DEFAULT_TIMEOUT = 5.0
ANOTHER_ASNFLOW = "a Dask worker runs another asnflow than this command (its code differs: another version or checkout)"
ANOTHER_ASNFLOW_HINT = "start the cluster's workers from the same asnflow installation as the command"


@functools.cache
def code_digest() -> str:
    """A digest of the asnflow code this process runs (its Python files and grammar).

    The workers of a standing Dask cluster may run another version or
    checkout of asnflow than the command that sends them work: they would
    make other associations or products than a local run, or send back what
    the command cannot read. Work carries the digest of the command's code;
    a worker whose own differs refuses it.
    """
    import hashlib  # here: a generate run without Dask needs neither module
    from pathlib import Path

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".lark") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@contextlib.contextmanager
def dask_client(address: str | None, *, workers: int = 1, timeout: float = DEFAULT_TIMEOUT,
                error: type[AsnflowError] = AsnflowError, option: str = "--scheduler") -> Iterator[Any]:
    """A ``distributed.Client`` on the scheduler at ``address``, or on a local cluster of
    ``workers`` processes when ``address`` is None; closed (with its cluster) on leaving.

    ``error`` (an AsnflowError class) is raised when Dask is not installed,
    naming ``option``, or when the scheduler cannot be reached.
    """
    if importlib.util.find_spec("distributed") is None:
        raise error(f"{option} needs Dask distributed", hint="pip install 'asnflow[dask]'")
    with contextlib.ExitStack() as stack:
        if address is None:
            import logging

            import dask
            from distributed import Client, LocalCluster

            # Non-daemonic workers so a module may still use stcal's own process pool
            # (maximum_cores > 1); daemonic processes cannot have children.
            with dask.config.set({"distributed.worker.daemon": False}):
                cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                           dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(connect(address, timeout, error))
        yield client


def connect(address: str, timeout: float = DEFAULT_TIMEOUT, error: type[AsnflowError] = AsnflowError) -> Any:
    """A ``distributed.Client`` for ``address``; ``error`` when it cannot be reached."""
    _probe(address, timeout, error)
    from distributed import Client  # seconds to import on a busy machine: only once something answers

    try:
        return Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError):
        raise error(f"cannot reach the Dask scheduler at {address} within {timeout:g} s",
                    hint="is the scheduler running there? --timeout SECONDS waits longer") from None
    except ValueError as exc:  # an address distributed cannot read
        raise error(f"not a Dask scheduler address: {address} ({exc})",
                    hint="give an address such as tcp://host:8786") from None
    except Exception as exc:  # something answered, not as a scheduler (distributed may fail in any way then)
        raise error(f"what answers at {address} is not a Dask scheduler ({type(exc).__name__})",
                    hint="check the address and port") from None


def _probe(address: str, timeout: float, error: type[AsnflowError]) -> None:
    """For a tcp:// (or bare host:port) address, a plain TCP connection first: a refused or silent
    address fails at once (other schemes, tls:// and the like, are left to distributed)."""
    import socket
    import time
    from urllib.parse import urlsplit

    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    try:
        parts = urlsplit("//" + rest)
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise error(f"not a Dask scheduler address: {address}", hint="give an address such as tcp://host:8786")
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            # A scheduler speaks first (its handshake); a port that accepts and
            # says nothing would hold distributed's Client past any timeout.
            connection.settimeout(max(0.1, timeout - (time.monotonic() - started)))
            if not connection.recv(1):
                raise error(f"cannot reach the Dask scheduler at {address}: it closed the connection",
                            hint="check the address and port")
    except TimeoutError:
        raise error(f"cannot reach the Dask scheduler at {address}: no answer within {timeout:g} s",
                    hint="is the scheduler running there? --timeout SECONDS waits longer") from None
    except OSError as exc:
        raise error(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}",
                    hint="is the scheduler running there? --timeout SECONDS waits longer") from None


def positive_seconds(text: str) -> float:
    """argparse type of ``--timeout``."""
    import argparse

    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError("the timeout must be a positive number of seconds")
    return seconds
