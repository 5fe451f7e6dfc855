"""Cue-conflict images and shape bias on rhm32, checked against what generated them."""

import numpy as np
import pytest
import torch

from maeid.evaluate.cue_conflict import (
    bayes_shape_bias,
    cue_conflict,
    cue_consistent,
    measure_shape_bias,
    probe_shape_bias,
    rules_shape_bias,
    shape_bias,
)
from maeid.evaluate.probe import ProbeConfig
from maeid.hlvm import load_model
from maeid.hlvm.texture import signature_classes, signature_scores
from maeid.theory.belief_propagation import class_posterior, tree_posterior


@pytest.fixture(scope="module")
def model():
    return load_model("rhm32", seed=0)  # the default cue: p_texture 0, signatures of 0.1


@pytest.fixture(scope="module")
def images(model):
    return (
        cue_consistent(model, 400, seed=0),
        cue_consistent(model, 150, 1),
        cue_conflict(model, 150, 2),
    )


def _tree_reader(model):
    """Reads only the tree: the class posterior of BP that ignores the signature."""

    def read(x):
        post = class_posterior(model, x, tied=False, presence=1.0)
        return torch.from_numpy(np.log(post + 1e-12)).float()

    return read


def test_a_conflict_image_has_the_tree_of_a_and_the_signature_of_b(model, images):
    _, _, conflict = images
    a, b = conflict.tree_class, conflict.signature_class
    assert (a != b).all() and len(set((b - a) % 8)) == 7  # every other class occurs
    assert np.array_equal(conflict.sample.latents["z0"][:, 0], a)
    assert np.array_equal(signature_classes(conflict.sample), b)
    tree = tree_posterior(model, conflict.sample.images, tied=False, presence=1.0)
    assert np.array_equal(tree.levels[0][:, 0, 0].argmax(-1), a)  # the tree says A
    assert np.array_equal(signature_scores(model, conflict.sample.images).argmax(1), b)
    again = cue_conflict(model, 150, 2)
    assert np.array_equal(again.sample.images, conflict.sample.images)


def test_consistent_images_carry_their_own_signature(model, images):
    train, _, _ = images
    own = train.latents["z0"][:, 0]
    assert np.array_equal(signature_classes(train), own)
    assert np.array_equal(signature_scores(model, train.images).argmax(1), own)


def test_shape_bias_of_tree_and_signature_readers(model, images):
    train, test, conflict = images
    config = ProbeConfig(epochs=15, batch_size=128, lr=3e-2)
    tree = probe_shape_bias(_tree_reader(model), train, test, conflict, config)
    assert tree.shape_bias == 1.0 and tree.clean_accuracy == 1.0
    assert tree.tree_share == 1.0 and tree.signature_share == 0.0

    def signature_reader(x):
        return torch.from_numpy(signature_scores(model, x)).float()

    sig = probe_shape_bias(signature_reader, train, test, conflict, config)
    assert sig.shape_bias == 0.0 and sig.clean_accuracy == 1.0
    bayes = bayes_shape_bias(model, test, conflict)
    assert bayes.shape_bias == 1.0 and bayes.clean_accuracy == 1.0


def test_the_rules_readout_follows_the_tree_it_is_shown(model, images):
    """Given the tree's level-1 symbols, the class through the rules says A on every
    cue-conflict image; given only the signature, it says B."""
    train, test, conflict = images
    config = ProbeConfig(epochs=40, batch_size=64, lr=3e-2)  # exact level-1 probes

    def level1_reader(x):  # BP's level-1 symbols, blind to the signature, one-hot
        post = tree_posterior(model, x, tied=False, presence=1.0).levels[1]
        return torch.from_numpy(post == post.max(-1, keepdims=True)).float().flatten(1)

    tree = rules_shape_bias(model, level1_reader, train, test, conflict, config)
    assert tree.shape_bias == 1.0 and tree.clean_accuracy == 1.0

    def signature_reader(x):
        return torch.from_numpy(signature_scores(model, x)).float()

    sig = rules_shape_bias(model, signature_reader, train, test, conflict, config)
    assert sig.shape_bias < 0.05  # the tree is not in its features: it reads B


def test_shape_bias_formula_and_refusals():
    tree, sig = np.array([0, 1, 2, 3]), np.array([1, 2, 3, 0])
    assert shape_bias(np.array([0, 1, 3, 2]), tree, sig) == (2 / 3, 0.5, 0.25)
    assert np.isnan(shape_bias(np.array([5, 5, 5, 5]), tree, sig)[0])
    with pytest.raises(ValueError, match="signature_class != tree_class"):
        shape_bias(tree, tree, tree)
    with pytest.raises(ValueError, match="one of each"):
        shape_bias(tree[:3], tree, sig)


def test_pixel_probe_reads_the_signature(model):
    result = measure_shape_bias(model, {}, train=600, test=150, seed=3, bayes=False,
                                config=ProbeConfig(epochs=10))  # fmt: skip
    assert set(result) == {"pixels", "rules_pixels"}
    assert result["pixels"].clean_accuracy > 0.9 and result["pixels"].shape_bias < 0.2
