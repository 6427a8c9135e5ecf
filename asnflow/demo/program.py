"""The synthetic NIRISS imaging program ``asnflow demo`` writes.

One observation (``o001``) of a small star field with NIRISS imaging
(``NIS_IMAGE``, SUB64, 64×64 pixels at the detector corner, reference pixels
included) in two filters, three dithers each: realistic raw exposures (bias
structure, reference-pixel drifts, IPC, non-linearity, dark current, hot and
dead pixels, cosmic rays, a saturated star, stars past 25,000 DN, a couple
of transients for image3's outlier detection) and a complete synthetic CRDS
cache. See :mod:`asnflow.demo.raw` and :mod:`asnflow.demo.references`;
everything is drawn from fixed seeds, so every run writes the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from asnflow.demo.instruments import niriss
from asnflow.demo.raw import Exposure, Program, pool_name
from asnflow.demo.references import FILE_DATE  # noqa: F401  (DATE of every input file: reproducible bytes)

DEMO = Program(niriss(), 64, program="09999")


def exposures() -> list[Exposure]:
    return DEMO.exposures()


def pool_path(folder: Path) -> Path:
    return folder / pool_name(DEMO)
