"""Rendition shifts of rhm32: identity at severity 0, the same trees, and the Bayes observer."""

import numpy as np
import pytest
import torch

from maeid.evaluate.probe import ProbeConfig
from maeid.evaluate.rendition import (
    KINDS,
    rendition_accuracy,
    shift_name,
    shifted_model,
    shifted_patches,
)
from maeid.hlvm import load_model
from maeid.theory.belief_propagation import tree_posterior


@pytest.fixture(scope="module")
def model():
    return load_model("rhm32:p_texture=0.5", seed=0)


@pytest.mark.parametrize("kind", KINDS)
def test_severity_zero_is_the_identity(model, kind):
    same = shifted_model(model, kind, 0.0)
    assert same.patches.tobytes() == model.patches.tobytes()
    a, b = model.sample(50, seed=7), same.sample(50, seed=7)
    assert a.images.tobytes() == b.images.tobytes()


@pytest.mark.parametrize("kind", KINDS)
def test_a_shift_keeps_the_trees_and_changes_the_pixels(model, kind):
    shifted = shifted_model(model, kind, 1.0)
    assert not np.allclose(shifted.patches, model.patches)
    a, b = model.sample(50, seed=7), shifted.sample(50, seed=7)
    for key in ("z0", "z2_1_3", "z3_7_7"):
        assert np.array_equal(a.latents[key], b.latents[key])
    assert np.array_equal(a.noises["texture"], b.noises["texture"])
    # The pixels differ exactly by the dictionary's change at each leaf symbol.
    leaf = a.latents["z3_4_5"][:, 0]
    change = (shifted.patches - model.patches).reshape(model.knobs.v, -1)[leaf]
    np.testing.assert_allclose(b.observed["x_4_5"] - a.observed["x_4_5"], change, atol=1e-5)
    assert np.array_equal(model.patches, load_model("rhm32", seed=0).patches)  # left alone


def test_shift_shapes_and_severities(model):
    full = shifted_patches(model, "invert", 1.0)
    np.testing.assert_allclose(full, 1 - model.patches, atol=1e-6)
    flat = shifted_patches(model, "invert", 0.5)
    np.testing.assert_allclose(flat, 0.5, atol=1e-6)
    blurred = shifted_patches(model, "blur", 50.0)  # a very wide blur: each patch its mean
    np.testing.assert_allclose(
        blurred, np.broadcast_to(model.patches.mean((2, 3), keepdims=True), blurred.shape),
        atol=1e-3,
    )  # fmt: skip
    half = shifted_patches(model, "redraw", 0.5)
    assert sum(not np.array_equal(h, p) for h, p in zip(half, model.patches, strict=True)) == 4
    assert np.array_equal(half, shifted_patches(model, "redraw", 0.5))
    assert shift_name("blur", 1.0) == "blur_1" and shift_name("invert", 0.25) == "invert_0.25"
    for kind, severity, words in (("invert", 1.5, "[0, 1]"), ("blur", -1, ">= 0"),
                                  ("sketch", 0.1, "invert, blur, redraw")):  # fmt: skip
        with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
            shifted_patches(model, kind, severity)


def test_rendition_accuracy_beside_the_ideal_observer(model):
    result = rendition_accuracy(
        model, {}, train=600, test=200, shifts={"invert": (0.5, 1.0), "redraw": (1.0,)},
        seed=0, config=ProbeConfig(epochs=10),
    )  # fmt: skip
    assert set(result) == {"pixels", "rules_pixels", "bayes"}
    assert set(result["rules_pixels"]) == set(result["bayes"])
    assert set(result["bayes"]) == {"clean", "invert_0.5", "invert_1", "redraw_1"}
    bayes, pixels = result["bayes"], result["pixels"]
    # The ideal observer: the tree is still readable after inversion and a new dictionary;
    # half inversion leaves flat patches, only the signature (on half the images) says the class.
    assert bayes["clean"] == 1.0 and bayes["invert_1"] == 1.0 and bayes["redraw_1"] > 0.98
    assert 0.4 < bayes["invert_0.5"] < 0.75
    # The pixel probe reads the signature (p_texture 0.5), which the shifts keep.
    assert pixels["clean"] > 0.5 and pixels["invert_1"] < pixels["clean"]


def test_the_rules_readout_of_exact_level1_symbols_gives_the_class(model):
    """Features that hold the level-1 symbols (BP on the clean dictionary, one-hot) give
    the class exactly through the rules; fully inverted patches mislead that reader, so
    its accuracy under the shift falls."""

    def level1(x):
        post = tree_posterior(model, x, tied=False, presence=1.0).levels[1]
        return torch.from_numpy(post == post.max(-1, keepdims=True)).float().flatten(1)

    result = rendition_accuracy(
        model, {"level1": level1}, train=600, test=200, shifts={"invert": (1.0,)}, seed=0,
        config=ProbeConfig(epochs=40, batch_size=64, lr=3e-2), pixels=False, bayes=False,
    )  # fmt: skip
    assert set(result) == {"level1", "rules_level1"}
    assert result["rules_level1"]["clean"] == 1.0
    assert result["rules_level1"]["invert_1"] < 0.5
