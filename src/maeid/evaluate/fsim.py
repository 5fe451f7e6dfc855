"""FSIM, the feature similarity index (Zhang, Zhang, Mou & Zhang, IEEE TIP 2011), grayscale.

FSIM compares two images by two low-level features that the visual system weights:

- phase congruency (PC), a contrast-invariant measure of how much the Fourier components
  of a neighbourhood agree in phase (edges, lines, corners), computed with log-Gabor
  filters at 4 scales x 4 orientations;
- gradient magnitude (GM), from the Scharr operator.

``S_PC = (2 PC1 PC2 + T1) / (PC1² + PC2² + T1)``, ``S_G = (2 G1 G2 + T2) / (G1² + G2² + T2)``,
and ``FSIM = Σ S_PC S_G PC_m / Σ PC_m`` with ``PC_m = max(PC1, PC2)`` as the weight of
each pixel. The paper's constants are kept: T1 = 0.85, T2 = 160 on a 0-255 scale (inputs
are rescaled to it with `data_range`), filter parameters of the authors' ``phasecong2``
(minimum wavelength 6, scale factor 2, sigma_onf 0.55, dtheta_on_sigma 1.2, k = 2).

This is written from the paper, not ported, and it simplifies in two honest ways:

- the noise threshold of phase congruency uses Kovesi's median estimate (Rayleigh
  statistics of the smallest-scale amplitude, as in ``phasecong3``) instead of the
  filter-energy estimate of ``phasecong2``;
- images are not downsampled first (the authors downsample images larger than 256 px by
  an integer factor; every image maeid reads is smaller).

It is FSIM, not FSIMc: maeid's images are single-channel. A multi-channel image is
averaged to gray first.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve

T1 = 0.85
T2 = 160.0
_SCHARR = np.array([[3.0, 0.0, -3.0], [10.0, 0.0, -10.0], [3.0, 0.0, -3.0]]) / 16.0


def fsim(
    reference: np.ndarray,
    test: np.ndarray,
    data_range: float | None = None,
    region: np.ndarray | None = None,
) -> float:
    """FSIM of `test` against `reference`, (H, W) or (C, H, W) arrays; 1 when identical.

    `data_range` is the span of valid values (default: the reference's max - min); `region`
    is an optional boolean (H, W) map restricting the pooling to some pixels (e.g. the
    masked patches).
    """
    ref, tst = _gray(reference, "reference"), _gray(test, "test")
    if ref.shape != tst.shape:
        raise ValueError(f"images differ in shape: {ref.shape} vs {tst.shape}")
    span = float(data_range) if data_range is not None else float(ref.max() - ref.min())
    scale = 255.0 / span if span > 0 else 1.0
    ref, tst = ref * scale, tst * scale
    pc1, pc2 = phase_congruency(ref), phase_congruency(tst)
    g1, g2 = gradient_magnitude(ref), gradient_magnitude(tst)
    s_pc = (2 * pc1 * pc2 + T1) / (pc1**2 + pc2**2 + T1)
    s_g = (2 * g1 * g2 + T2) / (g1**2 + g2**2 + T2)
    weight = np.maximum(pc1, pc2)
    if region is not None:
        region = np.asarray(region, dtype=bool)
        if region.shape != ref.shape:
            raise ValueError(f"region has shape {region.shape}; expected {ref.shape}")
        weight = weight * region
        if not region.any():
            raise ValueError("region selects no pixel")
    if weight.sum() <= 0:  # no structure anywhere: pool uniformly
        weight = np.ones_like(weight) if region is None else region.astype(float)
    return float((s_pc * s_g * weight).sum() / weight.sum())


def gradient_magnitude(img: np.ndarray) -> np.ndarray:
    gx = convolve(img, _SCHARR, mode="nearest")
    gy = convolve(img, _SCHARR.T, mode="nearest")
    return np.sqrt(gx**2 + gy**2)


def phase_congruency(
    img: np.ndarray,
    n_scales: int = 4,
    n_orients: int = 4,
    min_wavelength: float = 6.0,
    mult: float = 2.0,
    sigma_onf: float = 0.55,
    dtheta_on_sigma: float = 1.2,
    k: float = 2.0,
) -> np.ndarray:
    """Kovesi's phase congruency of a 2-D image, in [0, 1] per pixel."""
    rows, cols = img.shape
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.fftfreq(cols)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    radius[0, 0] = 1.0  # avoid log(0); the DC term is zeroed below
    theta = np.arctan2(-fy, fx)
    lowpass = 1.0 / (1.0 + (radius / 0.45) ** 30)  # keeps the filters off the corners
    radial = []
    for s in range(n_scales):
        f0 = 1.0 / (min_wavelength * mult**s)
        g = np.exp(-(np.log(radius / f0) ** 2) / (2 * np.log(sigma_onf) ** 2)) * lowpass
        g[0, 0] = 0.0
        radial.append(g)
    sigma_theta = np.pi / n_orients / dtheta_on_sigma
    spectrum = np.fft.fft2(img)
    eps = 1e-4
    energy_all = np.zeros_like(img)
    amplitude_all = np.zeros_like(img)
    for o in range(n_orients):
        angle = o * np.pi / n_orients
        # Angular distance to the filter orientation, wrapped to [0, pi].
        dtheta = np.abs(np.arctan2(np.sin(theta - angle), np.cos(theta - angle)))
        spread = np.exp(-(dtheta**2) / (2 * sigma_theta**2))
        responses = [np.fft.ifft2(spectrum * g * spread) for g in radial]
        sum_even = sum(r.real for r in responses)
        sum_odd = sum(r.imag for r in responses)
        sum_amp = sum(np.abs(r) for r in responses)
        norm = np.sqrt(sum_even**2 + sum_odd**2) + eps
        mean_even, mean_odd = sum_even / norm, sum_odd / norm
        energy = sum(
            r.real * mean_even + r.imag * mean_odd - np.abs(r.real * mean_odd - r.imag * mean_even)
            for r in responses
        )
        # Noise: the smallest scale's amplitude is Rayleigh-distributed under noise; its
        # median gives the Rayleigh parameter, summed over scales (amplitudes fall as 1/mult).
        tau = np.median(np.abs(responses[0])) / np.sqrt(np.log(4.0))
        total_tau = tau * (1 - (1 / mult) ** n_scales) / (1 - 1 / mult)
        threshold = total_tau * np.sqrt(np.pi / 2) + k * total_tau * np.sqrt((4 - np.pi) / 2)
        energy_all += np.maximum(energy - threshold, 0.0)
        amplitude_all += sum_amp
    return energy_all / (amplitude_all + eps)


def _gray(img: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(img, dtype=np.float64)
    if a.ndim == 3:
        a = a.mean(axis=0)
    if a.ndim != 2:
        raise ValueError(f"{what} image has shape {np.shape(img)}; expected (H, W) or (C, H, W)")
    return a
