"""Numbers for comparing native detector1 results with jwst's: one table row per array."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArrayComparison:
    step: str
    array: str
    pixels: int
    identical: float  # fraction of elements bit-identical (NaN == NaN)
    within: float  # fraction within the relative tolerance (or identical)
    worst: float  # largest relative difference over elements finite in both
    p999: float  # 99.9th percentile of the relative difference
    nan_agree: bool  # NaN at the same places

    def row(self) -> str:
        return (
            f"| {self.step} | {self.array} | {self.identical:.6f} | {self.within:.6f} | "
            f"{self.worst:.3g} | {self.p999:.3g} | {'yes' if self.nan_agree else 'NO'} |"
        )


@dataclass(frozen=True)
class FlagComparison:
    step: str
    array: str
    agree: float  # fraction of elements with identical flags
    differing: int

    def row(self) -> str:
        return f"| {self.step} | {self.array} | {self.agree:.6f} | (flags) | {self.differing} differ | | |"


HEADER = (
    "| step | array | bit-identical | within 1e-5 | worst rel. diff | 99.9th pct rel. diff | NaN agree |\n"
    "|---|---|---|---|---|---|---|"
)


def compare_values(step: str, name: str, native: np.ndarray, jwst: np.ndarray, rtol: float = 1e-5) -> ArrayComparison:
    native = np.asarray(native, dtype=np.float64)
    jwst = np.asarray(jwst, dtype=np.float64)
    if native.shape != jwst.shape:
        raise ValueError(f"{step} {name}: shapes differ, {native.shape} vs {jwst.shape}")
    nan_n, nan_j = np.isnan(native), np.isnan(jwst)
    both = ~nan_n & ~nan_j
    identical = (native == jwst) | (nan_n & nan_j)
    diff = np.abs(native[both] - jwst[both])
    scale = np.maximum(np.abs(jwst[both]), np.finfo(np.float32).tiny)
    relative = diff / scale
    ok = np.zeros(native.shape, bool)
    ok[both] = relative <= rtol
    ok |= identical
    return ArrayComparison(
        step=step,
        array=name,
        pixels=native.size,
        identical=float(identical.mean()),
        within=float(ok.mean()),
        worst=float(relative.max()) if relative.size else 0.0,
        p999=float(np.percentile(relative, 99.9)) if relative.size else 0.0,
        nan_agree=bool(np.array_equal(nan_n, nan_j)),
    )


def compare_flags(step: str, name: str, native: np.ndarray, jwst: np.ndarray) -> FlagComparison:
    native, jwst = np.asarray(native), np.asarray(jwst)
    if native.shape != jwst.shape:
        raise ValueError(f"{step} {name}: shapes differ, {native.shape} vs {jwst.shape}")
    same = native.astype(np.uint64) == jwst.astype(np.uint64)
    return FlagComparison(step, name, float(same.mean()), int((~same).sum()))
