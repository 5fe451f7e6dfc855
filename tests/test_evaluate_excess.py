"""The masked loss against its exact limits: a posterior-mean predictor sits at the Bayes
loss (excess ~0), a prior-mean predictor on the plateau (excess ~1)."""

import numpy as np
import pytest
import torch
from torch import nn

from maeid.evaluate.excess import masked_loss_excess
from maeid.hlvm import load_model
from maeid.theory.belief_propagation import prior_marginals, tree_posterior, visible_pixels
from maeid.theory.masking import MaskLayout, masks_from_noise

MODEL = "rhm32:size=16,v=4,m=4,n_classes=4,sigma=0.3"


class Predictor(nn.Module):
    """An MAE stand-in that predicts masked pixels from the model's exact posterior (or
    prior) mean, with the MAE's loss: mean over masked patches of the pixel MSE."""

    def __init__(self, model, mean, std, use_posterior: bool):
        super().__init__()
        self.model, self.mean, self.std, self.use_posterior = model, mean, std, use_posterior
        self.patch_size, self.norm_pix_loss, self.boundary_exclude = 4, False, 0
        self.layout = MaskLayout(4, 4, 1)

    def forward(self, imgs, ratio, noise):
        mask = masks_from_noise(noise, self.layout, ratio).mask
        raw = imgs.double().numpy() * self.std + self.mean
        seen = visible_pixels(mask, 4, (16, 16))
        if self.use_posterior:
            leaves = tree_posterior(self.model, raw, seen).leaves
        else:
            leaves = prior_marginals(self.model).leaves
        guess = leaves @ self.model.patches.reshape(4, 16).astype(np.float64)  # (N, 4, 4, 16)
        target = raw[:, 0].reshape(-1, 4, 4, 4, 4).transpose(0, 1, 3, 2, 4).reshape(-1, 4, 4, 16)
        err = ((guess - target) / self.std) ** 2
        per_patch = torch.from_numpy(err.mean(-1).reshape(len(imgs), 16))
        return (per_patch * mask).sum() / mask.sum(), None, mask


def test_posterior_mean_scores_bayes_and_prior_mean_the_plateau():
    model = load_model(MODEL)
    images = model.sample(3000, seed=4).images
    mean, std = float(images.mean()), float(images.std())
    x = torch.from_numpy((images - mean) / std)
    best = masked_loss_excess(Predictor(model, mean, std, True), model, x, (mean,), (std,), 0.5)
    blind = masked_loss_excess(Predictor(model, mean, std, False), model, x, (mean,), (std,), 0.5)
    assert best["bayes"] < best["plateau"] < 1.05
    assert best["bayes"] == pytest.approx(blind["bayes"])  # same seed, same masks
    assert abs(best["excess"]) < 0.05
    assert blind["excess"] == pytest.approx(1.0, abs=0.05)


def test_refuses_norm_pix_loss():
    model = load_model(MODEL)
    fake = Predictor(model, 0.0, 1.0, True)
    fake.norm_pix_loss = True
    with pytest.raises(ValueError, match="norm_pix_loss"):
        masked_loss_excess(fake, model, torch.zeros(2, 1, 16, 16), (0.0,), (1.0,), 0.5)
