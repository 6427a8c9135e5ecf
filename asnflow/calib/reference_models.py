"""Reference files as stdatamodels models, and step parameters from ``pars-*`` references.

detector1 needs whole reference models (a dark's frame count, linearity
coefficients, an IPC kernel, a gain file's GAINFACT), not only one array, so
providers hand them out through :func:`open_reference_model`; arrays are cut
to the science subarray with :func:`science_section`, using the reference
file's own subarray keywords the way jwst does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from asnflow.errors import CalibrationError

FULL_FRAME = 2048

#: stdatamodels class per reference type (detector1, near-infrared).
MODEL_CLASSES = {
    "mask": "MaskModel",
    "saturation": "SaturationModel",
    "superbias": "SuperBiasModel",
    "ipc": "IPCModel",
    "linearity": "LinearityModel",
    "dark": "DarkModel",
    "gain": "GainModel",
    "readnoise": "ReadnoiseModel",
}


# arrays each reference type must hold; a truncated file opens without them
REQUIRED_ARRAYS = {
    "mask": ("dq",),
    "saturation": ("data",),
    "superbias": ("data",),
    "ipc": ("data",),
    "linearity": ("coeffs",),
    "dark": ("data",),
    "gain": ("data",),
    "readnoise": ("data",),
}


def model_class_name(reftype: str, instrument: str | None) -> str:
    if reftype == "dark" and (instrument or "").upper() == "NIRSPEC":
        return "DarkNirspecModel"
    return MODEL_CLASSES[reftype]


def open_reference_model(reftype: str, path: Path, instrument: str | None) -> Any:
    """Open a reference file as its model class, or fail with one line naming it."""
    from stdatamodels.jwst import datamodels

    if not Path(path).is_file():
        raise CalibrationError(f"{reftype} reference {Path(path).name} is missing from the CRDS cache ({path})")
    model = None
    try:
        model = getattr(datamodels, model_class_name(reftype, instrument))(str(path))
        for name in REQUIRED_ARRAYS.get(reftype, ()):
            value = getattr(model, name, None) if model.hasattr(name) else None
            if value is None or np.asarray(value).size == 0:
                raise ValueError(f"it holds no {name.upper()} array")
    except Exception as exc:  # astropy/asdf/stdatamodels raise many types for unreadable files
        if model is not None:
            model.close()
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise CalibrationError(f"cannot read {reftype} reference {Path(path).name}: {reason}") from None
    return model


def _reference_corner(ref_model: Any, array: np.ndarray) -> tuple[int, int]:
    """1-based (xstart, ystart) of a reference array on the detector."""
    sub = ref_model.meta.subarray
    xstart, ystart = getattr(sub, "xstart", None), getattr(sub, "ystart", None)
    if xstart is None or ystart is None:
        if array.shape[-2:] == (FULL_FRAME, FULL_FRAME):
            return 1, 1  # jwst assumes full frame for a 2048x2048 reference without keywords
        if array.shape[-2:] == (1024, 1032):
            return 1, 1
        raise CalibrationError(
            f"{ref_model.meta.reftype or 'reference'} file {ref_model.meta.filename} lacks SUBSTRT1/SUBSTRT2"
        )
    return int(xstart), int(ystart)


def science_section(ref_model: Any, array: np.ndarray | None, science: Any, what: str) -> np.ndarray | None:
    """The part of a reference array (..., ny, nx) under the science subarray."""
    if array is None:
        return None
    array = np.asarray(array)
    ny, nx = science.data.shape[-2:]
    ref_x, ref_y = _reference_corner(ref_model, array)
    sub = science.meta.subarray
    x0 = int(sub.xstart) - ref_x
    y0 = int(sub.ystart) - ref_y
    if array.shape[-2:] == (ny, nx) and x0 == 0 and y0 == 0:
        return array
    if x0 < 0 or y0 < 0 or y0 + ny > array.shape[-2] or x0 + nx > array.shape[-1]:
        raise CalibrationError(
            f"{what} reference ({array.shape[-2]}x{array.shape[-1]} at x={ref_x}, y={ref_y}) does not cover "
            f"the science subarray at x={sub.xstart}, y={sub.ystart} of size {nx}x{ny}"
        )
    return array[..., y0 : y0 + ny, x0 : x0 + nx]


def read_step_parameters(path: Path) -> dict[str, Any]:
    """The parameters of a ``pars-*`` ASDF reference, as plain Python values.

    Both layouts stpipe reads are understood: the current one (``class``,
    ``name``, ``parameters`` and a list of ``steps`` at the top) and the
    legacy one (everything under ``parameters``, ``steps`` a mapping). A
    pipeline's step parameters come back under ``"steps": {name: {...}}``.
    """
    import asdf

    try:
        with asdf.open(str(path), lazy_load=False, memmap=False) as handle:
            tree = _plain(dict(handle.tree))
    except Exception as exc:  # asdf/yaml raise many types for unreadable files
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise CalibrationError(f"cannot read step parameters {Path(path).name}: {reason}") from None
    parameters = tree.get("parameters")
    if not isinstance(parameters, dict):
        raise CalibrationError(f"step parameters {Path(path).name} hold no 'parameters' mapping")
    parameters = dict(parameters)
    steps = tree.get("steps")
    if isinstance(steps, list):  # current layout
        parameters["steps"] = {
            str(step.get("name")): dict(step.get("parameters") or {}) for step in steps if isinstance(step, dict)
        }
    return parameters


def _plain(value: Any) -> Any:
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
