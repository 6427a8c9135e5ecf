"""Sky levels matched across overlapping images (image3's skymatch, jwst's defaults)."""

from __future__ import annotations

import numpy as np
import pytest

from asnflow.calib.algorithms.imaging_wcs import WcsKeywords, imaging_wcs
from asnflow.calib.algorithms.sky_levels import DO_NOT_USE, SkyInput, match_sky_levels

SHAPE = (30, 30)
SCALE = 0.1 / 3600.0


def image(sky: float, shift: float, exposure: str, rng: np.random.Generator, dq: np.ndarray | None = None) -> SkyInput:
    keywords = WcsKeywords.from_mapping({
        "crpix1": 15.5 + shift, "crpix2": 15.5, "crval1": 10.0, "crval2": -30.0,
        "cdelt1": -SCALE, "cdelt2": SCALE, "pc1_1": 1.0, "pc1_2": 0.0, "pc2_1": 0.0, "pc2_2": 1.0,
    })  # fmt: skip
    wcs = imaging_wcs(keywords, SHAPE)
    data = (sky + rng.normal(0.0, 0.01, SHAPE)).astype(np.float32)
    return SkyInput(data, np.zeros(SHAPE, np.uint32) if dq is None else dq, wcs.__call__, wcs.invert, exposure)


def test_overlapping_images_get_their_offsets_from_the_faintest():
    rng = np.random.default_rng(3)
    levels = match_sky_levels([image(2.0, 0.0, "a", rng), image(1.5, 5.0, "b", rng), image(2.5, 10.0, "c", rng)])
    assert all(level.valid for level in levels)
    assert [level.level for level in levels] == pytest.approx([0.5, 0.0, 1.0], abs=0.005)


def test_pixels_flagged_do_not_use_do_not_count():
    rng = np.random.default_rng(4)
    first, second = image(1.0, 0.0, "a", rng), image(1.0, 3.0, "b", rng)
    polluted = second.data.copy()
    polluted[:, :20] += 5.0  # a bright patch, flagged
    dq = np.zeros(SHAPE, np.uint32)
    dq[:, :20] = DO_NOT_USE
    flagged = SkyInput(polluted, dq, second.forward, second.backward, "b")
    levels = match_sky_levels([first, flagged])
    assert levels[0].level == 0.0 and abs(levels[1].level) < 0.05  # the patch (+5) left out
    unflagged = SkyInput(polluted, np.zeros(SHAPE, np.uint32), second.forward, second.backward, "b")
    assert match_sky_levels([first, unflagged])[1].level > 1.0  # counted, it would have raised the sky
