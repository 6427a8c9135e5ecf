"""The contract between the dependency graph, the dispatcher and calibration modules.

A calibration module says which files a node reads (:meth:`CalibrationModule.inputs`)
and writes (:meth:`CalibrationModule.outputs`); the graph draws its edges from
those lists, so graph and modules cannot disagree. The dispatcher gives each
run a private scratch folder (:class:`RunContext`) and moves the declared
outputs into the data folder once :meth:`CalibrationModule.run` returns.

:class:`ConventionalModule` implements ``inputs``/``outputs`` with the file
names jwst's pipelines use (see :func:`conventional_outputs`), so a module only
has to write ``run``.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asnflow.errors import CalibrationError
from asnflow.routes import ROUTE_TRAITS, Route, parse_routes

if TYPE_CHECKING:  # the provider lives with the modules; only its type is needed here
    from asnflow.calib.refs import ReferenceProvider

# Placeholders jwst leaves in stage-3 product names until run time. A file
# name holding one is terminal: nothing can list it as a member.
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")

DETECTOR1 = "detector1"
LEVEL2_IMAGE_TYPES = frozenset({"image2", "tso-image2"})
LEVEL2_SPEC_TYPES = frozenset({"spec2", "tso-spec2", "nrslamp-spec2"})


@dataclass(frozen=True)
class Node:
    """One unit of work: an association, or one raw exposure for detector1."""

    node_id: str  # association: the file stem; exposure: "detector1:<uncal file stem>"
    kind: str  # "association" | "exposure"
    asn_type: str  # the association's asn_type, or "detector1" for exposures
    path: Path | None  # the association file, or the raw `_uncal` exposure file
    association: Mapping[str, Any] | None  # the loaded association (None for exposures)
    wanted: tuple[str, ...] = ()  # exposures only: the detector1 products consumers list
    route: Route | None = None  # the calibration route chosen for this node when the graph was built


@dataclass(frozen=True)
class RunContext:
    """Where one node reads, where it writes, and what it may use."""

    data_dir: Path  # inputs are read here; outputs finally land here (flat folder)
    workdir: Path  # scratch folder private to this node; write outputs here
    provider: ReferenceProvider | None  # reference data
    options: Mapping[str, Any]  # e.g. {"maximum_cores": "1"}


class CalibrationModule(ABC):
    """What runs one kind of node."""

    name: str = "unnamed"

    @abstractmethod
    def inputs(self, node: Node) -> list[str]:
        """File names (no folder) the node reads from the data folder."""

    @abstractmethod
    def outputs(self, node: Node) -> list[str]:
        """File names (no folder) the node writes; may hold run-time placeholders."""

    @abstractmethod
    def run(self, node: Node, ctx: RunContext) -> None:
        """Read inputs from ``ctx.data_dir``, write every declared output into ``ctx.workdir``.

        Raise :class:`asnflow.errors.CalibrationError` with a one-line reason on failure.
        """

    def optional_outputs(self, node: Node) -> list[str]:
        """The subset of :meth:`outputs` a run may leave unwritten (a catalog of an empty field)."""
        return []

    def unavailable(self) -> str | None:
        """Why this module cannot run here (checked before a run starts), or None."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


# ---------------------------------------------------------------------------
# Conventional file names


def file_root(file_name: str) -> str:
    """``jw..._nis_cal.fits`` -> ``jw..._nis``: the name without extension and last suffix."""
    stem = file_name.split(".", 1)[0]
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def file_suffix(file_name: str) -> str:
    """``jw..._nis_rateints.fits`` -> ``rateints``."""
    stem = file_name.split(".", 1)[0]
    return stem.rsplit("_", 1)[1] if "_" in stem else ""


