"""Reading input files: regular files only, bounded in size, with one-line errors.

Every file asnflow reads as input (pools, rule files, association files,
rules.yaml, make-pool's FITS files) is opened here. A FIFO, a device such as
``/dev/zero`` or a folder is refused at once instead of blocking or reading
forever; a file (or a gzip stream, decompressed) larger than the limit is
refused before it fills memory. Errors are raised as the caller's error class
(a pool problem is a :class:`~asnflow.errors.PoolError`, a rule file problem a
:class:`~asnflow.errors.RuleError`...) so the message names the kind of file.
"""

from __future__ import annotations

import os
import stat
import sys
import zlib

from asnflow.errors import AsnflowError, InputError

MIB = 1 << 20
# Far beyond any real input of each kind, far below what would exhaust memory.
# A pool row is about 370 bytes: the pool limit admits some 1.4 million rows
# (a million-row pool, the largest operations reprocessing meets, is 350 MiB).
POOL_LIMIT = 512 * MIB
RULE_FILE_LIMIT = 16 * MIB
ASSOCIATION_LIMIT = 64 * MIB
CONFIG_LIMIT = 16 * MIB
LIMIT_VARIABLE = "ASNFLOW_MAX_INPUT_BYTES"  # lowers (never raises) every limit, e.g. for tests

GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"
_CHUNK = 1 << 20


def limit_for(default: int) -> int:
    """``default``, or the smaller limit set in ``ASNFLOW_MAX_INPUT_BYTES``."""
    configured = os.environ.get(LIMIT_VARIABLE, "").strip()
    if configured.isdigit() and int(configured) > 0:
        return min(default, int(configured))
    return default


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode):
        return "a file"
    return "not a regular file"


def open_regular(
    path: str | os.PathLike[str], what: str = "file", *, error: type[AsnflowError] = InputError
) -> int:
    """An open descriptor on ``path``, which must be a regular file (links to one are fine).

    The file is opened without blocking, so a FIFO nobody writes to is
    refused at once instead of hanging.
    """
    where = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(where, flags)
    except FileNotFoundError:
        raise error(f"{what} not found", path=where) from None
    except IsADirectoryError:
        raise error(f"is a folder, not a {what}", path=where) from None
    except OSError as exc:
        raise error(f"cannot read the {what}: {describe_os_error(exc)}", path=where) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"is {kind_of(mode)}, not a {what}", path=where)
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def check_regular(path: str | os.PathLike[str], what: str = "file", *, error: type[AsnflowError] = InputError) -> None:
    """Refuse ``path`` unless it is a readable regular file (for readers that open it themselves)."""
    os.close(open_regular(path, what, error=error))


def read_bytes(
    path: str | os.PathLike[str],
    what: str = "file",
    *,
    error: type[AsnflowError] = InputError,
    limit: int = POOL_LIMIT,
    gunzip: bool = False,
    allow_stdin: bool = False,
) -> bytes:
    """The bytes of a regular file (or of standard input for ``-`` when allowed), at most ``limit``.

    With ``gunzip``, content starting with the gzip magic is decompressed,
    and the decompressed size is held to the same limit.
    """
    where = os.fspath(path)
    limit = limit_for(limit)
    if allow_stdin and where == STDIN:
        data = _read_stream(sys.stdin.buffer.fileno(), limit, what, "standard input", error)
    else:
        descriptor = open_regular(where, what, error=error)
        try:
            size = os.fstat(descriptor).st_size
            if size > limit:
                raise _too_large(what, where, size, limit, error)
            data = _read_stream(descriptor, limit, what, where, error)
        finally:
            os.close(descriptor)
    if gunzip and data.startswith(GZIP_MAGIC):
        data = gunzip_bounded(data, limit, what, where, error)
    return data


def read_text(
    path: str | os.PathLike[str],
    what: str = "file",
    *,
    error: type[AsnflowError] = InputError,
    limit: int = CONFIG_LIMIT,
    allow_stdin: bool = False,
) -> str:
    """The UTF-8 text of a regular file, refusing binary or non-UTF-8 content with its line."""
    where = os.fspath(path)
    data = read_bytes(where, what, error=error, limit=limit, allow_stdin=allow_stdin)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"not a {what} (not UTF-8 text)", path=where, line=line) from None


def _read_stream(descriptor: int, limit: int, what: str, where: str, error: type[AsnflowError]) -> bytes:
    chunks = []
    total = 0
    while True:
        try:
            chunk = os.read(descriptor, _CHUNK)
        except OSError as exc:
            raise error(f"cannot read the {what}: {describe_os_error(exc)}", path=where) from None
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise _too_large(what, where, None, limit, error)
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip_bounded(data: bytes, limit: int, what: str, where: str, error: type[AsnflowError] = InputError) -> bytes:
    """Decompress every gzip member of ``data``; refuse output beyond ``limit`` (a gzip bomb)."""
    out: list[bytes] = []
    total = 0
    rest = data
    try:
        while rest:
            inflater = zlib.decompressobj(wbits=31)
            pending = rest
            while pending:
                chunk = inflater.decompress(pending, limit + 1 - total)
                total += len(chunk)
                if total > limit:
                    raise _too_large(what, where, None, limit, error, compressed=True)
                out.append(chunk)
                pending = inflater.unconsumed_tail
            if not inflater.eof:
                raise error(
                    "looks gzip-compressed but the stream is corrupt (it ends before the end-of-stream marker)",
                    path=where,
                    hint="check the download, or decompress it yourself to see what is wrong",
                )
            rest = inflater.unused_data
            # gzip allows zero padding after the last member, as gzip.decompress does
            if rest and not rest.startswith(GZIP_MAGIC):
                if rest.strip(b"\x00"):
                    raise error("looks gzip-compressed but holds trailing garbage", path=where)
                break
    except zlib.error as exc:
        raise error(
            f"looks gzip-compressed but the stream is corrupt ({exc})",
            path=where,
            hint="check the download, or decompress it yourself to see what is wrong",
        ) from None
    return b"".join(out)


def _too_large(
    what: str, where: str, size: int | None, limit: int, error: type[AsnflowError], compressed: bool = False
) -> AsnflowError:
    measured = f" ({size:,} bytes)" if size is not None else ""
    kind = "decompresses to more than" if compressed else f"is too large{measured}: the limit is"
    return error(f"the {what} {kind} {limit:,} bytes", path=where,
                 hint=f"a real {what} is far smaller; check that this is the right file")


def describe_os_error(exc: OSError) -> str:
    """The reason of an OS error in a few words (its strerror, lower-cased)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return reason[:1].lower() + reason[1:]
