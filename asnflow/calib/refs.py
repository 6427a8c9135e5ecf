"""Reference data for the native calibration modules, through one provider interface.

A module asks its provider for the reference types it needs for one science
model (``provider.fetch(model, ["gain", "readnoise"])``) and gets back
:class:`Reference` values cut to the science array's shape. Two providers:

- :class:`CrdsRefs` reads an existing CRDS cache offline (``CRDS_PATH``; no
  server is ever contacted) and opens the selected files with stdatamodels;
- :class:`ArrayRefs` serves in-memory arrays or scalars (tests, quick runs).

Providers are plain picklable values, so the dispatcher can ship them to
worker processes or Dask workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asnflow.errors import CalibrationError

#: Reference types the native modules use, and what each provides.
KNOWN_REFTYPES = {
    "gain": "gain (e-/DN) per pixel",
    "readnoise": "read noise (DN) per pixel",
    "saturation": "saturation threshold (DN) per pixel, with DQ",
    "flat": "flat field per pixel, with DQ and error",
    "photom": "scalars photmjsr (MJy/sr per DN/s), uncertainty, pixelarea_sr, pixelarea_a2",
    "mask": "bad-pixel mask (DQ) per pixel",
    "superbias": "bias level (DN) per pixel, with DQ",
    "ipc": "inter-pixel capacitance deconvolution kernel",
    "linearity": "non-linearity correction polynomial coefficients, with DQ",
    "dark": "dark signal (DN) per frame, with DQ",
    "area": "pixel area map, with PIXAR_SR / PIXAR_A2 in its header (used when the cache has it)",
    "distortion": "detector -> V2/V3 model for the imaging WCS (used when the cache has it)",
    "filteroffset": "per filter and pupil pixel offsets for the imaging WCS (used with distortion)",
}
PARAMETER_PREFIX = "pars-"  # step-parameter reference types: pars-jumpstep, pars-detector1pipeline, ...


ARCSEC2_PER_SR = (180.0 / np.pi * 3600.0) ** 2


@dataclass(frozen=True)
class Reference:
    """One reference, already matched to a science array.

    ``data``/``dq``/``err`` have the science image shape (ny, nx) once
    returned by a provider; ``scalars`` carries table values (photom).
    ``source`` is what gets recorded in the product's ``meta.ref_file``;
    ``path`` is the file it was read from, when there is one (for provenance).
    """

    reftype: str
    source: str
    data: np.ndarray | None = None
    dq: np.ndarray | None = None
    err: np.ndarray | None = None
    scalars: Mapping[str, float] = field(default_factory=dict)
    path: str = ""


class ReferenceProvider(ABC):
    """Where calibration modules get reference data from."""

    @abstractmethod
    def fetch(self, model: Any, reftypes: Sequence[str]) -> dict[str, Reference]:
        """References of ``reftypes`` for the science ``model`` (a stdatamodels model).

        Raises :class:`~asnflow.errors.CalibrationError` with a one-line
        reason when a reference cannot be found.
        """

    def describe(self) -> str:
        """One line saying where the references come from (for summaries)."""
        return type(self).__name__

    def reference_models(self, model: Any, reftypes: Sequence[str]) -> dict[str, tuple[str, Any]]:
        """Whole reference models for ``model``: reftype -> (source, model, or None when N/A).

        The caller closes the models. Raises
        :class:`~asnflow.errors.CalibrationError` when a type is unknown to
        the provider (as opposed to not applicable) or a file is unreadable.
        """
        raise CalibrationError(f"{self.describe()} cannot provide reference models")

    def step_parameters(self, model: Any, reftypes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Step parameters from ``pars-*`` references: reftype -> parameters (absent: none)."""
        return {}

    def context_name(self) -> str | None:
        """The CRDS context (``jwst_NNNN.pmap``) references come from; None when not from CRDS."""
        return None

    def record_context(self, model: Any) -> None:
        """Write CRDS_CTX and CRDS_VER into ``model`` as jwst does, when the references come from CRDS."""
        context = self.context_name()
        if context is None:
            return
        import importlib.metadata

        model.meta.ref_file.crds.context_used = context
        model.meta.ref_file.crds.sw_version = importlib.metadata.version("crds")

    def optional_path(self, model: Any, reftype: str) -> Path | None:
        """The file of a reference a module uses only when present (distortion, area); None if absent."""
        return None


