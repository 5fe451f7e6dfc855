"""What each latent level's information is worth to the masked-prediction objective.

The set-based theory (S(m), c(m), d_c) says which latents the two sides of a mask share;
it is symmetric in the masking ratio r <-> 1 - r, since swapping the sides leaves
S(m) = An(m) ∩ An(mᶜ) ∩ Z unchanged. This module grades the same question with an exact
loss instead: how much worse the Bayes-optimal masked prediction gets when the evidence
may not travel through the latents of a level.

Levels: 0 is the root (the class of rhm32), 1 .. n-1 the latent levels below it, and n
the leaf patches. The *block* of a level-l node is the pixels under it (level 0: the
whole image; on rhm32 and qt32, level 1: the four 16x16 quadrants, level 2: the 8x8
blocks, level n = 3: the 4x4 leaf patches). For a mask m:

- L_l is the expectation over images of the Bayes MSE of the masked pixels when each
  masked pixel may be predicted from the visible pixels inside its own level-l block
  only (the posterior mean given that confined evidence; a block with no visible pixel
  predicts the prior mean of its pixels);
- L_0 is the unconstrained Bayes loss, and L_n, with nothing visible inside a masked
  leaf patch, is the predict-the-prior-mean plateau;
- V_l = L_{l+1} - L_l, l = 0 .. n-1, is the value of level-l information: what the
  objective pays when the channel through the level-l nodes is cut (evidence may still
  cross between the level-(l+1) blocks below one level-l node in L_l, not in L_{l+1});
- the values telescope, sum_l V_l = plateau - Bayes, and share_l = V_l / (plateau - Bayes).

Units are those of `maeid.theory.belief_propagation.masked_mse` and of
`maeid.theory.exact_limits`: per masked value, as a share of the pixel variance, so they
read as the MAE's plain-pixel loss on standardised images. Every image draws its own
mask from the training sampler (`maeid.theory.profile.cell_masks`), so per-image values
are independent and the standard errors come from their spread; V_l and the shares use
the per-image paired differences.

Exact computation.

- rhm32 (`RandomHierarchy`), by belief propagation. With the evidence confined to the
  block b of a level-l node u, the posterior of b's pixels is BP on the whole tree with
  the pixels outside b unobserved. Messages from outside b are then uniform, so u's
  outside message is its prior marginal. So one upward pass over the whole image gives
  every block's confined messages at once (a node's up message depends on its own block
  only). A downward pass then starts at level l from the prior marginals. Each level
  costs one downward pass. With the texture cue the signature is one more global
  unknown; each block weighs the signature components by its own evidence. For that it
  keeps each subtree's likelihood scale, which the normalised messages drop.
- Trees of invertible mechanisms (qt32, qt64, qt224, tree-shaped YAML models), by nested
  resampling (`maeid.theory.exact_limits`). A visible patch determines all of its latent
  ancestors. So when block b holds a visible patch, its node u is known. Given u, the
  patches under u are independent of everything outside b, and the confined posterior
  of a masked patch in b equals the unconstrained one. A block with no visible patch
  predicts the prior. So L_l needs only the unconstrained conditional variance of each
  masked patch, or its prior variance when its level-l block is wholly masked. One
  visible patch in a block reveals the whole ancestral chain, so on these models the
  value of the levels above l comes only from blocks left wholly masked. The prior
  variances are estimated from independent draws, whose error the standard errors
  include.

The token patch must not split a leaf patch between the two sides (a multiple of the
leaf patch never does); otherwise a masked leaf sees its own pixels and L_n is not the
plateau.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from maeid.hlvm.model import HierarchicalModel
from maeid.hlvm.random_hierarchy import RandomHierarchy, is_rhm
from maeid.hlvm.spec import GraphSpec
from maeid.hlvm.texture import signature_components
from maeid.progress import tqdm
from maeid.theory.batch import GraphMatrices
from maeid.theory.belief_propagation import (
    CHUNK,
    _as_patches,
    _normalised,
    leaf_log_likelihood,
    pixel_variance,
    visible_pixels,
)
from maeid.theory.exact_limits import (
    DEFAULT_INNER,
    DEFAULT_OUTER,
    DEFAULT_VAR_DRAWS,
    Limit,
    _channel_variance,
    _channels,
    _check_counts,
    _nested,
    _sides,
)
from maeid.theory.profile import TheoryProfile, cell_masks
from maeid.theory.token_masks import default_patch_size

# Images per cell. rhm32: every value's se <= 0.005 on rhm32:m=32/4/2, about 1 s per cell
# on one core (benchmarks/bench_information.py). Resampled models: nested resampling's
# default outer draws (each image costs `inner` forward draws of the whole model).
DEFAULT_IMAGES = 2048
DEFAULT_RESAMPLED_IMAGES = DEFAULT_OUTER
# The images `belief_propagation.cell_loss_limits` draws for a seed: a cell's Bayes loss
# here is that function's, number for number.
_IMAGE_STREAM = 0xB1E5


@dataclass(frozen=True)
class LevelInformation:
    """The value of each level's information to the masked loss, with standard errors.

    `value[l]` is V_l = L_{l+1} - L_l and `share[l]` is V_l / (plateau - Bayes), keyed by
    level, 0 = the root; `bayes` (L_0) and `plateau` (L_n) are the two ends. All in
    shares of the pixel variance, means over `num_images` image-and-mask pairs.
    """

    value: dict[int, float]
    se: dict[int, float]
    share: dict[int, float]
    share_se: dict[int, float]
    bayes: Limit
    plateau: Limit
    num_images: int

    @property
    def levels(self) -> list[int]:
        return sorted(self.value)

    def share_at_or_above(self, level: int) -> float:
        """The share of the reducible loss that needs information at levels <= `level`
        (the root is level 0); levels deeper than every valued level give 1."""
        return float(sum(s for lv, s in self.share.items() if lv <= level))

    def to_dict(self) -> dict[str, object]:
        def keyed(d: dict[int, float]) -> dict[str, float | None]:
            return {str(k): _finite(v) for k, v in sorted(d.items())}

        return {
            "value": keyed(self.value),
            "se": keyed(self.se),
            "share": {"value": keyed(self.share), "se": keyed(self.share_se)},
            "bayes": {"value": _finite(self.bayes.value), "se": _finite(self.bayes.se)},
            "plateau": {"value": _finite(self.plateau.value), "se": _finite(self.plateau.se)},
            "num_images": self.num_images,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> LevelInformation:
        def keyed(m: object) -> dict[int, float]:
            return {int(k): _nan(v) for k, v in dict(m).items()}  # type: ignore[call-overload]

        share = dict(d["share"])  # type: ignore[call-overload]
        bayes, plateau = dict(d["bayes"]), dict(d["plateau"])  # type: ignore[call-overload]
        return cls(
            value=keyed(d["value"]),
            se=keyed(d["se"]),
            share=keyed(share["value"]),
            share_se=keyed(share["se"]),
            bayes=Limit(_nan(bayes["value"]), _nan(bayes["se"])),
            plateau=Limit(_nan(plateau["value"]), _nan(plateau["se"])),
            num_images=int(d["num_images"]),  # type: ignore[call-overload]
        )


# ------------------------------------------------------------------------ public API
def level_information(
    model: RandomHierarchy | HierarchicalModel,
    token_masks: torch.Tensor | np.ndarray,
    *,
    images: np.ndarray | None = None,
    patch_size: int | None = None,
    seed: int = 0,
    num_images: int | None = None,
    inner: int | None = None,
    var_draws: int | None = None,
) -> LevelInformation:
    """V_l, the shares, Bayes and plateau for masks `token_masks` (N, tokens; 1 = masked),
    one mask per image, or one (tokens,) mask for every image (for the N images given,
    else for `num_images` of them, by default `default_images(model)`).

    rhm32: `images` (N, 1, H, W) in the model's pixel units, or None to draw them from
    `seed`. Trees of invertible mechanisms (qt32): the images are the outer draws of
    nested resampling from `seed` (pass none), `inner` and `var_draws` as in
    `maeid.theory.exact_limits.masked_loss_limits`.
    """
    kind = _kind(model)
    masks = np.asarray(token_masks.cpu() if isinstance(token_masks, torch.Tensor) else token_masks)
    if masks.ndim == 1:
        rows = _images(model, num_images) if images is None else len(images)
        masks = np.broadcast_to(masks, (rows, len(masks)))
    if kind == "rhm":
        if inner is not None or var_draws is not None:
            raise ValueError(
                "inner and var_draws set the resampling of invertible models; rhm32's "
                "information is exact belief propagation: leave them out"
            )
        return _summary(_rhm_rows(model, masks, images, patch_size, seed))
    if images is not None:
        raise ValueError(
            f"{model.name} draws its own images (the outer draws of nested resampling, "
            "from `seed`); pass images=None"
        )
    inner = DEFAULT_INNER if inner is None else inner
    var_draws = DEFAULT_VAR_DRAWS if var_draws is None else var_draws
    return _summary(_tree_rows(model, masks, patch_size, seed, inner, var_draws))


def cell_information(
    model: RandomHierarchy | HierarchicalModel,
    ratio: float,
    unit: int,
    num_images: int | None = None,
    seed: int = 0,
    patch_size: int | None = None,
    **options: int,
) -> LevelInformation:
    """`level_information` over `num_images` images, each under its own mask from the
    training sampler at (ratio, unit); the masks are a profile cell's first
    `num_images` for the same seed (`maeid.theory.profile.cell_masks`); by default
    `default_images(model)`."""
    num_images = _images(model, num_images)
    masks = cell_masks(model.spec, ratio, unit, num_images, seed=seed, patch_size=patch_size)
    return level_information(model, masks, patch_size=patch_size, seed=seed, **options)


def profile_information(
    model: RandomHierarchy | HierarchicalModel,
    profile: TheoryProfile,
    num_images: int | None = None,
    progress: bool = False,
    **options: int,
) -> list[LevelInformation | None]:
    """`cell_information` for every cell of `profile` (its patch and seed), in its order;
    None where the cell is impossible (nothing masked or nothing visible)."""
    num_images = _images(model, num_images)  # refused before the first cell, not at it
    out: list[LevelInformation | None] = []
    for cell in tqdm(profile.cells, desc="information per level", disable=not progress):
        if not cell.valid:
            out.append(None)
            continue
        out.append(cell_information(model, cell.ratio, cell.unit, num_images, profile.seed,
                                    profile.patch_size, **options))  # fmt: skip
    return out


def default_images(model: RandomHierarchy | HierarchicalModel) -> int:
    """Images per cell when none are asked for: DEFAULT_IMAGES for rhm32 (exact and
    cheap), DEFAULT_RESAMPLED_IMAGES for models that need nested resampling."""
    return DEFAULT_IMAGES if _kind(model) == "rhm" else DEFAULT_RESAMPLED_IMAGES


def confined_losses(model: RandomHierarchy, images: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(N, L + 1): each image's L_l for l = 0 .. L (L = the model's `levels`, the leaf
    patches), given `visible` (N, H, W) bool; column 0 is the Bayes loss, column L the
    plateau. Exact belief propagation with the evidence confined to each level's blocks."""
    if not is_rhm(model):
        raise ValueError(f"confined_losses takes an rhm32 model, got {type(model).__name__}")
    images, visible = _checked_rhm(model, images, visible)
    consts = _rhm_constants(model)
    return np.concatenate([
        _rhm_chunk(model, consts, images[s : s + consts.chunk], visible[s : s + consts.chunk])
        for s in range(0, len(images), consts.chunk)
    ])  # fmt: skip


