"""What a generator run wrote: count the association files, fingerprint them, compare two runs.

Two comparisons:

- ``strict_differences``: the parity rule between asnflow and jwst. The same
  file names, and each file's JSON equal once ``code_version`` and
  ``constraints`` are dropped (jwst writes its own version and Python reprs
  there, which no other implementation can match).
- ``digest_differences``: the same files, byte for byte; for repeated runs of
  one generator, which must be deterministic.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ASSOCIATION_GLOB = "*_asn.json"
IGNORED_KEYS = frozenset({"code_version", "constraints"})


def association_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(ASSOCIATION_GLOB))


def digests(folder: Path) -> dict[str, str]:
    """File name -> SHA-256 of its bytes, for every association file in ``folder``."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in association_files(folder)}


def digest_differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """One line per file missing, extra or with other bytes."""
    lines = [f"missing {name}" for name in sorted(set(expected) - set(actual))]
    lines += [f"extra {name}" for name in sorted(set(actual) - set(expected))]
    lines += [f"differs {name}" for name in sorted(set(expected) & set(actual)) if expected[name] != actual[name]]
    return lines


def strict_differences(expected_folder: Path, actual_folder: Path) -> list[str]:
    """One line per file missing, extra, unreadable or different (naming the differing keys)."""
    expected = {path.name: path for path in association_files(expected_folder)}
    actual = {path.name: path for path in association_files(actual_folder)}
    lines = [f"missing {name}" for name in sorted(set(expected) - set(actual))]
    lines += [f"extra {name}" for name in sorted(set(actual) - set(expected))]
    for name in sorted(set(expected) & set(actual)):
        want, got = _comparable(expected[name]), _comparable(actual[name])
        if isinstance(want, str) or isinstance(got, str):
            lines.append(f"unreadable {name}: {want if isinstance(want, str) else got}")
        elif want != got:
            keys = sorted(key for key in set(want) | set(got) if want.get(key) != got.get(key))
            lines.append(f"differs {name}: {', '.join(keys)}")
    return lines


def _comparable(path: Path) -> dict | str:
    """The file's JSON object without the keys that cannot match; a message if it cannot be read."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{path}: {exc}"
    if not isinstance(document, dict):
        return f"{path}: not a JSON object"
    return {key: value for key, value in document.items() if key not in IGNORED_KEYS}


def tree_digests(folder: Path) -> dict[str, str]:
    """:func:`digests` over ``folder`` and its sub-folders (one per pool when several pools ran), by relative path."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob(ASSOCIATION_GLOB))}
