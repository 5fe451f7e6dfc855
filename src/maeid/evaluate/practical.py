"""The practical regime (Section 2.3): a standard MAE trained on random masks, per latent level.

For a checkpoint trained at (ratio, unit) on a synthetic model, on held-out samples:

- *measured*: R² from the trained encoder to every true latent, through two readouts of
  two inputs. Inputs: the visible tokens of a mask drawn per image from the training
  sampler (what the encoder sees in training), and the full image (what a user takes).
  Readouts: the mean of the tokens (`pooled`), and, per latent, the mean of the tokens
  over that latent's own pixel region (`region`; a masked token counts as absent). Mean
  pooling squeezes the 16 level-2 latents of qt32 into one vector; the region readout
  keeps where things are, so comparing the two says whether a low number comes from the
  model or from the readout.
- *floor*: the same encoder at initialisation, pooled, on the same inputs and masks;
  trained minus floor is what training added.
- *theory*: for the sampler at (ratio, unit), P(z in S(m)) and P(z in c(m)); the exact
  prediction E_m[1 if z in S(m) else R²*(z | S(m))]; and the exact limit given the
  visible side, E_m[R²*(z | An(visible))], an upper bound for any feature of the visible
  tokens (`maeid.theory.exact_limits`).

Random masks change S(m) from image to image, so Theorem 2 does not apply as such; the
comparison shows whether the levels the theory favours for (ratio, unit) are the levels
the representation carries. Disagreement is reported, not hidden.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from maeid.evaluate.identifiability import summarise_r2
from maeid.evaluate.regression import RegressorConfig, latent_r2
from maeid.theory.batch import GraphMatrices
from maeid.theory.exact_limits import mask_r2_limits
from maeid.theory.masking import sample_masks
from maeid.theory.profile import cell_masks, theory_profile
from maeid.theory.token_masks import token_incidence

LIMIT_MASKS = 256  # sampler masks the exact prediction and limit average over


@torch.no_grad()
def encoder_tokens(
    model: nn.Module,
    images: torch.Tensor,
    mask_ratio: float | None,
    seed: int = 0,
    batch_size: int = 512,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, L, D) encoder tokens in raster order, zero where masked, and the (N, L) 0/1
    visibility: the visible tokens of sampled masks at `mask_ratio`, or all if None."""
    gen = torch.Generator().manual_seed(seed)
    tokens, seen = [], []
    for batch in images.split(batch_size):
        n, length = len(batch), model.layout.num_tokens
        if mask_ratio is None:
            visible = torch.ones(n, length)
            out = model.encode(batch).tokens.float().cpu()
        else:
            mask = sample_masks(n, model.layout, mask_ratio, gen).mask
            visible = 1.0 - mask
            kept = model.encode(batch, mask.to(batch.device)).tokens.float().cpu()
            # `encode` returns the visible tokens in raster order; put them back in place.
            out = torch.zeros(n, length, kept.shape[-1])
            out[visible.bool()] = kept.reshape(-1, kept.shape[-1])
        tokens.append(out)
        seen.append(visible)
    return torch.cat(tokens), torch.cat(seen)


def pooled_features(
    model: nn.Module, images: torch.Tensor, mask_ratio: float | None, seed: int = 0
) -> torch.Tensor:
    """Mean of the encoder tokens, on visible tokens of sampled masks (or all, if None)."""
    tokens, visible = encoder_tokens(model, images, mask_ratio, seed)
    return tokens.sum(1) / visible.sum(1, keepdim=True)


def region_r2(
    tokens: torch.Tensor,
    visible: torch.Tensor,
    spec,
    patch_size: int,
    latents: Mapping[str, np.ndarray],
    regressor: RegressorConfig,
) -> dict[str, float]:
    """R² of each latent from the mean of the visible tokens over its own pixel region."""
    descendant = GraphMatrices(spec).descendant.float()  # (latents, observed)
    incidence = token_incidence(spec, patch_size).float()  # (tokens, observed)
    regions = (descendant @ incidence.T) > 0  # (latents, tokens)
    out = {}
    for i, z in enumerate(spec.latents):
        weights = visible * regions[i].float()  # (N, L): the region's visible tokens
        feats = (weights[..., None] * tokens).sum(1) / weights.sum(1, keepdim=True).clamp(min=1)
        out.update(latent_r2(feats.double().numpy(), {z: latents[z]}, regressor))
    return out


def practical_identifiability(
    model: nn.Module,
    source,
    images: torch.Tensor,
    latents: Mapping[str, np.ndarray],
    ratio: float,
    regressor: RegressorConfig | None = None,
    seed: int = 0,
    untrained: nn.Module | None = None,
    region: bool = True,
) -> dict[str, object]:
    """Measured R² per level beside its floor, the theory and the exact limits.

    `source` is the generating model (a `HierarchicalModel`); `untrained` the same
    encoder at initialisation (None: no floor is measured)."""
    spec = source.spec
    unit, patch = int(model.mask_unit), int(model.patch_size)
    reg = regressor or RegressorConfig(seed=seed)
    measured: dict[str, dict[str, float]] = {}
    inputs = {"visible_tokens": ratio, "full_image": None}
    for name, mask_ratio in inputs.items():
        tokens, visible = encoder_tokens(model, images, mask_ratio, seed)
        pooled = tokens.sum(1) / visible.sum(1, keepdim=True)
        measured[name] = latent_r2(pooled.double().numpy(), latents, reg)
        if region:
            measured[f"{name}_region"] = region_r2(tokens, visible, spec, patch, latents, reg)
        if untrained is not None:  # the same masks: the generator is seeded alike
            floor = pooled_features(untrained, images, mask_ratio, seed)
            measured[f"untrained_{name}"] = latent_r2(floor.double().numpy(), latents, reg)

    profile = theory_profile(spec, [ratio], [unit], num_masks=2000, seed=seed, patch_size=patch)
    cell = profile.cell(ratio, unit)
    p_shared = dict(zip(profile.latents, (float(v) for v in cell.p_shared), strict=True))
    p_c = dict(zip(profile.latents, (float(v) for v in cell.p_identified), strict=True))
    masks = cell_masks(spec, ratio, unit, LIMIT_MASKS, seed, patch)
    by_shared = mask_r2_limits(source, masks, given="shared", patch_size=patch, seed=seed)
    by_visible = mask_r2_limits(source, masks, given="visible", patch_size=patch, seed=seed)
    theory = {
        "p_in_S": p_shared,
        "p_in_c": p_c,
        "predicted": {z: v.value for z, v in by_shared.items()},
        "limit_visible": {z: v.value for z, v in by_visible.items()},
    }
    per_latent = {
        z: {
            "level": int(spec[z].level),
            **{k: v[z] for k, v in theory.items()},
            **{f"measured_{k}": m[z] for k, m in measured.items()},
        }
        for z in spec.latents
    }
    levels = {}
    for level, names in spec.levels.items():
        row = {
            key: float(np.nanmean([per_latent[z][key] for z in names]))
            for key in per_latent[names[0]]
            if key != "level"
        }
        if "measured_untrained_visible_tokens" in row:
            row["gain_visible_tokens"] = (
                row["measured_visible_tokens"] - row["measured_untrained_visible_tokens"]
            )
        levels[int(level)] = row
    return {
        "ratio": ratio,
        "unit": unit,
        "per_level": levels,
        "per_latent": per_latent,
        "summary": {k: summarise_r2(spec, m) for k, m in measured.items()},
    }