# --------------------------------------------------------------------------- summary
@dataclass(frozen=True)
class _Rows:
    """Per-row L_l, and how they lean on prior variances estimated from random draws.

    `losses` (rows, n + 1). `prior_weight` (n + 1, nodes): the mean over rows of the
    weight L_l puts on each node's prior variance; `prior_draws` (draws, nodes): each
    independent draw's squared deviation per node, whose mean is that variance (both None
    when the prior is exact)."""

    losses: np.ndarray
    prior_weight: np.ndarray | None = None
    prior_draws: np.ndarray | None = None

    def limit(self, coef: np.ndarray) -> Limit:
        """Mean and standard error of the per-row combination `losses @ coef`."""
        rows = self.losses @ coef
        n = len(rows)
        se = float(rows.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
        if self.prior_weight is not None and self.prior_draws is not None:
            per_draw = self.prior_draws @ (coef @ self.prior_weight)
            draw_se = per_draw.std(ddof=1) / math.sqrt(len(per_draw))
            se = float(np.hypot(se, draw_se))
        return Limit(float(rows.mean()), se)


def _summary(rows: _Rows) -> LevelInformation:
    n = rows.losses.shape[1] - 1
    unit = np.eye(n + 1)
    bayes, plateau = rows.limit(unit[0]), rows.limit(unit[n])
    gap_coef = unit[n] - unit[0]
    gap = plateau.value - bayes.value
    value, se, share, share_se = {}, {}, {}, {}
    for level in range(n):
        coef = unit[level + 1] - unit[level]
        v = rows.limit(coef)
        value[level], se[level] = v.value, v.se
        if gap > 0:
            share[level] = v.value / gap
            # Delta method for a ratio of means: the paired residual V - share * gap.
            share_se[level] = rows.limit(coef - share[level] * gap_coef).se / gap
        else:  # nothing to gain from any evidence: the shares are undefined
            share[level] = share_se[level] = float("nan")
    return LevelInformation(value, se, share, share_se, bayes, plateau, len(rows.losses))


# ---------------------------------------------------------------------- model checks
def _images(model: RandomHierarchy | HierarchicalModel, num_images: int | None) -> int:
    if num_images is None:
        return default_images(model)
    if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)):
        raise ValueError(f"num_images={num_images!r}: give an integer of at least 2")
    if num_images < 2:
        raise ValueError(f"num_images={num_images}: at least 2 images give a standard error")
    return int(num_images)


