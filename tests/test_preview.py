"""Previews of _i2d mosaics: colour bar with the stretch, product and filter in the title, a legend."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

pytest.importorskip("matplotlib")

from stdatamodels.jwst import datamodels  # noqa: E402

from asnflow.report.preview import (  # noqa: E402
    HIGH_PERCENTILE,
    LOW_PERCENTILE,
    preview_figure,
    render_preview,
    stretch_of,
)

PRODUCT = "jw01234-o001_t001_niriss_clear-f150w"


@pytest.fixture
def mosaic(tmp_path):
    rng = np.random.default_rng(7)
    data = rng.normal(1.0, 0.1, (40, 50)).astype(np.float32)
    data[20, 30] = 500.0  # a star
    data[:3, :4] = np.nan  # outside every input
    model = datamodels.ImageModel(data)
    model.meta.instrument.name = "NIRISS"
    model.meta.instrument.filter = "CLEAR"
    model.meta.instrument.pupil = "F150W"
    model.meta.exposure.effective_exposure_time = 225.0
    model.meta.bunit_data = "MJy/sr"
    i2d = tmp_path / f"{PRODUCT}_i2d.fits"
    model.save(str(i2d))
    catalog = tmp_path / f"{PRODUCT}_cat.ecsv"
    Table({"xcentroid": [30.0, 10.0, 44.0], "ycentroid": [20.0, 30.0, 5.0]}).write(catalog, format="ascii.ecsv")
    return i2d, catalog, data


def test_the_stretch_spans_two_percentiles_of_the_finite_pixels(mosaic):
    _, _, data = mosaic
    stretch = stretch_of(data.astype(float), "MJy/sr")
    low, high = np.percentile(data[np.isfinite(data)], [LOW_PERCENTILE, HIGH_PERCENTILE])
    assert (stretch.low, stretch.high) == pytest.approx((low, high))
    line = stretch.line()
    assert "MJy/sr" in line and "asinh" in line and f"{LOW_PERCENTILE:g}-{HIGH_PERCENTILE:g} percentile" in line
    assert stretch_of(np.full((3, 3), np.nan)).high > stretch_of(np.full((3, 3), np.nan)).low
    flat = stretch_of(np.full((3, 3), 2.0))
    assert flat.high > flat.low == 2.0


def test_title_colour_bar_and_legend_say_what_is_shown(mosaic):
    i2d, catalog, data = mosaic
    figure = preview_figure(i2d, catalog)
    image_axes, bar_axes = figure.axes
    title = image_axes.get_title()
    assert PRODUCT in title and "NIRISS F150W" in title and "225 s" in title
    label = bar_axes.get_ylabel()
    assert "MJy/sr" in label and "asinh stretch" in label
    ticks = [float(t.get_text()) for t in bar_axes.get_yticklabels()]
    stretch = stretch_of(data.astype(float))
    assert ticks[0] == pytest.approx(stretch.low, rel=1e-2) and ticks[-1] == pytest.approx(stretch.high, rel=1e-2)
    legend = [t.get_text() for t in image_axes.get_legend().get_texts()]
    assert legend == ["catalog source (3)", "no data (NaN)"]
    circles = [p for p in image_axes.patches if type(p).__name__ == "Circle"]
    assert sorted((c.center for c in circles)) == sorted([(30.0, 20.0), (10.0, 30.0), (44.0, 5.0)])


def test_pixels_without_data_are_grey_not_bright(mosaic):
    i2d, _, data = mosaic
    figure = preview_figure(i2d)
    image = figure.axes[0].get_images()[0]
    rgba = image.to_rgba(image.norm(image.get_array()))
    assert np.allclose(rgba[0, 0, :3], 0.6)  # NaN: the "bad" grey
    assert rgba[20, 30, :3].sum() > 2.0  # the star: near the top of the scale
    assert figure.axes[0].get_legend() is not None and "catalog" not in str(
        [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    )


def test_the_png_is_reproducible(mosaic):
    i2d, catalog, _ = mosaic
    first = render_preview(i2d, catalog)
    assert first.startswith(b"\x89PNG\r\n\x1a\n")
    assert render_preview(i2d, catalog) == first
