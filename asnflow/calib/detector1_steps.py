"""The near-infrared detector1 chain on one open RampModel, step by step as jwst 3.0.0 runs it.

Each step reads the references it needs (a reference that CRDS says is N/A
skips the step, as in jwst), records its status in ``meta.cal_step`` and the
references it used in ``meta.ref_file``. stcal does saturation, linearity,
dark subtraction, jump detection and ramp fitting; the other algorithms live
in :mod:`asnflow.calib.algorithms`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from asnflow.calib.algorithms import dq_init, gain_scale, group_scale, ipc, refpix, superbias
from asnflow.calib.algorithms.charge_migration import MINIMUM_GROUPS, flag_charge_migration
from asnflow.calib.reference_models import science_section
from asnflow.calib.step_parameters import STEP_ORDER, effective_maximum_cores
from asnflow.errors import CalibrationError

ATOD_LIMIT = 65535.0  # the A/D converter ceiling jwst's saturation step uses
# meta.cal_step attribute per step where it differs from the step name
STATUS_ATTRIBUTE = {"dark_current": "dark_sub"}
# steps jwst skips by default whose algorithm asnflow does not provide natively
NOT_NATIVE = ("picture_frame", "clean_flicker_noise", "persistence")


def required_reftypes(parameters: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Reference types the steps that will run read (the prefetch jwst does)."""
    wanted = {
        "dq_init": ["mask"],
        "saturation": ["saturation", "superbias"],
        "ipc": ["ipc"],
        "superbias": ["superbias"],
        "linearity": ["linearity"],
        "dark_current": ["dark"],
        "jump": ["gain", "readnoise"],
        "ramp_fit": ["readnoise", "gain"],
        "gain_scale": ["gain"],
    }
    types: dict[str, None] = {}
    for step, reftypes in wanted.items():
        if not parameters[step]["skip"]:
            types.update(dict.fromkeys(reftypes))
    return list(types)


def read_pattern(nframes: int, ngroups: int) -> list[list[int]]:
    """Frame numbers (1-based) averaged into each group, with no dropped frames."""
    return [[frame + 1 + group * nframes for frame in range(nframes)] for group in range(ngroups)]