def _kind(model: object) -> str:
    if is_rhm(model):
        return "rhm"
    if isinstance(model, HierarchicalModel):
        _tree_groups(model.spec)  # refuses a DAG with the reason
        return "tree"
    raise ValueError(
        f"information per level needs a model with its mechanisms, from "
        f"maeid.hlvm.load_model: rhm32 (exact belief propagation) or a tree of invertible "
        f"mechanisms such as qt32; got {type(model).__name__}"
    )


def _tree_groups(spec: GraphSpec) -> list[np.ndarray]:
    """For levels 0 .. n (n = the observed level), (observed,) int: the index of each
    observed node's level-l ancestor, which names its level-l block (level n: itself).

    Refuses a graph that is not a tree with every observed node at the same depth: there
    a latent's pixels are not one block, or a patch has no ancestor at some level."""
    name = spec.meta.get("name", "model")
    for node in spec.nodes:
        if len(node.parents) > 1:
            raise ValueError(
                f"model {name!r}: {node.name} has {len(node.parents)} parents; information "
                "per level needs a tree (each node one parent), where every latent's "
                "pixels form one block"
            )
    depths = {spec[x].level for x in spec.observed}
    if len(depths) != 1:
        raise ValueError(
            f"model {name!r} has observed nodes at levels {sorted(depths)}; information per "
            "level needs every observed node at the same depth"
        )
    n = depths.pop()
    groups = np.zeros((n + 1, len(spec.observed)), dtype=np.int64)
    index = {z: i for i, z in enumerate(spec.latents)}
    for j, x in enumerate(spec.observed):
        groups[n, j] = j
        node, chain = spec[x], []
        while node.parents:
            node = spec[node.parents[0]]
            groups[node.level, j] = index[node.name]  # type: ignore[index]
            chain.append(node.level)
        if chain != list(range(n - 1, -1, -1)):
            raise ValueError(
                f"model {name!r}: {x}'s ancestors sit at levels {chain}; information per "
                f"level needs one ancestor at each level {n - 1}, ..., 0"
            )
    return list(groups)


