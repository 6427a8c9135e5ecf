"""image3: calibrated images of one target and filter combined into one mosaic.

1. One output grid for all science members (stcal ``wcs_from_sregions`` over
   the members' footprints, at the first member's pixel scale and roll).
2. Sky levels matched across overlapping members (stcal ``skymatch``, see
   :mod:`.algorithms.sky_levels`), recorded as ``meta.background.level``
   with ``subtracted`` False: outlier detection and drizzling subtract them.
3. Outlier flagging with stcal's ``MedianComputer``: members on one pixel
   grid are compared with their median by stcal's ``flag_crs``; dithered
   members are drizzled one exposure at a time onto the grid, the median of
   those (low-weight pixels ignored) is blotted back onto each member's
   pixels and compared by ``flag_resampled_crs``, which allows for the
   smoothing drizzle and blot add to sharp sources (jwst does the same).
   Flagged pixels become OUTLIER and DO_NOT_USE (and NaN). Each member is
   written as ``<member root>_<asn_id>_crf.fits``.
4. stcal's ``Resample`` drizzles the ``_crf`` images onto the grid (inverse
   variance weights) → ``<product>_i2d.fits``, with XPOSURE/EFFEXPTM and
   DURATION/TELAPSE summed over distinct exposures (build 10.0, see
   :mod:`.algorithms.exposure_times`).
5. A simple source catalog (``_cat.ecsv``) and segmentation map
   (``_segm.fits``) from the mosaic (see :mod:`.algorithms.sources`).

Run options: ``outlier_snr1``/``outlier_snr2`` (5.0/4.0), ``outlier_scale1``/
``outlier_scale2`` (1.2/0.7), ``outlier_maskpt`` (0.7), ``catalog_nsigma``
(3.0), ``catalog_min_pixels`` (5), ``product_date``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from asnflow.calib.algorithms.exposure_times import ExposureTimes, combine_exposure_times
from asnflow.calib.algorithms.imaging_wcs import fits_keywords
from asnflow.calib.algorithms.sky_levels import SkyInput, match_sky_levels
from asnflow.calib.algorithms.sources import estimate_background, measure_sources, segment_sources
from asnflow.calib.base import ConventionalModule, Node, RunContext, file_root, member_names, products
from asnflow.calib.image2 import attach_imaging_wcs
from asnflow.calib.modelio import open_model, product_date, save_model
from asnflow.errors import CalibrationError

DO_NOT_USE = 1
OUTLIER = 16
NON_SCIENCE = 512
# Pixels with any other flag still count in drizzling (jwst's "~DO_NOT_USE+NON_SCIENCE").
GOOD_BITS = ~(DO_NOT_USE | NON_SCIENCE) & 0xFFFFFFFF
AB_ZEROPOINT_JY = 3631.0


def _option(options: Mapping[str, Any], name: str, default: float) -> float:
    value = options.get(name, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CalibrationError(f"option {name} must be a number, not {value!r}") from None


def exposure_identity(model: Any) -> str:
    """What makes two images the same exposure (across detectors): program,
    observation, visit, visit group, sequence, activity and exposure number,
    as jwst's group_id; the file root without the detector when those are missing."""
    obs = model.meta.observation
    parts = [
        obs.program_number,
        obs.observation_number,
        obs.visit_number,
        obs.visit_group,
        obs.sequence_id,
        obs.activity_id,
        obs.exposure_number,
    ]
    if all(part is not None for part in parts):
        return "jw{}{}{}_{}{}{}_{}".format(*parts)
    return file_root(str(model.meta.filename or "")).rsplit("_", 1)[0]


def _resample_input(model: Any, name: str) -> dict[str, Any]:
    """The dict stcal's Resample reads for one image."""
    exposure = model.meta.exposure
    shape = model.data.shape

    def array(value: Any) -> np.ndarray:
        return np.zeros(shape, np.float32) if value is None else np.asarray(value, dtype=np.float32)

    return {
        "data": np.asarray(model.data, dtype=np.float32),
        "dq": np.asarray(model.dq, dtype=np.uint32),
        "err": array(model.err),
        "var_rnoise": array(model.var_rnoise),
        "var_poisson": array(model.var_poisson),
        "var_flat": array(model.var_flat),
        "wcs": model.meta.wcs,
        "filename": name,
        "group_id": exposure_identity(model),
        "exposure_time": exposure.exposure_time,
        "start_time": exposure.start_time,
        "end_time": exposure.end_time,
        "duration": exposure.duration,
        "measurement_time": exposure.measurement_time,
        "pixelarea_steradians": model.meta.photometry.pixelarea_steradians,
        "level": model.meta.background.level,
        "subtracted": model.meta.background.subtracted is not False,  # stcal subtracts the level unless it was
    }


