"""A trained MAE's held-out masked loss against the exact limits of its synthetic data model.

For masks from the training sampler, the MAE's loss on held-out images is set beside the
Bayes-optimal loss (each masked pixel predicted by its posterior mean given the visible
pixels, `maeid.theory.belief_propagation.masked_mse`) and the plateau (its prior mean at
that position), on the same masks and in the loss's own units (pixels standardised by the
run's mean and std). The normalised excess `(loss - Bayes) / (plateau - Bayes)` is 0 for a
Bayes-optimal model and 1 on the predict-the-mean plateau. Defined for the plain pixel
loss only: norm-pix targets and boundary exclusion change what is predicted.

For the random hierarchy the limits are computed per test image (belief propagation,
`masked_loss_excess`); for a continuous model such as qt32 they are the exact limits of
the masking cell (nested resampling over the sampler's masks, `masked_loss_excess_cell`),
the reference the training loop's held-out measure uses, so that the loss on the test
images stands beside their expectation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from maeid.hlvm.random_hierarchy import RandomHierarchy
from maeid.theory.belief_propagation import masked_mse, visible_pixels
from maeid.theory.masking import sample_noise


def _scores(loss: float, bayes: float, plateau: float, images: int, ratio: float) -> dict:
    return {
        "loss": loss,
        "bayes": bayes,
        "plateau": plateau,
        "excess": (loss - bayes) / (plateau - bayes),
        "images": images,
        "ratio": float(ratio),
    }


def _check_plain_loss(mae: nn.Module) -> None:
    if getattr(mae, "norm_pix_loss", False) or getattr(mae, "boundary_exclude", 0):
        raise ValueError(
            "the Bayes loss is for the plain pixel loss; this MAE uses norm_pix_loss or "
            "boundary_exclude (train with model.norm_pix_loss=false, boundary_exclude=0)"
        )


def _sampler_losses(mae: nn.Module, images: torch.Tensor, ratio: float, seed: int,
                    batch_size: int) -> tuple[list[float], list[torch.Tensor]]:  # fmt: skip
    """Per batch, the summed masked loss and the masks, under masks of the training sampler."""
    gen = torch.Generator().manual_seed(seed)
    losses, masks = [], []
    for batch in images.split(batch_size):
        noise = sample_noise(len(batch), mae.layout, gen).to(batch.device)
        loss, _, mask = mae(batch, ratio, noise)
        losses.append(float(loss) * len(batch))
        masks.append(mask.cpu())
    return losses, masks


@torch.no_grad()
def sampler_masked_loss(mae: nn.Module, images: torch.Tensor, ratio: float, seed: int = 0,
                        batch_size: int = 512) -> float:  # fmt: skip
    """The mean masked loss on `images` (standardised as in training) under masks of the
    training sampler, seeded by `seed`: the model's side of every excess."""
    losses, _ = _sampler_losses(mae, images, ratio, seed, batch_size)
    return sum(losses) / len(images)


@torch.no_grad()
def masked_loss_excess_cell(
    mae: nn.Module, model, images: torch.Tensor, ratio: float, seed: int = 0,
    batch_size: int = 512,
) -> dict[str, float]:  # fmt: skip
    """Held-out loss on `images` (standardised as in training) beside the exact Bayes loss
    and plateau of the masking cell (`maeid.train.quality.loss_limits`), as the training
    loop measures it."""
    from maeid.train.quality import loss_limits

    _check_plain_loss(mae)
    loss = sampler_masked_loss(mae, images, ratio, seed, batch_size)
    limits = loss_limits(model, float(ratio), int(mae.mask_unit), int(mae.patch_size), seed)
    bayes, plateau = limits.bayes.value, limits.plateau.value
    return _scores(loss, bayes, plateau, len(images), ratio)


@torch.no_grad()
def masked_loss_excess(
    mae: nn.Module, model: RandomHierarchy, images: torch.Tensor, mean: Sequence[float],
    std: Sequence[float], ratio: float, seed: int = 0, batch_size: int = 512,
) -> dict[str, float]:  # fmt: skip
    """Held-out loss, Bayes loss, plateau and normalised excess on `images` (standardised)."""
    _check_plain_loss(mae)
    if len(std) != 1 or len(mean) != 1:
        raise ValueError(f"rhm32 images have one channel; got mean {mean} and std {std}")
    losses, masks = _sampler_losses(mae, images, ratio, seed, batch_size)
    raw = (images.double().cpu() * std[0] + mean[0]).numpy()
    seen = visible_pixels(torch.cat(masks), int(mae.patch_size), raw.shape[2:])
    limits = masked_mse(model, raw, seen)
    # masked_mse's shares divide by the model's pixel variance; the loss by the run's std^2.
    to_loss = limits.pixel_variance / std[0] ** 2
    loss = sum(losses) / len(images)
    bayes, plateau = limits.bayes * to_loss, limits.plateau * to_loss
    return _scores(loss, bayes, plateau, len(images), ratio)
