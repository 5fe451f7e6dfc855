"""The practical regime (Section 2.3): a standard MAE trained on random masks, per latent level.

For a checkpoint trained at (ratio, unit) on a synthetic model:

- *measured*: R² from two representations to every true latent, on held-out samples:
  the mean-pooled encoder output on the visible tokens of a mask drawn, per image, from
  the training sampler (what the encoder sees in training), and the mean-pooled output
  on the full image (what a downstream user takes);
- *predicted*: the theory's profile for (ratio, unit) (`maeid.theory.profile`): how often
  each level is in S(m) and in c(m), and the expected predicted R² per latent,
  ``E_m[1 if z in S(m) else ceiling_m(z)]``, averaged over `theory_masks` masks of the
  sampler, ceilings from the true latents with the same regressor.

Random masks change S(m) from image to image, so Theorem 2 does not apply as such; the
comparison shows whether the levels the theory favours for (ratio, unit) are the levels
the representation carries. Disagreement is reported, not hidden.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from maeid.evaluate.identifiability import predicted_r2, summarise_r2
from maeid.evaluate.regression import RegressorConfig, latent_r2
from maeid.hlvm.spec import GraphSpec
from maeid.theory.masking import sample_masks
from maeid.theory.profile import cell_masks, theory_profile
from maeid.theory.token_masks import identify_token_mask


@torch.no_grad()
def pooled_features(
    model: nn.Module,
    images: torch.Tensor,
    mask_ratio: float | None,
    seed: int = 0,
    batch_size: int = 512,
) -> torch.Tensor:
    """Mean-pooled encoder output, on visible tokens of sampled masks (or all, if None)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for batch in images.split(batch_size):
        mask = None
        if mask_ratio is not None:
            mask = sample_masks(len(batch), model.layout, mask_ratio, gen).mask.to(batch.device)
        out.append(model.encode(batch, mask).mean.float().cpu())
    return torch.cat(out)


def practical_identifiability(
    model: nn.Module,
    spec: GraphSpec,
    images: torch.Tensor,
    latents: Mapping[str, np.ndarray],
    ratio: float,
    regressor: RegressorConfig | None = None,
    theory_masks: int = 8,
    seed: int = 0,
) -> dict[str, object]:
    """Measured R² (masked and full-image representations) beside the theory, per level."""
    unit = int(model.mask_unit)
    reg = regressor or RegressorConfig(seed=seed)
    feats = {
        "visible_tokens": pooled_features(model, images, ratio, seed),
        "full_image": pooled_features(model, images, None, seed),
    }
    measured = {k: latent_r2(v.double().numpy(), latents, reg) for k, v in feats.items()}
    profile = theory_profile(
        spec, [ratio], [unit], num_masks=2000, seed=seed, patch_size=model.patch_size
    )
    cell = profile.cell(ratio, unit)
    p_shared = dict(zip(profile.latents, (float(v) for v in cell.p_shared), strict=True))
    p_c = dict(zip(profile.latents, (float(v) for v in cell.p_identified), strict=True))
    predicted = _expected_prediction(
        spec, latents, ratio, unit, model.patch_size, theory_masks, reg, seed
    )
    levels = {}
    for level, names in spec.levels.items():
        levels[int(level)] = {
            "p_in_S": float(np.mean([p_shared[z] for z in names])),
            "p_in_c": float(np.mean([p_c[z] for z in names])),
            "predicted": float(np.mean([predicted[z] for z in names])),
            **{f"measured_{k}": float(np.mean([m[z] for z in names])) for k, m in measured.items()},
        }
    return {
        "ratio": ratio,
        "unit": unit,
        "per_level": levels,
        "per_latent": {
            z: {
                "level": int(spec[z].level),
                "p_in_S": p_shared[z],
                "predicted": predicted[z],
                **{f"measured_{k}": m[z] for k, m in measured.items()},
            }
            for z in spec.latents
        },
        "summary": {k: summarise_r2(spec, m) for k, m in measured.items()},
    }


def _expected_prediction(spec, latents, ratio, unit, patch, count, reg, seed) -> dict[str, float]:
    """Mean over `count` sampler masks of the predicted R² (1 in S, else the ceiling)."""
    total = dict.fromkeys(spec.latents, 0.0)
    for row in cell_masks(spec, ratio, unit, count, seed, patch):
        shared = identify_token_mask(spec, row, patch).shared
        for z, v in predicted_r2(spec, shared, latents, reg).items():
            total[z] += v / count
    return total
