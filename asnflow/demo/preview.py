"""PNG previews of ``_i2d`` mosaics (needs matplotlib, the ``[plot]`` extra)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def render_preview(i2d_path: Path, catalog_path: Path | None = None) -> bytes:
    """A PNG of the mosaic (asinh stretch, NaN in grey) with catalog sources circled."""
    import matplotlib
    from astropy.table import Table
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure state
    from matplotlib.patches import Circle
    from stdatamodels.jwst import datamodels

    with datamodels.open(str(i2d_path)) as model:
        data = np.array(model.data, dtype=np.float64)
        title = f"{i2d_path.name}\n{model.meta.instrument.pupil or model.meta.instrument.filter}, "
        title += f"XPOSURE {model.meta.exposure.effective_exposure_time or 0:.0f} s"
    finite = np.isfinite(data)
    low, high = (np.percentile(data[finite], [5.0, 99.7]) if finite.any() else (0.0, 1.0))
    scale = max(high - low, np.finfo(float).tiny)
    stretched = np.arcsinh(np.clip((data - low) / scale, 0.0, None) * 10.0) / np.arcsinh(10.0)
    shown = np.ma.masked_invalid(np.where(finite, stretched, np.nan))

    figure = Figure(figsize=(4.2, 4.6), dpi=100)
    axes = figure.add_subplot()
    cmap = matplotlib.colormaps["magma"].with_extremes(bad="0.6")
    axes.imshow(shown, origin="lower", cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    if catalog_path is not None and catalog_path.is_file():
        table = Table.read(catalog_path, format="ascii.ecsv")
        for x, y in zip(np.asarray(table["xcentroid"]), np.asarray(table["ycentroid"]), strict=True):
            axes.add_patch(Circle((float(x), float(y)), 3.0, fill=False, edgecolor="cyan", linewidth=0.8))
    axes.set_title(title, fontsize=8)
    axes.set_xlabel("x (pixels)", fontsize=8)
    axes.set_ylabel("y (pixels)", fontsize=8)
    axes.tick_params(labelsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    # no "Software" entry: the same mosaic always gives the same bytes
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