# --------------------------------------------------------------------------- helpers


def science_shape(model: Any) -> tuple[int, int]:
    """(ny, nx) of the science data of a ramp, cube or image model."""
    shape = tuple(model.data.shape)
    return int(shape[-2]), int(shape[-1])


def fit_to_science(array: np.ndarray | float | None, model: Any, *, what: str) -> np.ndarray | None:
    """Broadcast a scalar, or cut a full-frame array to the science subarray.

    A reference with the science shape is used as is. A larger one is cut at
    the science ``meta.subarray.xstart/ystart`` (1-based, as in the FITS
    keywords SUBSTRT1/SUBSTRT2), the way jwst extracts reference subarrays.
    """
    if array is None:
        return None
    ny, nx = science_shape(model)
    values = np.asarray(array)
    if values.ndim == 0:
        return np.full((ny, nx), values.item(), dtype=values.dtype)
    if values.shape[-2:] == (ny, nx):
        return values
    subarray = getattr(model.meta, "subarray", None)
    xstart = getattr(subarray, "xstart", None) if subarray is not None else None
    ystart = getattr(subarray, "ystart", None) if subarray is not None else None
    if xstart is None or ystart is None:
        raise CalibrationError(
            f"{what} reference is {values.shape[-2]}x{values.shape[-1]} but the science data is {ny}x{nx} "
            "and has no subarray position (SUBSTRT1/SUBSTRT2) to cut it at"
        )
    x0, y0 = int(xstart) - 1, int(ystart) - 1
    if x0 < 0 or y0 < 0 or y0 + ny > values.shape[-2] or x0 + nx > values.shape[-1]:
        raise CalibrationError(
            f"{what} reference ({values.shape[-2]}x{values.shape[-1]}) does not cover the science subarray "
            f"at x={x0 + 1}, y={y0 + 1} of size {nx}x{ny}"
        )
    return values[..., y0 : y0 + ny, x0 : x0 + nx]


def _check_reftypes(reftypes: Sequence[str]) -> list[str]:
    names = [name.lower() for name in reftypes]
    unknown = [name for name in names if name not in KNOWN_REFTYPES and not name.startswith(PARAMETER_PREFIX)]
    if unknown:
        raise CalibrationError(f"unknown reference type(s): {', '.join(unknown)}")
    return names


# --------------------------------------------------------------------------- in memory