def products(association: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The association's products (an empty list when there are none)."""
    if not association:
        return []
    return list(association.get("products") or [])


def member_names(association: Mapping[str, Any] | None, exptypes: Iterable[str] | None = None) -> list[str]:
    """Every member ``expname`` in product order, without repeats; optionally only some exptypes."""
    wanted = None if exptypes is None else {t.lower() for t in exptypes}
    seen: dict[str, None] = {}
    for product in products(association):
        for member in product.get("members") or []:
            if wanted is not None and str(member.get("exptype", "")).lower() not in wanted:
                continue
            seen.setdefault(Path(str(member["expname"])).name, None)
    return list(seen)


def science_member(product: Mapping[str, Any]) -> str | None:
    """The product's first science member (or its first member when none is marked science)."""
    members = list(product.get("members") or [])
    for member in members:
        if str(member.get("exptype", "")).lower() == "science":
            return Path(str(member["expname"])).name
    return Path(str(members[0]["expname"])).name if members else None


def is_integrations(file_name: str | None) -> bool:
    """True for per-integration products (``_rateints``, ``_calints``, ...)."""
    return bool(file_name) and file_suffix(file_name or "").endswith("ints")


def fill_placeholders(name: str, **values: str) -> str:
    """Fill the placeholders we know (e.g. ``suffix``); leave the others for run time."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(0)[1:-1], m.group(0)), name)


def conventional_inputs(node: Node) -> list[str]:
    """An exposure reads its ``_uncal`` file; an association reads its members."""
    if node.kind == "exposure":
        return [node.node_id.split(":", 1)[1] + ".fits"]
    return member_names(node.association)


def conventional_outputs(node: Node) -> list[str]:
    """The file names jwst's pipelines write for ``node`` (reference: calib_dispatch §1.2-§1.3).

    Level-2 names follow the science member (``_rateints`` -> ``_calints``), so
    level-3 members match them exactly. Stage-3 names may keep run-time
    placeholders such as ``{source_id}``; those are terminal.
    """
    if node.kind == "exposure":
        return list(node.wanted)
    asn_type = node.asn_type
    asn_id = str((node.association or {}).get("asn_id") or "")
    names: list[str] = []
    for product in products(node.association):
        name = str(product.get("name", ""))
        science = science_member(product)
        ints = "ints" if is_integrations(science) else ""
        if asn_type in LEVEL2_IMAGE_TYPES:
            names.append(f"{name}_cal{ints}.fits")
        elif asn_type in LEVEL2_SPEC_TYPES:
            names += [f"{name}_cal{ints}.fits", f"{name}_x1d{ints}.fits"]
        elif asn_type == "image3":
            names += [f"{name}_i2d.fits", f"{name}_cat.ecsv", f"{name}_segm.fits"]
            names += [
                f"{file_root(member)}_{asn_id}_crf.fits"
                for member in member_names({"products": [product]}, ["science"])
            ]
        elif asn_type == "spec3":
            names.append(f"{name}_x1d.fits")
        elif asn_type == "coron3":
            names += [f"{name}_psfstack.fits", f"{name}_i2d.fits"]
        elif asn_type == "ami3":
            names.append(f"{name}_aminorm-oi.fits")
        elif asn_type == "tso3":
            names.append(f"{name}_x1dints.fits")
        elif asn_type == "wfs-image3":
            names.append(fill_placeholders(name, suffix="wfscmb") + ".fits")
        else:
            names.append(f"{name}_{asn_type}.fits")
    return list(dict.fromkeys(names))


def conventional_optional_outputs(node: Node) -> list[str]:
    """Outputs a run may legitimately not write: image3's source catalog and
    segmentation map (jwst writes none for a field without sources)."""
    if node.asn_type != "image3":
        return []
    return [n for n in conventional_outputs(node) if n.endswith(("_cat.ecsv", "_segm.fits"))]


class ConventionalModule(CalibrationModule):
    """A module whose inputs and outputs are jwst's conventional file names."""

    def inputs(self, node: Node) -> list[str]:
        return conventional_inputs(node)

    def outputs(self, node: Node) -> list[str]:
        return conventional_outputs(node)

    def optional_outputs(self, node: Node) -> list[str]:
        return conventional_optional_outputs(node)


class UnavailableModule(ConventionalModule):
    """Stands in for a module that cannot run here; the graph still builds, the run fails."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def unavailable(self) -> str | None:
        return self.reason

    def run(self, node: Node, ctx: RunContext) -> None:
        raise CalibrationError(self.reason)


# ---------------------------------------------------------------------------
# Routes: which module runs a node, chosen by asn_type and the node's instrument and readout

# Detector name (as in file names) -> instrument, longest prefix first.
_DETECTOR_PREFIXES = (("mir", "MIRI"), ("nrc", "NIRCAM"), ("nrs", "NIRSPEC"), ("nis", "NIRISS"), ("guider", "FGS"))
# Raw-header keywords read for a route test on an exposure.
_HEADER_TRAITS = {"instrument": "INSTRUME", "detector": "DETECTOR", "readpatt": "READPATT", "exp_type": "EXP_TYPE"}


def instrument_of_detector(detector: str | None) -> str | None:
    """``nrca1`` -> ``NIRCAM``, ``mirimage`` -> ``MIRI``; None when unknown."""
    name = (detector or "").lower()
    for prefix, instrument in _DETECTOR_PREFIXES:
        if name.startswith(prefix):
            return instrument
    return None


def node_traits(node: Node) -> dict[str, str | None]:
    """What routes test: read from the raw file's header for an exposure, else from member names.

    Member and exposure file names carry the detector (``..._nrca1_rate.fits``),
    hence the instrument; readout pattern and exposure type are only known
    from a raw file's primary header.
    """
    traits: dict[str, str | None] = dict.fromkeys(ROUTE_TRAITS)
    if node.kind == "exposure":
        names = [node.node_id.split(":", 1)[-1]]
        if node.path is not None:
            traits.update(_header_traits(Path(node.path)))
    else:
        names = member_names(node.association)
    if traits["detector"] is None:
        for name in names:
            detector = file_root(name).rsplit("_", 1)[-1] if node.kind != "exposure" else name.rsplit("_", 2)[-2]
            if instrument_of_detector(detector):
                traits["detector"] = detector.upper()
                break
    if traits["instrument"] is None:
        traits["instrument"] = instrument_of_detector(traits["detector"])
    return traits


def _header_traits(path: Path) -> dict[str, str]:
    """The route keywords in a raw file's primary header (nothing when it cannot be read)."""
    try:
        from astropy.io import fits

        header = fits.getheader(path, 0)
    except Exception:  # missing or unreadable: the run reports it; routing falls back on the name
        return {}
    return {trait: str(header[key]).strip() for trait, key in _HEADER_TRAITS.items() if header.get(key) is not None}


def choose_route(node: Node, calibration: Mapping[str, Any]) -> Route | None:
    """The first route for ``node.asn_type`` whose ``when`` matches the node (None: not configured)."""
    entry = calibration.get(node.asn_type)
    if entry is None:
        return None
    routes = parse_routes(node.asn_type, entry)
    traits = node_traits(node) if any(r.when for r in routes) else {}
    return next(r for r in routes if r.matches(traits))


# ---------------------------------------------------------------------------
# Looking modules up


def module_for_node(node: Node, calibration: Mapping[str, Any] | None = None) -> CalibrationModule:
    """The module that runs ``node``: its chosen route, or the one its traits select."""
    route = node.route
    if route is None:
        if calibration is None:
            from asnflow.config import load_config

            calibration = load_config().calibration
        route = choose_route(node, calibration)
    if route is None:
        return UnavailableModule(
            f"unknown:{node.asn_type}", f"no calibration module is configured for asn_type {node.asn_type!r}"
        )
    return resolve_route(route)


def module_for(asn_type: str, calibration: Mapping[str, Any] | None = None) -> CalibrationModule:
    """The default (unconditional) module for ``asn_type`` (``detector1`` for raw exposures).

    ``calibration`` maps asn_type to routes; by default it is the
    ``calibration`` table of rules.yaml. Specs: ``native:NAME`` (the ``MODULE``
    object of ``asnflow.calib.NAME``), ``jwst:CLASS`` (jwst's pipeline class
    through the optional adapter) and ``python:package.module:ATTR`` (any
    importable module object, e.g. one of your own). An unknown asn_type, or a
    module that cannot be imported, gives an :class:`UnavailableModule`.
    """
    if calibration is None:
        from asnflow.config import load_config

        calibration = load_config().calibration
    entry = calibration.get(asn_type)
    if entry is None:
        return UnavailableModule(
            f"unknown:{asn_type}", f"no calibration module is configured for asn_type {asn_type!r}"
        )
    return resolve_route(parse_routes(asn_type, entry)[-1])


def resolve_route(route: Route) -> CalibrationModule:
    """The module object for one route, carrying the route's steps and option defaults."""
    module = resolve_module_spec(route.module, steps=route.steps)
    if route.options and not isinstance(module, UnavailableModule):
        return WithOptions(module, route.options)
    return module


class WithOptions(CalibrationModule):
    """A module run with per-route option defaults (run options given on the command line win)."""

    def __init__(self, module: CalibrationModule, options: Mapping[str, Any]) -> None:
        self.module = module
        self.options = dict(options)
        self.name = module.name

    def inputs(self, node: Node) -> list[str]:
        return self.module.inputs(node)

    def outputs(self, node: Node) -> list[str]:
        return self.module.outputs(node)

    def optional_outputs(self, node: Node) -> list[str]:
        return self.module.optional_outputs(node)

    def unavailable(self) -> str | None:
        return self.module.unavailable()

    def run(self, node: Node, ctx: RunContext) -> None:
        merged = {**self.options, **ctx.options}
        self.module.run(node, RunContext(ctx.data_dir, ctx.workdir, ctx.provider, merged))


def resolve_module_spec(spec: str, *, steps: Mapping[str, Mapping[str, Any]] | None = None) -> CalibrationModule:
    """Turn one ``scheme:target`` spec from the calibration table into a module object."""
    scheme, _, target = spec.partition(":")
    try:
        if scheme == "native":
            module = importlib.import_module(f"asnflow.calib.{target}").MODULE
        elif scheme == "jwst":
            adapter = importlib.import_module("asnflow.calib.jwst_adapter")
            module = adapter.JwstPipelineModule(target, steps=steps)
        elif scheme == "python":
            module_name, _, attribute = target.partition(":")
            module = getattr(importlib.import_module(module_name), attribute or "MODULE")
        else:
            return UnavailableModule(spec, f"calibration module spec {spec!r} has an unknown scheme {scheme!r}")
    except ImportError as exc:
        return UnavailableModule(spec, f"calibration module {spec!r} is not available: {exc}")
    except AttributeError as exc:
        return UnavailableModule(spec, f"calibration module {spec!r} is incomplete: {exc}")
    if not isinstance(module, CalibrationModule):
        return UnavailableModule(spec, f"calibration module {spec!r} is not a CalibrationModule")
    return module