class Detector1Chain:
    """Runs the steps on ``ramp`` (modified in place) and builds the rate products."""

    def __init__(
        self,
        ramp: Any,
        references: Mapping[str, tuple[str, Any]],
        parameters: Mapping[str, Mapping[str, Any]],
        *,
        on_step: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.ramp = ramp
        self.references = references
        self.parameters = parameters
        self.on_step = on_step
        self.name = ramp.meta.filename or "the exposure"

    # -- helpers

    def reference(self, reftype: str) -> Any | None:
        source, model = self.references[reftype]
        getattr(self.ramp.meta.ref_file, reftype).name = source
        return model

    def section(self, reftype: str, model: Any, attribute: str) -> np.ndarray | None:
        array = getattr(model, attribute, None) if model.hasattr(attribute) else None
        return science_section(model, array, self.ramp, reftype)

    def required(self, reftype: str, step: str) -> Any:
        model = self.reference(reftype)
        if model is None:
            raise CalibrationError(f"{step} needs a {reftype} reference and CRDS has none (N/A) for {self.name}")
        return model

    def status(self, step: str, value: str, model: Any | None = None) -> None:
        setattr((model or self.ramp).meta.cal_step, STATUS_ATTRIBUTE.get(step, step), value)

    # -- the chain

    def run(self) -> tuple[Any | None, Any | None]:
        products: tuple[Any | None, Any | None] = (None, None)
        for step in STEP_ORDER:
            if self.parameters[step]["skip"]:
                if step == "ramp_fit":
                    raise CalibrationError(f"ramp_fit is skipped for {self.name}: detector1 would write no rate")
                if step != "dark_current":  # jwst records a skip under the step's alias, which is dark_sub here
                    self.status(step, "SKIPPED")
                continue
            if step in NOT_NATIVE:
                raise CalibrationError(
                    f"{step} is enabled for {self.name} but has no native implementation; route it to jwst"
                )
            if step == "ramp_fit":
                products = self.ramp_fit()
            elif step == "gain_scale":
                rate, rateints = products
                products = (self.gain_scale(rate) if rate is not None else None,
                            self.gain_scale(rateints) if rateints is not None else None)
            else:
                getattr(self, step)()
            if self.on_step is not None:
                self.on_step(step, products if step in ("ramp_fit", "gain_scale") else self.ramp)
        return products

    def group_scale(self) -> None:
        exposure = self.ramp.meta.exposure
        # without FRMDIVSR jwst cannot rescale, even when NFRAMES is not a power of two
        if exposure.frame_divisor is None or not group_scale.needs_rescaling(exposure.nframes, exposure.frame_divisor):
            self.status("group_scale", "SKIPPED")
            return
        group_scale.rescale_groups(self.ramp.data, exposure.nframes, exposure.frame_divisor)
        self.status("group_scale", "COMPLETE")

    def dq_init(self) -> None:
        from stdatamodels.jwst.datamodels import dqflags

        mask = self.reference("mask")
        if mask is None:
            self.status("dq_init", "SKIPPED")
            return
        mask_dq = self.section("mask", mask, "dq")
        if mask_dq is None:
            raise CalibrationError(f"dq_init: the mask reference for {self.name} has no DQ array")
        dq_init.initialize_dq(self.ramp.pixeldq, self.ramp.groupdq, mask_dq, dqflags.group["DO_NOT_USE"])
        self.status("dq_init", "COMPLETE")

    def saturation(self) -> None:
        from stcal.saturation.saturation import flag_saturated_pixels
        from stdatamodels.jwst.datamodels import dqflags

        params = self.parameters["saturation"]
        saturation = self.reference("saturation")
        bias_model = self.reference("superbias")
        if saturation is None:
            self.status("saturation", "SKIPPED")
            return
        exposure = self.ramp.meta.exposure
        pattern = read_pattern(exposure.nframes, exposure.ngroups) if params["use_readpatt"] else None
        bias = self.section("superbias", bias_model, "data") if bias_model is not None else None
        zframe = self.ramp.zeroframe if exposure.zero_frame else None
        groupdq, pixeldq, zframe = flag_saturated_pixels(
            self.ramp.data,
            self.ramp.groupdq,
            self.ramp.pixeldq,
            np.array(self.section("saturation", saturation, "data")),
            np.array(self.section("saturation", saturation, "dq")),
            ATOD_LIMIT,
            dqflags.pixel,
            n_pix_grow_sat=int(params["n_pix_grow_sat"]),
            read_pattern=pattern,
            zframe=zframe,
            bias=None if bias is None else np.array(bias),
        )
        self.ramp.groupdq, self.ramp.pixeldq = groupdq, pixeldq
        if zframe is not None:
            self.ramp.zeroframe = zframe
        self.status("saturation", "COMPLETE")

    def ipc(self) -> None:
        kernel_model = self.reference("ipc")
        if kernel_model is None:
            self.status("ipc", "SKIPPED")
            return
        sub = self.ramp.meta.subarray
        corner = (int(sub.xstart), int(sub.ystart), int(sub.xsize), int(sub.ysize))
        kernel = ipc.kernel_for(np.asarray(kernel_model.data), *corner)
        ipc.correct_ipc(self.ramp.data, kernel, ipc.reference_margins(*corner))
        self.status("ipc", "COMPLETE")

    def superbias(self) -> None:
        bias_model = self.reference("superbias")
        if bias_model is None:
            self.status("superbias", "SKIPPED")
            return
        exposure = self.ramp.meta.exposure
        superbias.subtract_superbias(
            self.ramp.data,
            self.ramp.pixeldq,
            np.asarray(self.section("superbias", bias_model, "data")),
            self.section("superbias", bias_model, "dq"),
            self.ramp.zeroframe if exposure.zero_frame else None,
        )
        self.status("superbias", "COMPLETE")

    def refpix(self) -> None:
        from stdatamodels.jwst.datamodels import dqflags

        params = self.parameters["refpix"]
        if params["refpix_algorithm"] != "median":
            raise CalibrationError(f"refpix_algorithm {params['refpix_algorithm']!r} has no native implementation")
        meta = self.ramp.meta
        readout = refpix.Readout(
            xstart=int(meta.subarray.xstart),
            ystart=int(meta.subarray.ystart),
            xsize=int(meta.subarray.xsize),
            ysize=int(meta.subarray.ysize),
            fastaxis=int(meta.subarray.fastaxis),
            slowaxis=int(meta.subarray.slowaxis),
            noutputs=int(meta.exposure.noutputs or 0),
            subarray_name=str(meta.subarray.name or ""),
        )
        settings = refpix.RefpixSettings(
            odd_even_columns=bool(params["odd_even_columns"]),
            use_side_ref_pixels=bool(params["use_side_ref_pixels"]),
            side_smoothing_length=int(params["side_smoothing_length"]),
            side_gain=float(params["side_gain"]),
            siglimit=float(params["siglimit"]),
        )
        done = refpix.correct_reference_pixels(
            self.ramp.data,
            self.ramp.pixeldq,
            readout,
            dict(dqflags.pixel),
            settings,
            self.ramp.zeroframe if meta.exposure.zero_frame else None,
        )
        self.status("refpix", "COMPLETE" if done else "SKIPPED")

    def linearity(self) -> None:
        from stcal.linearity.linearity import linearity_correction
        from stdatamodels.jwst.datamodels import dqflags

        model = self.reference("linearity")
        if model is None:
            self.status("linearity", "SKIPPED")
            return
        exposure = self.ramp.meta.exposure
        inverse = self.section("linearity", model, "inv_coeffs") if model.hasattr("inv_coeffs") else None
        read_times = getattr(exposure, "read_times", None)
        pattern = None
        # frame-averaged groups are corrected frame by frame when inverse coefficients exist
        if inverse is not None and exposure.nframes > 1 and (read_times is None or len(read_times) == 0):
            pattern = read_pattern(exposure.nframes, exposure.ngroups)
        else:
            inverse = None
        zframe = self.ramp.zeroframe if exposure.zero_frame else None
        data, pixeldq, zframe = linearity_correction(
            self.ramp.data,
            self.ramp.groupdq,
            self.ramp.pixeldq,
            np.array(self.section("linearity", model, "coeffs")),
            np.array(self.section("linearity", model, "dq")),
            dqflags.pixel,
            zframe=zframe,
            ilin_coeffs=None if inverse is None else np.array(inverse),
            read_pattern=pattern,
        )
        self.ramp.data, self.ramp.pixeldq = data, pixeldq
        if zframe is not None:
            self.ramp.zeroframe = zframe
        self.status("linearity", "COMPLETE")

    def dark_current(self) -> None:
        from stcal.dark_current import dark_class, dark_sub

        model = self.reference("dark")
        if model is None:
            self.status("dark_current", "SKIPPED")
            return
        self._average_dark_current(model)
        dark = dark_class.DarkData()
        dark.data = np.array(self.section("dark", model, "data"))
        dark.groupdq = np.array(self.section("dark", model, "dq"))
        dark.exp_nframes = model.meta.exposure.nframes
        dark.exp_ngroups = model.meta.exposure.ngroups
        dark.exp_groupgap = model.meta.exposure.groupgap
        if None in (dark.exp_nframes, dark.exp_groupgap):
            raise CalibrationError(f"dark reference {model.meta.filename} lacks NFRAMES or GROUPGAP")
        science = dark_class.ScienceData(self.ramp)
        result, _ = dark_sub.do_correction_data(science, dark)
        if result.cal_step == "SKIPPED":
            self.status("dark_current", "SKIPPED")
            return
        self.ramp.data, self.ramp.groupdq, self.ramp.pixeldq = result.data, result.groupdq, result.pixeldq
        self.status("dark_current", result.cal_step)

    def _average_dark_current(self, model: Any) -> None:
        """The average dark current ramp fitting adds to the Poisson noise (jwst's priority order)."""
        chosen = self.parameters["dark_current"]["average_dark_current"]
        default = self.ramp.get_default("average_dark_current")
        if chosen is not None:
            self.ramp.average_dark_current = default + float(chosen)
            return
        per_pixel = model.average_dark_current if model.hasattr("average_dark_current") else None
        if per_pixel is None or np.sum(per_pixel) == 0.0:
            scalar = model.meta.exposure.average_dark_current
            self.ramp.average_dark_current = default + (0.0 if scalar is None else scalar)
        elif np.shape(self.ramp.average_dark_current) == np.shape(per_pixel):
            self.ramp.average_dark_current = per_pixel

    def charge_migration(self) -> None:
        from stdatamodels.jwst.datamodels import dqflags

        if self.ramp.data.shape[1] < MINIMUM_GROUPS:
            self.status("charge_migration", "SKIPPED")
            return
        self.ramp.groupdq = flag_charge_migration(
            self.ramp.data,
            self.ramp.groupdq,
            self.parameters["charge_migration"]["signal_threshold"],
            do_not_use=dqflags.group["DO_NOT_USE"],
            chargeloss=dqflags.group["CHARGELOSS"],
        )
        self.status("charge_migration", "COMPLETE")

    def jump(self) -> None:
        from stcal.jump.jump import detect_jumps_data
        from stcal.jump.jump_class import JumpData
        from stdatamodels.jwst.datamodels import dqflags

        p = self.parameters["jump"]
        nints, ngroups, nrows, ncols = self.ramp.data.shape
        if ngroups <= 2:
            self.status("jump", "SKIPPED")
            return
        gain = self.required("gain", "jump")
        readnoise = self.required("readnoise", "jump")
        exposure = self.ramp.meta.exposure
        group_time = exposure.group_time
        data = JumpData(
            self.ramp,
            self.section("gain", gain, "data"),
            self.section("readnoise", readnoise, "data"),
            dqflags.pixel,
        )
        data.set_detection_settings(
            p["rejection_threshold"],
            p["three_group_rejection_threshold"],
            p["four_group_rejection_threshold"],
            p["max_jump_to_flag_neighbors"],
            p["min_jump_to_flag_neighbors"],
            p["flag_4_neighbors"],
        )
        data.set_after_jump(
            p["after_jump_flag_dn1"],
            int(p["after_jump_flag_time1"] // group_time),
            p["after_jump_flag_dn2"],
            int(p["after_jump_flag_time2"] // group_time),
        )
        # jwst doubles the radii it hands to stcal
        data.set_snowball_info(
            p["expand_large_events"],
            p["min_jump_area"],
            p["min_sat_area"],
            p["expand_factor"],
            p["sat_required_snowball"],
            p["min_sat_radius_extend"],
            p["sat_expand"] * 2,
            p["edge_size"],
        )
        data.set_shower_info(
            p["find_showers"],
            p["extend_snr_threshold"],
            p["extend_min_area"],
            p["extend_inner_radius"],
            p["extend_outer_radius"],
            p["extend_ellipse_expand_ratio"],
            p["min_diffs_single_pass"],
            p["max_extended_radius"] * 2,
        )
        data.set_sigma_clipping_info(p["minimum_groups"], p["minimum_sigclip_groups"], p["only_use_ints"])
        data.max_cores = self.cores(p["maximum_cores"])
        data.grps_masked_after_shower = int(p["time_masked_after_shower"] // group_time)
        data.mask_persist_grps_next_int = p["mask_snowball_core_next_int"]
        data.persist_grps_flagged = int(p["snowball_time_masked_next_int"] // group_time)
        # jwst scales stcal's own default amplitude, not the step parameter (reproduced)
        data.max_shower_amplitude = data.max_shower_amplitude * group_time
        read_times = getattr(exposure, "read_times", None)
        if read_times is not None and len(read_times) > 0:
            data.read_pattern = list(read_times)
        groupdq, pixeldq, crs, extended = detect_jumps_data(data)
        self.ramp.groupdq, self.ramp.pixeldq = groupdq, pixeldq
        self._jump_rates(crs, extended)
        self.status("jump", "COMPLETE")

    def _jump_rates(self, crs: int, extended: int) -> None:
        """Cosmic-ray and extended-event rates per pixel and second, as jwst records them."""
        nints, ngroups, nrows, ncols = self.ramp.data.shape
        dnu = 1
        unusable = np.all((self.ramp.groupdq & dnu) != 0, axis=(2, 3)).sum()
        groups = nints * ngroups - int(unusable) - nints
        if groups >= 1:
            seconds = self.ramp.meta.exposure.group_time * groups
            self.ramp.meta.exposure.primary_cosmic_rays = 1000 * crs / (seconds * nrows * ncols)
            self.ramp.meta.exposure.extended_emission_events = 1e6 * extended / (seconds * nrows * ncols)

    def cores(self, value: str) -> str:
        return effective_maximum_cores(value)

    def ramp_fit(self) -> tuple[Any | None, Any | None]:
        from stcal.ramp_fitting import ramp_fit
        from stdatamodels.jwst import datamodels
        from stdatamodels.jwst.datamodels import dqflags

        p = self.parameters["ramp_fit"]
        readnoise = self.required("readnoise", "ramp_fit")
        gain = self.required("gain", "ramp_fit")
        exposure = self.ramp.meta.exposure
        if gain.meta.exposure.gain_factor is not None:
            exposure.gain_factor = gain.meta.exposure.gain_factor
        algorithm = str(p["algorithm"]).upper()
        read_times = getattr(exposure, "read_times", None)
        if read_times is not None and len(read_times) > 0:
            algorithm = "LIKELY"
        if algorithm == "LIKELY" and self.ramp.data.shape[1] < 4:
            algorithm = "OLS_C"
        _limit_groups(self.ramp.groupdq, p["firstgroup"], p["lastgroup"])
        image, integrations, _ = ramp_fit.ramp_fit(
            self.ramp,
            False,
            self.section("readnoise", readnoise, "data"),
            self.section("gain", gain, "data"),
            algorithm,
            "optimal",
            self.cores(p["maximum_cores"]),
            dqflags.pixel,
            suppress_one_group=p["suppress_one_group"],
        )
        if image is None or integrations is None:
            raise CalibrationError(f"ramp fitting of {self.name} gave no result (every group is DO_NOT_USE)")
        rate = datamodels.ImageModel(image["slope"].shape)
        rate.update(self.ramp)
        rateints = datamodels.CubeModel(integrations["slope"].shape)
        rateints.update(self.ramp)
        for product, info in ((rate, image), (rateints, integrations)):
            product.data = info["slope"]
            product.dq = info["dq"]
            product.var_poisson = info["var_poisson"]
            product.var_rnoise = info["var_rnoise"]
            product.err = info["err"]
            product.meta.bunit_data = "DN/s"
            product.meta.bunit_err = "DN/s"
            product.meta.cal_step.ramp_fit = "COMPLETE"
        rateints.int_times = self.ramp.int_times
        return rate, rateints

    def gain_scale(self, product: Any) -> Any:
        factor = product.meta.exposure.gain_factor
        if factor is None:
            gain = self.reference("gain")
            factor = gain.meta.exposure.gain_factor if gain is not None else None
            product.meta.ref_file.gain.name = self.references["gain"][0]
        if factor is None:
            self.status("gain_scale", "SKIPPED", product)
            return product
        gain_scale.scale_rates(product.data, product.err, product.var_poisson, product.var_rnoise, factor)
        product.meta.exposure.gain_factor = factor
        self.status("gain_scale", "COMPLETE", product)
        return product


def _limit_groups(groupdq: np.ndarray, first: int | None, last: int | None) -> None:
    """Flag groups outside [first, last] DO_NOT_USE for ramp fitting (jwst's firstgroup/lastgroup)."""
    if first is None and last is None:
        return
    ngroups = groupdq.shape[1]
    first = 0 if first is None else max(int(first), 0)
    last = ngroups - 1 if last is None else min(int(last), ngroups - 1)
    if first >= last:
        first, last = 0, ngroups - 1
    groupdq[:, :first] |= 1
    groupdq[:, last + 1 :] |= 1
