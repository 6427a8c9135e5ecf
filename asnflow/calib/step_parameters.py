"""detector1 step parameters: jwst's defaults, CRDS ``pars-*`` references, then the run options.

The precedence is stpipe's: a step's own defaults, overridden by its
``pars-<stepclass>`` reference, overridden by the ``steps`` section of the
``pars-detector1pipeline`` reference, overridden by what the user sets
(run option ``steps: {jump: {...}}``, plus the ``maximum_cores`` and
``charge_migration`` shortcuts).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from typing import Any

from asnflow.errors import CalibrationError

#: detector1 steps for near-infrared detectors, in the order jwst 3.0.0 runs them.
STEP_ORDER = (
    "group_scale",
    "dq_init",
    "saturation",
    "ipc",
    "superbias",
    "refpix",
    "linearity",
    "dark_current",
    "charge_migration",
    "jump",
    "picture_frame",
    "clean_flicker_noise",
    "persistence",
    "ramp_fit",
    "gain_scale",
)

STEP_CLASSES = {
    "group_scale": "GroupScaleStep",
    "dq_init": "DQInitStep",
    "saturation": "SaturationStep",
    "ipc": "IPCStep",
    "superbias": "SuperBiasStep",
    "refpix": "RefPixStep",
    "linearity": "LinearityStep",
    "dark_current": "DarkCurrentStep",
    "charge_migration": "ChargeMigrationStep",
    "jump": "JumpStep",
    "picture_frame": "PictureFrameStep",
    "clean_flicker_noise": "CleanFlickerNoiseStep",
    "persistence": "PersistenceStep",
    "ramp_fit": "RampFitStep",
    "gain_scale": "GainScaleStep",
}
PIPELINE_PARAMETERS = "pars-detector1pipeline"

# jwst 3.0.0's step specs (only the parameters the near-infrared path reads)
DEFAULTS: dict[str, dict[str, Any]] = {
    "group_scale": {},
    "dq_init": {},
    "saturation": {"n_pix_grow_sat": 1, "use_readpatt": True},
    "ipc": {},
    "superbias": {},
    "refpix": {
        "odd_even_columns": True,
        "use_side_ref_pixels": True,
        "side_smoothing_length": 11,
        "side_gain": 1.0,
        "refpix_algorithm": "median",
        "siglimit": 3.0,
    },
    "linearity": {},
    "dark_current": {"average_dark_current": None},
    "charge_migration": {"signal_threshold": 25000.0, "skip": True},
    "jump": {
        "rejection_threshold": 4.0,
        "three_group_rejection_threshold": 6.0,
        "four_group_rejection_threshold": 5.0,
        "maximum_cores": "1",
        "flag_4_neighbors": True,
        "max_jump_to_flag_neighbors": 1000.0,
        "min_jump_to_flag_neighbors": 10.0,
        "after_jump_flag_dn1": 0.0,
        "after_jump_flag_time1": 0.0,
        "after_jump_flag_dn2": 0.0,
        "after_jump_flag_time2": 0.0,
        "expand_large_events": False,
        "min_sat_area": 1.0,
        "min_jump_area": 5.0,
        "expand_factor": 2.0,
        "sat_required_snowball": True,
        "min_sat_radius_extend": 2.5,
        "sat_expand": 2,
        "edge_size": 25,
        "mask_snowball_core_next_int": True,
        "snowball_time_masked_next_int": 4000,
        "find_showers": False,
        "max_shower_amplitude": 4.0,
        "extend_snr_threshold": 1.2,
        "extend_min_area": 90,
        "extend_inner_radius": 1.0,
        "extend_outer_radius": 2.6,
        "extend_ellipse_expand_ratio": 1.1,
        "time_masked_after_shower": 15.0,
        "min_diffs_single_pass": 10,
        "max_extended_radius": 200,
        "minimum_groups": 3,
        "minimum_sigclip_groups": 100,
        "only_use_ints": True,
    },
    "picture_frame": {"skip": True},
    "clean_flicker_noise": {"skip": True},
    "persistence": {"skip": True},
    "ramp_fit": {
        "algorithm": "OLS_C",
        "suppress_one_group": True,
        "firstgroup": None,
        "lastgroup": None,
        "maximum_cores": "1",
    },
    "gain_scale": {},
}

CORE_WORDS = ("none", "one", "quarter", "half", "all")


def parameter_reftypes() -> list[str]:
    """Every ``pars-*`` reference type detector1 consults."""
    return [f"pars-{name.lower()}" for name in STEP_CLASSES.values()] + [PIPELINE_PARAMETERS]


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


def _overrides(source: Mapping[str, Any], name: str, where: str, *, strict: bool = False) -> dict[str, Any]:
    """The parameter values of one step from one source.

    CRDS references list every parameter of jwst's step, including ones the
    native path never reads (output names, IRS2 settings); those are kept but
    unused. A user's override of an unknown parameter is refused (``strict``).
    """
    values = {key: value for key, value in source.items() if key not in ("class", "name", "steps")}
    unknown = sorted(set(values) - set(DEFAULTS[name]) - {"skip"})
    if strict and unknown:
        raise CalibrationError(f"{where}: unknown {name} parameter(s) {', '.join(unknown)}")
    return values


def resolve_parameters(
    crds_parameters: Mapping[str, Mapping[str, Any]], options: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per step, the parameters detector1 runs with (``skip`` included)."""
    steps = {name: {"skip": False, **defaults} for name, defaults in DEFAULTS.items()}
    for name, cls in STEP_CLASSES.items():
        reftype = f"pars-{cls.lower()}"
        if reftype in crds_parameters:
            steps[name].update(_overrides(crds_parameters[reftype], name, reftype))
    pipeline = crds_parameters.get(PIPELINE_PARAMETERS, {})
    for name, values in (pipeline.get("steps") or {}).items():
        if name in steps and isinstance(values, Mapping):
            steps[name].update(_overrides(values, name, PIPELINE_PARAMETERS))
    user = options.get("steps") or {}
    if not isinstance(user, Mapping):
        raise CalibrationError("the detector1 'steps' option must map step names to parameters")
    for name, values in user.items():
        if name not in steps or not isinstance(values, Mapping):
            raise CalibrationError(f"detector1 has no step {name!r} (steps: {', '.join(STEP_ORDER)})")
        steps[name].update(_overrides(values, name, "run option 'steps'", strict=True))
    if options.get("maximum_cores") is not None:
        steps["jump"]["maximum_cores"] = steps["ramp_fit"]["maximum_cores"] = options["maximum_cores"]
    for name in ("jump", "ramp_fit"):
        steps[name]["maximum_cores"] = parse_maximum_cores(steps[name]["maximum_cores"])
    _charge_migration_option(steps["charge_migration"], options)
    return steps


def _charge_migration_option(step: dict[str, Any], options: Mapping[str, Any]) -> None:
    setting = str(options.get("charge_migration", "auto")).strip().lower()
    if setting in ("on", "true", "yes", "1"):
        step["skip"] = False
    elif setting in ("off", "false", "no", "0"):
        step["skip"] = True
    elif setting != "auto":  # auto: as the CRDS parameters say (jwst skips it unless they enable it)
        raise CalibrationError(f"charge_migration must be auto, on or off, not {setting!r}")
    threshold = options.get("charge_migration_threshold")
    if threshold is not None:
        step["signal_threshold"] = threshold
    try:
        value = float(step["signal_threshold"])
    except (TypeError, ValueError):
        raise CalibrationError(
            f"charge_migration signal_threshold must be a number, not {step['signal_threshold']!r}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise CalibrationError(f"charge_migration signal_threshold must be positive, not {step['signal_threshold']!r}")
    step["signal_threshold"] = value
