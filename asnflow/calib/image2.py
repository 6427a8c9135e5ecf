"""image2: count-rate images (``_rate``/``_rateints``) to calibrated images (``_cal``/``_calints``).

Per product of the association: subtract the mean of its ``background``
members (if any), attach a gwcs built from the exposure's WCS keywords (the
stand-in for assign_wcs), divide by the flat field with build 10.0's rule
that DO_NOT_USE pixels become NaN, and convert DN/s to MJy/sr with the
photom reference's conversion factor. References: FLAT, PHOTOM.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from asnflow.calib.algorithms.flat_field import (
    CalibratedArrays,
    flat_field,
    match_nans_and_flags,
    photometric_conversion,
)
from asnflow.calib.algorithms.imaging_wcs import WcsKeywords, imaging_wcs
from asnflow.calib.base import ConventionalModule, Node, RunContext, products, science_member
from asnflow.calib.modelio import open_model, product_date, save_model
from asnflow.errors import CalibrationError

ARCSEC2_PER_STERADIAN = (180.0 / np.pi * 3600.0) ** 2
DO_NOT_USE = 1  # dqflags.pixel["DO_NOT_USE"]


def attach_imaging_wcs(model: Any, name: str) -> None:
    """Give ``model`` a gwcs from its WCS keywords, and the matching S_REGION."""
    from stcal.alignment.util import compute_s_region_imaging

    wcsinfo = model.meta.wcsinfo
    values = {key: getattr(wcsinfo, key, None) for key in WcsKeywords.__dataclass_fields__}
    try:
        keywords = WcsKeywords.from_mapping(values)
    except KeyError as exc:
        raise CalibrationError(f"{name} has no usable WCS: {exc.args[0]}") from None
    wcs = imaging_wcs(keywords, tuple(model.data.shape[-2:]))
    model.meta.wcs = wcs
    model.meta.wcsinfo.s_region = compute_s_region_imaging(wcs)
    model.meta.cal_step.assign_wcs = "COMPLETE"


class Image2Module(ConventionalModule):
    """``image2`` (and ``tso-image2`` when configured native): rate → cal."""

    name = "image2"

    def run(self, node: Node, ctx: RunContext) -> None:
        from stdatamodels.jwst import datamodels
        from stdatamodels.jwst.datamodels import dqflags

        if ctx.provider is None:
            raise CalibrationError("image2 needs reference data (flat, photom)")
        outputs = iter(self.outputs(node))
        for product in products(node.association):
            science = science_member(product)
            if science is None:
                raise CalibrationError(f"product {product.get('name')!r} has no members")
            backgrounds = [
                str(member["expname"]).rsplit("/", 1)[-1]
                for member in product.get("members") or []
                if str(member.get("exptype", "")).lower() == "background"
            ]
            out_name = next(outputs)
            with open_model(ctx.data_dir / science) as rate:
                if rate.data is None or rate.data.ndim not in (2, 3):
                    raise CalibrationError(f"{science} is not a count-rate image or cube")
                date = product_date(ctx.options, [rate])
                arrays = CalibratedArrays(
                    data=rate.data.astype(np.float32),
                    dq=(rate.dq if rate.dq is not None else np.zeros(rate.data.shape, np.uint32)).astype(np.uint32),
                    err=np.asarray(rate.err, dtype=np.float32),
                    var_poisson=np.asarray(rate.var_poisson, dtype=np.float32),
                    var_rnoise=np.asarray(rate.var_rnoise, dtype=np.float32),
                    var_flat=np.zeros(rate.data.shape, np.float32),
                )
                if backgrounds:
                    arrays = _subtract_background(arrays, [ctx.data_dir / name for name in backgrounds])
                refs = ctx.provider.fetch(rate, ["flat", "photom"])
                flat = refs["flat"]
                arrays = flat_field(
                    arrays.data,
                    arrays.dq,
                    arrays.var_poisson,
                    arrays.var_rnoise,
                    flat.data,
                    flat.dq if flat.dq is not None else np.zeros(flat.data.shape, np.uint32),
                    flat.err if flat.err is not None else np.zeros(flat.data.shape, np.float32),
                    do_not_use=dqflags.pixel["DO_NOT_USE"],
                    no_flat_field=dqflags.pixel["NO_FLAT_FIELD"],
                )
                photom = refs["photom"].scalars
                arrays = match_nans_and_flags(
                    photometric_conversion(arrays, photom["photmjsr"]), do_not_use=dqflags.pixel["DO_NOT_USE"]
                )

                model_class = datamodels.CubeModel if arrays.data.ndim == 3 else datamodels.ImageModel
                with model_class(arrays.data.shape) as cal:
                    cal.update(rate)
                    cal.data = arrays.data
                    cal.dq = arrays.dq
                    cal.err = arrays.err
                    cal.var_poisson = arrays.var_poisson
                    cal.var_rnoise = arrays.var_rnoise
                    cal.var_flat = arrays.var_flat
                    if backgrounds:
                        cal.meta.cal_step.bkg_subtract = "COMPLETE"
                    cal.meta.cal_step.flat_field = "COMPLETE"
                    cal.meta.cal_step.photom = "COMPLETE"
                    cal.meta.bunit_data = "MJy/sr"
                    cal.meta.bunit_err = "MJy/sr"
                    cal.meta.photometry.conversion_megajanskys = photom["photmjsr"]
                    cal.meta.photometry.conversion_microjanskys = (
                        photom["photmjsr"] * 1.0e12 * photom["pixelarea_sr"]
                    )
                    cal.meta.photometry.pixelarea_steradians = photom["pixelarea_sr"]
                    cal.meta.photometry.pixelarea_arcsecsq = photom["pixelarea_sr"] * ARCSEC2_PER_STERADIAN
                    cal.meta.ref_file.flat.name = flat.source
                    cal.meta.ref_file.photom.name = refs["photom"].source
                    cal.meta.asn.pool_name = str((node.association or {}).get("asn_pool", ""))
                    cal.meta.asn.table_name = node.path.name if node.path is not None else ""
                    attach_imaging_wcs(cal, science)
                    save_model(cal, ctx.workdir / out_name, date)


def _subtract_background(arrays: CalibratedArrays, paths: list[Path]) -> CalibratedArrays:
    """Subtract the mean of the background exposures' count rates (NaN-aware)."""
    stack = []
    for path in paths:
        with open_model(path) as background:
            if background.data.shape != arrays.data.shape:
                raise CalibrationError(
                    f"background {path.name} has shape {background.data.shape}, the science {arrays.data.shape}"
                )
            stack.append(np.where((background.dq & DO_NOT_USE) != 0, np.nan, background.data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels: "Mean of empty slice"
        level = np.nanmean(np.stack(stack), axis=0)
    return CalibratedArrays(
        data=(arrays.data - np.nan_to_num(level)).astype(np.float32),
        dq=arrays.dq,
        err=arrays.err,
        var_poisson=arrays.var_poisson,
        var_rnoise=arrays.var_rnoise,
        var_flat=arrays.var_flat,
    )


MODULE = Image2Module()