def unsubtracted_sky(model: Any) -> float:
    """The sky level skymatch recorded and nobody subtracted yet (0 when none)."""
    background = model.meta.background
    return float(background.level) if background.subtracted is False and background.level is not None else 0.0


def match_sky(models: Sequence[Any]) -> None:
    """Record each member's matched sky level in its metadata (jwst's skymatch, nothing subtracted)."""
    levels = match_sky_levels(
        [
            SkyInput(model.data, model.dq, model.meta.wcs.__call__, model.meta.wcs.invert, exposure_identity(model))
            for model in models
        ]
    )
    for model, sky in zip(models, levels, strict=True):
        if sky.valid:
            model.meta.background.method = "match"
            model.meta.background.level = sky.level
            model.meta.background.subtracted = False
        model.meta.cal_step.skymatch = "COMPLETE" if sky.valid else "SKIPPED"


@dataclass(frozen=True)
class OutputGrid:
    """The mosaic's gwcs and its pixel scale (arcsec), which stcal's Resample is given as jwst gives it."""

    wcs: Any
    pixel_scale: float
    pixel_scale_ratio: float = 1.0

    @property
    def array_shape(self) -> tuple[int, int]:
        ny, nx = self.wcs.array_shape
        return int(ny), int(nx)


def output_grid(models: Sequence[Any]) -> OutputGrid:
    """One gwcs covering every member, at the first member's scale and orientation.

    Built as jwst's resample builds it: from the members' S_REGION polygons
    (not their gwcs footprints, which differ from S_REGION by a fraction of
    a pixel and so move the grid), at the pixel scale of the first member
    measured at its reference point (RA_REF, DEC_REF).
    """
    from stcal.alignment.util import compute_s_region_imaging, compute_scale, wcs_from_sregions

    reference = models[0]
    wcsinfo = reference.meta.wcsinfo
    ref_wcsinfo = dict(wcsinfo.instance)
    ref_wcsinfo.update(
        ra_ref=wcsinfo.ra_ref if wcsinfo.ra_ref is not None else wcsinfo.crval1,
        dec_ref=wcsinfo.dec_ref if wcsinfo.dec_ref is not None else wcsinfo.crval2,
        roll_ref=wcsinfo.roll_ref if wcsinfo.roll_ref is not None else 0.0,
        v3yangle=wcsinfo.v3yangle if wcsinfo.v3yangle is not None else 0.0,
        vparity=wcsinfo.vparity if wcsinfo.vparity is not None else -1,
    )
    regions = []
    for model in models:
        region = model.meta.wcsinfo.s_region or compute_s_region_imaging(model.meta.wcs, model.data.shape, center=False)
        region = str(region)
        # S_REGION may hold several polygons: each counts, rewritten as jwst rewrites them
        parts = [part.strip() for part in region.split("POLYGON ICRS")]
        regions += ["POLYGON ICRS " + part for part in parts if part] if "POLYGON ICRS" in region else [region]
    scale = compute_scale(reference.meta.wcs, fiducial=np.array([ref_wcsinfo["ra_ref"], ref_wcsinfo["dec_ref"]]))
    wcs = wcs_from_sregions(regions, reference.meta.wcs, ref_wcsinfo, pscale_ratio=1.0, pscale=scale)
    return OutputGrid(wcs, 3600.0 * float(scale))


def _drizzle(inputs: Sequence[dict[str, Any]], grid: OutputGrid, *, enable_var: bool) -> dict[str, Any]:
    from stcal.resample import Resample

    resampler = Resample(
        output_wcs={"wcs": grid.wcs, "pixel_scale": grid.pixel_scale, "pixel_scale_ratio": grid.pixel_scale_ratio},
        n_input_models=len(inputs),
        weight_type="ivm",
        good_bits=GOOD_BITS,
        fillval=np.nan,
        enable_ctx=enable_var,
        enable_var=enable_var,
        compute_err="from_var" if enable_var else None,
    )
    for item in inputs:
        resampler.add_model(item)
    resampler.finalize()
    return resampler.output_model


