"""Exact limits by nested resampling, against a linear-Gaussian model's closed form.

With linear square mechanisms every node is a linear map of the exogenous noises, so
Var(z | A) is the variance of z's part outside A's noises, and the Bayes masked loss is
the Gaussian conditional variance Σ_mm - Σ_mv Σ_vv⁻¹ Σ_vm given the visible *pixels*.
The second checks the claim the module rests on: conditioning on the visible side is
conditioning on its latent ancestors.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maeid.hlvm import HierarchicalModel, load_model, quadtree_spec
from maeid.theory import identify_token_mask
from maeid.theory.exact_limits import (
    cell_loss_limits,
    mask_r2_limits,
    masked_loss_limits,
    r2_limits,
)


class _Linear:
    def __init__(self, weight: np.ndarray) -> None:
        self.weight = weight

    def __call__(self, parents: list[np.ndarray], noise: np.ndarray) -> np.ndarray:
        return np.concatenate([*parents, noise], 1) @ self.weight.T


class LinearGaussian(HierarchicalModel):
    """A model whose mechanisms are random square matrices: everything is Gaussian."""

    def __init__(self, spec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        rng = np.random.default_rng(seed)
        self._mechanisms = {
            n.name: _Linear(rng.standard_normal((n.dim, n.dim)) / np.sqrt(n.dim))
            for n in spec.nodes
            if n.parents
        }
        self._noise_maps = self._closed_form()

    def _closed_form(self) -> dict[str, np.ndarray]:
        """Each node as a matrix over all noise coordinates, scaled to unit variance."""
        offsets, total = {}, 0
        for n in self.spec.nodes:
            offsets[n.name] = total
            total += n.noise_dim
        maps: dict[str, np.ndarray] = {}
        for n in self.spec.nodes:
            own = np.zeros((n.noise_dim, total))
            own[:, offsets[n.name] : offsets[n.name] + n.noise_dim] = np.eye(n.noise_dim)
            own *= n.noise_scale
            if not n.parents:
                maps[n.name] = own
            else:
                stacked = np.vstack([*(maps[p] for p in n.parents), own])
                maps[n.name] = self._mechanisms[n.name].weight @ stacked
        self.offsets = offsets
        return maps

    def noise_columns(self, names) -> np.ndarray:
        cols = [np.arange(self.offsets[v], self.offsets[v] + self.spec.noise_dim(v)) for v in names]
        return np.concatenate(cols) if cols else np.zeros(0, dtype=int)

    def exact_r2(self, z: str, held: set[str]) -> float:
        m = self._noise_maps[z]
        total = (m**2).sum(1)
        outside = np.ones(m.shape[1], dtype=bool)
        outside[self.noise_columns(held)] = False
        return float((1 - (m[:, outside] ** 2).sum(1) / total).mean())

    def exact_bayes_loss(self, masked: list[str], visible: list[str]) -> float:
        m = np.vstack([self._noise_maps[x] for x in masked])
        v = np.vstack([self._noise_maps[x] for x in visible])
        cov_mv = m @ v.T
        explained = np.einsum("ij,ji->i", cov_mv, np.linalg.solve(v @ v.T, cov_mv.T))
        conditional = (m**2).sum(1) - explained
        return float(conditional.mean() / self.pooled_variance())

    def exact_plateau(self, masked: list[str]) -> float:
        marginal = np.concatenate([(self._noise_maps[x] ** 2).sum(1) for x in masked])
        return float(marginal.mean() / self.pooled_variance())

    def pooled_variance(self) -> float:
        # Every mean is zero, so the pooled variance is the mean of the pixel variances.
        return float(np.mean([(self._noise_maps[x] ** 2).sum(1) for x in self.spec.observed]))


@pytest.fixture(scope="module")
def gaussian() -> LinearGaussian:
    # 8x8 image, 2x2 leaves: root (2) -> 4 latents (3) -> 16 leaves (4), all square.
    return LinearGaussian(quadtree_spec(8, 1, leaf=2, dims=(2, 3), name="lg8"), seed=3)


def test_r2_limits_match_the_closed_form(gaussian):
    held = {"z0", "z1_0_0"}
    limits = r2_limits(gaussian, held, outer=400, inner=32, var_draws=20000, seed=1)
    for z, limit in limits.items():
        exact = gaussian.exact_r2(z, held)
        assert limit.se < 0.03
        assert abs(limit.value - exact) <= 4 * limit.se + 2e-3, (z, limit, exact)
    assert limits["z0"].value == pytest.approx(1.0)
    assert limits["z1_0_0"].value == pytest.approx(1.0)
    assert limits["z1_1_1"].value < 0.95  # outside the held set: not determined by it


def test_bayes_loss_is_the_gaussian_conditional_variance_given_the_visible_pixels(gaussian):
    spec = gaussian.spec
    mask = torch.zeros(16)
    mask[[0, 1, 5, 6, 7, 10, 12, 13, 14, 15]] = 1.0  # tokens = leaves with patch 2
    masks = mask.expand(600, -1)
    limits = masked_loss_limits(gaussian, masks, inner=32, var_draws=20000, seed=2)
    masked = [spec.observed[i] for i in torch.nonzero(mask).flatten().tolist()]
    visible = [x for x in spec.observed if x not in masked]
    exact = gaussian.exact_bayes_loss(masked, visible)
    assert abs(limits.bayes.value - exact) <= 4 * limits.bayes.se + 2e-3, (limits, exact)
    plateau = gaussian.exact_plateau(masked)
    assert abs(limits.plateau.value - plateau) < 0.03 * plateau
    assert exact < plateau
    assert limits.normalised_excess(limits.bayes.value) == pytest.approx(0.0)
    assert limits.normalised_excess(limits.plateau.value) == pytest.approx(1.0)


def test_given_shared_uses_s_of_m_and_given_visible_the_visible_ancestors(gaussian):
    spec = gaussian.spec
    mask = torch.zeros(16)
    mask[[0, 1, 2, 3, 4, 5, 6, 7]] = 1.0  # the top half: S(m) = {root} only
    shared = identify_token_mask(spec, mask, 2).shared
    assert shared == frozenset({"z0"})
    by_shared = mask_r2_limits(gaussian, mask.expand(300, -1), given="shared", seed=4)
    by_visible = mask_r2_limits(gaussian, mask.expand(300, -1), given="visible", seed=4)
    for z in spec.latents:
        exact = gaussian.exact_r2(z, set(shared))
        assert abs(by_shared[z].value - exact) < 4 * by_shared[z].se + 3e-3
    # The bottom half's latents are visible ancestors: known exactly from the visible side.
    for z in ("z1_1_0", "z1_1_1"):
        assert by_visible[z].value == pytest.approx(1.0)
        assert by_shared[z].value < 0.9


def test_qt32_ideal_mask_limits_and_sampler_bayes_loss():
    model = load_model("qt32")
    limits = r2_limits(model, {"z0"}, outer=128, inner=16, seed=0)
    level1 = np.mean([limits[z].value for z in model.spec.levels[1]])
    level2 = np.mean([limits[z].value for z in model.spec.levels[2]])
    assert limits["z0"].value == 1.0
    assert 0.75 < level1 < 0.95 and 0.5 < level2 < 0.75 and level2 < level1
    loose = cell_loss_limits(model, 0.75, 16, num_masks=128)
    fine = cell_loss_limits(model, 0.75, 4, num_masks=128)
    # Smaller units leave every masked block a visible neighbour: a far lower Bayes loss.
    assert fine.bayes.value + 0.1 < loose.bayes.value < loose.plateau.value


def test_bad_inputs_are_refused_with_the_fix():
    model = load_model("qt32")
    with pytest.raises(ValueError, match="closed under ancestors"):
        r2_limits(model, {"z1_0_0"}, outer=8, inner=4)
    with pytest.raises(ValueError, match="not latents"):
        r2_limits(model, {"x_0_0"}, outer=8, inner=4)
    with pytest.raises(ValueError, match="inner=1"):
        r2_limits(model, {"z0"}, outer=8, inner=1)
    with pytest.raises(ValueError, match="splits observed block"):
        masked_loss_limits(model, torch.eye(256)[:4], patch_size=2)
    with pytest.raises(ValueError, match="given='both'"):
        mask_r2_limits(model, torch.ones(1, 64), given="both")
