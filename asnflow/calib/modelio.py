"""Reading inputs and writing products for the native modules, reproducibly.

Two things make a freshly saved file differ from the last one, and both are
normalised here so that re-running a node, or resuming a killed run, gives
byte-identical products:

- stdatamodels stamps ``DATE`` (``meta.date``) with the current time on every
  save. Products carry a *product date* instead: the ``product_date`` run
  option when given, otherwise the newest ``DATE`` among the node's inputs.
- asdf lists the extensions it used (``history: extensions:`` in the ASDF
  header) in the iteration order of a set hashed by object id, which changes
  from process to process. The list is sorted after writing; it is a
  permutation of whole lines, so no offset in the file moves.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from asnflow.errors import CalibrationError


def open_model(path: Path, kind: str | None = None) -> Any:
    """Open a data file with stdatamodels, or fail the node with one line.

    ``kind`` ("RampModel", "ImageModel", ...) opens the file as that model class.
    """
    from stdatamodels.jwst import datamodels

    if not path.is_file():
        raise CalibrationError(f"input {path.name} is missing from {path.parent}")
    try:
        if kind is None:
            return datamodels.open(str(path))
        return getattr(datamodels, kind)(str(path))
    except Exception as exc:  # stdatamodels/astropy raise many types for unreadable files
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise CalibrationError(f"cannot read {path.name}: {reason}") from None


def product_date(options: Mapping[str, Any], inputs: Iterable[Any]) -> str:
    """The DATE written into every product of one node (see the module docstring)."""
    explicit = options.get("product_date")
    if explicit:
        return str(explicit)
    dates = [str(model.meta.date) for model in inputs if getattr(model.meta, "date", None)]
    return max(dates) if dates else "2000-01-01T00:00:00.000"


def save_model(model: Any, path: Path, date: str, *, filename: str | None = None) -> Path:
    """Save ``model`` to ``path`` (FITS), with ``meta.date`` fixed to ``date``.

    ``meta.filename`` becomes ``filename`` when given (for a file written
    under a temporary name and renamed afterwards), else ``path``'s name.
    """
    base_on_save = type(model).on_save

    def on_save(init: Any) -> None:
        base_on_save(model, init)
        model.meta.date = date  # replaces the "now" that stdatamodels just stamped
        if filename is not None:
            model.meta.filename = filename

    # An instance attribute shadows the class hook for this one save; set it
    # with object.__setattr__ because DataModel.__setattr__ would store it in
    # the data tree.
    object.__setattr__(model, "on_save", on_save)
    try:
        model.save(os.fspath(path))
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise CalibrationError(f"cannot write {path.name}: {reason}") from None
    finally:
        object.__delattr__(model, "on_save")
    _sort_asdf_extension_history(path)
    return path


_HISTORY = b"\nhistory:\n  extensions:\n"


def _sort_asdf_extension_history(path: Path) -> None:
    """Put the ASDF ``history: extensions:`` entries of a saved file in sorted order."""
    content = path.read_bytes()
    start = content.find(_HISTORY)
    if start < 0:
        return
    start += len(_HISTORY)
    end = start
    while end < len(content):
        line_end = content.find(b"\n", end)
        if line_end < 0:
            return  # not the YAML we expect: leave the file alone
        line = content[end : line_end + 1]
        if not (line.startswith(b"  - ") or line.startswith(b"    ")):
            break
        end = line_end + 1
    entries: list[bytes] = []
    for line in content[start:end].splitlines(keepends=True):
        if line.startswith(b"  - ") or not entries:
            entries.append(line)
        else:
            entries[-1] += line
    ordered = b"".join(sorted(entries))
    if ordered != content[start:end]:
        with open(path, "r+b") as handle:
            handle.seek(start)
            handle.write(ordered)
