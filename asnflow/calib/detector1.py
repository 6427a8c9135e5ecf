"""detector1: one raw exposure (``_uncal`` ramp) to count rates (``_rate``/``_rateints``).

The near-infrared calwebb_detector1 of jwst 3.0.0 (NIRCam, NIRISS, FGS, and
NIRSpec read out traditionally): group_scale, dq_init, saturation, ipc,
superbias, refpix, linearity, dark_current, charge_migration, jump,
ramp_fit and gain_scale, in jwst's order with jwst's default parameters,
adjusted by the ``pars-*`` references of the CRDS cache as jwst reads them.
The steps themselves are in :mod:`asnflow.calib.detector1_steps`.

Run options (``RunContext.options``):

- ``maximum_cores``: ``none``/``one``/``quarter``/``half``/``all`` or a
  positive integer, as stcal takes it, for jump and ramp_fit (default: the
  parameters' value, ``1``);
- ``charge_migration``: ``auto`` (as the CRDS parameters say; jwst skips it
  unless ``pars-chargemigrationstep`` enables it), ``on`` or ``off``;
- ``charge_migration_threshold``: DN, default 25,000;
- ``steps``: per-step parameter overrides, e.g. ``{jump: {expand_large_events: true}}``;
- ``product_date``: the DATE written into products (see :mod:`.modelio`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from asnflow.calib.base import ConventionalModule, Node, RunContext, file_root
from asnflow.calib.detector1_steps import Detector1Chain, required_reftypes
from asnflow.calib.modelio import open_model, product_date, save_model
from asnflow.calib.step_parameters import (
    effective_maximum_cores,
    parameter_reftypes,
    parse_maximum_cores,
    resolve_parameters,
)
from asnflow.errors import CalibrationError

__all__ = ["MODULE", "Detector1Module", "run_detector1", "parse_maximum_cores", "effective_maximum_cores"]

# header keywords the chain reads, by model attribute
REQUIRED_KEYWORDS = {
    ("instrument", "name"): "INSTRUME",
    ("instrument", "detector"): "DETECTOR",
    ("exposure", "ngroups"): "NGROUPS",
    ("exposure", "nframes"): "NFRAMES",
    ("exposure", "groupgap"): "GROUPGAP",
    ("exposure", "frame_time"): "TFRAME",
    ("exposure", "group_time"): "TGROUP",
    ("subarray", "xstart"): "SUBSTRT1",
    ("subarray", "ystart"): "SUBSTRT2",
    ("subarray", "xsize"): "SUBSIZE1",
    ("subarray", "ysize"): "SUBSIZE2",
    ("observation", "date"): "DATE-OBS",
    ("observation", "time"): "TIME-OBS",
}
REFPIX_KEYWORDS = {("subarray", "fastaxis"): "FASTAXIS", ("subarray", "slowaxis"): "SLOWAXIS"}
NATIVE_INSTRUMENTS = frozenset({"NIRCAM", "NIRISS", "FGS", "NIRSPEC"})


def check_exposure(ramp: Any, name: str, parameters: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse, in one line, an exposure the native chain cannot calibrate as jwst would."""
    if ramp.data is None or ramp.data.ndim != 4:
        raise CalibrationError(f"{name} is not a ramp (expected 4-D data: integrations, groups, rows, columns)")
    keywords = dict(REQUIRED_KEYWORDS)
    if not parameters["refpix"]["skip"]:
        keywords.update(REFPIX_KEYWORDS)
    missing = [kw for (group, attr), kw in keywords.items() if getattr(getattr(ramp.meta, group), attr, None) is None]
    if missing:
        raise CalibrationError(f"{name} lacks header keyword(s) {', '.join(missing)} needed by detector1")
    instrument = str(ramp.meta.instrument.name).upper()
    if instrument not in NATIVE_INSTRUMENTS:
        raise CalibrationError(
            f"{name} is a {instrument} exposure; native detector1 covers NIRCam, NIRISS, FGS and NIRSpec"
        )
    readpatt = str(ramp.meta.exposure.readpatt or "").upper()
    if "IRS2" in readpatt:
        raise CalibrationError(f"{name} is read out with {readpatt}; native detector1 covers traditional readouts only")
    if ramp.data.shape[1] != ramp.meta.exposure.ngroups:
        raise CalibrationError(
            f"{name} holds {ramp.data.shape[1]} groups but NGROUPS says {ramp.meta.exposure.ngroups}"
        )
    if ramp.meta.exposure.zero_frame and (not ramp.hasattr("zeroframe") or ramp.zeroframe is None):
        raise CalibrationError(f"{name} says ZEROFRAM = T but has no ZEROFRAME extension")
    if ramp.groupdq is None or ramp.groupdq.shape != ramp.data.shape:
        ramp.groupdq = np.zeros(ramp.data.shape, dtype=np.uint8)
    if ramp.pixeldq is None or ramp.pixeldq.shape != ramp.data.shape[-2:]:
        ramp.pixeldq = np.zeros(ramp.data.shape[-2:], dtype=np.uint32)


def run_detector1(
    ramp: Any,
    provider: Any,
    options: Mapping[str, Any],
    *,
    name: str | None = None,
    on_step: Callable[[str, Any], None] | None = None,
) -> tuple[Any, Any]:
    """Run the chain on an open RampModel (modified in place); return (rate, rateints) models.

    ``on_step(step, result)`` is called after each step that ran, with the
    ramp (or, from ramp_fit on, the two products): the per-step comparison
    with jwst uses it.
    """
    name = name or ramp.meta.filename or "the exposure"
    if ramp.meta.instrument.name is None:
        raise CalibrationError(f"{name} lacks header keyword(s) INSTRUME needed by detector1")
    crds_parameters = provider.step_parameters(ramp, parameter_reftypes())
    parameters = resolve_parameters(crds_parameters, options)
    check_exposure(ramp, name, parameters)
    ramp.data = ramp.data.astype(np.float32, copy=False)
    references = provider.reference_models(ramp, required_reftypes(parameters))
    provider.record_context(ramp)  # the products inherit it: CRDS_CTX, CRDS_VER
    try:
        rate, rateints = Detector1Chain(ramp, references, parameters, on_step=on_step).run()
    finally:
        for _, model in references.values():
            if model is not None:
                model.close()
    return rate, rateints


class Detector1Module(ConventionalModule):
    """Raw ramp → ``_rate`` (and ``_rateints`` when a consumer lists it)."""

    name = "detector1"

    def outputs(self, node: Node) -> list[str]:
        wanted = list(node.wanted)
        if not wanted:
            stem = node.node_id.split(":", 1)[1] if ":" in node.node_id else node.node_id
            wanted = [f"{file_root(stem + '.fits')}_rate.fits"]
        return wanted

    def run(self, node: Node, ctx: RunContext) -> None:
        if ctx.provider is None:
            raise CalibrationError("detector1 needs reference data (a CRDS cache or in-memory references)")
        (uncal_name,) = self.inputs(node)
        outputs = self.outputs(node)
        unknown = [name for name in outputs if not name.endswith(("_rate.fits", "_rateints.fits"))]
        if unknown:
            raise CalibrationError(f"detector1 cannot produce {', '.join(unknown)}")
        with open_model(ctx.data_dir / uncal_name, "RampModel") as ramp:
            date = product_date(ctx.options, [ramp])
            rate, rateints = run_detector1(ramp, ctx.provider, ctx.options, name=uncal_name)
        with rate, rateints:
            for name in outputs:
                save_model(rateints if name.endswith("_rateints.fits") else rate, ctx.workdir / name, date)


MODULE = Detector1Module()
