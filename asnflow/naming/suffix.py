"""DMS calibration suffixes and removing them from a name.

The list of known suffixes is data (``suffixes.txt`` beside this module): the
suffixes jwst 3.0.0's ``jwst.lib.suffix.remove_suffix`` recognises.
"""

from __future__ import annotations

import re
from pathlib import Path


def _read_word_list(resource: str) -> frozenset[str]:
    """One word per line from a text file in this package; ``#`` starts a comment."""
    # Beside this module, as the package's other data (importlib.resources would add its
    # zip and temporary-file machinery to every command's start-up).
    text = Path(__file__).with_name(resource).read_text(encoding="utf-8")
    words = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return frozenset(word for word in words if word)


KNOWN_SUFFIXES: frozenset[str] = _read_word_list("suffixes.txt")

SEPARATORS = ("_", "-")
_SEPARATOR = re.compile("[_-]")


def remove_suffix(name: str) -> tuple[str, str]:
    """Split a known calibration suffix off ``name``: ``(root, separator)``.

    The root is the shortest non-empty prefix followed by ``_`` or ``-`` and a
    known suffix that runs to the end of the name; the separator is that
    character. Without such a suffix the name comes back unchanged with the
    separator ``"_"``. Matching is case-sensitive (``X_CAL`` keeps its suffix)
    and only the last suffix goes (``a_cal_rate`` gives ``a_cal``).

    Two details follow jwst, which matches with a regular expression: a name
    holding a line break anywhere but at its very end is returned unchanged,
    and a single trailing line break is dropped from the root.
    """
    body = name
    if "\n" in name:
        body = name[:-1]
        if not name.endswith("\n") or "\n" in body:
            return name, "_"
        if not body:
            return name, "_"
    for found in _SEPARATOR.finditer(body, 1, len(body) - 1):
        index = found.start()
        if body[index + 1 :] in KNOWN_SUFFIXES:
            return body[:index], body[index]
    return body, "_"


def replace_suffix(name: str, new_suffix: str) -> str:
    """``name`` with its known suffix (if any) replaced by ``new_suffix``, same separator."""
    root, separator = remove_suffix(name)
    return root + separator + new_suffix
