"""Exact limits on a known continuous model: the best any representation or decoder can do.

The generating model is known, so the Bayes-optimal quantities need no regressor. For a
set A of latents closed under ancestors, A and the exogenous noises of its members
determine each other (every mechanism is invertible), so conditioning on A is holding
those noises fixed. Everything below is *nested forward resampling*:

- outer draws: all noises, once per row;
- inner draws: keep the noises of the row's held nodes, redraw every other noise,
  `inner` times, and push everything through the mechanisms;
- the spread of a node across the inner draws is its conditional variance given A.

Two limits come out of it.

- **R²\\*(z | A) = 1 - E[Var(z | A)] / Var(z)**, per dimension, averaged over the
  latent's dimensions as `maeid.evaluate.regression` averages its R². Var(z) comes from
  independent draws: nested draws share A and would bias it low. With A = S(m) this is
  the formal regime's prediction outside S(m); with A = the latent ancestors of the
  visible side it bounds what any function of the visible pixels can know of z (the
  visible pixels determine exactly those latents and their own noise, which is
  independent of everything else).
- **The Bayes masked-patch loss**, E[Var(x_masked | x_visible)], in the MAE's loss units:
  per masked value, divided by the pooled variance of its channel (how `maeid.data`
  standardises images), averaged over the masked values. The visible side fixes its
  latent ancestors; every other noise is redrawn. Beside it, the *plateau*: the loss of
  predicting every masked value by its mean.

Rows may hold different sets, so a batch of masks (one per row) costs one pass: the
expectation over a mask sampler is the average over rows. Each value carries its Monte
Carlo standard error: rows are independent, so the spread over rows gives it, plus the
(delta-method) error of the variance estimated from independent draws.

>>> from maeid.hlvm import load_model
>>> model = load_model("qt32")
>>> limits = r2_limits(model, {"z0"}, outer=64, inner=16)
>>> limits["z0"].value
1.0
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from maeid.hlvm.spec import GraphSpec
from maeid.theory.batch import GraphMatrices
from maeid.theory.profile import cell_masks
from maeid.theory.token_masks import default_patch_size, observed_sides

DEFAULT_INNER = 32
DEFAULT_OUTER = 256
DEFAULT_VAR_DRAWS = 8192


@dataclass(frozen=True)
class Limit:
    """A Monte Carlo estimate of an exact quantity and its standard error."""

    value: float
    se: float

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "se": self.se}


@dataclass(frozen=True)
class LossLimits:
    """The two reference levels of a masked-patch loss, in the loss's own units."""

    bayes: Limit  # E[Var(x_masked | x_visible)]: no model can do better on average
    plateau: Limit  # predicting each masked value by its mean

    def normalised_excess(self, loss: float) -> float:
        """(loss - Bayes) / (plateau - Bayes): 0 at the Bayes loss, 1 on the plateau."""
        return (float(loss) - self.bayes.value) / (self.plateau.value - self.bayes.value)

    def as_dict(self) -> dict[str, float]:
        return {
            "bayes_loss": self.bayes.value,
            "bayes_loss_se": self.bayes.se,
            "plateau_loss": self.plateau.value,
            "plateau_loss_se": self.plateau.se,
        }


# --------------------------------------------------------------------------- R² limits
def r2_limits(
    model,
    held: Collection[str] | np.ndarray | torch.Tensor,
    *,
    targets: Sequence[str] | None = None,
    outer: int = DEFAULT_OUTER,
    inner: int = DEFAULT_INNER,
    var_draws: int = DEFAULT_VAR_DRAWS,
    seed: int = 0,
) -> dict[str, Limit]:
    """R²*(z | A) for every latent in `targets` (default: all), with its standard error.

    `held` is A: a set of latent names (the same for all `outer` rows), or an
    (rows, latents) boolean array over `model.spec.latents`, one set per row, in which
    case the result is the average over rows (over masks, when each row is a mask's A).
    Every set must be closed under ancestors; one that is not is refused.
    """
    spec: GraphSpec = model.spec
    rows = _held_rows(spec, held, outer)
    targets = list(spec.latents if targets is None else targets)
    for z in targets:
        if z not in spec.latents:
            raise ValueError(f"target {z!r} is not a latent of model {model.name!r}")
    _check_counts(inner, var_draws)
    rng = np.random.default_rng(seed)
    held_by_node = {z: rows[:, i] for i, z in enumerate(spec.latents)}
    nested = _nested(model, held_by_node, targets, inner, rng)
    reference = model.generate(model.draw_noise(var_draws, rng), only=targets)
    return {z: _r2(nested[z], reference[z]) for z in targets}


