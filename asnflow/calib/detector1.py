"""detector1: one raw exposure (``_uncal`` ramp) to count rates (``_rate``/``_rateints``).

The near-infrared detector1 chain reduced to the steps that need no bias,
dark or linearity references: saturation flagging → charge_migration (build
10.0; NIRISS by default) → jump detection → ramp fitting, with stcal doing the
saturation, jump and ramp-fit work. References: SATURATION, GAIN, READNOISE.

Run options (``RunContext.options``):

- ``maximum_cores``: ``none``/``one``/``quarter``/``half``/``all`` or a
  positive integer, as stcal takes it, for jump and ramp_fit (default ``1``);
- ``charge_migration``: ``auto`` (NIRISS only, the build-10.0 CRDS choice),
  ``on`` or ``off``;
- ``charge_migration_threshold``: DN, default 25,000;
- ``product_date``: the DATE written into products (see :mod:`.modelio`).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from typing import Any

import numpy as np

from asnflow.calib.algorithms.charge_migration import (
    DEFAULT_SIGNAL_THRESHOLD,
    MINIMUM_GROUPS,
    flag_charge_migration,
)
from asnflow.calib.base import ConventionalModule, Node, RunContext, file_root
from asnflow.calib.modelio import open_model, product_date, save_model
from asnflow.errors import CalibrationError

ATOD_LIMIT = 65535.0  # the A/D converter ceiling jwst's saturation step uses
NO_SATURATION_CHECK = 1.0e8  # threshold given to pixels whose reference value is NaN (as jwst)
CORE_WORDS = ("none", "one", "quarter", "half", "all")
CHARGE_MIGRATION_DEFAULT_INSTRUMENTS = frozenset({"NIRISS"})


def parse_maximum_cores(value: Any) -> str:
    """Validate ``maximum_cores`` and return it the way stcal reads it.

    stcal silently treats an unknown word as one core and compares "quarter",
    "half" and "all" case-sensitively; asnflow refuses unknown values instead.
    """
    text = str(value if value is not None else "1").strip().lower()
    if text in CORE_WORDS:
        return text
    if text.isdigit() and int(text) >= 1:
        return str(int(text))
    raise CalibrationError(
        f"maximum_cores must be one of {', '.join(CORE_WORDS)} or a positive integer, not {value!r}"
    )


def effective_maximum_cores(value: str) -> str:
    """Fall back to one core inside a daemonic worker (e.g. a Dask worker).

    stcal starts a multiprocessing pool when asked for more than one core,
    and a daemonic process may not have children: the step would crash. One
    core gives the same numbers, only slower.
    """
    if value in ("none", "one", "1"):
        return value
    if multiprocessing.current_process().daemon:
        return "1"
    return value


def charge_migration_enabled(options: Mapping[str, Any], instrument: str | None) -> bool:
    setting = str(options.get("charge_migration", "auto")).strip().lower()
    if setting in ("on", "true", "yes", "1"):
        return True
    if setting in ("off", "false", "no", "0"):
        return False
    if setting == "auto":
        return (instrument or "").upper() in CHARGE_MIGRATION_DEFAULT_INSTRUMENTS
    raise CalibrationError(f"charge_migration must be auto, on or off, not {setting!r}")


def _threshold(options: Mapping[str, Any]) -> float:
    value = options.get("charge_migration_threshold", DEFAULT_SIGNAL_THRESHOLD)
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise CalibrationError(f"charge_migration_threshold must be a number, not {value!r}") from None
    if not np.isfinite(threshold) or threshold <= 0:
        raise CalibrationError(f"charge_migration_threshold must be positive, not {value!r}")
    return threshold


def _check_ramp(ramp: Any, name: str) -> None:
    if ramp.data is None or ramp.data.ndim != 4:
        raise CalibrationError(f"{name} is not a ramp (expected 4-D data: integrations, groups, rows, columns)")
    exposure = ramp.meta.exposure
    missing = [key for key in ("nframes", "groupgap", "frame_time", "group_time") if getattr(exposure, key, None) is None]
    if missing:
        keywords = {"nframes": "NFRAMES", "groupgap": "GROUPGAP", "frame_time": "TFRAME", "group_time": "TGROUP"}
        raise CalibrationError(f"{name} lacks {', '.join(keywords[key] for key in missing)} needed by jump and ramp_fit")
    if ramp.groupdq is None or ramp.groupdq.shape != ramp.data.shape:
        ramp.groupdq = np.zeros(ramp.data.shape, dtype=np.uint8)
    if ramp.pixeldq is None or ramp.pixeldq.shape != ramp.data.shape[-2:]:
        ramp.pixeldq = np.zeros(ramp.data.shape[-2:], dtype=np.uint32)


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
        from stcal.jump.jump import detect_jumps_data
        from stcal.jump.jump_class import JumpData
        from stcal.ramp_fitting import ramp_fit
        from stcal.saturation.saturation import flag_saturated_pixels
        from stdatamodels.jwst import datamodels
        from stdatamodels.jwst.datamodels import dqflags

        if ctx.provider is None:
            raise CalibrationError("detector1 needs reference data (gain, readnoise, saturation)")
        (uncal_name,) = self.inputs(node)
        cores = effective_maximum_cores(parse_maximum_cores(ctx.options.get("maximum_cores", "1")))
        outputs = self.outputs(node)
        unknown = [name for name in outputs if not name.endswith(("_rate.fits", "_rateints.fits"))]
        if unknown:
            raise CalibrationError(f"detector1 cannot produce {', '.join(unknown)}")

        with open_model(ctx.data_dir / uncal_name, "RampModel") as ramp:
            _check_ramp(ramp, uncal_name)
            date = product_date(ctx.options, [ramp])
            refs = ctx.provider.fetch(ramp, ["saturation", "gain", "readnoise"])
            ramp.data = ramp.data.astype(np.float32)

            # saturation
            threshold = refs["saturation"].data.astype(np.float32).copy()
            saturation_dq = (
                refs["saturation"].dq.astype(np.uint32).copy()
                if refs["saturation"].dq is not None
                else np.zeros(threshold.shape, np.uint32)
            )
            unchecked = np.isnan(threshold)
            threshold[unchecked] = NO_SATURATION_CHECK
            saturation_dq[unchecked] |= np.uint32(dqflags.pixel["NO_SAT_CHECK"])
            groupdq, pixeldq, _ = flag_saturated_pixels(
                ramp.data, ramp.groupdq, ramp.pixeldq, threshold, saturation_dq, ATOD_LIMIT, dqflags.pixel, n_pix_grow_sat=1
            )
            ramp.groupdq, ramp.pixeldq = groupdq, pixeldq
            ramp.meta.cal_step.saturation = "COMPLETE"

            # charge migration, before jump so that jump ignores the flagged groups
            ngroups = ramp.data.shape[1]
            if charge_migration_enabled(ctx.options, ramp.meta.instrument.name) and ngroups >= MINIMUM_GROUPS:
                ramp.groupdq = flag_charge_migration(
                    ramp.data,
                    ramp.groupdq,
                    _threshold(ctx.options),
                    do_not_use=dqflags.group["DO_NOT_USE"],
                    chargeloss=dqflags.group["CHARGELOSS"],
                )
                ramp.meta.cal_step.charge_migration = "COMPLETE"
            else:
                ramp.meta.cal_step.charge_migration = "SKIPPED"

            gain = refs["gain"].data.astype(np.float32)
            readnoise = refs["readnoise"].data.astype(np.float32)

            # jump (needs at least 3 groups, as in jwst)
            if ngroups > 2:
                jump_data = JumpData(ramp, gain, readnoise, dqflags.pixel)
                jump_data.set_detection_settings(4.0, 6.0, 5.0, 1000.0, 10.0, True)
                jump_data.max_cores = cores
                groupdq, pixeldq, _, _ = detect_jumps_data(jump_data)
                ramp.groupdq, ramp.pixeldq = groupdq, pixeldq
                ramp.meta.cal_step.jump = "COMPLETE"
            else:
                ramp.meta.cal_step.jump = "SKIPPED"

            # ramp fit
            image_info, integ_info, _ = ramp_fit.ramp_fit(
                ramp, False, readnoise, gain, "OLS_C", "optimal", cores, dqflags.pixel, suppress_one_group=True
            )
            if image_info is None:
                raise CalibrationError(f"ramp fitting of {uncal_name} gave no result (every group is DO_NOT_USE)")
            ramp.meta.cal_step.ramp_fit = "COMPLETE"
            sources = {name: ref.source for name, ref in refs.items()}

            for name in outputs:
                if name.endswith("_rateints.fits"):
                    product = datamodels.CubeModel(integ_info["slope"].shape)
                    info = integ_info
                else:
                    product = datamodels.ImageModel(image_info["slope"].shape)
                    info = image_info
                with product:
                    product.update(ramp)
                    product.data = info["slope"]
                    product.dq = info["dq"]
                    product.var_poisson = info["var_poisson"]
                    product.var_rnoise = info["var_rnoise"]
                    product.err = info["err"]
                    if name.endswith("_rateints.fits") and ramp.hasattr("int_times"):
                        product.int_times = ramp.int_times
                    product.meta.bunit_data = "DN/s"
                    product.meta.bunit_err = "DN/s"
                    product.meta.cal_step.saturation = ramp.meta.cal_step.saturation
                    product.meta.cal_step.charge_migration = ramp.meta.cal_step.charge_migration
                    product.meta.cal_step.jump = ramp.meta.cal_step.jump
                    product.meta.cal_step.ramp_fit = "COMPLETE"
                    _record_references(product, sources)
                    save_model(product, ctx.workdir / name, date)


def _record_references(model: Any, sources: Mapping[str, str]) -> None:
    for reftype, source in sources.items():
        getattr(model.meta.ref_file, reftype).name = source


MODULE = Detector1Module()