# ---------------------------------------------------- trees of invertible mechanisms
def _tree_rows(
    model: HierarchicalModel, masks: np.ndarray, patch_size: int | None, seed: int,
    inner: int, var_draws: int,
) -> _Rows:  # fmt: skip
    """Per-row L_l by nested resampling: each masked patch's unconstrained conditional
    variance, or its prior variance where its level-l block is wholly masked."""
    spec = model.spec
    groups = _tree_groups(spec)
    masked_t, visible_t = _sides(spec, masks, patch_size)
    if (masked_t & visible_t).any():
        patch = default_patch_size(spec) if spec.image_shape else 1
        raise ValueError(
            "the patch splits an observed block between the masked and the visible side, "
            f"so a masked leaf would see its own pixels; use a patch that is a multiple of "
            f"the leaf block ({patch} px)"
        )
    if not masked_t.any(1).all():
        raise ValueError("a mask hides nothing: the masked-patch loss is undefined for it")
    if len(masks) < 2:
        raise ValueError(f"{len(masks)} mask(s): at least 2 give a standard error")
    _check_counts(inner, var_draws)
    # The same random stream, in the same order, as exact_limits.masked_loss_limits, so
    # L_0 is its Bayes loss and L_n its plateau, number for number.
    rng = np.random.default_rng(seed)
    matrices = GraphMatrices(spec)
    latent_rows = ((visible_t.float() @ matrices.descendant.T.float()) > 0).numpy()
    held = {z: latent_rows[:, i] for i, z in enumerate(spec.latents)}
    observed = list(spec.observed)
    nested = _nested(model, held, observed, inner, rng)
    reference = model.generate(model.draw_noise(var_draws, rng), only=observed)
    channel_var = _channel_variance(model, reference)

    masked, visible = masked_t.numpy(), visible_t.numpy()
    rows, nodes = masked.shape
    conditional = np.zeros((rows, nodes))
    spread = np.zeros((var_draws, nodes))
    dims = np.zeros(nodes)
    for j, x in enumerate(observed):
        weight = 1.0 / channel_var[_channels(spec, x)]  # per value: the loss's units
        conditional[:, j] = (nested[x].var(axis=1, ddof=1) * weight).sum(1)
        spread[:, j] = ((reference[x] - reference[x].mean(0)) ** 2 * weight).sum(1)
        dims[j] = nested[x].shape[2]
    prior = spread.mean(0)
    per_value = masked / (masked @ dims)[:, None]  # each node's weight: per masked value
    losses = np.zeros((rows, len(groups)))
    prior_weight = np.zeros((len(groups), nodes))
    for level, group in enumerate(groups):
        onehot = (group[:, None] == np.unique(group)[None, :]).astype(float)  # (nodes, blocks)
        block_seen = ((visible @ onehot) > 0).astype(float)  # (rows, blocks)
        blind = (block_seen @ onehot.T) == 0  # (rows, nodes): the node's block is all masked
        losses[:, level] = (per_value * np.where(blind, prior, conditional)).sum(1)
        prior_weight[level] = (per_value * blind).mean(0)
    return _Rows(losses, prior_weight, spread)


