"""The set-ups the synthetic programs use: NIRCam, NIRISS and FGS imaging, NIRSpec imaging.

Each :class:`Setup` fixes the detector (name, readout orientation, typical
properties), the optics (distortion, filter offsets), the filters with their
photometric calibration and read patterns, and the subarray for a frame
size. Numbers are typical of the real instruments, not copies of any
reference file. FGS has no filter wheel (its one element is CLEAR, no FILTER
keyword); NIRSpec imaging (NRS_IMAGE) makes no science associations, so
only detector1 applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asnflow.demo.detector import FULL, DetectorProperties, Layout, Readout
from asnflow.demo.sky import Optics

FULL_FRAME_TIME = 10.73676  # seconds: NIRCam/NIRISS full-frame TFRAME


@dataclass(frozen=True)
class Filter:
    filter: str  # FILTER keyword
    pupil: str  # PUPIL keyword
    photmjsr: float  # MJy/sr per DN/s
    readout: Readout
    offset: tuple[float, float] = (0.0, 0.0)  # FILTEROFFSET column/row shift, pixels
    abvega: float = 1.5

    @property
    def element(self) -> str:
        """The filter that names the product (NIRISS imaging filters sit in the pupil wheel; FGS has none)."""
        if not self.filter:
            return "CLEAR"
        return self.pupil if self.filter == "CLEAR" else self.filter


@dataclass(frozen=True)
class Setup:
    instrument: str
    detector: str
    exp_type: str
    fastaxis: int
    slowaxis: int
    optics: Optics
    filters: tuple[Filter, ...]
    # frame size -> SUBARRAY name, at the detector corner (with reference pixels), or
    # (name, xstart, ystart) for a subarray elsewhere on the detector
    subarrays: dict[int, str | tuple[str, int, int]]
    short_name: str  # file name detector part: "nrca1", "nis"
    properties: DetectorProperties = field(default_factory=DetectorProperties)
    channel: str | None = None
    module: str | None = None
    psf_sigma: float = 1.1  # pixels
    default_size: int = 64
    grating: str | None = None
    template: str = ""  # the pool's TEMPLATE (APT template name)

    def layout(self, size: int) -> Layout:
        entry = self.subarrays.get(size)
        if entry is None:
            sizes = ", ".join(str(s) for s in sorted(self.subarrays))
            raise ValueError(f"{self.instrument} frames come in sizes {sizes}, not {size}")
        name, xstart, ystart = (entry, 1, 1) if isinstance(entry, str) else entry
        return Layout(self.instrument, self.detector, name, xstart, ystart, size, size, self.fastaxis, self.slowaxis)

    def filter(self, element: str) -> Filter:
        for item in self.filters:
            if item.element == element:
                return item
        raise KeyError(element)


def _readout(pattern: str, nframes: int, groupgap: int, ngroups: int) -> Readout:
    return Readout(pattern, nframes, groupgap, ngroups, 1, FULL_FRAME_TIME)


def nircam(ngroups: int = 8) -> Setup:
    """NIRCam short-wavelength imaging on NRCA1, read with NFRAMES = 2 patterns."""
    return Setup(
        instrument="NIRCAM",
        detector="NRCA1",
        exp_type="NRC_IMAGE",
        fastaxis=-1,
        slowaxis=2,
        optics=Optics(
            v2_center=120.6, v3_center=-459.2, scale_x=0.0311, scale_y=0.0313, rotation=-0.55, v3yangle=-0.55
        ),
        filters=(
            Filter("F150W", "CLEAR", 0.262, _readout("BRIGHT2", 2, 0, ngroups), (0.12, -0.08), 1.19),
            Filter("F200W", "CLEAR", 0.221, _readout("SHALLOW2", 2, 3, ngroups), (-0.05, 0.15), 1.66),
        ),
        subarrays={64: "SUB64P", 160: "SUB160P", 400: "SUB400P", FULL: "FULL"},
        short_name="nrca1",
        properties=DetectorProperties(bias_level=12_500.0, gain=2.05, read_noise=7.0, full_well=47_000.0),
        channel="SHORT",
        module="A",
        psf_sigma=1.3,
        template="NIRCam Imaging",
    )


def niriss(ngroups: int = 8) -> Setup:
    """NIRISS imaging (filters in the pupil wheel), NIS read pattern (NFRAMES = 1)."""
    return Setup(
        instrument="NIRISS",
        detector="NIS",
        exp_type="NIS_IMAGE",
        fastaxis=-2,
        slowaxis=-1,
        optics=Optics(
            v2_center=-290.1, v3_center=-697.5, scale_x=0.0656, scale_y=0.0658, rotation=-0.57, v3yangle=-0.57
        ),
        filters=(
            Filter("CLEAR", "F150W", 0.245, _readout("NIS", 1, 0, ngroups), (0.3, -0.2), 1.17),
            Filter("CLEAR", "F200W", 0.198, _readout("NIS", 1, 0, ngroups), (-0.25, 0.1), 1.66),
        ),
        subarrays={64: "SUB64", 128: "SUB128", 256: "SUB256", FULL: "FULL"},
        short_name="nis",
        properties=DetectorProperties(bias_level=11_800.0, gain=1.61, read_noise=6.2, full_well=46_000.0),
        psf_sigma=1.1,
        template="NIRISS Imaging",
    )


def fgs(ngroups: int = 8) -> Setup:
    """FGS imaging (FGS_IMAGE) on GUIDER1: no filter, FGSRAPID (NFRAMES 1) and FGS (NFRAMES 4) reads."""
    return Setup(
        instrument="FGS",
        detector="GUIDER1",
        exp_type="FGS_IMAGE",
        fastaxis=-2,
        slowaxis=-1,
        optics=Optics(
            v2_center=206.4, v3_center=-697.9, scale_x=0.0688, scale_y=0.0679, rotation=-1.24, v3yangle=-1.24
        ),
        filters=(
            Filter("", "", 1.72, _readout("FGSRAPID", 1, 0, ngroups)),
            Filter("", "", 1.72, _readout("FGS", 4, 0, ngroups)),
        ),
        subarrays={32: "SUB32LL", 128: "SUB128LL", FULL: "FULL"},
        short_name="guider1",
        properties=DetectorProperties(bias_level=11_200.0, gain=1.98, read_noise=8.0, full_well=44_000.0),
        psf_sigma=1.0,
        default_size=128,
        template="FGS External Calibration",
    )


def nirspec(ngroups: int = 8) -> Setup:
    """NIRSpec imaging (NRS_IMAGE) on NRS1 read traditionally: NRSRAPID (NFRAMES 1) and NRS (NFRAMES 4).

    SUB32 lies inside the detector, away from its reference pixels: jwst's
    refpix then uses the subarray's four outer columns (in science
    orientation) as reference pixels.
    """
    return Setup(
        instrument="NIRSPEC",
        detector="NRS1",
        exp_type="NRS_IMAGE",
        fastaxis=2,
        slowaxis=1,
        optics=Optics(
            v2_center=378.6, v3_center=-428.7, scale_x=0.1035, scale_y=0.1046, rotation=138.5, v3yangle=138.5
        ),
        filters=(
            Filter("F140X", "", 1.0, _readout("NRSRAPID", 1, 0, ngroups)),
            Filter("F110W", "", 1.0, _readout("NRS", 4, 0, ngroups)),
        ),
        subarrays={32: ("SUB32", 1057, 993), FULL: "FULL"},
        short_name="nrs1",
        properties=DetectorProperties(bias_level=13_500.0, gain=1.0, read_noise=9.0, full_well=48_000.0),
        psf_sigma=1.0,
        default_size=32,
        grating="MIRROR",
        template="NIRSpec Imaging",
    )


SETUPS = {"nircam": nircam, "niriss": niriss, "fgs": fgs, "nirspec": nirspec}