def mask_r2_limits(
    model,
    token_masks: torch.Tensor | np.ndarray,
    given: str = "shared",
    patch_size: int | None = None,
    **options: int,
) -> dict[str, Limit]:
    """E over the rows of `token_masks` (N, tokens; 1 = masked) of R²*(z | A(m)).

    `given="shared"`: A = S(m), the formal regime's prediction for latents outside S(m).
    `given="visible"`: A = the latent ancestors of the visible side, the bound on any
    feature of the visible tokens (the practical regime's limit).
    """
    masked, visible = _sides(model.spec, token_masks, patch_size)
    matrices = GraphMatrices(model.spec)
    if given == "shared":
        rows = matrices.identify(masked, visible).shared
    elif given == "visible":
        rows = (visible.float() @ matrices.descendant.T.float()) > 0
    else:
        raise ValueError(f"given={given!r} is unknown; use 'shared' or 'visible'")
    return r2_limits(model, rows, **options)


# ------------------------------------------------------------------------- loss limits
def masked_loss_limits(
    model,
    token_masks: torch.Tensor | np.ndarray,
    patch_size: int | None = None,
    *,
    inner: int = DEFAULT_INNER,
    var_draws: int = DEFAULT_VAR_DRAWS,
    seed: int = 0,
) -> LossLimits:
    """The Bayes masked-patch loss and the predict-the-mean plateau, averaged over the
    rows of `token_masks` (N, tokens; 1 = masked), in the MAE's loss units.

    Each row is one mask and one outer draw. The patch must not split an observed block
    between the two sides: the visible part of a block is not an ancestral set, so no
    forward resampling conditions on it (with qt32's default patch this never happens).
    """
    spec: GraphSpec = model.spec
    masked, visible = _sides(spec, token_masks, patch_size)
    split = masked & visible
    if split.any():
        name = spec.observed[int(torch.nonzero(split.any(0))[0])]
        raise ValueError(
            f"the patch splits observed block {name!r} between the masked and the visible "
            "side; the Bayes loss needs patches that align with the model's observed "
            f"blocks (e.g. patch size {default_patch_size(spec)})"
        )
    if not masked.any(1).all():
        raise ValueError("a mask hides nothing: the masked-patch loss is undefined for it")
    _check_counts(inner, var_draws)
    rng = np.random.default_rng(seed)
    matrices = GraphMatrices(spec)
    latent_rows = ((visible.float() @ matrices.descendant.T.float()) > 0).numpy()
    held = {z: latent_rows[:, i] for i, z in enumerate(spec.latents)}
    observed = list(spec.observed)
    nested = _nested(model, held, observed, inner, rng)
    reference = model.generate(model.draw_noise(var_draws, rng), only=observed)

    channel_var = _channel_variance(model, reference)
    masked_np = masked.numpy()
    count = np.zeros(len(masked_np))
    bayes = np.zeros(len(masked_np))
    spread = np.zeros((var_draws, len(observed)))  # (draw, node): weighted squared deviations
    for j, x in enumerate(observed):
        weight = 1.0 / channel_var[_channels(spec, x)]  # per value: the loss's units
        conditional = (nested[x].var(axis=1, ddof=1) * weight).sum(1)  # (rows,)
        bayes += np.where(masked_np[:, j], conditional, 0.0)
        count += masked_np[:, j] * nested[x].shape[2]
        spread[:, j] = ((reference[x] - reference[x].mean(0)) ** 2 * weight).sum(1)
    share = masked_np / count[:, None]  # row r's weight on node j
    plateau_rows = share @ spread.mean(0)
    # The plateau has two sources of error: which nodes a row masks, and the variances
    # themselves, estimated from the independent draws (each draw's loss, mask-averaged).
    plateau = _mean(plateau_rows)
    per_draw = spread @ share.mean(0)
    draws_se = per_draw.std(ddof=1) / np.sqrt(var_draws)
    plateau = Limit(plateau.value, float(np.hypot(plateau.se, draws_se)))
    return LossLimits(bayes=_mean(bayes / count), plateau=plateau)


def cell_loss_limits(
    model,
    ratio: float,
    unit: int,
    num_masks: int = DEFAULT_OUTER,
    seed: int = 0,
    patch_size: int | None = None,
    **options: int,
) -> LossLimits:
    """`masked_loss_limits` over `num_masks` masks of the one sampler at (ratio, unit):
    the reference levels of an MAE trained with those masks."""
    masks = cell_masks(model.spec, ratio, unit, num_masks, seed=seed, patch_size=patch_size)
    return masked_loss_limits(model, masks, patch_size, seed=seed, **options)


# ---------------------------------------------------------------------------- internals
def _nested(
    model, held: Mapping[str, np.ndarray], only: Sequence[str], inner: int, rng
) -> dict[str, np.ndarray]:
    """Values of `only`, shaped (rows, inner, dim): row r keeps the outer noise of every
    node held in row r and redraws every other noise in each of its `inner` draws."""
    rows = len(next(iter(held.values())))
    outer = model.draw_noise(rows, rng)
    noises = model.draw_noise(rows * inner, rng)
    for name, keep in held.items():
        if keep.any():
            repeated = np.repeat(keep, inner)[:, None]
            noises[name] = np.where(repeated, np.repeat(outer[name], inner, 0), noises[name])
    values = model.generate(noises, only=only)
    return {k: values[k].reshape(rows, inner, -1) for k in only}


