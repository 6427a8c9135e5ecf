"""A simple source finder: background, threshold segmentation, isophotal photometry.

This stands in for jwst's photutils-based source_catalog step. It is enough
to give image3 a segmentation map and a catalog with the columns WFSS spec2
reads (label, centroids, isophotal AB magnitude, bounding boxes, is_extended);
it does not deblend touching sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Background:
    level: float
    rms: float


@dataclass(frozen=True)
class SourceMeasurements:
    """One entry per segment label 1..n, in label order (pixel coordinates, 0-based)."""

    label: np.ndarray
    xcentroid: np.ndarray
    ycentroid: np.ndarray
    area: np.ndarray  # pixels
    flux: np.ndarray  # sum of data over the segment, data units × pixels
    flux_err: np.ndarray
    bbox_xmin: np.ndarray
    bbox_xmax: np.ndarray
    bbox_ymin: np.ndarray
    bbox_ymax: np.ndarray


def estimate_background(data: np.ndarray, *, sigma: float = 3.0, iterations: int = 5) -> Background:
    """Sigma-clipped median and standard deviation of the finite pixels."""
    values = data[np.isfinite(data)].astype(np.float64)
    if values.size == 0:
        return Background(level=0.0, rms=0.0)
    for _ in range(iterations):
        median = np.median(values)
        std = values.std()
        kept = values[np.abs(values - median) <= sigma * std]
        if kept.size == values.size or kept.size == 0:
            break
        values = kept
    return Background(level=float(np.median(values)), rms=float(values.std()))


def label_regions(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the 8-connected regions of a 2-D boolean mask as 1..n in raster order."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError("label_regions expects a 2-D mask")
    size = mask.size
    sentinel = size + 1
    labels = np.where(mask, np.arange(1, size + 1).reshape(mask.shape), sentinel)
    while True:
        padded = np.pad(labels, 1, constant_values=sentinel)
        smallest = labels.copy()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                shifted = padded[1 + dy : 1 + dy + mask.shape[0], 1 + dx : 1 + dx + mask.shape[1]]
                np.minimum(smallest, shifted, out=smallest)
        smallest = np.where(mask, smallest, sentinel)
        # pointer jumping: a label is the index of a pixel of the same region,
        # so following it to that pixel's own label converges in few rounds
        flat = smallest.ravel()
        jumped = np.where(mask.ravel(), flat[np.minimum(flat, size) - 1], sentinel).reshape(mask.shape)
        jumped = np.where(mask, np.minimum(jumped, smallest), sentinel)
        if np.array_equal(jumped, labels):
            break
        labels = jumped
    regions = np.zeros(mask.shape, dtype=np.int32)
    if mask.any():
        unique, inverse = np.unique(labels[mask], return_inverse=True)
        regions[mask] = inverse.astype(np.int32) + 1
        return regions, int(unique.size)
    return regions, 0


def _smooth(data: np.ndarray) -> np.ndarray:
    """3×3 box mean, ignoring NaN pixels."""
    finite = np.isfinite(data)
    values = np.pad(np.where(finite, data, 0.0), 1)
    weights = np.pad(finite.astype(np.float64), 1)
    total = np.zeros(data.shape, dtype=np.float64)
    count = np.zeros(data.shape, dtype=np.float64)
    for dy in range(3):
        for dx in range(3):
            total += values[dy : dy + data.shape[0], dx : dx + data.shape[1]]
            count += weights[dy : dy + data.shape[0], dx : dx + data.shape[1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def segment_sources(
    data: np.ndarray, background: Background, *, nsigma: float = 3.0, min_pixels: int = 5
) -> np.ndarray:
    """Segmentation map: connected pixels whose smoothed value exceeds background + nsigma·rms.

    Returns an int32 map with 0 for background and labels 1..n, regions smaller
    than ``min_pixels`` dropped and the rest renumbered in raster order.
    """
    smoothed = _smooth(np.asarray(data, dtype=np.float64))
    threshold = background.level + nsigma * max(background.rms, float(np.finfo(np.float32).tiny))
    with np.errstate(invalid="ignore"):
        mask = np.isfinite(smoothed) & (smoothed > threshold)
    regions, count = label_regions(mask)
    if count == 0:
        return regions
    sizes = np.bincount(regions.ravel(), minlength=count + 1)
    keep = sizes >= min_pixels
    keep[0] = False
    renumber = np.zeros(count + 1, dtype=np.int32)
    renumber[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return renumber[regions]


def measure_sources(
    data: np.ndarray, err: np.ndarray, segmentation: np.ndarray, background: Background
) -> SourceMeasurements:
    """Isophotal sums and flux-weighted centroids per segment (background subtracted)."""
    count = int(segmentation.max()) if segmentation.size else 0
    labels = np.arange(1, count + 1)
    flat_segments = segmentation.ravel()
    inside = flat_segments > 0
    signal = np.nan_to_num(data.astype(np.float64) - background.level).ravel()
    variance = np.nan_to_num(err.astype(np.float64) ** 2).ravel()
    rows, columns = np.indices(segmentation.shape)
    xs, ys = columns.ravel(), rows.ravel()
    seg = flat_segments[inside]
    weights = np.clip(signal[inside], 0.0, None)

    def per_label(values: np.ndarray) -> np.ndarray:
        return np.bincount(seg, weights=values, minlength=count + 1)[1:]

    area = np.bincount(seg, minlength=count + 1)[1:].astype(np.float64)
    flux = per_label(signal[inside])
    total_weight = per_label(weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = np.where(total_weight > 0, per_label(weights * xs[inside]) / total_weight, per_label(xs[inside]) / area)
        yc = np.where(total_weight > 0, per_label(weights * ys[inside]) / total_weight, per_label(ys[inside]) / area)
    xmin = np.full(count, np.iinfo(np.int64).max)
    ymin = np.full(count, np.iinfo(np.int64).max)
    xmax = np.full(count, -1)
    ymax = np.full(count, -1)
    np.minimum.at(xmin, seg - 1, xs[inside])
    np.minimum.at(ymin, seg - 1, ys[inside])
    np.maximum.at(xmax, seg - 1, xs[inside])
    np.maximum.at(ymax, seg - 1, ys[inside])
    return SourceMeasurements(
        label=labels,
        xcentroid=xc,
        ycentroid=yc,
        area=area,
        flux=flux,
        flux_err=np.sqrt(per_label(variance[inside])),
        bbox_xmin=xmin,
        bbox_xmax=xmax,
        bbox_ymin=ymin,
        bbox_ymax=ymax,
    )
