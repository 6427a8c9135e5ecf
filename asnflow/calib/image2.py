"""image2: count-rate images (``_rate``/``_rateints``) to calibrated images (``_cal``/``_calints``).

Per product of the association: subtract the mean of its ``background``
members (if any), attach the imaging gwcs (assign_wcs: from the DISTORTION and
FILTEROFFSET references when the cache has them, as jwst builds it; otherwise
from the exposure's WCS keywords), divide by the flat field with build 10.0's
rule that DO_NOT_USE pixels become NaN, and convert DN/s to MJy/sr with the
photom reference's conversion factor. PHOTMJSR/PHOTUJA2 and PIXAR_SR/PIXAR_A2
are written as jwst writes them: the pixel areas from the AREA reference's
header when the cache has one (its map goes to the AREA extension), else from
the photom reference's header, with a warning for each that is missing.
References: FLAT, PHOTOM; optional AREA, DISTORTION, FILTEROFFSET.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from asnflow.calib.algorithms.distortion_wcs import Pointing, distortion_wcs, filter_offset
from asnflow.calib.algorithms.flat_field import (
    CalibratedArrays,
    flat_field,
    match_nans_and_flags,
    photometric_conversion,
)
from asnflow.calib.algorithms.imaging_wcs import WcsKeywords, imaging_wcs
from asnflow.calib.base import ConventionalModule, Node, RunContext, products, science_member
from asnflow.calib.modelio import open_model, product_date, save_model
from asnflow.calib.refs import ReferenceProvider, fit_to_science
from asnflow.errors import CalibrationError

LOG = logging.getLogger(__name__)
DO_NOT_USE = 1  # dqflags.pixel["DO_NOT_USE"]
# MJy/sr -> uJy/arcsec^2 (PHOTUJA2 = PHOTMJSR x this): 1e12 uJy/MJy over 4.25e10 arcsec^2/sr
MJSR_TO_UJA2 = 1.0e12 / (180.0 / math.pi * 3600.0) ** 2


def microjansky_conversion(photmjsr: float) -> float:
    """PHOTUJA2 as jwst computes it: the photom table's float32 PHOTMJSR times the unit
    factor, in float32 arithmetic (NumPy keeps the table's precision), so the keyword
    carries float32 rounding."""
    return float(np.float32(photmjsr) * np.float32(MJSR_TO_UJA2))


def attach_imaging_wcs(model: Any, name: str, provider: ReferenceProvider | None = None) -> list[tuple[str, str]]:
    """Give ``model`` its imaging gwcs and the matching S_REGION; return the references used.

    With a DISTORTION reference in the cache the gwcs runs through V2/V3 as
    jwst's assign_wcs builds it (with the FILTEROFFSET shift when the cache
    has one); without, it is the tangent-plane WCS of the exposure's keywords.
    """
    from stcal.alignment.util import compute_s_region_imaging

    used: list[tuple[str, str]] = []
    distortion_path = provider.optional_path(model, "distortion") if provider is not None else None
    if distortion_path is not None:
        wcs = _distortion_wcs(model, name, provider, distortion_path, used)
    else:
        wcsinfo = model.meta.wcsinfo
        values = {key: getattr(wcsinfo, key, None) for key in WcsKeywords.__dataclass_fields__}
        try:
            keywords = WcsKeywords.from_mapping(values)
        except KeyError as exc:
            raise CalibrationError(f"{name} has no usable WCS: {exc.args[0]}") from None
        wcs = imaging_wcs(keywords, tuple(model.data.shape[-2:]))
    model.meta.wcs = wcs
    # the footprint's outer pixel edges, not the edge pixels' centres, as jwst's assign_wcs writes it
    model.meta.wcsinfo.s_region = compute_s_region_imaging(wcs, shape=model.data.shape[-2:], center=False)
    model.meta.cal_step.assign_wcs = "COMPLETE"
    return used


def _distortion_wcs(model: Any, name: str, provider: Any, path: Path, used: list[tuple[str, str]]) -> Any:
    from stdatamodels.jwst.datamodels import DistortionModel, FilteroffsetModel

    try:
        pointing = Pointing.from_wcsinfo(model.meta.wcsinfo, model.meta.velocity_aberration.scale_factor)
    except KeyError as exc:
        raise CalibrationError(f"{name} has no usable pointing for its WCS: {exc.args[0]}") from None
    try:
        with DistortionModel(str(path)) as reference:
            distortion = reference.model
    except Exception as exc:
        raise CalibrationError(f"cannot read distortion reference {path}: {' '.join(str(exc).split())}") from None
    if distortion is None:
        raise CalibrationError(f"distortion reference {path} holds no model")
    used.append(("distortion", f"crds://{path.name}"))
    offset = None
    offset_path = provider.optional_path(model, "filteroffset")
    if offset_path is not None:
        instrument = model.meta.instrument
        try:
            with FilteroffsetModel(str(offset_path)) as reference:
                fields = ("filter", "pupil", "column_offset", "row_offset")
                rows = [{key: getattr(row, key, None) for key in fields} for row in reference.filters]
            offset = filter_offset(rows, instrument.filter, instrument.pupil)
        except Exception as exc:
            raise CalibrationError(
                f"cannot read filteroffset reference {offset_path}: {' '.join(str(exc).split())}"
            ) from None
        used.append(("filteroffset", f"crds://{offset_path.name}"))
    subarray = model.meta.subarray
    try:
        return distortion_wcs(
            distortion,
            pointing,
            tuple(model.data.shape[-2:]),
            offset=offset,
            subarray_start=(int(subarray.xstart or 1), int(subarray.ystart or 1)),
        )
    except ValueError as exc:
        raise CalibrationError(f"cannot build the WCS of {name}: {exc}") from None


def pixel_areas(
    model: Any, provider: ReferenceProvider, photom: Any
) -> tuple[float | None, float | None, Any, str | None]:
    """(PIXAR_SR, PIXAR_A2, area map or None, AREA source) as jwst's photom step sets them.

    jwst takes both values from the AREA reference's header when there is one,
    and from the photom reference's header otherwise; each missing value is
    logged as a warning and left unset (build 10.0 behaviour).
    """
    from stdatamodels.jwst.datamodels import PixelAreaModel

    area_path = provider.optional_path(model, "area")
    if area_path is None:
        area_sr = photom.scalars.get("pixelarea_sr", float("nan"))
        area_a2 = photom.scalars.get("pixelarea_a2", float("nan"))
        where, area_map = photom.source, None
    else:
        try:
            with PixelAreaModel(str(area_path)) as reference:
                area_sr = reference.meta.photometry.pixelarea_steradians
                area_a2 = reference.meta.photometry.pixelarea_arcsecsq
                area_map = fit_to_science(np.array(reference.data), model, what="area")
        except CalibrationError:
            raise
        except Exception as exc:
            raise CalibrationError(f"cannot read area reference {area_path}: {' '.join(str(exc).split())}") from None
        where = f"crds://{area_path.name}"
    values: list[float | None] = []
    for keyword, value in (("PIXAR_SR", area_sr), ("PIXAR_A2", area_a2)):
        if value is None or not math.isfinite(float(value)):
            LOG.warning("The %s keyword is missing from %s", keyword, where)
            values.append(None)
        else:
            values.append(float(value))
    return values[0], values[1], area_map, (where if area_path is not None else None)


class Image2Module(ConventionalModule):
    """``image2`` (and ``tso-image2`` when configured native): rate → cal."""

    name = "image2"

    def run(self, node: Node, ctx: RunContext) -> None:
        provider = ctx.provider
        if provider is None:
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
            try:
                self._calibrate(node, ctx, provider, science, backgrounds, out_name)
            except CalibrationError as exc:
                # say which exposure, unless the reason already does
                raise CalibrationError(str(exc) if science in str(exc) else f"{science}: {exc}") from None

    def _calibrate(
        self, node: Node, ctx: RunContext, provider: ReferenceProvider, science: str, backgrounds: list[str],
        out_name: str,
    ) -> None:
        from stdatamodels.jwst import datamodels
        from stdatamodels.jwst.datamodels import dqflags

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
            refs = provider.fetch(rate, ["flat", "photom"])
            flat = refs["flat"]
            if flat.data is None:
                raise CalibrationError(f"the flat reference {flat.source} holds no array")
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
            area_sr, area_a2, area_map, area_source = pixel_areas(rate, provider, refs["photom"])
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
                # PHOTUJA2 is the same surface-brightness factor in uJy/arcsec^2, not per pixel
                cal.meta.photometry.conversion_megajanskys = photom["photmjsr"]
                cal.meta.photometry.conversion_microjanskys = microjansky_conversion(photom["photmjsr"])
                cal.meta.photometry.pixelarea_steradians = area_sr
                cal.meta.photometry.pixelarea_arcsecsq = area_a2
                if area_map is not None:
                    cal.area = area_map.astype(np.float32)
                    cal.meta.ref_file.area.name = area_source
                cal.meta.ref_file.flat.name = flat.source
                provider.record_context(cal)
                cal.meta.ref_file.photom.name = refs["photom"].source
                cal.meta.asn.pool_name = str((node.association or {}).get("asn_pool", ""))
                cal.meta.asn.table_name = node.path.name if node.path is not None else ""
                for reftype, source in attach_imaging_wcs(cal, science, provider):
                    getattr(cal.meta.ref_file, reftype).name = source
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
