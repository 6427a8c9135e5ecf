"""Reading inputs and writing products for the native modules, reproducibly.

stdatamodels stamps ``DATE`` (``meta.date``) with the current time on every
save, which makes two runs of the same node differ by a few bytes. Products
here carry a *product date* instead: the ``product_date`` run option when
given, otherwise the newest ``DATE`` among the node's inputs. Re-running a
node, or resuming a killed run, therefore gives byte-identical files.
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


def save_model(model: Any, path: Path, date: str) -> Path:
    """Save ``model`` to ``path`` (FITS), with ``meta.date`` fixed to ``date``."""
    base_on_save = type(model).on_save

    def on_save(init: Any) -> None:
        base_on_save(model, init)
        model.meta.date = date  # replaces the "now" that stdatamodels just stamped

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
    return path
