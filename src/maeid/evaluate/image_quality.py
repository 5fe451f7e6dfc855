"""Pixel-level reconstruction quality: MSE, PSNR, SSIM and FSIM, whole image or a region.

Every metric compares a reconstruction to its reference, one (C, H, W) or (H, W) image at
a time. `region`, a boolean (H, W) map, restricts a metric to some pixels, e.g. the masked
patches of an MAE: MSE and PSNR average over those pixels only, SSIM and FSIM compute
their local maps on the whole image (their windows need context) and pool over the region.

`data_range` is the span of valid pixel values. It defaults to the reference's own
max - min, which suits the real-valued images of synthetic models; pass 1.0 for images
in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from skimage.metrics import structural_similarity

from maeid.evaluate.fsim import fsim

METRICS = ("mse", "psnr", "ssim", "fsim")


def mse(reference: np.ndarray, test: np.ndarray, region: np.ndarray | None = None) -> float:
    ref, tst = _pair(reference, test)
    err = (ref - tst) ** 2
    if region is not None:
        err = err[..., _region(region, ref.shape[-2:])]
    return float(err.mean())


def psnr(
    reference: np.ndarray,
    test: np.ndarray,
    data_range: float | None = None,
    region: np.ndarray | None = None,
) -> float:
    """Peak signal-to-noise ratio in dB; +inf for identical images."""
    err = mse(reference, test, region)
    span = _span(reference, data_range)
    return float("inf") if err == 0 else float(10 * np.log10(span**2 / err))


def ssim(
    reference: np.ndarray,
    test: np.ndarray,
    data_range: float | None = None,
    region: np.ndarray | None = None,
) -> float:
    """Structural similarity (Wang et al. 2004, 7x7 uniform windows as scikit-image); 1 if equal."""
    ref, tst = _pair(reference, test)
    span = _span(reference, data_range)
    ref2, tst2 = (a if a.ndim == 2 else np.moveaxis(a, 0, -1) for a in (ref, tst))
    side = min(ref2.shape[:2])
    win = min(7, side if side % 2 else side - 1)
    _, smap = structural_similarity(
        ref2, tst2, data_range=span, full=True, win_size=win,
        channel_axis=None if ref2.ndim == 2 else -1,
    )  # fmt: skip
    if smap.ndim == 3:
        smap = smap.mean(axis=-1)
    if region is not None:
        smap = smap[_region(region, smap.shape)]
    return float(smap.mean())


def image_quality(
    reference: np.ndarray,
    test: np.ndarray,
    data_range: float | None = None,
    region: np.ndarray | None = None,
) -> dict[str, float]:
    """All four metrics of one image pair, as {"mse", "psnr", "ssim", "fsim"}."""
    span = _span(reference, data_range)
    return {
        "mse": mse(reference, test, region),
        "psnr": psnr(reference, test, span, region),
        "ssim": ssim(reference, test, span, region),
        "fsim": fsim(reference, test, span, region),
    }


def mean_quality(pairs: list[Mapping[str, float]]) -> dict[str, float]:
    """Average per-image metrics; PSNR is averaged over finite values (identical pairs skip)."""
    out = {}
    for key in METRICS:
        vals = np.array([p[key] for p in pairs], dtype=float)
        finite = vals[np.isfinite(vals)]
        out[key] = float(finite.mean()) if len(finite) else float("inf")
    return out


def _pair(reference: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, tst = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    if ref.shape != tst.shape:
        raise ValueError(f"images differ in shape: {ref.shape} vs {tst.shape}")
    if ref.ndim not in (2, 3):
        raise ValueError(f"image has shape {ref.shape}; expected (H, W) or (C, H, W)")
    return ref, tst


def _span(reference: np.ndarray, data_range: float | None) -> float:
    if data_range is not None:
        if not data_range > 0:
            raise ValueError(f"data_range {data_range} must be positive")
        return float(data_range)
    ref = np.asarray(reference)
    span = float(ref.max() - ref.min())
    return span if span > 0 else 1.0


def _region(region: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    region = np.asarray(region, dtype=bool)
    if region.shape != tuple(shape):
        raise ValueError(f"region has shape {region.shape}; expected {tuple(shape)}")
    if not region.any():
        raise ValueError("region selects no pixel")
    return region
