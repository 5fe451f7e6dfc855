"""How well trained a model is, on data whose generating model is known.

On a synthetic source the best achievable masked-patch loss is computed exactly
(`maeid.theory.exact_limits`), so training reports its held-out loss beside it:

    normalised excess = (held-out loss - Bayes loss) / (plateau - Bayes loss)

0 is the Bayes-optimal predictor, 1 the predict-the-mean plateau. The held-out loss is
measured on images drawn with a seed no training stream uses, under fixed masks of the
same sampler. A model is called trained, and held against the theory, only when its
excess is at most `TRAINED_EXCESS`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from maeid.theory.exact_limits import LossLimits, cell_loss_limits
from maeid.theory.masking import sample_noise

TRAINED_EXCESS = 0.25  # above it a result is labelled under-trained
HELD_OUT_TAG = 0x4E1D  # the held-out images' seed stream
LIMIT_MASKS = 256  # sampler masks the Bayes loss averages over (standard error ~0.002)


def under_trained(excess: float | None) -> bool:
    """True when a normalised excess says the model is not trained (None: unknown)."""
    return excess is not None and not excess <= TRAINED_EXCESS


@dataclass
class HeldOutLoss:
    """Fixed held-out images and masks, and the loss limits of their mask sampler."""

    images: torch.Tensor
    noise: torch.Tensor
    ratio: float
    limits: LossLimits
    batch: int = 512

    @torch.no_grad()
    def measure(self, model: torch.nn.Module) -> dict[str, float]:
        """The held-out masked loss and its place between Bayes and plateau."""
        was_training = model.training
        model.eval()
        total = 0.0
        for i in range(0, len(self.images), self.batch):
            part = slice(i, i + self.batch)
            loss, _, _ = model(self.images[part], self.ratio, noise=self.noise[part])
            total += float(loss) * len(self.images[part])
        model.train(was_training)
        loss = total / len(self.images)
        return {
            "heldout_loss": loss,
            "bayes_loss": self.limits.bayes.value,
            "plateau_loss": self.limits.plateau.value,
            "normalised_excess": self.limits.normalised_excess(loss),
        }


def held_out_loss(
    hlvm_model,
    model,
    ratio: float,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    num_images: int,
    seed: int,
    device: torch.device,
) -> HeldOutLoss | None:
    """The held-out measure for an MAE `model` trained on samples of `hlvm_model`, or
    None where the exact limit does not apply (per-patch normalised targets, excluded
    boundary pixels: the loss is then not a masked-pixel MSE in data units)."""
    if model.norm_pix_loss or getattr(model, "boundary_exclude", 0):
        return None
    from maeid.data.transforms import normalize

    sample = hlvm_model.sample(num_images, seed=np.random.SeedSequence([seed, HELD_OUT_TAG]))
    images = normalize(torch.from_numpy(sample.images), mean, std).to(device)
    generator = torch.Generator().manual_seed(seed + HELD_OUT_TAG)
    noise = sample_noise(num_images, model.layout, generator).to(device)
    limits = loss_limits(hlvm_model, ratio, model.mask_unit, model.patch_size, seed)
    return HeldOutLoss(images, noise, ratio, limits)


@functools.lru_cache(maxsize=32)
def loss_limits(hlvm_model, ratio: float, unit: int, patch_size: int, seed: int) -> LossLimits:
    """The Bayes loss and plateau of the sampler at (ratio, unit), kept per process (a
    sweep trains many runs of one cell): by nested resampling for a continuous model, by
    belief propagation for the random hierarchy."""
    from maeid.hlvm.random_hierarchy import is_rhm

    limits = cell_loss_limits
    if is_rhm(hlvm_model):  # discrete: belief propagation is exact
        from maeid.theory.belief_propagation import cell_loss_limits as limits
    return limits(hlvm_model, ratio, unit, num_masks=LIMIT_MASKS, seed=seed, patch_size=patch_size)
