"""Exposure-time keywords of a combined (level-3) image.

Build 10.0 (jwst #7793) sets XPOSURE and EFFEXPTM to the sum of the input
exposures' effective exposure times, and DURATION and TELAPSE to the sum of
their durations, counting each exposure once even when it was read out on
several detectors at the same time (NIRCam short-wave modules, NIRSpec
NRS1/NRS2): the detectors of one exposure share one exposure identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ExposureTimes:
    """Times of one input image; ``exposure`` identifies the exposure across detectors."""

    exposure: str
    exposure_time: float  # EFFEXPTM of the input, seconds
    duration: float  # DURATION of the input, seconds
    start_time: float  # EXPSTART, MJD
    end_time: float  # EXPEND, MJD
    measurement_time: float | None = None  # TMEASURE, seconds


@dataclass(frozen=True)
class CombinedTimes:
    xposure: float  # XPOSURE
    effexptm: float  # EFFEXPTM (identical to XPOSURE)
    duration: float  # DURATION
    telapse: float  # TELAPSE (identical to DURATION)
    start_time: float  # EXPSTART: earliest start
    end_time: float  # EXPEND: latest end
    measurement_time: float | None  # TMEASURE, when every input has one
    exposures: int  # distinct exposures counted


def combine_exposure_times(images: Iterable[ExposureTimes]) -> CombinedTimes:
    """Sum the times over distinct exposures (first image of each exposure counts)."""
    seen: dict[str, ExposureTimes] = {}
    for image in images:
        seen.setdefault(image.exposure, image)
    if not seen:
        raise ValueError("no input images to combine")
    unique = list(seen.values())
    exposure_time = float(sum(t.exposure_time for t in unique))
    duration = float(sum(t.duration for t in unique))
    measured = [t.measurement_time for t in unique]
    return CombinedTimes(
        xposure=exposure_time,
        effexptm=exposure_time,
        duration=duration,
        telapse=duration,
        start_time=min(t.start_time for t in unique),
        end_time=max(t.end_time for t in unique),
        measurement_time=None if any(m is None for m in measured) else float(sum(measured)),  # type: ignore[arg-type]
        exposures=len(unique),
    )
