"""Reading a rule file's bytes, with one-line errors for missing, binary or non-UTF-8 files."""

from __future__ import annotations

from pathlib import Path

from asnflow.errors import RuleError


def read_rule_bytes(path: str | Path) -> bytes:
    from asnflow.fsread import RULE_FILE_LIMIT, read_bytes

    path = Path(path)
    raw = read_bytes(path, "rule file", error=RuleError, limit=RULE_FILE_LIMIT)
    if b"\0" in raw:
        raise RuleError("binary data (NUL bytes) in a rule file", path=str(path))
    return raw


def decode_rule_text(raw: bytes, path: str | Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RuleError("not UTF-8 text", path=str(path), line=line) from None
