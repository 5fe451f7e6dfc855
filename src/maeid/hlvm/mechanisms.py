"""Seeded random invertible mechanisms: `node = g([parents..., noise])`.

A mechanism is a small leaky-ReLU MLP whose every step can be undone:

    h = x                                   x = [parents in `parents` order, noise]
    h = leaky(W_k h + b_k)   (k = 1..depth)  W_k random orthogonal, d_in x d_in
    y = Q h                                  Q has orthonormal columns, d_out x d_in
    node = (y - shift) / scale               fixed per-coordinate standardisation

Orthogonal layers keep it well conditioned (each leaky step stretches by at most
1/slope), so the inverse is numerically stable: `Q^T`, undo the leaky ReLU, `W_k^T`.
When `d_out == d_in` the map is a bijection of R^d; when `d_out > d_in` it is
injective and `inverse` is exact on its image (the least-squares inverse elsewhere).
`shift` and `scale` are set once by the model from a pilot sample so that every node
is O(1); they are part of the mechanism, so the map stays invertible.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

DEFAULT_DEPTH = 2
DEFAULT_SLOPE = 0.2


# With 0 < slope <= 1 the leaky ReLU is max(x, slope x) and its inverse min(y, y / slope).
def _leaky(x: np.ndarray, slope: float) -> np.ndarray:
    return np.maximum(x, slope * x)


def _leaky_inverse(y: np.ndarray, slope: float) -> np.ndarray:
    return np.minimum(y, y / slope)


def _orthogonal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A Haar-random matrix with orthonormal columns (rows >= cols)."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))  # the sign fix makes the draw uniform (Haar)


@dataclass(frozen=True, eq=False)
class Mechanism:
    """An invertible map from `[parents, noise]` (dim `d_in`) to a node (dim `d_out`).

    Arrays are float64; `forward` and `inverse` work on batches `(N, d)`.
    """

    parent_dims: tuple[int, ...]
    noise_dim: int
    weights: tuple[np.ndarray, ...]  # (d_in, d_in) orthogonal
    biases: tuple[np.ndarray, ...]  # (d_in,)
    readout: np.ndarray  # (d_out, d_in), orthonormal columns
    slope: float
    shift: np.ndarray  # (d_out,)
    scale: np.ndarray  # (d_out,), > 0

    @property
    def d_in(self) -> int:
        return sum(self.parent_dims) + self.noise_dim

    @property
    def d_out(self) -> int:
        return self.readout.shape[0]

    def raw(self, inputs: np.ndarray) -> np.ndarray:
        """The map before standardisation."""
        h = np.asarray(inputs, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] != self.d_in:
            raise ValueError(f"mechanism expects inputs of shape (N, {self.d_in}), got {h.shape}")
        for w, b in zip(self.weights, self.biases, strict=True):
            h = _leaky(h @ w.T + b, self.slope)
        return h @ self.readout.T

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        return (self.raw(inputs) - self.shift) / self.scale

    def __call__(self, parents: list[np.ndarray], noise: np.ndarray) -> np.ndarray:
        return self.forward(np.concatenate([*parents, noise], axis=1))

    def inverse_inputs(self, value: np.ndarray) -> np.ndarray:
        """`[parents, noise]` from the node's value, shape (N, d_in)."""
        y = np.asarray(value, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != self.d_out:
            raise ValueError(f"mechanism expects values of shape (N, {self.d_out}), got {y.shape}")
        h = (y * self.scale + self.shift) @ self.readout  # Q^T Q = I
        for w, b in zip(reversed(self.weights), reversed(self.biases), strict=True):
            h = (_leaky_inverse(h, self.slope) - b) @ w  # W^-1 = W^T
        return h

    def inverse(self, value: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Recover `(parents, noise)` from the node's value: a list of (N, dim) arrays in
        `parents` order, and the (N, noise_dim) noise."""
        x = self.inverse_inputs(value)
        cuts = np.cumsum(self.parent_dims)
        pieces = np.split(x, cuts, axis=1)
        return pieces[:-1], pieces[-1]

    def standardised(self, shift: np.ndarray, scale: np.ndarray) -> Mechanism:
        """The same map followed by a new fixed affine standardisation."""
        shift = np.asarray(shift, dtype=np.float64).reshape(self.d_out)
        scale = np.asarray(scale, dtype=np.float64).reshape(self.d_out)
        if not np.all(scale > 0):
            raise ValueError("standardisation scales must be positive")
        return Mechanism(
            self.parent_dims, self.noise_dim, self.weights, self.biases, self.readout,
            self.slope, shift, scale,
        )  # fmt: skip


def random_mechanism(
    parent_dims: tuple[int, ...],
    noise_dim: int,
    d_out: int,
    seed: int | np.random.SeedSequence,
    depth: int = DEFAULT_DEPTH,
    slope: float = DEFAULT_SLOPE,
    bias_scale: float = 0.2,
) -> Mechanism:
    """Draw a random invertible mechanism; the same seed gives the same map."""
    d_in = sum(parent_dims) + noise_dim
    if d_in < 1:
        raise ValueError("a mechanism needs at least one input dimension")
    if d_out < d_in:
        raise ValueError(f"an injective map cannot go from {d_in} to {d_out} dimensions")
    if not 0 < slope <= 1:
        raise ValueError(f"leaky-ReLU slope {slope} must be in (0, 1] to stay invertible")
    rng = np.random.default_rng(seed)
    weights = tuple(_orthogonal(rng, d_in, d_in) for _ in range(depth))
    biases = tuple(bias_scale * rng.standard_normal(d_in) for _ in range(depth))
    readout = _orthogonal(rng, d_out, d_in)
    return Mechanism(
        tuple(parent_dims), noise_dim, weights, biases, readout, float(slope),
        np.zeros(d_out), np.ones(d_out),
    )  # fmt: skip


def node_seed(model_seed: int, name: str) -> np.random.SeedSequence:
    """The seed of one node's mechanism: stable under reordering or adding other nodes."""
    return np.random.SeedSequence([int(model_seed), zlib.crc32(name.encode())])