@dataclass(frozen=True)
class ArrayRefs(ReferenceProvider):
    """References held in memory: per reftype, a :class:`Reference` whose arrays
    may be scalars (broadcast to any science shape) or full arrays."""

    references: Mapping[str, Reference]
    models: Mapping[str, Any] = field(default_factory=dict)  # whole reference models (e.g. "dark")
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # "pars-jumpstep" -> {...}

    @classmethod
    def from_values(
        cls,
        *,
        gain: np.ndarray | float = 1.0,
        readnoise: np.ndarray | float = 5.0,
        saturation: np.ndarray | float = 60_000.0,
        saturation_dq: np.ndarray | int = 0,
        flat: np.ndarray | float = 1.0,
        flat_dq: np.ndarray | int = 0,
        flat_err: np.ndarray | float = 0.0,
        photmjsr: float = 1.0,
        photom_uncertainty: float = 0.0,
        pixelarea_sr: float | None = 1.0e-13,
        pixelarea_a2: float | None = None,
    ) -> ArrayRefs:
        """Every known reftype from scalars or arrays (defaults are neutral)."""

        def as_array(value: np.ndarray | float, dtype: type) -> np.ndarray:
            return np.asarray(value, dtype=dtype)

        if pixelarea_a2 is not None:
            area_a2 = float(pixelarea_a2)
        elif pixelarea_sr is not None:
            area_a2 = float(pixelarea_sr) * ARCSEC2_PER_SR
        else:
            area_a2 = float("nan")
        refs = {
            "gain": Reference("gain", "array:gain", as_array(gain, np.float32)),
            "readnoise": Reference("readnoise", "array:readnoise", as_array(readnoise, np.float32)),
            "saturation": Reference(
                "saturation",
                "array:saturation",
                as_array(saturation, np.float32),
                dq=as_array(saturation_dq, np.uint32),
            ),
            "flat": Reference(
                "flat",
                "array:flat",
                as_array(flat, np.float32),
                dq=as_array(flat_dq, np.uint32),
                err=as_array(flat_err, np.float32),
            ),
            "photom": Reference(
                "photom",
                "array:photom",
                scalars={
                    "photmjsr": float(photmjsr),
                    "uncertainty": float(photom_uncertainty),
                    "pixelarea_sr": float("nan") if pixelarea_sr is None else float(pixelarea_sr),
                    "pixelarea_a2": area_a2,
                },
            ),
        }
        return cls(refs)

    def fetch(self, model: Any, reftypes: Sequence[str]) -> dict[str, Reference]:
        out = {}
        for name in _check_reftypes(reftypes):
            ref = self.references.get(name)
            if ref is None:
                raise CalibrationError(f"no {name} reference among the in-memory arrays")
            out[name] = Reference(
                reftype=name,
                source=ref.source,
                data=fit_to_science(ref.data, model, what=name),
                dq=fit_to_science(ref.dq, model, what=f"{name} DQ"),
                err=fit_to_science(ref.err, model, what=f"{name} error"),
                scalars=dict(ref.scalars),
            )
        return out

    def describe(self) -> str:
        return f"in-memory arrays ({', '.join(sorted(self.references))})"

    def reference_models(self, model: Any, reftypes: Sequence[str]) -> dict[str, tuple[str, Any]]:
        """Models held in ``models``, or built from ``references`` arrays; other types are N/A."""
        out: dict[str, tuple[str, Any]] = {}
        for name in _check_reftypes(reftypes):
            if name in self.models:
                held = self.models[name]
                out[name] = (f"array:{name}", held.copy())
            elif name in self.references and name in ARRAY_MODEL_TYPES:
                out[name] = (
                    self.references[name].source,
                    _model_from_arrays(name, self.fetch(model, [name])[name], model),
                )
            else:
                out[name] = ("N/A", None)
        return out

    def step_parameters(self, model: Any, reftypes: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {name: dict(self.parameters[name]) for name in reftypes if name in self.parameters}


ARRAY_MODEL_TYPES = frozenset({"gain", "readnoise", "saturation"})


def _model_from_arrays(reftype: str, ref: Reference, science: Any) -> Any:
    """A reference model holding arrays already cut to the science subarray."""
    from stdatamodels.jwst import datamodels

    from asnflow.calib.reference_models import model_class_name

    data = ref.data
    if data is None:
        raise CalibrationError(f"the {reftype} reference {ref.source} holds no array")
    arrays = {"data": data}
    if reftype == "saturation":
        arrays["dq"] = ref.dq if ref.dq is not None else np.zeros(data.shape, np.uint32)
    out = getattr(datamodels, model_class_name(reftype, None))(**arrays)
    sub = science.meta.subarray
    out.meta.subarray.xstart = int(sub.xstart or 1)
    out.meta.subarray.ystart = int(sub.ystart or 1)
    out.meta.subarray.xsize = data.shape[-1]
    out.meta.subarray.ysize = data.shape[-2]
    return out


# --------------------------------------------------------------------------- CRDS, offline


# crds decides at import time which server it would talk to; a URL containing
# "serverless" makes every server call fail at once, with no network I/O.
_SERVERLESS_URL = "https://jwst-serverless-mode.stsci.edu"


@contextlib.contextmanager
def offline_crds_environment(cache: Path) -> Iterator[None]:
    """Point crds at ``cache``, serverless, for the duration of one lookup, quietly.

    crds reads its cache location from the environment on every call, and
    caches configuration per process, so the variables are set around the
    lookup and its function caches cleared; its logger (which prints to the
    console by itself) is silenced because failures become one-line errors.
    Everything is restored afterwards.
    """
    saved = {name: os.environ.get(name) for name in ("CRDS_PATH", "CRDS_SERVER_URL", "CRDS_MODE")}
    os.environ["CRDS_PATH"] = str(cache)
    os.environ["CRDS_SERVER_URL"] = _SERVERLESS_URL
    os.environ["CRDS_MODE"] = "local"
    crds_logger = logging.getLogger("CRDS")
    saved_level = crds_logger.level
    server = None
    try:
        from crds.client import api as crds_api  # first import (re)configures the CRDS logger
        from crds.core import utils as crds_utils

        crds_logger.setLevel(logging.CRITICAL + 1)
        # crds fixed its server when first imported, maybe from a CRDS_SERVER_URL
        # naming a real server: switch it to serverless for this lookup
        server = crds_api.get_crds_server()
        crds_api.set_crds_server(_SERVERLESS_URL)
        crds_utils.clear_function_caches()
        yield
    finally:
        if server is not None:
            crds_api.set_crds_server(server)
        crds_logger.setLevel(saved_level)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# What crds says when a cache's rules hold no such type (or no rules at all for the instrument).
_NOT_IN_THE_RULES = ("Unknown reference type", "Unknown instrument")


def _best_references(parameters: Mapping[str, Any], reftypes: Sequence[str], context: str | None) -> dict:
    """``crds.getreferences`` for jwst, once more if crds tripped over its own folder creation.

    On first use crds makes the cache's instrument folders that are missing,
    checking for each before making it: two processes starting on the same
    cache at once (a run's workers) can both find one missing, and the second
    to make it fails with "File exists". The folder is there by then, so the
    lookup is repeated once.
    """
    import errno

    import crds

    try:
        return crds.getreferences(parameters, reftypes=list(reftypes), observatory="jwst", context=context)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    return crds.getreferences(parameters, reftypes=list(reftypes), observatory="jwst", context=context)


def crds_answer(value: object) -> Path | None | str:
    """What one ``crds.getreferences`` value means: a file (Path), not applicable (None),
    or not found (the reason, a str).

    crds answers ``NOT FOUND n/a`` when the rules say a type does not apply and
    ``NOT FOUND <reason>`` when nothing matches. Only the whole value is compared:
    a path such as ``/data/main/asnflow-demo/...`` holds "N/A" once upper-cased.
    """
    text = str(value).strip()
    upper = text.upper()
    if upper == "N/A":
        return None
    if upper.startswith("NOT FOUND"):
        reason = text[len("NOT FOUND") :].strip()
        return None if reason.upper() == "N/A" else (reason or "not found")
    return Path(text)


@dataclass(frozen=True)
class CrdsRefs(ReferenceProvider):
    """Best references chosen by CRDS rules from a local cache, never a server.

    ``cache`` defaults to ``$CRDS_PATH`` at the time of the lookup. The cache
    must hold ``config/jwst/server_config``, the mappings and the reference
    files (``crds sync`` on a networked machine, or
    :func:`asnflow.calib.crds_cache.write_crds_cache`). ``context`` picks a
    pmap; by default the cache's latest context.
    """

    cache: Path | None = None
    context: str | None = None

    def cache_path(self) -> Path:
        if self.cache is not None:
            return Path(self.cache).resolve()
        env = os.environ.get("CRDS_PATH")
        if not env:
            raise CalibrationError(
                "no CRDS cache: give --crds-cache DIR (or set CRDS_PATH) to a synced cache folder, "
                "or use in-memory references"
            )
        return Path(env).resolve()

    def describe(self) -> str:
        return f"CRDS cache {self.cache_path()} (offline)"

    def context_name(self) -> str | None:
        """The context pinned by ``context``, else the cache's (its server_config), as crds resolves it."""
        cache = self._checked_cache()
        with offline_crds_environment(cache):
            from crds.core import heavy_client

            try:
                return str(heavy_client.get_context_name("jwst", self.context))
            except Exception as exc:  # crds raises many unrelated types
                reason = " ".join(str(exc).split())
                raise CalibrationError(f"CRDS cache {cache} names no usable context: {reason}") from None

    def lookup(self, model: Any, reftypes: Sequence[str]) -> dict[str, Path]:
        """The cached reference file CRDS selects for each reftype."""
        names = _check_reftypes(reftypes)
        cache = self.cache_path()
        if not (cache / "config" / "jwst" / "server_config").is_file():
            raise CalibrationError(f"{cache} is not a CRDS cache (config/jwst/server_config is missing)")
        parameters = model.get_crds_parameters()
        with offline_crds_environment(cache):
            try:
                found = _best_references(parameters, names, self.context)
            except Exception as exc:  # crds raises many unrelated types; all mean "not found"
                message = " ".join(str(exc).split())
                if "Unknown reference type" in message:  # the cache's rules have no such type at all
                    unknown = [n for n in names if f"'{n}'" in message] or names
                    raise CalibrationError(
                        f"CRDS cache {cache} has no {unknown[0]} reference (no rules for it)"
                    ) from None
                raise CalibrationError(f"CRDS lookup in {cache} failed: {message}") from None
        paths = {}
        for name in names:
            answer = crds_answer(found.get(name, "NOT FOUND"))
            if not isinstance(answer, Path):
                reason = "N/A" if answer is None else answer
                raise CalibrationError(f"CRDS cache {cache} has no {name} reference for this exposure ({reason})")
            paths[name] = answer
        return paths

    def lookup_optional(self, model: Any, reftypes: Sequence[str]) -> dict[str, Path | None]:
        """Like :meth:`lookup`, with None for the types the rules say are not applicable (N/A)."""
        names = _check_reftypes(reftypes)
        cache = self._checked_cache()
        with offline_crds_environment(cache):
            try:
                found = _best_references(model.get_crds_parameters(), names, self.context)
            except Exception as exc:  # crds raises many unrelated types; all mean "not found"
                message = " ".join(str(exc).split())
                raise CalibrationError(f"CRDS lookup in {cache} failed: {message}") from None
        paths: dict[str, Path | None] = {}
        for name in names:
            answer = crds_answer(found.get(name, "NOT FOUND"))
            if isinstance(answer, str):
                raise CalibrationError(f"CRDS cache {cache} has no {name} reference for this exposure ({answer})")
            paths[name] = answer
        return paths

    def reference_models(self, model: Any, reftypes: Sequence[str]) -> dict[str, tuple[str, Any]]:
        from asnflow.calib.reference_models import open_reference_model

        instrument = model.meta.instrument.name
        out: dict[str, tuple[str, Any]] = {}
        try:
            for name, path in self.lookup_optional(model, reftypes).items():
                if path is None:
                    out[name] = ("N/A", None)
                else:
                    out[name] = (f"crds://{path.name}", open_reference_model(name, path, instrument))
        except BaseException:
            for _, opened in out.values():
                if opened is not None:
                    opened.close()
            raise
        return out

    def step_parameters(self, model: Any, reftypes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Parameters of the ``pars-*`` types the cache holds; a type it lacks gives none (as stpipe)."""
        from asnflow.calib.reference_models import read_step_parameters

        cache = self._checked_cache()
        parameters = model.get_crds_parameters()
        out: dict[str, dict[str, Any]] = {}
        with offline_crds_environment(cache):
            for name in reftypes:
                try:
                    found = _best_references(parameters, [name], self.context)
                except Exception as exc:  # crds raises many unrelated types
                    message = " ".join(str(exc).split())
                    if any(reason in message for reason in _NOT_IN_THE_RULES):
                        continue  # no parameters, as stpipe treats it
                    # Anything else is a broken lookup: running the step with jwst's
                    # defaults instead would change the products without a word.
                    raise CalibrationError(f"CRDS lookup of {name} in {cache} failed: {message}") from None
                answer = crds_answer(found.get(name, "N/A"))
                if isinstance(answer, Path):
                    out[name] = read_step_parameters(answer)
        return out

    def _checked_cache(self) -> Path:
        cache = self.cache_path()
        if not (cache / "config" / "jwst" / "server_config").is_file():
            raise CalibrationError(f"{cache} is not a CRDS cache (config/jwst/server_config is missing)")
        return cache

    def optional_path(self, model: Any, reftype: str) -> Path | None:
        """The cached file CRDS selects for ``reftype``; None when the cache's rules have no such
        reftype or answer N/A. Other failures (a broken cache) raise CalibrationError."""
        try:
            return self.lookup(model, [reftype])[reftype]
        except CalibrationError as exc:
            text = str(exc)
            if f"has no {reftype} reference" in text:
                return None
            raise

    def fetch(self, model: Any, reftypes: Sequence[str]) -> dict[str, Reference]:
        from stdatamodels.jwst import datamodels

        out = {}
        for name, path in self.lookup(model, reftypes).items():
            try:
                with datamodels.open(str(path)) as ref_model:
                    out[name] = _reference_from_model(name, path, ref_model, model)
            except CalibrationError:
                raise
            except Exception as exc:
                raise CalibrationError(f"cannot read {name} reference {path}: {exc}") from None
        return out


def _reference_from_model(reftype: str, path: Path, ref_model: Any, model: Any) -> Reference:
    source = f"crds://{path.name}"
    if reftype == "photom":
        return Reference(reftype, source, scalars=_photom_scalars(ref_model, model, path), path=str(path))

    def array(name: str) -> np.ndarray | None:
        value = getattr(ref_model, name, None) if ref_model.hasattr(name) else None
        return None if value is None else np.array(value)

    return Reference(
        reftype=reftype,
        source=source,
        data=fit_to_science(array("data"), model, what=reftype),
        dq=fit_to_science(array("dq"), model, what=f"{reftype} DQ"),
        err=fit_to_science(array("err"), model, what=f"{reftype} error"),
        path=str(path),
    )


def _photom_scalars(ref_model: Any, model: Any, path: Path) -> dict[str, float]:
    """The photom table row for the science filter/pupil (N/A and ANY match anything)."""
    table = ref_model.phot_table
    wanted = {
        "filter": str(model.meta.instrument.filter or "N/A").upper(),
        "pupil": str(model.meta.instrument.pupil or "N/A").upper(),
    }
    for row in table:
        ok = True
        for column, value in wanted.items():
            if column in table.dtype.names:
                cell = row[column]
                cell = (cell.decode() if isinstance(cell, bytes) else str(cell)).strip().upper()
                if cell not in (value, "N/A", "ANY"):
                    ok = False
        if ok:
            area = ref_model.meta.photometry.pixelarea_steradians
            area_a2 = ref_model.meta.photometry.pixelarea_arcsecsq
            return {
                "photmjsr": float(row["photmjsr"]),
                "uncertainty": float(row["uncertainty"]),
                # NaN: the reference's header lacks PIXAR_SR / PIXAR_A2
                "pixelarea_sr": float(area) if area is not None else float("nan"),
                "pixelarea_a2": float(area_a2) if area_a2 is not None else float("nan"),
            }
    raise CalibrationError(
        f"photom reference {path.name} has no row for filter {wanted['filter']}, pupil {wanted['pupil']}"
    )