def _same_pixel_grid(models: Sequence[Any]) -> bool:
    """True when every member has the same shape and the same WCS keywords (no dithers)."""
    keys = ("crpix1", "crpix2", "crval1", "crval2", "cdelt1", "cdelt2", "pc1_1", "pc1_2", "pc2_1", "pc2_2")

    def signature(model: Any) -> tuple[Any, ...]:
        return (model.data.shape, *(getattr(model.meta.wcsinfo, key, None) for key in keys))

    first = signature(models[0])
    return all(signature(model) == first for model in models[1:])


def flag_outliers(models: Sequence[Any], names: Sequence[str], grid: OutputGrid, options: OutlierOptions) -> list[int]:
    """Flag outliers in place on ``models``; return how many pixels each got.

    Members on one pixel grid are compared with the median of the members
    themselves (stcal ``flag_crs``: ``|data - median| > snr1 · err``).
    Dithered members are compared with the median of their drizzled images
    blotted back onto their own pixels; drizzling and blotting smooth sharp
    sources, so there the comparison allows for the median's local gradient
    (stcal ``flag_resampled_crs``, jwst's choice for resampled medians).
    """
    from stcal.outlier_detection.median import MedianComputer
    from stcal.outlier_detection.utils import (
        compute_weight_threshold,
        flag_crs,
        flag_resampled_crs,
        gwcs_blot,
    )

    groups: dict[str, list[int]] = {}
    for index, model in enumerate(models):
        groups.setdefault(exposure_identity(model), []).append(index)
    if len(groups) < 2:
        return [0] * len(models)  # a median of one exposure finds nothing

    aligned = _same_pixel_grid(models)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if aligned:
            median = MedianComputer((len(models), *models[0].data.shape), in_memory=True)
            for position, model in enumerate(models):
                median.append(np.where((model.dq & DO_NOT_USE) != 0, np.nan, model.data).astype(np.float32), position)
            median_image = median.evaluate()
        else:
            ny, nx = grid.array_shape
            median = MedianComputer((len(groups), ny, nx), in_memory=True)
            for position, members in enumerate(groups.values()):
                single = _drizzle([_resample_input(models[i], names[i]) for i in members], grid, enable_var=False)
                data = np.asarray(single["data"], dtype=np.float32).copy()
                weight = np.asarray(single["wht"])
                data[weight < compute_weight_threshold(weight, options.maskpt)] = np.nan
                median.append(data, position)
            median_image = median.evaluate()

    counts = []
    for model in models:
        if aligned:
            reference = median_image
        else:
            reference = gwcs_blot(median_image, grid.wcs, model.data.shape, model.meta.wcs, fillval=np.nan)
        with np.errstate(invalid="ignore"):
            if aligned:
                outliers = flag_crs(model.data, model.err, reference, options.snr1)
            else:
                outliers = flag_resampled_crs(
                    model.data,
                    model.err,
                    reference,
                    options.snr1,
                    options.snr2,
                    options.scale1,
                    options.scale2,
                    unsubtracted_sky(model),  # the median is sky-subtracted, the member is not
                )
            outliers &= np.isfinite(reference) & np.isfinite(model.data)
        model.dq = np.where(outliers, model.dq | np.uint32(OUTLIER | DO_NOT_USE), model.dq).astype(np.uint32)
        for name in ("data", "err", "var_poisson", "var_rnoise", "var_flat"):
            array = getattr(model, name)
            if array is not None:
                array[outliers] = np.nan
        model.meta.cal_step.outlier_detection = "COMPLETE"
        counts.append(int(outliers.sum()))
    return counts


@dataclass(frozen=True)
class OutlierOptions:
    """jwst's imaging defaults: snr "5.0 4.0", scale "1.2 0.7", maskpt 0.7."""

    snr1: float = 5.0
    snr2: float = 4.0
    scale1: float = 1.2
    scale2: float = 0.7
    maskpt: float = 0.7

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> OutlierOptions:
        return cls(
            snr1=_option(options, "outlier_snr1", 5.0),
            snr2=_option(options, "outlier_snr2", 4.0),
            scale1=_option(options, "outlier_scale1", 1.2),
            scale2=_option(options, "outlier_scale2", 0.7),
            maskpt=_option(options, "outlier_maskpt", 0.7),
        )


