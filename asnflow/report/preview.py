"""PNG previews of ``_i2d`` mosaics (needs matplotlib, the ``[plot]`` extra).

The image is shown with an asinh stretch between two percentiles of its finite
pixels; the colour bar is in the mosaic's own unit and names the stretch, the
title names the product, instrument and filter, and a legend says what the
circles (catalog sources) and the grey (no data) are.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LOW_PERCENTILE = 5.0
HIGH_PERCENTILE = 99.7
ASINH_A = 0.1  # astropy's AsinhStretch: linear below about a, logarithmic above
NO_DATA_GREY = "0.6"


@dataclass(frozen=True)
class Stretch:
    """What maps the mosaic's values onto the colour scale."""

    low: float
    high: float
    unit: str

    def line(self) -> str:
        """The colour bar's label: the unit, then the stretch and the range it spans."""
        return (
            f"{self.unit or 'data value'}\nasinh stretch (a={ASINH_A:g}), {LOW_PERCENTILE:g}-{HIGH_PERCENTILE:g} "
            f"percentile: {self.low:.3g} to {self.high:.3g}"
        )


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def product_name(i2d_path: Path) -> str:
    name = i2d_path.name
    return name[: -len("_i2d.fits")] if name.endswith("_i2d.fits") else i2d_path.stem


def stretch_of(data: np.ndarray, unit: str = "") -> Stretch:
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return Stretch(0.0, 1.0, unit)
    low, high = np.percentile(finite, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if not high > low:
        high = low + max(abs(low), 1.0)
    return Stretch(float(low), float(high), unit)


def render_preview(i2d_path: Path, catalog_path: Path | None = None) -> bytes:
    """A PNG of the mosaic with a colour bar, the stretch, and catalog sources circled."""
    figure = preview_figure(i2d_path, catalog_path)
    buffer = io.BytesIO()
    # no "Software" entry: the same mosaic always gives the same bytes
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def preview_figure(i2d_path: Path, catalog_path: Path | None = None):
    """The matplotlib Figure behind :func:`render_preview`."""
    import matplotlib
    from astropy.table import Table
    from astropy.visualization import AsinhStretch, ImageNormalize, ManualInterval
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure state
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle, Patch
    from stdatamodels.jwst import datamodels

    with datamodels.open(str(i2d_path)) as model:
        data = np.array(model.data, dtype=np.float64)
        instrument = (model.meta.instrument.name or "").upper()
        elements = [model.meta.instrument.filter, model.meta.instrument.pupil]
        optics = "/".join(str(o).upper() for o in elements if o and str(o).upper() != "CLEAR")
        exposure = model.meta.exposure.effective_exposure_time or 0.0
        unit = model.meta.bunit_data or ""
    stretch = stretch_of(data, unit)
    # clip=False and invalid=None keep NaN pixels masked (clip=True would paint them at the top of the scale);
    # values beyond the interval take the colour map's end colours.
    norm = ImageNormalize(
        interval=ManualInterval(stretch.low, stretch.high), stretch=AsinhStretch(ASINH_A), clip=False, invalid=None
    )

    figure = Figure(figsize=(5.6, 5.4), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    colours = matplotlib.colormaps["magma"]
    cmap = colours.with_extremes(bad=NO_DATA_GREY, under=colours(0.0), over=colours(1.0))
    image = axes.imshow(np.ma.masked_invalid(data), origin="lower", cmap=cmap, norm=norm, interpolation="nearest")
    colour_bar = figure.colorbar(image, ax=axes, fraction=0.05, pad=0.02)
    colour_bar.set_label(stretch.line(), fontsize=8)
    # ticks evenly spaced on the stretched scale, so the faint end is labelled too
    ticks = [float(v) for v in norm.inverse(np.linspace(0.0, 1.0, 6))]
    colour_bar.set_ticks(ticks, labels=[f"{v:.3g}" for v in ticks])
    colour_bar.ax.tick_params(labelsize=7)

    handles: list[Artist] = []
    if catalog_path is not None and catalog_path.is_file():
        table = Table.read(catalog_path, format="ascii.ecsv")
        for x, y in zip(np.asarray(table["xcentroid"]), np.asarray(table["ycentroid"]), strict=True):
            axes.add_patch(Circle((float(x), float(y)), 3.0, fill=False, edgecolor="cyan", linewidth=0.9))
        handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="none", markeredgecolor="cyan",
                              markersize=8, label=f"catalog source ({len(table)})"))
    if not np.isfinite(data).all():
        handles.append(Patch(facecolor=NO_DATA_GREY, edgecolor="none", label="no data (NaN)"))
    if handles:
        legend = axes.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.85)
        legend.get_frame().set_edgecolor("none")

    axes.set_title(
        f"{product_name(i2d_path)}\n{instrument} {optics}, exposure {exposure:.0f} s".rstrip(),
        fontsize=8.5,
    )
    axes.set_xlabel("x (pixels)", fontsize=8)
    axes.set_ylabel("y (pixels)", fontsize=8)
    axes.tick_params(labelsize=7)
    return figure