# ---------------------------------------------------------------------------- rhm32
def _rhm_rows(
    model: RandomHierarchy, masks: np.ndarray, images: np.ndarray | None,
    patch_size: int | None, seed: int,
) -> _Rows:  # fmt: skip
    patch = model.knobs.patch if patch_size is None else patch_size
    if images is None:
        images = model.sample(len(masks), seed=np.random.SeedSequence([seed, _IMAGE_STREAM])).images
    images = np.asarray(images)
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images for {len(masks)} masks; give one mask per image")
    seen = visible_pixels(masks, patch, images.shape[2:])
    if len(images) < 2:
        raise ValueError(f"{len(images)} image(s): at least 2 give a standard error")
    return _Rows(confined_losses(model, images, seen))


@dataclass(frozen=True)
class _RHMConstants:
    """What every chunk of images shares: the signature components and their priors,
    each level's prior marginals per component, the renderings, the loss's units."""

    offsets: np.ndarray  # (K, patch^2)
    log_weight: np.ndarray  # (K,) log P(component)
    priors: list[np.ndarray]  # per level l: (K, 2^l, 2^l, A_l), P(symbol | component)
    renderings: np.ndarray  # (K * v, patch^2), component-major
    variance: float  # pixel variance: the loss's unit
    chunk: int  # images per pass


