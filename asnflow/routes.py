"""The calibration table's routes: which module runs a node, chosen by asn_type and when.

The ``calibration`` table of rules.yaml maps an asn_type to one module spec or
to a list of routes, each with the module's step parameters, option defaults
and a ``when`` test on the node's instrument and readout. This module reads
and checks that table format; choosing a route for a node and turning it into
a module is the calibration layer's job (:mod:`asnflow.calib.base`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from asnflow.records import record

# Node traits a route may test in ``when``; values are compared upper-case.
ROUTE_TRAITS = ("instrument", "detector", "readpatt", "exp_type")


@record(frozen=True)
class Route:
    """One entry of the calibration table: a module spec, its parameters, and when it applies.

    ``steps`` are step parameters for a ``jwst:`` pipeline (``{step: {param: value}}``);
    ``options`` are defaults for that module's run options (``--option`` overrides
    them); ``when`` maps a trait (:data:`ROUTE_TRAITS`) to the values it accepts;
    an empty ``when`` always applies.
    """

    module: str
    steps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def matches(self, traits: Mapping[str, str | None]) -> bool:
        return all((traits.get(trait) or "").upper() in accepted for trait, accepted in self.when.items())


def parse_routes(asn_type: str, entry: Any) -> tuple[Route, ...]:
    """Read one calibration-table entry (a spec string, a mapping, or a list of mappings).

    Raises ValueError with a one-line reason naming ``asn_type``.
    """
    if isinstance(entry, Route):
        return (entry,)
    if isinstance(entry, tuple) and all(isinstance(item, Route) for item in entry):
        return entry
    items = entry if isinstance(entry, list) else [entry]
    if not items:
        raise ValueError(f"calibration for {asn_type}: an empty list")
    routes = tuple(_parse_route(asn_type, item) for item in items)
    if routes[-1].when:
        raise ValueError(f"calibration for {asn_type}: the last route must have no 'when' (it is the default)")
    return routes


def _parse_route(asn_type: str, item: Any) -> Route:
    where = f"calibration for {asn_type}"
    if isinstance(item, str):
        item = {"module": item}
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected a module spec or a mapping with 'module', not {type(item).__name__}")
    unknown = sorted(set(map(str, item)) - {"module", "steps", "options", "when"})
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (use module, steps, options, when)")
    module = item.get("module")
    if not isinstance(module, str) or ":" not in module:
        raise ValueError(f"{where}: 'module' must be native:NAME, jwst:CLASS or python:MODULE:ATTR, not {module!r}")
    steps = item.get("steps") or {}
    if not isinstance(steps, Mapping) or not all(isinstance(v, Mapping) for v in steps.values()):
        raise ValueError(f"{where}: 'steps' must map step names to mappings of parameters")
    if steps and not module.startswith("jwst:"):
        raise ValueError(f"{where}: 'steps' are parameters of jwst pipelines; {module} takes 'options'")
    options = item.get("options") or {}
    if not isinstance(options, Mapping):
        raise ValueError(f"{where}: 'options' must be a mapping")
    when_in = item.get("when") or {}
    if not isinstance(when_in, Mapping):
        raise ValueError(f"{where}: 'when' must be a mapping of {', '.join(ROUTE_TRAITS)}")
    when: dict[str, tuple[str, ...]] = {}
    for trait, accepted in when_in.items():
        if trait not in ROUTE_TRAITS:
            raise ValueError(f"{where}: 'when' cannot test {trait!r} (only {', '.join(ROUTE_TRAITS)})")
        values = accepted if isinstance(accepted, list) else [accepted]
        when[str(trait)] = tuple(str(v).upper() for v in values)
    return Route(
        module=module,
        steps={str(k): dict(v) for k, v in steps.items()},
        options={str(k): v for k, v in options.items()},
        when=when,
    )


def describe_routes(entry: Any) -> str:
    """A short text for the table entry: ``jwst:X if instrument=MIRI, else native:Y``."""
    parts = []
    for route in parse_routes("?", entry):
        test = " and ".join(f"{k}={'|'.join(v)}" for k, v in route.when.items())
        parts.append(f"{route.module} if {test}" if test else route.module)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", else " + parts[-1]
