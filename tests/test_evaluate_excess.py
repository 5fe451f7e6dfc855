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


def test_on_qt32_the_measure_matches_the_training_loops_held_out_check(tmp_path):
    """A continuous model's excess uses the cell's exact limits, as training does: the
    evaluated loss on fresh test images sits near the training log's held-out loss."""
    import json
    from pathlib import Path

    from maeid.cli import main
    from maeid.train.config import load_config
    from maeid.train.loop import train
    from maeid.train.quality import loss_limits

    tiny = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
    sets = ["data.n_train=64", "optim.batch_size=32", "run.steps=30", "run.eval_every=30",
            "run.eval_images=512", "run.recon_every=0", "run.progress=false"]  # fmt: skip
    result = train(load_config(tiny, sets), tmp_path / "run")
    assert main(["evaluate", str(tmp_path / "run"), "--measure", "masked_loss", "--max-test",
                 "512", "--out", str(tmp_path / "ev"), "--no-progress"]) == 0  # fmt: skip
    measured = json.loads((tmp_path / "ev" / "eval.json").read_text())["masked_loss"]
    model = result.model
    limits = loss_limits(load_model("qt32"), 0.75, model.mask_unit, model.patch_size, 0)
    assert measured["bayes"] == pytest.approx(limits.bayes.value)
    assert measured["plateau"] == pytest.approx(limits.plateau.value)
    expected = (measured["loss"] - measured["bayes"]) / (measured["plateau"] - measured["bayes"])
    assert measured["excess"] == pytest.approx(expected)
    log = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    trained = [e["heldout_loss"] for e in log if "heldout_loss" in e][-1]
    assert measured["loss"] == pytest.approx(trained, rel=0.05)  # other images, same model