def _rhm_constants(model: RandomHierarchy) -> _RHMConstants:
    k = model.knobs
    offsets, prior = signature_components(model)
    n_comp = len(offsets)
    # The prior marginals: a downward pass from P(class | component) with no evidence
    # (every up message uniform).
    blank = np.ones((n_comp, k.grid, k.grid, k.v))
    _, gathered, _ = _climb_with_scales(model, blank, np.zeros(blank.shape[:-1]))
    root = (prior / prior.sum(1, keepdims=True))[:, None, None, :]
    priors = _descend(model, root, gathered, 0)
    renderings = (model.patches.reshape(1, k.v, -1) + offsets[:, None]).reshape(-1, k.patch**2)
    with np.errstate(divide="ignore"):
        log_weight = np.log(prior.sum(1))
    return _RHMConstants(offsets, log_weight, priors, renderings.astype(np.float64),
                         pixel_variance(model), max(1, CHUNK // n_comp))  # fmt: skip


def _checked_rhm(
    model: RandomHierarchy, images: np.ndarray, visible: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    k = model.knobs
    images = np.asarray(images)
    shape = model.spec.image_shape
    if images.ndim != 4 or images.shape[1:] != shape:
        raise ValueError(
            f"images have shape {images.shape}; expected (N, {', '.join(map(str, shape))})"
        )
    visible = np.asarray(visible, dtype=bool)
    if visible.shape != (len(images), *shape[1:]):
        raise ValueError(f"visible has shape {visible.shape}; expected "
                         f"({len(images)}, {shape[1]}, {shape[2]})")  # fmt: skip
    seen = _as_patches(visible[:, None], k.grid, k.patch)
    split = seen.any(-1) & ~seen.all(-1)
    if split.any():
        i, r, c = np.argwhere(split)[0]
        raise ValueError(
            f"image {i}: leaf patch ({r}, {c}) is part masked, part visible, so it would see "
            f"its own pixels; use a ViT patch that is a multiple of the leaf patch ({k.patch} px)"
        )
    if not (~seen).any((1, 2, 3)).all():
        i = int(np.flatnonzero(~(~seen).any((1, 2, 3)))[0])
        raise ValueError(f"image {i}'s mask hides no pixel; there is nothing to predict")
    return images, visible


def _rhm_chunk(
    model: RandomHierarchy, consts: _RHMConstants, images: np.ndarray, visible: np.ndarray
) -> np.ndarray:
    """(n, L + 1) L_l of a chunk of images."""
    k = model.knobs
    n, n_comp = len(images), len(consts.offsets)
    loglik = leaf_log_likelihood(model, images, visible, consts.offsets)  # (K, n, G, G, v)
    top = loglik.max(-1)
    finite = np.where(np.isfinite(top), top, 0.0)  # a leaf impossible under a component
    leaves = np.exp(loglik - finite[..., None]).reshape(n_comp * n, k.grid, k.grid, k.v)
    up, gathered, scale = _climb_with_scales(model, leaves, top.reshape(n_comp * n, k.grid, k.grid))
    masked = ~_as_patches(visible[:, None], k.grid, k.patch)
    count = masked.sum((1, 2, 3))
    losses = np.zeros((n, k.levels + 1))
    for level in range(k.levels + 1):
        side = 2**level
        prior = np.repeat(consts.priors[level], n, axis=0)  # (K * n, ...), component-major
        # Each block's evidence under each component, then the components' posterior.
        with np.errstate(divide="ignore"):
            log_e = scale[level] + np.log((prior * up[level]).sum(-1))
        log_e = log_e.reshape(n_comp, n, side, side) + consts.log_weight[:, None, None, None]
        best = log_e.max(0, keepdims=True)
        if not np.isfinite(best).all():
            bad = int(np.argwhere(~np.isfinite(best[0]))[0][0])
            raise ValueError(
                f"image {bad} is impossible under {model.name} (no rendering explains its "
                f"visible pixels at sigma={k.sigma}); pass images of this model"
            )
        weight = np.exp(log_e - best)
        weight /= weight.sum(0, keepdims=True)
        outside = _descend(model, prior, gathered, level)[-1]
        beliefs = _normalised(outside * up[k.levels]).reshape(n_comp, n, k.grid, k.grid, k.v)
        reps = k.grid // side
        weight = weight.repeat(reps, axis=2).repeat(reps, axis=3)  # per leaf of the block
        probs = np.moveaxis(weight[..., None] * beliefs, 0, -2).reshape(n, k.grid, k.grid, -1)
        mean = probs @ consts.renderings
        spread = probs @ consts.renderings**2 - mean**2  # posterior variance per pixel
        error = (masked * spread).sum((1, 2, 3)) / count
        losses[:, level] = (error + k.sigma**2) / consts.variance
    return losses


def _climb_with_scales(
    model: RandomHierarchy, leaves: np.ndarray, leaf_scale: np.ndarray
) -> tuple[list[np.ndarray], list[list[np.ndarray]], list[np.ndarray]]:
    """The upward pass from leaf messages (B, G, G, v), each scaled by exp(-leaf_scale).

    Returns every level's normalised up message (B, 2^l, 2^l, A), each level's children's
    messages gathered at its rules' children (for the downward pass), and per level
    (B, 2^l, 2^l) the log of every factor taken out of the node's subtree: up message
    times exp(scale) is the likelihood of the block's visible pixels given the symbol, up
    to a constant that every block of the level and every component share."""
    levels = model.knobs.levels
    batch = len(leaves)
    up: list[np.ndarray] = [np.empty(0)] * levels + [_normalised(leaves)]
    with np.errstate(divide="ignore"):
        scale = [np.empty(0)] * levels + [leaf_scale + np.log(leaves.sum(-1))]
    gathered: list[list[np.ndarray]] = [[] for _ in range(levels)]
    for level in range(levels - 1, -1, -1):
        side = 2**level
        rules = model.rules[level]  # (A, m, 4)
        blocks = up[level + 1].reshape(batch, side, 2, side, 2, -1)
        g = [blocks[:, :, j // 2, :, j % 2, :][..., rules[:, :, j].ravel()] for j in range(4)]
        joint = (g[0] * g[1] * g[2] * g[3]).reshape(batch, side, side, *rules.shape[:2]).sum(-1)
        children = scale[level + 1].reshape(batch, side, 2, side, 2).sum((2, 4))
        with np.errstate(divide="ignore"):
            scale[level] = children + np.log(joint.sum(-1))
        up[level] = _normalised(joint)
        gathered[level] = g
    return up, gathered, scale


def _descend(
    model: RandomHierarchy, outside: np.ndarray, gathered: list[list[np.ndarray]], start: int
) -> list[np.ndarray]:
    """The downward pass from level `start`'s outside messages (B, 2^start, 2^start, A):
    the normalised outside message of every level from `start` to the leaves."""
    levels = model.knobs.levels
    batch = len(outside)
    out = [_normalised(np.asarray(outside, dtype=np.float64))]
    for level in range(start, levels):
        side = 2**level
        rules = model.rules[level]
        m, kids = rules.shape[1], model.num_symbols(level + 1)
        weight = np.repeat(out[-1], m, axis=-1)  # (B, s, s, A * m), rule-major per symbol
        g = gathered[level]
        child = np.empty((batch, side, 2, side, 2, kids))
        for j in range(4):
            siblings = np.prod([g[i] for i in range(4) if i != j], axis=0)
            child[:, :, j // 2, :, j % 2, :] = (weight * siblings) @ _child_onehot(model, level, j)
        out.append(_normalised(child.reshape(batch, 2 * side, 2 * side, kids)))
    return out


def _child_onehot(model: RandomHierarchy, level: int, j: int) -> np.ndarray:
    """(A * m, kids): 1 where rule (symbol, r) of `level` puts kid s at child position j."""
    rules = model.rules[level]
    onehot = np.zeros((rules.shape[0] * rules.shape[1], model.num_symbols(level + 1)))
    onehot[np.arange(len(onehot)), rules[:, :, j].ravel()] = 1.0
    return onehot


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _nan(v: object) -> float:
    return float("nan") if v is None else float(v)  # type: ignore[arg-type]


__all__: Sequence[str] = (
    "DEFAULT_IMAGES",
    "DEFAULT_RESAMPLED_IMAGES",
    "LevelInformation",
    "cell_information",
    "confined_losses",
    "default_images",
    "level_information",
    "profile_information",
)
