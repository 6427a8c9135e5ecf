"""A gwcs for an imaging exposure from its FITS WCS keywords (TAN projection).

jwst's assign_wcs builds the imaging WCS from the instrument distortion model;
without distortion references the exposure's own keywords (CRPIX, CRVAL,
CDELT, PC) describe the same plane-to-sky mapping, and that is what this
builds: detector pixels → ICRS (RA, Dec) in degrees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class WcsKeywords:
    crpix1: float  # FITS convention: 1-based
    crpix2: float
    crval1: float  # degrees
    crval2: float
    cdelt1: float  # degrees per pixel
    cdelt2: float
    pc1_1: float = 1.0
    pc1_2: float = 0.0
    pc2_1: float = 0.0
    pc2_2: float = 1.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> WcsKeywords:
        """Read the keywords from a wcsinfo-like mapping (missing PC terms default to identity)."""
        required = ("crpix1", "crpix2", "crval1", "crval2", "cdelt1", "cdelt2")
        missing = [name for name in required if values.get(name) is None]
        if missing:
            raise KeyError(f"missing WCS keywords: {', '.join(name.upper() for name in missing)}")
        kwargs = {name: float(values[name]) for name in required}  # type: ignore[arg-type]
        for name in ("pc1_1", "pc1_2", "pc2_1", "pc2_2"):
            if values.get(name) is not None:
                kwargs[name] = float(values[name])  # type: ignore[arg-type]
        return cls(**kwargs)


def imaging_wcs(keywords: WcsKeywords, shape: tuple[int, int]):
    """gwcs.WCS detector → world for an image of ``shape`` (ny, nx)."""
    import gwcs
    from astropy import coordinates
    from astropy import units as u
    from astropy.modeling import models
    from gwcs import coordinate_frames as cf

    transform = gwcs.FITSImagingWCSTransform(
        models.Pix2Sky_TAN(),
        crpix=(keywords.crpix1 - 1.0, keywords.crpix2 - 1.0),  # gwcs pixels are 0-based
        crval=(keywords.crval1, keywords.crval2),
        cdelt=(keywords.cdelt1, keywords.cdelt2),
        pc=np.array([[keywords.pc1_1, keywords.pc1_2], [keywords.pc2_1, keywords.pc2_2]]),
    )
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    world = cf.CelestialFrame(
        reference_frame=coordinates.ICRS(), name="world", unit=(u.deg, u.deg), axes_names=("lon", "lat")
    )
    wcs = gwcs.WCS([(detector, transform), (world, None)])
    ny, nx = shape
    wcs.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    wcs.pixel_shape = (nx, ny)
    wcs.array_shape = (ny, nx)
    return wcs


def fits_keywords(wcs: Any) -> dict[str, Any]:
    """FITS WCS keywords exactly equal to a gwcs whose forward transform is a
    ``FITSImagingWCSTransform`` (a tangent-plane grid such as an image3 mosaic's)."""
    import gwcs

    transform = wcs.forward_transform
    if not isinstance(transform, gwcs.FITSImagingWCSTransform):
        raise TypeError("the grid is not a FITS imaging transform")
    code = transform.projection.prjprm.code
    crpix, crval, cdelt, pc = (
        np.asarray(p, dtype=float) for p in (transform.crpix, transform.crval, transform.cdelt, transform.pc)
    )
    return {
        "wcsaxes": 2,
        "crpix1": float(crpix[0]) + 1.0,  # gwcs pixels are 0-based, FITS 1-based
        "crpix2": float(crpix[1]) + 1.0,
        "crval1": float(crval[0]),
        "crval2": float(crval[1]),
        "cdelt1": float(cdelt[0]),
        "cdelt2": float(cdelt[1]),
        "pc1_1": float(pc[0, 0]),
        "pc1_2": float(pc[0, 1]),
        "pc2_1": float(pc[1, 0]),
        "pc2_2": float(pc[1, 1]),
        "ctype1": f"RA---{code}",
        "ctype2": f"DEC--{code}",
        "cunit1": "deg",
        "cunit2": "deg",
        "radesys": "ICRS",
    }