def _r2(nested: np.ndarray, reference: np.ndarray) -> Limit:
    """R² averaged over dimensions and its standard error (rows, then the variance)."""
    total = reference.var(axis=0, ddof=1)  # (d,)
    informative = total > 1e-12  # a constant dimension has nothing to explain
    if not informative.any():
        return Limit(float("nan"), float("nan"))
    total = total[informative]
    conditional = nested.var(axis=1, ddof=1)[:, informative]  # (rows, d)
    per_row = (conditional / total).mean(1)
    d = len(total)
    centred = (reference[:, informative] - reference[:, informative].mean(0)) ** 2
    total_se = centred.std(axis=0, ddof=1) / np.sqrt(len(reference))
    ratio_se = np.sqrt((((conditional.mean(0) / total**2) * total_se / d) ** 2).sum())
    rows_se = per_row.std(ddof=1) / np.sqrt(len(per_row)) if len(per_row) > 1 else np.nan
    return Limit(float(1.0 - per_row.mean()), float(np.hypot(rows_se, ratio_se)))


def _mean(values: np.ndarray) -> Limit:
    se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return Limit(float(values.mean()), float(se))


def _held_rows(spec: GraphSpec, held, outer: int) -> np.ndarray:
    """(rows, latents) bool, every row checked to be closed under ancestors."""
    if isinstance(held, (np.ndarray, torch.Tensor)):
        rows = np.asarray(held, dtype=bool)
        if rows.ndim != 2 or rows.shape[1] != len(spec.latents):
            raise ValueError(
                f"held sets have shape {rows.shape}; expected (rows, {len(spec.latents)}), "
                "one column per latent in spec.latents order"
            )
    else:
        names = set(held)
        unknown = sorted(names - set(spec.latents))
        if unknown:
            raise ValueError(f"held set names {unknown[:5]}, which are not latents of the model")
        if outer < 2:
            raise ValueError(f"outer={outer}: at least 2 outer draws give a standard error")
        rows = np.tile([z in names for z in spec.latents], (outer, 1))
    if len(rows) < 2:
        raise ValueError(f"{len(rows)} row(s): at least 2 give a standard error")
    ancestors = _latent_ancestors(spec)
    open_rows = (rows.astype(float) @ ancestors.astype(float) > 0) & ~rows
    if open_rows.any():
        r, i = np.argwhere(open_rows)[0]
        raise ValueError(
            f"held set {r} misses {spec.latents[i]!r}, an ancestor of one of its latents; "
            "an exact limit needs a set closed under ancestors (e.g. S(m))"
        )
    return rows


def _latent_ancestors(spec: GraphSpec) -> np.ndarray:
    """(latents, latents) bool: column j is an ancestor of row i."""
    index = {z: i for i, z in enumerate(spec.latents)}
    out = np.zeros((len(index), len(index)), dtype=bool)
    for z, i in index.items():
        for p in spec[z].parents:
            out[i, index[p]] = True
            out[i] |= out[index[p]]  # spec.latents follow a topological order
    return out


def _sides(spec: GraphSpec, token_masks, patch_size: int | None):
    masks = torch.as_tensor(np.asarray(token_masks), dtype=torch.float32)
    if masks.ndim == 1:
        masks = masks[None]
    if spec.image_shape is None:
        if masks.shape[-1] != len(spec.observed):
            raise ValueError(
                f"masks have {masks.shape[-1]} columns; model {spec.meta.get('name', '?')!r} "
                f"has {len(spec.observed)} observed nodes, one column each"
            )
        masked = masks > 0.5
        return masked, ~masked
    patch = default_patch_size(spec) if patch_size is None else patch_size
    return observed_sides(spec, masks, patch)


def _channels(spec: GraphSpec, name: str) -> np.ndarray:
    """The channel of every value of an observed node (channels first in its vector)."""
    node = spec[name]
    if spec.image_shape is None:
        return np.zeros(node.dim, dtype=int)
    return np.arange(node.dim) // (node.block[2] * node.block[3])  # type: ignore[index]


def _channel_variance(model, reference: Mapping[str, np.ndarray]) -> np.ndarray:
    """Pooled variance of each channel over images and positions, as `maeid.data`
    standardises; a model without images is one pooled 'channel'."""
    if model.spec.image_shape is None:
        values = np.concatenate([reference[x] for x in model.spec.observed], 1)
        return np.array([values.var()])
    images = model.render({x: reference[x] for x in model.spec.observed})
    return images.astype(np.float64).var(axis=(0, 2, 3))


def _check_counts(inner: int, var_draws: int) -> None:
    if inner < 2:
        raise ValueError(f"inner={inner}: a conditional variance needs at least 2 inner draws")
    if var_draws < 2:
        raise ValueError(f"var_draws={var_draws}: a variance needs at least 2 draws")