class Image3Module(ConventionalModule):
    """``image3``: ``_cal`` members → ``_crf`` per member, ``_i2d``, ``_cat.ecsv``, ``_segm.fits``."""

    name = "image3"

    def run(self, node: Node, ctx: RunContext) -> None:
        asn_id = str((node.association or {}).get("asn_id") or "")
        if not asn_id:
            raise CalibrationError("image3 association has no asn_id (needed to name the _crf files)")
        outlier_options = OutlierOptions.from_options(ctx.options)
        for product in products(node.association):
            members = member_names({"products": [product]}, ["science"])
            if not members:
                raise CalibrationError(f"product {product.get('name')!r} has no science members")
            models = [open_model(ctx.data_dir / name) for name in members]
            try:
                self._run_product(str(product["name"]), members, models, asn_id, node, ctx, outlier_options)
            finally:
                for model in models:
                    model.close()

    def _run_product(
        self,
        name: str,
        members: list[str],
        models: list[Any],
        asn_id: str,
        node: Node,
        ctx: RunContext,
        outlier_options: OutlierOptions,
    ) -> None:
        from stdatamodels.jwst import datamodels

        date = product_date(ctx.options, models)
        for member, model in zip(members, models, strict=True):
            if model.data is None or model.data.ndim != 2:
                raise CalibrationError(f"{member} is not a 2-D calibrated image")
            if getattr(model.meta, "wcs", None) is None:
                attach_imaging_wcs(model, member)
        try:
            grid = output_grid(models)
        except (ValueError, KeyError) as exc:
            raise CalibrationError(f"cannot build the output grid of {name}: {exc}") from None

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            match_sky(models)
        flag_outliers(models, members, grid, outlier_options)
        for member, model in zip(members, models, strict=True):
            model.meta.asn.pool_name = str((node.association or {}).get("asn_pool", ""))
            model.meta.asn.table_name = node.path.name if node.path is not None else ""
            save_model(model, ctx.workdir / f"{file_root(member)}_{asn_id}_crf.fits", date)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mosaic = _drizzle(
                [_resample_input(model, member) for member, model in zip(members, models, strict=True)],
                grid,
                enable_var=True,
            )
        times = combine_exposure_times(
            ExposureTimes(
                exposure=exposure_identity(model),
                exposure_time=float(model.meta.exposure.exposure_time or 0.0),
                duration=float(model.meta.exposure.duration or 0.0),
                start_time=float(model.meta.exposure.start_time or 0.0),
                end_time=float(model.meta.exposure.end_time or 0.0),
                measurement_time=model.meta.exposure.measurement_time,
            )
            for model in models
        )

        with datamodels.ImageModel(np.asarray(mosaic["data"], dtype=np.float32)) as i2d:
            i2d.update(models[0])
            i2d.meta.filename = f"{name}_i2d.fits"
            i2d.err = np.asarray(mosaic["err"], dtype=np.float32)
            i2d.var_rnoise = np.asarray(mosaic["var_rnoise"], dtype=np.float32)
            i2d.var_poisson = np.asarray(mosaic["var_poisson"], dtype=np.float32)
            i2d.var_flat = np.asarray(mosaic["var_flat"], dtype=np.float32)
            i2d.wht = np.asarray(mosaic["wht"], dtype=np.float32)
            i2d.con = np.asarray(mosaic["con"], dtype=np.int32)
            i2d.dq = np.where(np.isfinite(i2d.data), 0, DO_NOT_USE).astype(np.uint32)
            i2d.meta.wcs = grid.wcs
            _set_fits_wcs(i2d, grid.wcs)
            _set_exposure_times(i2d, times)
            # the mosaic pixel's own area (from the grid's scale), not the first member's
            i2d.meta.photometry.pixelarea_steradians = float(mosaic["pixelarea_steradians"])
            i2d.meta.photometry.pixelarea_arcsecsq = float(mosaic["pixelarea_arcsecsq"])
            i2d.meta.resample.pixel_scale_ratio = grid.pixel_scale_ratio
            i2d.meta.resample.pixfrac = 1.0
            i2d.meta.resample.weight_type = "ivm"
            i2d.meta.resample.pointings = len({exposure_identity(m) for m in models})
            i2d.meta.asn.pool_name = str((node.association or {}).get("asn_pool", ""))
            i2d.meta.asn.table_name = node.path.name if node.path is not None else ""
            i2d.meta.cal_step.outlier_detection = "COMPLETE"
            i2d.meta.cal_step.skymatch = models[0].meta.cal_step.skymatch
            i2d.meta.cal_step.resample = "COMPLETE"
            from stcal.alignment.util import compute_s_region_imaging

            i2d.meta.wcsinfo.s_region = compute_s_region_imaging(grid.wcs)
            save_model(i2d, ctx.workdir / f"{name}_i2d.fits", date)
            self._write_catalog(i2d, name, ctx, date)

    def _write_catalog(self, i2d: Any, name: str, ctx: RunContext, date: str) -> None:
        from astropy import units as u
        from astropy.coordinates import SkyCoord
        from astropy.table import QTable
        from stdatamodels.jwst import datamodels

        nsigma = _option(ctx.options, "catalog_nsigma", 3.0)
        min_pixels = int(_option(ctx.options, "catalog_min_pixels", 5))
        background = estimate_background(i2d.data)
        segmentation = segment_sources(i2d.data, background, nsigma=nsigma, min_pixels=min_pixels)
        sources = measure_sources(i2d.data, i2d.err, segmentation, background)

        wcs = i2d.meta.wcs
        area_sr = float(i2d.meta.photometry.pixelarea_steradians or 0.0)
        to_jy = area_sr * 1.0e6  # MJy/sr × sr → Jy
        flux = sources.flux * to_jy
        flux_err = sources.flux_err * to_jy
        with np.errstate(invalid="ignore", divide="ignore"):
            abmag = np.where(flux > 0, -2.5 * np.log10(flux / AB_ZEROPOINT_JY), np.nan)
            abmag_err = np.where(flux > 0, 2.5 / np.log(10.0) * flux_err / flux, np.nan)

        def sky(x: np.ndarray, y: np.ndarray) -> SkyCoord:
            ra, dec = wcs(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
            return SkyCoord(ra=np.atleast_1d(ra) * u.deg, dec=np.atleast_1d(dec) * u.deg, frame="icrs")

        table = QTable()
        table["label"] = sources.label.astype(np.int32)
        table["xcentroid"] = sources.xcentroid * u.pix
        table["ycentroid"] = sources.ycentroid * u.pix
        table["sky_centroid"] = sky(sources.xcentroid, sources.ycentroid)
        table["area"] = sources.area * u.pix**2
        table["isophotal_flux"] = flux * u.Jy
        table["isophotal_flux_err"] = flux_err * u.Jy
        table["isophotal_abmag"] = abmag
        table["isophotal_abmag_err"] = abmag_err
        half = 0.5
        table["sky_bbox_ll"] = sky(sources.bbox_xmin - half, sources.bbox_ymin - half)
        table["sky_bbox_ul"] = sky(sources.bbox_xmin - half, sources.bbox_ymax + half)
        table["sky_bbox_lr"] = sky(sources.bbox_xmax + half, sources.bbox_ymin - half)
        table["sky_bbox_ur"] = sky(sources.bbox_xmax + half, sources.bbox_ymax + half)
        table["is_extended"] = np.zeros(len(sources.label), dtype=bool)
        table.meta = {
            "catalog": "asnflow threshold segmentation (no deblending)",
            "image": f"{name}_i2d.fits",
            "background": background.level,
            "background_rms": background.rms,
            "nsigma": nsigma,
            "min_pixels": min_pixels,
        }
        for column in ("xcentroid", "ycentroid", "isophotal_abmag", "isophotal_abmag_err"):
            table[column].info.format = ".4f"
        path = ctx.workdir / f"{name}_cat.ecsv"
        table.write(path, format="ascii.ecsv", overwrite=True)

        with datamodels.SegmentationMapModel(segmentation.astype(np.uint32)) as segm:
            segm.update(i2d)
            segm.meta.wcs = wcs
            save_model(segm, ctx.workdir / f"{name}_segm.fits", date)


# SIP and CD keywords a member's header may carry; the mosaic grid has no distortion.
_SIP_KEYWORD = re.compile(r"^(cd[12]_[12]|[ab]p?_\d_\d|[ab]p?_order)$")


def _set_fits_wcs(model: Any, grid: Any) -> None:
    """The mosaic's FITS WCS keywords, exactly its gwcs (not the first member's, which
    ``update`` copied): CRPIX/CRVAL/CDELT/PC of the grid, and no SIP terms."""
    wcsinfo = model.meta.wcsinfo
    for key in [k for k in wcsinfo.instance if _SIP_KEYWORD.match(k)]:
        del wcsinfo.instance[key]
    for key, value in fits_keywords(grid).items():
        setattr(wcsinfo, key, value)


def _set_exposure_times(model: Any, times: Any) -> None:
    exposure = model.meta.exposure
    exposure.exposure_time = times.effexptm
    exposure.effective_exposure_time = times.xposure
    exposure.duration = times.duration
    exposure.elapsed_exposure_time = times.telapse
    exposure.start_time = times.start_time
    exposure.end_time = times.end_time
    exposure.mid_time = (times.start_time + times.end_time) / 2.0
    if times.measurement_time is not None:
        exposure.measurement_time = times.measurement_time


MODULE = Image3Module()
