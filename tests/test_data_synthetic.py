"""Synthetic image data from maeid.hlvm, in memory or from a `maeid synth` file."""

import numpy as np
import pytest
import torch

from maeid.data import load_synthetic
from maeid.hlvm import load_model, save_dataset


def test_sampled_and_saved_data_agree_and_keep_latents(tmp_path):
    sampled = load_synthetic("qt32", n=64, seed=3)
    model = load_model("qt32")
    save_dataset(tmp_path / "qt32.npz", model, model.sample(64, seed=3))
    from_file = load_synthetic(tmp_path / "qt32.npz", n=40)

    assert sampled.images.image_shape == (1, 32, 32) and len(from_file.images) == 40
    np.testing.assert_array_equal(
        from_file.images.images.numpy(), sampled.images.images[:40].numpy()
    )
    assert set(from_file.latents) == set(sampled.latents) and "z0" in sampled.latents
    np.testing.assert_array_equal(from_file.latents["z0"], sampled.latents["z0"][:40])
    # Standardised with the data's own per-channel statistics.
    x = sampled.images.batch(torch.arange(64))
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1) < 1e-2


def test_refusals(tmp_path):
    with pytest.raises(ValueError, match="n_train"):
        load_synthetic("qt32", n=0)
    model = load_model("qt32")
    save_dataset(tmp_path / "small.npz", model, model.sample(8, seed=0))
    with pytest.raises(ValueError, match="exceeds the 8 samples"):
        load_synthetic(tmp_path / "small.npz", n=9)
