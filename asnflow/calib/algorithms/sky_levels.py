"""Sky levels that equalise overlapping images, as image3's skymatch measures them.

stcal's ``skymatch`` in jwst's default mode (``match``, matched down to the
lowest sky, nothing subtracted): for each pair of overlapping images it
takes a clipped "mode" of the pixels in the overlap and solves for the
per-image offsets that make all overlaps agree, the lowest set to zero. The
images are grouped by exposure (the detectors of one exposure share one
level). jwst's defaults, kept here: statistic ``mode``, 5 clipping
iterations at 4 sigma both ways, bin width 0.1 sigma, and pixels flagged
DO_NOT_USE or NON_SCIENCE (or not finite) left out.

The levels are not subtracted from the data: jwst records them
(``meta.background.level`` with ``subtracted`` False) and outlier detection
and drizzling subtract them on the fly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

DO_NOT_USE = 1
NON_SCIENCE = 512


@dataclass(frozen=True)
class SkyInput:
    """One image: its data and DQ, its pixel→sky and sky→pixel transforms, and its exposure."""

    data: np.ndarray
    dq: np.ndarray
    forward: Callable[..., tuple[np.ndarray, np.ndarray]]
    backward: Callable[..., tuple[np.ndarray, np.ndarray]]
    exposure: str


@dataclass(frozen=True)
class SkyLevel:
    level: float
    valid: bool  # False where the overlaps gave no usable statistic (jwst then marks the step SKIPPED)


def match_sky_levels(images: Sequence[SkyInput]) -> list[SkyLevel]:
    """The sky level of each image (in the data's units), in the order given."""
    from stcal.skymatch import SkyGroup, SkyImage, SkyStats, skymatch

    statistics = SkyStats(skystat="mode", lower=None, upper=None, nclip=5, lsig=4.0, usig=4.0, binwidth=0.1)
    by_exposure: dict[str, list[SkyImage]] = {}
    for index, image in enumerate(images):
        usable = ((image.dq & (DO_NOT_USE | NON_SCIENCE)) == 0) & np.isfinite(image.data)
        by_exposure.setdefault(image.exposure, []).append(
            SkyImage(
                image=image.data,
                wcs_fwd=image.forward,
                wcs_inv=image.backward,
                mask=usable,
                sky_id=index,
                skystat=statistics,
                stepsize=None,
                meta={"index": index},
            )
        )
    # an exposure with one image takes part as that image, several as one group (jwst's choice)
    entries = [
        members[0] if len(members) == 1 else SkyGroup(members, sky_id=number)
        for number, members in enumerate(by_exposure.values())
    ]
    skymatch(entries, skymethod="match", match_down=True, subtract=False)
    levels: list[SkyLevel] = [SkyLevel(0.0, False)] * len(images)
    for entry in entries:
        for sky_image in [entry] if isinstance(entry, SkyImage) else list(entry):
            levels[sky_image.meta["index"]] = SkyLevel(float(sky_image.sky), bool(sky_image.is_sky_valid))
    return levels
