"""A hierarchical latent-variable model: a `GraphSpec` with a random invertible
mechanism at every non-root node.

Sampling runs in topological order, vectorised over the batch:

- every node `v` draws its exogenous noise `eps_v ~ N(0, noise_scale_v^2)` (dim `noise_dim`);
- a root *is* its noise: `v = eps_v` (the theory counts a root's noise as the root);
- any other node is `v = g_v([parents in `parents` order, eps_v])`, where `g_v` is a
  seeded leaky-ReLU MLP (`maeid.hlvm.mechanisms`) followed by a fixed per-coordinate
  standardisation, so every non-root node has mean ~0 and variance ~1.

The standardisation is computed once, from a pilot sample with a seed derived from
the model seed, the first time the model samples (so building a large model only to
read its structure costs nothing). The pilot has 2048 draws, fewer for large models
(down to 128 for qt224, whose every draw costs ~0.2 GFLOP); the scales are then
estimated to a few percent, which is all "O(1)" needs. It is an affine map, so every
mechanism stays invertible, and the model is a pure function of `(spec, seed)`.

Because parents are O(1), a node's `noise_scale` sets how much of it is new
information rather than its parents': the signal-to-noise knob of the hierarchy (see
`maeid.hlvm.variance.variance_by_level`).

Image models write each observed leaf's vector into its pixel `block = (row, col, h, w)`:
the vector is read as `(C, h, w)`, channels first and row-major inside the block, i.e.
`images[:, :, row:row+h, col:col+w] = x.reshape(N, C, h, w)`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
from threadpoolctl import threadpool_limits

from maeid.hlvm.mechanisms import (
    DEFAULT_DEPTH,
    DEFAULT_SLOPE,
    Mechanism,
    node_seed,
    random_mechanism,
)
from maeid.hlvm.spec import GraphSpec
from maeid.progress import tqdm

MAX_PILOT, MIN_PILOT = 2048, 128
_PILOT_FLOPS = 5e8  # work budget of the automatic pilot size
_PILOT_TAG = 0x9E3779B1  # separates the pilot's noise stream from any user seed


@dataclass
class Sample:
    """Draws from a model. Every array is float32 with the batch first (the discrete
    `maeid.hlvm.random_hierarchy` model holds int64 symbols and rule choices instead).

    `images` is `(N, C, H, W)` for image models (else None); `observed`, `latents` and
    `noises` map node names to `(N, dim)` (`(N, noise_dim)` for noises) arrays.
    """

    images: np.ndarray | None
    observed: dict[str, np.ndarray]
    latents: dict[str, np.ndarray]
    noises: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.observed.values())))


class HierarchicalModel:
    """`spec` plus seeded invertible mechanisms; `sample(n, seed)` draws from it."""

    def __init__(
        self,
        spec: GraphSpec,
        seed: int = 0,
        *,
        depth: int = DEFAULT_DEPTH,
        slope: float = DEFAULT_SLOPE,
        pilot: int | None = None,
        builder: Mapping[str, object] | None = None,
    ) -> None:
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"model seed must be a non-negative integer, got {seed!r}")
        self.spec = spec
        self.seed = int(seed)
        self.depth = int(depth)
        self.slope = float(slope)
        self.pilot = _auto_pilot(spec, self.depth) if pilot is None else int(pilot)
        if self.pilot < 2:
            raise ValueError(f"pilot sample size must be at least 2, got {pilot}")
        # How the model was built (e.g. {"name": "qt32"}), kept with saved datasets.
        self.builder = dict(builder or {})
        self._mechanisms: dict[str, Mechanism] | None = None

    @property
    def name(self) -> str:
        return str(self.spec.meta.get("name", "model"))

    @property
    def config(self) -> dict[str, object]:
        """Everything besides the spec that fixes the model's numbers."""
        return {"seed": self.seed, "depth": self.depth, "slope": self.slope, "pilot": self.pilot}

    def __repr__(self) -> str:
        return (
            f"HierarchicalModel({self.name!r}, seed={self.seed}, {len(self.spec.latents)} latents, "
            f"{len(self.spec.observed)} observed)"
        )

    # ---------------------------------------------------------------- mechanisms
    @property
    def mechanisms(self) -> dict[str, Mechanism]:
        """Non-root node name -> its standardised mechanism (built on first use)."""
        if self._mechanisms is None:
            with _one_blas_thread():
                self._mechanisms = self._calibrated_mechanisms()
        return self._mechanisms

    def mechanism(self, name: str) -> Mechanism:
        node = self.spec[name]
        if not node.parents:
            raise ValueError(f"{name} is a root: it has no mechanism, it is its own noise")
        return self.mechanisms[name]

    def _calibrated_mechanisms(self) -> dict[str, Mechanism]:
        # One pass over a pilot sample: draw each raw mechanism, standardise it on the
        # pilot values of its (already standardised) parents, move on to its children.
        noises = self.draw_noise(self.pilot, np.random.SeedSequence([self.seed, _PILOT_TAG]))
        values: dict[str, np.ndarray] = {}
        mechanisms: dict[str, Mechanism] = {}
        waiting = {k: len(v) for k, v in self.spec.children.items()}  # to free memory early
        for node in tqdm(self.spec.nodes, desc="calibrating", disable=len(self.spec.nodes) < 200):
            if not node.parents:
                values[node.name] = noises[node.name]
                continue
            mech = random_mechanism(
                tuple(self.spec[p].dim for p in node.parents), node.noise_dim, node.dim,
                node_seed(self.seed, node.name), depth=self.depth, slope=self.slope,
            )  # fmt: skip
            raw = mech.raw(
                np.concatenate([*(values[p] for p in node.parents), noises.pop(node.name)], 1)
            )
            # A coordinate that never varies (zero noise, degenerate parents) keeps scale 1.
            std = raw.std(axis=0)
            mech = mech.standardised(raw.mean(axis=0), np.where(std > 1e-12, std, 1.0))
            mechanisms[node.name] = mech
            if waiting[node.name]:
                values[node.name] = (raw - mech.shift) / mech.scale  # == mech.forward(inputs)
            for p in node.parents:
                waiting[p] -= 1
                if not waiting[p]:
                    del values[p]
        return mechanisms

    # ------------------------------------------------------------------ sampling
    def draw_noise(
        self, n: int, seed: int | np.random.SeedSequence | np.random.Generator
    ) -> dict[str, np.ndarray]:
        """Exogenous noise of every node, float64, `eps_v ~ N(0, noise_scale_v^2)`."""
        if n < 1:
            raise ValueError(f"number of samples must be positive, got {n}")
        rng = np.random.default_rng(seed)
        return {
            v.name: v.noise_scale * rng.standard_normal((n, v.noise_dim)) for v in self.spec.nodes
        }

    def generate(
        self,
        noises: Mapping[str, np.ndarray],
        progress: bool = False,
        only: Collection[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Every node's value (float64) from every node's noise, in topological order.

        With `only`, just those nodes and their ancestors are computed (and returned):
        the exact limits in `maeid.theory.exact_limits` need a few nodes of many draws.
        """
        nodes = self.spec.nodes if only is None else self._ancestral_closure(only)
        missing = [v.name for v in nodes if v.name not in noises]
        if missing:
            raise ValueError(f"noise missing for nodes {missing[:5]}")
        mechanisms = self.mechanisms
        values: dict[str, np.ndarray] = {}
        with _one_blas_thread():
            for node in tqdm(nodes, desc="sampling", disable=not progress, leave=False):
                eps = np.asarray(noises[node.name], dtype=np.float64)
                if node.parents:
                    parents = [values[p] for p in node.parents]
                    values[node.name] = mechanisms[node.name](parents, eps)
                else:
                    values[node.name] = eps
        return values

    def _ancestral_closure(self, names: Collection[str]) -> list:
        """The nodes among `names` and their ancestors, in topological order."""
        keep = set()
        for name in names:
            keep.add(self.spec[name].name)
            keep.update(nx.ancestors(self.spec.graph, name))
        return [v for v in self.spec.nodes if v.name in keep]

    def sample(
        self, n: int, seed: int | np.random.SeedSequence = 0, progress: bool = False
    ) -> Sample:
        """Draw `n` samples; the same `(model, n, seed)` gives the same numbers."""
        noises = self.draw_noise(n, seed)
        values = self.generate(noises, progress=progress)
        f32 = {k: v.astype(np.float32) for k, v in values.items()}
        observed = {k: f32[k] for k in self.spec.observed}
        return Sample(
            images=self.render(observed) if self.spec.image_shape is not None else None,
            observed=observed,
            latents={k: f32[k] for k in self.spec.latents},
            noises={k: v.astype(np.float32) for k, v in noises.items()},
        )

    # ---------------------------------------------------------------- images
    def render(self, observed: Mapping[str, np.ndarray]) -> np.ndarray:
        """Write observed vectors into their pixel blocks: `(N, C, H, W)`."""
        shape = self._image_shape()
        c = shape[0]
        n = len(next(iter(observed.values())))
        images = np.zeros((n, *shape), dtype=np.float32)
        for name in self.spec.observed:
            r, col, h, w = self.spec[name].block  # type: ignore[misc]
            images[:, :, r : r + h, col : col + w] = np.asarray(observed[name]).reshape(n, c, h, w)
        return images

    def unrender(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """The inverse of `render`: each observed node's vector, read from its block."""
        shape = self._image_shape()
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != shape:
            raise ValueError(f"expected images of shape (N, {', '.join(map(str, shape))}), "
                             f"got {images.shape}")  # fmt: skip
        out = {}
        for name in self.spec.observed:
            r, col, h, w = self.spec[name].block  # type: ignore[misc]
            out[name] = images[:, :, r : r + h, col : col + w].reshape(len(images), -1).copy()
        return out

    def _image_shape(self) -> tuple[int, int, int]:
        if self.spec.image_shape is None:
            raise ValueError(f"model {self.name!r} is not an image model (no image_shape)")
        return tuple(self.spec.image_shape)  # type: ignore[return-value]


def _auto_pilot(spec: GraphSpec, depth: int) -> int:
    """Pilot size: MAX_PILOT draws, fewer when one draw is expensive."""
    dims = {n.name: n.dim for n in spec.nodes}
    flops = 0
    for n in spec.nodes:
        if n.parents:
            d_in = sum(dims[p] for p in n.parents) + n.noise_dim  # type: ignore[operator]
            flops += 2 * d_in * (depth * d_in + n.dim)
    return int(np.clip(_PILOT_FLOPS // max(flops, 1), MIN_PILOT, MAX_PILOT))


def _one_blas_thread() -> threadpool_limits:
    # Every matrix here is at most a few hundred wide: BLAS threads buy nothing on them,
    # and on a busy machine their spin-waiting slowed qt224's calibration 30-fold.
    return threadpool_limits(limits=1, user_api="blas")
