"""Belief propagation on the random-hierarchy model against brute-force enumeration."""

import itertools
import re

import numpy as np
import pytest
import torch

from maeid.hlvm import load_model
from maeid.theory.belief_propagation import (
    bayes_accuracy,
    class_from_level,
    class_posterior,
    masked_mse,
    normalised_excess,
    pixel_variance,
    prior_marginals,
    tree_posterior,
    visible_pixels,
)

TINY = "rhm32:levels=2,patch=2,v=3,m=2,n_classes=2,sigma=0.6"
# Rule counts that differ by level: 3 rules per class, 2 per level-1 symbol.
TINY_PER_LEVEL = "rhm32:levels=2,patch=2,v=3,m=3/2,n_classes=2,sigma=0.6"


@pytest.fixture(scope="module")
def tiny():
    return load_model(TINY, seed=1)


def enumerate_posterior(model, images, visible):
    """Every (class, rule choices) configuration weighed by its likelihood: the exact
    posterior of every symbol, and the posterior mean of every pixel."""
    rules = model.rules
    (n_classes, m0), m1 = rules[0].shape[:2], rules[1].shape[1]
    configs = []  # (root, level-1 grid (2, 2), leaf grid (4, 4))
    for root, r0, *r1 in itertools.product(range(n_classes), range(m0), *[range(m1)] * 4):
        kids = rules[0][root, r0].reshape(2, 2)
        leaves = np.zeros((4, 4), dtype=int)
        for j, (r, c) in enumerate(itertools.product(range(2), range(2))):
            leaves[2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = rules[1][kids[r, c], r1[j]].reshape(2, 2)
        configs.append((root, kids, leaves))
    tiles = model.patches[:, 0].astype(np.float64)  # (v, 2, 2)
    renders = np.stack(
        [tiles[leaves].transpose(0, 2, 1, 3).reshape(8, 8) for *_, leaves in configs]
    )
    out_levels = [
        np.zeros((len(images), 1, 1, 2)),
        np.zeros((len(images), 2, 2, 3)),
        np.zeros((len(images), 4, 4, 3)),
    ]
    means = np.zeros((len(images), 8, 8))
    for i, (x, seen) in enumerate(zip(images[:, 0].astype(np.float64), visible, strict=True)):
        loglik = -(((x - renders) ** 2) * seen).sum((1, 2)) / (2 * model.knobs.sigma**2)
        w = np.exp(loglik - loglik.max())
        w /= w.sum()
        for wk, (root, kids, leaves) in zip(w, configs, strict=True):
            out_levels[0][i, 0, 0, root] += wk
            for (r, c), s in np.ndenumerate(kids):
                out_levels[1][i, r, c, s] += wk
            for (r, c), s in np.ndenumerate(leaves):
                out_levels[2][i, r, c, s] += wk
        means[i] = np.tensordot(w, renders, 1)
    return out_levels, means, renders


@pytest.mark.parametrize("name", [TINY, TINY_PER_LEVEL])
def test_bp_equals_enumeration_under_a_mask(name):
    tiny = load_model(name, seed=1)
    sample = tiny.sample(12, seed=0)
    rng = np.random.default_rng(0)
    visible = rng.random((12, 8, 8)) < 0.5  # any pixel set, straddling patches
    visible[0] = True  # full image
    visible[1] = False  # nothing seen: the prior
    exact, _, _ = enumerate_posterior(tiny, sample.images, visible)
    bp = tree_posterior(tiny, sample.images, visible)
    for got, want in zip(bp.levels, exact, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-10)
    np.testing.assert_allclose(bp.levels[0][1, 0, 0], [0.5, 0.5])


def test_bayes_mse_equals_enumeration(tiny):
    sample = tiny.sample(10, seed=5)
    token_mask = torch.zeros(10, 16)
    token_mask[:, [0, 5, 6, 9, 15]] = 1
    visible = visible_pixels(token_mask, 2, (8, 8))
    assert visible.sum() == 10 * (64 - 5 * 4)
    _, means, renders = enumerate_posterior(tiny, sample.images, visible)
    # E[(x - posterior mean)^2 | visible] = sigma^2 + posterior variance of the rendering
    second = np.stack([
        np.tensordot(w, renders**2, 1)
        for w in _weights(tiny, sample.images, visible, renders)
    ])  # fmt: skip
    per_pixel = tiny.knobs.sigma**2 + second - means**2
    want = per_pixel[~visible].mean() / pixel_variance(tiny)
    got = masked_mse(tiny, sample.images, visible)
    assert got.bayes == pytest.approx(want, rel=1e-9)
    assert got.bayes < got.plateau < 1.0 + 1e-9
    # The plateau is the prior: what BP gives when nothing is seen.
    blind = masked_mse(tiny, sample.images, np.zeros_like(visible))
    assert blind.bayes == pytest.approx(blind.plateau, rel=1e-9)
    assert normalised_excess(got.bayes, got.bayes, got.plateau) == 0.0
    assert got.excess(got.plateau) == pytest.approx(1.0)


def _weights(model, images, visible, renders):
    for x, seen in zip(images[:, 0].astype(np.float64), visible, strict=True):
        loglik = -(((x - renders) ** 2) * seen).sum((1, 2)) / (2 * model.knobs.sigma**2)
        w = np.exp(loglik - loglik.max())
        yield w / w.sum()


def test_plateau_is_about_one_and_variance_matches_the_samples():
    model = load_model("rhm32")
    var = pixel_variance(model)
    sample = model.sample(4000, seed=2)
    assert var == pytest.approx(float(sample.images.var()), rel=0.02)
    prior = prior_marginals(model)
    np.testing.assert_allclose(prior.levels[0][0, 0, 0], np.full(8, 1 / 8))


def test_small_sigma_full_image_recovers_every_latent():
    model = load_model("rhm32:sigma=0.05")
    sample = model.sample(300, seed=1)
    post = tree_posterior(model, sample.images)
    assert bayes_accuracy(post, model.symbol_grids(sample.latents)) == [1.0] * 4
    # Noiseless pixels, too, are read exactly.
    exact = load_model("rhm32:sigma=0")
    sample = exact.sample(50, seed=1)
    post = tree_posterior(exact, sample.images)
    assert bayes_accuracy(post, exact.symbol_grids(sample.latents)) == [1.0] * 4


def test_masking_lowers_bayes_accuracy_where_evidence_is_gone():
    model = load_model("rhm32")
    sample = model.sample(400, seed=3)
    visible = np.ones((400, 32, 32), dtype=bool)
    visible[:, :16, :16] = False  # the top-left quadrant: z1_0_0's whole subtree
    post = tree_posterior(model, sample.images, visible)
    truth = model.symbol_grids(sample.latents)
    hits = post.argmax()[1] == truth[1]
    assert hits[:, 1:, :].all() and hits[:, :, 1:].all()  # the other quadrants: exact
    assert hits[:, 0, 0].mean() < 0.9  # the hidden one is only guessed from its siblings
    # Three of the four level-1 symbols still pin the class down most of the time.
    assert 0.7 < (post.argmax()[0] == truth[0]).mean() < 1.0


def test_bad_inputs_are_refused(tiny):
    images = tiny.sample(3, seed=0).images
    with pytest.raises(ValueError, match="expected"):
        tree_posterior(tiny, images[:, :, :4])
    with pytest.raises(ValueError, match=r"visible has shape"):
        tree_posterior(tiny, images, np.ones((3, 4, 4), dtype=bool))
    with pytest.raises(ValueError, match="hides no pixel"):
        masked_mse(tiny, images, np.ones((3, 8, 8), dtype=bool))
    with pytest.raises(ValueError, match="does not tile"):
        visible_pixels(torch.zeros(3, 16), 3, (8, 8))


def test_bp_reads_every_level_of_a_grammar_whose_rule_counts_differ_by_level():
    model = load_model("rhm32:m=32/4/2,sigma=0.1")  # three levels, three counts
    sample = model.sample(200, seed=0)
    post = tree_posterior(model, sample.images)
    assert bayes_accuracy(post, model.symbol_grids(sample.latents)) == [1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("name", [TINY, TINY_PER_LEVEL])
def test_climbing_from_the_leaves_pixel_likelihoods_is_the_class_posterior(name):
    model = load_model(name, seed=1)
    sample = model.sample(64, seed=4)
    k = model.knobs
    grid = k.size // k.patch
    patches = (
        sample.images[:, 0].astype(np.float64).reshape(-1, grid, k.patch, grid, k.patch)
    ).transpose(0, 1, 3, 2, 4)  # (N, G, G, p, p)
    tiles = model.patches[:, 0].astype(np.float64)  # (v, p, p)
    sq = ((patches[..., None, :, :] - tiles) ** 2).sum((-1, -2))  # (N, G, G, v)
    lik = np.exp(-(sq - sq.min(-1, keepdims=True)) / (2 * k.sigma**2))
    climbed = class_from_level(model, lik, k.levels)
    np.testing.assert_allclose(climbed, class_posterior(model, sample.images), atol=1e-10)


def test_climbing_from_level_1_sums_each_class_s_rules_over_its_four_children(tiny):
    rng = np.random.default_rng(0)
    lik = rng.random((5, 2, 2, tiny.num_symbols(1)))
    flat = lik.reshape(5, 4, -1)
    rules = tiny.rules[0]  # (n_classes, m, 4)
    by_hand = np.stack(
        [np.prod([flat[:, j, rules[c, :, j]] for j in range(4)], axis=0).sum(-1)
         for c in range(len(rules))], axis=-1,
    )  # fmt: skip
    by_hand /= by_hand.sum(-1, keepdims=True)
    np.testing.assert_allclose(class_from_level(tiny, lik, 1), by_hand, atol=1e-12)


@pytest.mark.parametrize(
    ("level", "shape", "says"),
    [(0, (2, 1, 1, 2), "1..2"), (3, (2, 8, 8, 3), "1..2"), (1, (2, 4, 3), "(N, 2, 2, 3)"),
     (2, (2, 2, 2, 3), "(N, 4, 4, 3)")],
)  # fmt: skip
def test_climbing_refuses_a_level_or_a_shape_it_cannot_use(tiny, level, shape, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        class_from_level(tiny, np.ones(shape), level)
    with pytest.raises(ValueError, match="finite and >= 0"):
        class_from_level(tiny, -np.ones((2, 2, 2, 3)), 1)
