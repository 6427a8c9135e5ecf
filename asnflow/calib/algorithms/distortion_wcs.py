"""The imaging gwcs of a near-infrared exposure from its distortion reference.

The frames and their order are those of jwst's imaging assign_wcs for NIRCam
and NIRISS: detector pixels (shifted to full-frame pixels for a subarray,
then by the filter's offset) go through the distortion model to the
telescope's V2/V3 plane (arcsec), are scaled about the reference point for
velocity aberration, and are rotated onto the sky by the pointing
(V2_REF, V3_REF, ROLL_REF, RA_REF, DEC_REF).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Pointing:
    """Where the telescope's reference point looks, and how it is rolled."""

    v2_ref: float  # arcsec
    v3_ref: float  # arcsec
    roll_ref: float  # degrees
    ra_ref: float  # degrees
    dec_ref: float  # degrees
    va_scale: float | None = None  # velocity-aberration scale factor (None: 1)

    @classmethod
    def from_wcsinfo(cls, wcsinfo: Any, va_scale: float | None) -> Pointing:
        values: dict[str, Any] = {
            name: getattr(wcsinfo, name, None) for name in ("v2_ref", "v3_ref", "roll_ref", "ra_ref", "dec_ref")
        }
        missing = [name.upper() for name, value in values.items() if value is None]
        if missing:
            raise KeyError(f"missing pointing keywords: {', '.join(missing)}")
        return cls(**{name: float(value) for name, value in values.items()}, va_scale=va_scale)


def filter_offset(
    rows: Sequence[Mapping[str, Any]], filter_name: str | None, pupil: str | None
) -> tuple[float, float] | None:
    """(column, row) offset of the one row matching filter and pupil exactly; None when none does.

    Raises ValueError when several rows match (the reference is ambiguous).
    """
    wanted = {"filter": filter_name, "pupil": pupil}
    found = [row for row in rows if all(row.get(key) == value for key, value in wanted.items())]
    if len(found) > 1:
        raise ValueError(f"{len(found)} rows match filter {filter_name}, pupil {pupil}")
    if not found:
        return None
    column, row = found[0].get("column_offset", "N/A"), found[0].get("row_offset", "N/A")
    if column == "N/A" or row == "N/A":
        return None
    return float(column), float(row)


def telescope_to_sky(pointing: Pointing):
    """V2/V3 (arcsec) -> RA/Dec (degrees): a rotation of the unit sphere by the pointing."""
    from astropy.modeling.models import Scale
    from astropy.modeling.rotations import RotationSequence3D
    from gwcs.geometry import CartesianToSpherical, SphericalToCartesian

    angles = [
        pointing.v2_ref / 3600.0,
        -pointing.v3_ref / 3600.0,
        pointing.roll_ref,
        pointing.dec_ref,
        -pointing.ra_ref,
    ]
    return (
        (Scale(1 / 3600.0) & Scale(1 / 3600.0))
        | SphericalToCartesian(wrap_lon_at=180)
        | RotationSequence3D(angles, axes_order="zyxyz")
        | CartesianToSpherical(wrap_lon_at=360)
    )


def velocity_aberration(pointing: Pointing):
    """V2/V3 -> V2/V3 scaled by ``va_scale`` about the reference point (identity without a scale)."""
    from astropy.modeling.models import Identity, Scale, Shift

    scale = pointing.va_scale
    if scale is None or scale == 1:
        return Identity(2)
    if scale <= 0:
        raise ValueError(f"velocity aberration scale {scale} is not positive")
    model = Scale(scale) & Scale(scale)
    if pointing.v2_ref or pointing.v3_ref:
        model = model | (Shift((1 - scale) * pointing.v2_ref) & Shift((1 - scale) * pointing.v3_ref))
    return model


def distortion_wcs(
    distortion: Any,
    pointing: Pointing,
    shape: tuple[int, int],
    *,
    offset: tuple[float, float] | None = None,
    subarray_start: tuple[int, int] = (1, 1),
):
    """gwcs.WCS detector -> v2v3 -> v2v3vacorr -> world for an image of ``shape`` (ny, nx).

    ``distortion`` is the astropy model of a DISTORTION reference (full-frame
    pixels -> V2/V3 arcsec); ``offset`` the filter's (column, row) shift;
    ``subarray_start`` the 1-based (xstart, ystart) of the subarray.
    """
    import gwcs
    from astropy import coordinates
    from astropy import units as u
    from astropy.modeling.models import Identity, Shift
    from gwcs import coordinate_frames as cf

    to_v2v3 = distortion.copy()
    if offset is not None:
        to_v2v3 = (Shift(offset[0]) & Shift(offset[1])) | to_v2v3
    xstart, ystart = subarray_start
    if xstart != 1 or ystart != 1:
        x_shift = Shift(xstart - 1) if xstart != 1 else Identity(1)
        y_shift = Shift(ystart - 1) if ystart != 1 else Identity(1)
        to_v2v3 = (x_shift & y_shift) | to_v2v3
    ny, nx = shape
    bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))

    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    v2v3 = cf.Frame2D(name="v2v3", axes_order=(0, 1), axes_names=("v2", "v3"), unit=(u.arcsec, u.arcsec))
    v2v3_corrected = cf.Frame2D(
        name="v2v3vacorr", axes_order=(0, 1), axes_names=("v2", "v3"), unit=(u.arcsec, u.arcsec)
    )
    world = cf.CelestialFrame(reference_frame=coordinates.ICRS(), name="world")
    wcs = gwcs.WCS(
        [
            (detector, to_v2v3),
            (v2v3, velocity_aberration(pointing)),
            (v2v3_corrected, telescope_to_sky(pointing)),
            (world, None),
        ]
    )
    wcs.bounding_box = bounding_box
    wcs.pixel_shape = (nx, ny)
    wcs.array_shape = (ny, nx)
    return wcs

