"""Where the sky falls on the detector: the instrument geometry and the star field.

The geometry is the one jwst's imaging ``assign_wcs`` builds from the
DISTORTION and FILTEROFFSET references and the pointing keywords:

    full-frame pixel --(distortion: affine, pixels -> V2/V3 arcsec)--> V2, V3
        --(V2/V3 -> sky: the rotation sequence of the pointing)--> RA, Dec

so the raw exposures put every star exactly where a pipeline using those
references expects it. The distortion here is a plain affine map (a small
rotation and unequal axis scales), which keeps its inverse exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from asnflow.demo.detector import FULL, Layout


@dataclass(frozen=True)
class Optics:
    """One detector's affine distortion: pixels about the frame centre -> V2/V3 arcsec."""

    v2_center: float  # V2/V3 (arcsec) of the full-frame centre
    v3_center: float
    scale_x: float  # arcsec per pixel along x and y
    scale_y: float
    rotation: float  # degrees, of the detector axes in the V2/V3 plane
    v3yangle: float  # V3IdlYAngle (degrees), for the FITS keywords
    vparity: int = -1

    def matrix(self) -> np.ndarray:
        """2x2 map of (dx, dy) pixels to (dV2, dV3) arcsec; V2 grows to the left on the sky."""
        angle = math.radians(self.rotation)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        return rot @ np.diag([self.vparity * self.scale_x, self.scale_y])

    def distortion_model(self):
        """astropy model (x, y) full-frame 0-based pixels -> (v2, v3) arcsec, with its exact inverse."""
        from astropy.modeling import models

        centre = (FULL - 1) / 2.0
        matrix = self.matrix()
        forward = (models.Shift(-centre) & models.Shift(-centre)) | models.AffineTransformation2D(
            matrix=matrix, translation=[self.v2_center, self.v3_center]
        )
        forward.inverse = models.AffineTransformation2D(
            matrix=np.linalg.inv(matrix), translation=-np.linalg.inv(matrix) @ [self.v2_center, self.v3_center]
        ) | (models.Shift(centre) & models.Shift(centre))
        forward.name = "distortion"
        return forward

    def pixel_to_v2v3(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centre = (FULL - 1) / 2.0
        v = self.matrix() @ np.vstack([np.ravel(x) - centre, np.ravel(y) - centre])
        return (v[0] + self.v2_center).reshape(np.shape(x)), (v[1] + self.v3_center).reshape(np.shape(y))

    def v2v3_to_pixel(self, v2: np.ndarray, v3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centre = (FULL - 1) / 2.0
        p = np.linalg.inv(self.matrix()) @ np.vstack([np.ravel(v2) - self.v2_center, np.ravel(v3) - self.v3_center])
        return (p[0] + centre).reshape(np.shape(v2)), (p[1] + centre).reshape(np.shape(v3))


def _rotation(v2_ref: float, v3_ref: float, roll_ref: float, ra_ref: float, dec_ref: float):
    """The V2/V3 -> sky rotation (degrees in, degrees out), as jwst's pointing builds it."""
    from astropy.modeling.rotations import RotationSequence3D

    angles = [v2_ref / 3600.0, -v3_ref / 3600.0, roll_ref, dec_ref, -ra_ref]
    return RotationSequence3D(angles, axes_order="zyxyz")


def _unit_vector(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon), np.radians(lat)
    return np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _spherical(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y, z = vector
    lon = np.degrees(np.arctan2(y, x))
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return lon, lat


@dataclass(frozen=True)
class Pointing:
    """WCSINFO pointing keywords of one exposure: (RA_REF, DEC_REF) sits at (V2_REF, V3_REF)."""

    v2_ref: float
    v3_ref: float
    roll_ref: float
    ra_ref: float
    dec_ref: float

    def v2v3_to_sky(self, v2: np.ndarray, v3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rotation = _rotation(self.v2_ref, self.v3_ref, self.roll_ref, self.ra_ref, self.dec_ref)
        x, y, z = _unit_vector(np.asarray(v2) / 3600.0, np.asarray(v3) / 3600.0)
        lon, lat = _spherical(np.array(rotation(x, y, z)))
        return np.mod(lon, 360.0), lat

    def sky_to_v2v3(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rotation = _rotation(self.v2_ref, self.v3_ref, self.roll_ref, self.ra_ref, self.dec_ref).inverse
        x, y, z = _unit_vector(np.asarray(ra), np.asarray(dec))
        lon, lat = _spherical(np.array(rotation(x, y, z)))
        lon = np.where(lon > 180.0, lon - 360.0, lon)
        return lon * 3600.0, lat * 3600.0


@dataclass(frozen=True)
class Frame:
    """One exposure's geometry: the layout, its optics and its pointing."""

    layout: Layout
    optics: Optics
    pointing: Pointing
    filter_offset: tuple[float, float] = (0.0, 0.0)  # FILTEROFFSET (column, row): added before the distortion

    def sky_to_science_pixel(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """0-based (x, y) in the science array."""
        v2, v3 = self.pointing.sky_to_v2v3(ra, dec)
        x, y = self.optics.v2v3_to_pixel(v2, v3)
        x = x - self.filter_offset[0] - (self.layout.xstart - 1)
        y = y - self.filter_offset[1] - (self.layout.ystart - 1)
        return x, y

    def science_pixel_to_sky(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v2, v3 = self.optics.pixel_to_v2v3(
            np.asarray(x) + self.layout.xstart - 1 + self.filter_offset[0],
            np.asarray(y) + self.layout.ystart - 1 + self.filter_offset[1],
        )
        return self.pointing.v2v3_to_sky(v2, v3)

    def fits_keywords(self) -> dict[str, float]:
        """A TAN approximation (CRPIX at the science centre), as level-1b headers carry one."""
        ny, nx = self.layout.shape
        cx, cy = (nx - 1) / 2.0, (ny - 1) / 2.0
        ra0, dec0 = self.science_pixel_to_sky(np.array([cx]), np.array([cy]))
        step = 1.0
        ra_x, dec_x = self.science_pixel_to_sky(np.array([cx + step]), np.array([cy]))
        ra_y, dec_y = self.science_pixel_to_sky(np.array([cx]), np.array([cy + step]))
        cos_dec = math.cos(math.radians(float(dec0[0])))
        cd = np.array(
            [
                [(ra_x[0] - ra0[0]) * cos_dec, (ra_y[0] - ra0[0]) * cos_dec],
                [dec_x[0] - dec0[0], dec_y[0] - dec0[0]],
            ]
        )
        scale = math.sqrt(abs(np.linalg.det(cd)))
        pc = cd / scale
        # CD_ij = CDELT_i PC_ij: with CDELT1 negative (RA grows to the left), PC's first row flips
        pc[0, :] *= -1.0
        return {
            "crpix1": cx + 1.0,
            "crpix2": cy + 1.0,
            "crval1": float(ra0[0]),
            "crval2": float(dec0[0]),
            "cdelt1": -scale,
            "cdelt2": scale,
            "pc1_1": float(pc[0, 0]),
            "pc1_2": float(pc[0, 1]),
            "pc2_1": float(pc[1, 0]),
            "pc2_2": float(pc[1, 1]),
        }


def dithered_pointing(
    frame_optics: Optics, layout: Layout, target: tuple[float, float], roll: float, dither: tuple[float, float]
) -> Pointing:
    """The pointing that puts ``target`` (RA, Dec) at the science centre moved by ``dither`` pixels.

    V2_REF/V3_REF are those of the science array's centre, as for a real
    aperture; the dither moves the telescope, so RA_REF/DEC_REF change.
    """
    ny, nx = layout.shape
    centre_x = (nx - 1) / 2.0 + layout.xstart - 1
    centre_y = (ny - 1) / 2.0 + layout.ystart - 1
    v2_ref, v3_ref = frame_optics.pixel_to_v2v3(np.array([centre_x]), np.array([centre_y]))
    base = Pointing(float(v2_ref[0]), float(v3_ref[0]), roll, target[0], target[1])
    # the sky at (centre - dither) in the undithered pointing lands on the centre when dithered
    v2, v3 = frame_optics.pixel_to_v2v3(np.array([centre_x - dither[0]]), np.array([centre_y - dither[1]]))
    ra, dec = base.v2v3_to_sky(v2, v3)
    return Pointing(base.v2_ref, base.v3_ref, roll, float(ra[0]), float(dec[0]))


@dataclass(frozen=True)
class Star:
    ra: float
    dec: float
    peak_rate: float  # DN/s in the central pixel (before the flat)


def star_field(
    target: tuple[float, float],
    radius_arcsec: float,
    rng: np.random.Generator,
    peaks: Sequence[float],
    faint: int,
    separation_arcsec: float = 0.0,
) -> list[Star]:
    """Stars of the given ``peaks`` within ``radius_arcsec`` of the target, plus ``faint`` random faint ones.

    Stars are kept at least ``separation_arcsec`` apart (a crowded field is
    not the point), so fewer than asked may be placed when the field is full.
    """
    stars: list[Star] = []
    offsets: list[tuple[float, float]] = []
    cos_dec = math.cos(math.radians(target[1]))
    levels = list(peaks) + list(rng.uniform(3.0, 40.0, faint))
    for index, peak in enumerate(levels):
        # bright stars (their wings reach far) keep twice as far apart as faint ones
        apart = separation_arcsec * (2.0 if index < len(peaks) else 1.0)
        for _ in range(200):
            east, north = rng.uniform(-radius_arcsec, radius_arcsec, 2)
            if math.hypot(east, north) <= radius_arcsec and all(
                math.hypot(east - e, north - n) >= apart for e, n in offsets
            ):
                break
        else:
            continue
        offsets.append((east, north))
        stars.append(Star(target[0] + east / 3600.0 / cos_dec, target[1] + north / 3600.0, float(peak)))
    return stars


def count_rate(frame: Frame, stars: Sequence[Star], sky: float, psf_sigma: float) -> np.ndarray:
    """Sky + Gaussian stars, DN/s per pixel, before flat field and detector response."""
    ny, nx = frame.layout.shape
    rate = np.full((ny, nx), sky, dtype=np.float64)
    rate += sky * 0.1 * (np.arange(nx)[None, :] / max(nx - 1, 1))  # a gentle background gradient
    ra = np.array([s.ra for s in stars])
    dec = np.array([s.dec for s in stars])
    xs, ys = frame.sky_to_science_pixel(ra, dec)
    reach = int(math.ceil(6 * psf_sigma))
    for star, x, y in zip(stars, xs, ys, strict=True):
        x0, x1 = max(int(x) - reach, 0), min(int(x) + reach + 2, nx)
        y0, y1 = max(int(y) - reach, 0), min(int(y) + reach + 2, ny)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        rate[y0:y1, x0:x1] += star.peak_rate * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2.0 * psf_sigma**2))
    return rate
