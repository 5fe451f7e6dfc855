"""The texture cue of rhm32: off by default, seeded, recorded, and refused when impossible."""

import hashlib

import numpy as np
import pytest

from maeid.hlvm import load_model
from maeid.hlvm.texture import (
    signature_classes,
    signature_scores,
    stamp_signature,
    without_texture,
)


def _digest(sample) -> str:
    h = hashlib.sha256(sample.images.tobytes())
    for group in (sample.latents, sample.noises):
        for key in sorted(group):
            h.update(group[key].tobytes())
    return h.hexdigest()


def test_default_output_is_byte_identical_to_the_model_without_the_cue():
    # Digests of rhm32 samples recorded before the cue existed.
    assert _digest(load_model("rhm32").sample(64, seed=0)) == (
        "4f6041ee69917e7727ac5e92d47cfd55b67d0d3d3a2aca3c52d57ff20176fcfc"
    )
    other = load_model("rhm32:v=4,m=8,sigma=0.1", seed=3).sample(16, seed=5)
    assert hashlib.sha256(other.images.tobytes()).hexdigest() == (
        "a60b3246ebda0c1f9a2eb65cb09eb41fda8ac48a0f29347eb065695f7fb17fdb"
    )
    # A signature amplitude alone changes nothing; the rules and patches never change.
    loud = load_model("rhm32:texture=0.7")
    assert _digest(loud.sample(64, seed=0)) == _digest(load_model("rhm32").sample(64, seed=0))
    on = load_model("rhm32:p_texture=0.5", seed=0)
    assert np.array_equal(on.rules[2], load_model("rhm32").rules[2])
    assert np.array_equal(on.patches, load_model("rhm32").patches)


def test_signature_is_added_with_probability_p_and_recorded():
    model = load_model("rhm32:p_texture=0.3,texture=0.25", seed=2)
    sample = model.sample(4000, seed=1)
    plain = without_texture(model).sample(4000, seed=1)
    carried = signature_classes(sample)
    root = sample.latents["z0"][:, 0]
    assert abs((carried >= 0).mean() - 0.3) < 0.03
    assert np.array_equal(carried[carried >= 0], root[carried >= 0])  # its own class's
    diff = (sample.images - plain.images).reshape(4000, 8, 4, 8, 4).transpose(0, 1, 3, 2, 4)
    assert np.all(diff[carried < 0] == 0)  # same trees and noise; only the cue differs
    one = diff[np.flatnonzero(carried >= 0)[0]].reshape(64, 16)
    sig = model.signatures[root[carried >= 0][0]].reshape(16)
    np.testing.assert_allclose(one, np.broadcast_to(sig, (64, 16)), atol=1e-6)  # every patch
    assert abs(np.sqrt((sig**2).mean()) - 0.25) < 1e-6 and abs(sig.mean()) < 1e-6
    assert np.array_equal(sample.observed["x_3_4"], model.unrender(sample.images)["x_3_4"])
    again = model.sample(4000, seed=1)
    assert np.array_equal(again.images, sample.images)
    assert not np.array_equal(model.signatures, load_model("rhm32", seed=3).signatures)
    assert load_model("rhm32:p_texture=0.3,texture=0.25").name == "rhm32:p_texture=0.3,texture=0.25"


def test_stamped_signature_and_the_detector():
    model = load_model("rhm32", seed=0)
    base = model.sample(200, seed=4)
    other = (base.latents["z0"][:, 0] + 3) % 8
    stamped = stamp_signature(model, base, other)
    assert np.array_equal(signature_classes(stamped), other)
    assert np.array_equal(stamped.latents["z0"], base.latents["z0"])
    assert signature_scores(model, stamped.images).argmax(1).tolist() == other.tolist()
    with pytest.raises(ValueError, match="already carries"):
        stamp_signature(model, stamped, other)
    with pytest.raises(ValueError, match="-1..7"):
        stamp_signature(model, base, other + 5)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("rhm32:p_texture=1.5", ["p_texture=1.5", "[0, 1]"]),
        ("rhm32:p_texture=-0.1", ["p_texture=-0.1", "[0, 1]"]),
        ("rhm32:texture=-0.2", ["texture=-0.2", ">= 0"]),
        ("rhm32:texture=nan", ["texture=nan", ">= 0"]),
        ("rhm32:p_texture=half", ["p_texture='half'", "a number"]),
    ],
)
def test_bad_texture_knobs_are_refused(name, words):
    with pytest.raises(ValueError) as err:
        load_model(name)
    for word in words:
        assert word in str(err.value)


def test_without_texture_keeps_a_shifted_dictionary():
    from maeid.evaluate.rendition import shifted_model

    model = load_model("rhm32:p_texture=0.5")
    shifted = shifted_model(model, "invert", 1.0)
    plain = without_texture(shifted)
    assert plain.knobs.p_texture == 0 and shifted.knobs.p_texture == 0.5
    assert np.array_equal(plain.patches, shifted.patches)
    assert not np.array_equal(plain.patches, model.patches)
    assert (signature_classes(plain.sample(200, seed=0)) == -1).all()
