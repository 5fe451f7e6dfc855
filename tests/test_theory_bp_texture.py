"""Belief propagation with the texture cue: exact against enumeration, unchanged without it."""

import itertools

import numpy as np
import pytest

from maeid.hlvm import load_model
from maeid.theory.belief_propagation import (
    class_posterior,
    masked_mse,
    pixel_variance,
    prior_marginals,
    tree_posterior,
)

TINY = "rhm32:levels=2,patch=2,v=3,m=2,n_classes=2,sigma=0.6,p_texture=0.4,texture=0.5"


@pytest.fixture(scope="module")
def tiny():
    return load_model(TINY, seed=1)


def enumerate_posterior(model, images, visible, tied=True):
    """Every (class, rule choices, signature) configuration weighed by prior x likelihood:
    each symbol's exact posterior and each pixel's posterior mean and second moment."""
    p = model.knobs.p_texture
    tiles = model.patches[:, 0].astype(np.float64)  # (v, 2, 2)
    sigs = model.signatures[:, 0].astype(np.float64)  # (n_classes, 2, 2)
    configs, renders, priors = [], [], []
    for root, r0, *r1 in itertools.product(range(2), range(2), *[range(2)] * 4):
        kids = model.rules[0][root, r0].reshape(2, 2)
        leaves = np.zeros((4, 4), dtype=int)
        for j, (r, c) in enumerate(itertools.product(range(2), range(2))):
            block = model.rules[1][kids[r, c], r1[j]].reshape(2, 2)
            leaves[2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = block
        tree = tiles[leaves].transpose(0, 2, 1, 3).reshape(8, 8)
        # (signature class or None, its prior given the class)
        options = [(None, 1 - p)] + ([(root, p)] if tied else [(t, p / 2) for t in range(2)])
        for sig, weight in options:
            texture = 0 if sig is None else np.tile(sigs[sig], (4, 4))
            configs.append((root, kids, leaves))
            renders.append(tree + texture)
            priors.append(weight)
    renders, priors = np.stack(renders), np.array(priors)
    levels = [np.zeros((len(images), 1, 1, 2)), np.zeros((len(images), 2, 2, 3)),
              np.zeros((len(images), 4, 4, 3))]  # fmt: skip
    first, second = np.zeros((len(images), 8, 8)), np.zeros((len(images), 8, 8))
    for i, (x, seen) in enumerate(zip(images[:, 0].astype(np.float64), visible, strict=True)):
        loglik = -(((x - renders) ** 2) * seen).sum((1, 2)) / (2 * model.knobs.sigma**2)
        w = priors * np.exp(loglik - loglik.max())
        w /= w.sum()
        for wk, (root, kids, leaves) in zip(w, configs, strict=True):
            levels[0][i, 0, 0, root] += wk
            for (r, c), s in np.ndenumerate(kids):
                levels[1][i, r, c, s] += wk
            for (r, c), s in np.ndenumerate(leaves):
                levels[2][i, r, c, s] += wk
        first[i], second[i] = np.tensordot(w, renders, 1), np.tensordot(w, renders**2, 1)
    return levels, first, second


@pytest.mark.parametrize("tied", [True, False])
def test_bp_with_texture_equals_enumeration(tiny, tied):
    sample = tiny.sample(10, seed=0)
    assert set(sample.noises["texture"][:, 0]) == {-1, 0, 1}  # both kinds of image present
    visible = np.random.default_rng(0).random((10, 8, 8)) < 0.5
    visible[0], visible[1] = True, False  # the full image, and nothing seen
    exact, _, _ = enumerate_posterior(tiny, sample.images, visible, tied)
    bp = tree_posterior(tiny, sample.images, visible, tied=tied)
    for got, want in zip(bp.levels, exact, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-10)
    root = class_posterior(tiny, sample.images, visible, tied=tied)  # the upward pass alone
    np.testing.assert_allclose(root, exact[0][:, 0, 0], atol=1e-10)


def test_bayes_mse_with_texture_equals_enumeration(tiny):
    sample = tiny.sample(10, seed=4)
    visible = np.ones((10, 8, 8), dtype=bool)
    visible[:, :4, 2:6] = False
    _, first, second = enumerate_posterior(tiny, sample.images, visible)
    per_pixel = tiny.knobs.sigma**2 + second - first**2
    got = masked_mse(tiny, sample.images, visible)
    assert got.bayes == pytest.approx(per_pixel[~visible].mean() / pixel_variance(tiny), rel=1e-9)
    # The pixel variance is that of the samples, signatures included.
    many = tiny.sample(20000, seed=1).images
    assert pixel_variance(tiny) == pytest.approx(float(many.var()), rel=0.02)
    # The prior of the signature: no pixel seen leaves P(absent) = 1 - p_texture.
    prior = prior_marginals(tiny)
    absent = prior.rendering_probs[0, 0, 0, : tiny.knobs.v].sum()
    assert absent == pytest.approx(1 - tiny.knobs.p_texture)


def test_signature_amplitude_alone_leaves_bp_unchanged():
    plain = load_model("rhm32:levels=2,patch=2,v=3,m=2,n_classes=2,sigma=0.6", seed=1)
    silent = load_model("rhm32:levels=2,patch=2,v=3,m=2,n_classes=2,sigma=0.6,texture=0.9", seed=1)
    images = plain.sample(30, seed=2).images
    visible = np.random.default_rng(1).random((30, 8, 8)) < 0.6
    a, b = tree_posterior(plain, images, visible), tree_posterior(silent, images, visible)
    for x, y in zip(a.levels, b.levels, strict=True):
        assert np.array_equal(x, y)
    assert masked_mse(plain, images, visible) == masked_mse(silent, images, visible)


def test_the_cue_helps_bayes_only_when_tied():
    model = load_model("rhm32:p_texture=1,texture=0.3", seed=0)
    sample = model.sample(300, seed=3)
    blind = np.zeros((300, 32, 32), dtype=bool)
    blind[:, :4, :4] = True  # one leaf patch seen: its tree says little of the class
    truth = sample.latents["z0"][:, 0]
    tied = (class_posterior(model, sample.images, blind).argmax(1) == truth).mean()
    post = class_posterior(model, sample.images, blind, tied=False)
    ignoring = (post.argmax(1) == truth).mean()
    assert tied > 0.9 and ignoring < 0.4


def test_an_impossible_image_is_named_not_turned_into_nan():
    model = load_model("rhm32:levels=2,patch=2,v=3,m=2,n_classes=2,sigma=0", seed=1)
    images = model.sample(4, seed=0).images.copy()
    images[2] += 0.5  # no rendering explains it when the noise is 0
    with pytest.raises(ValueError, match="image 2 is impossible"):
        tree_posterior(model, images, None)
