"""Exact inference on the random-hierarchy model: sum-product belief propagation.

The model (`maeid.hlvm.random_hierarchy`) is a tree of factors: a uniform class at the
root, and for each symbol one factor over (symbol, its 4 children) that is 1/m for each
of its m rules and 0 otherwise; each leaf symbol emits its patch with Gaussian pixel
noise. On a tree, two passes give every latent's exact posterior:

- up: a leaf's message is the likelihood of its *visible* pixels under each symbol's
  rendering (masked pixels carry no evidence); a parent's message sums, over its rules,
  the product of its 4 children's messages at the rule's children;
- down: a child's outside message sums, over the parent's rules that put a symbol at the
  child's position, the parent's outside message times its 3 siblings' messages.

The posterior of a symbol is its outside message times its up message. Messages are
probability vectors, normalised at each node (float64), and every pass is vectorised
over the batch and over the grid of a level; batches are cut into chunks to bound memory.

The texture cue (`maeid.hlvm.texture`, `p_texture > 0`) adds one global unknown: which
class's signature, if any, is added to every leaf patch. Inference stays exact by
conditioning on it: for each of its K components (no signature, or class t's) the passes
run with the leaf renderings shifted by that signature and the root prior restricted to
the classes it allows, and their posteriors are mixed by the components' posterior
weights (the evidence, kept in log space through the normalisations). With
`p_texture = 0` there is one component and the passes are today's. `tree_posterior(...,
tied=False)` is the observer that ignores the cue: it takes the signature as independent
of the class, so it must read the class from the tree.

From the posteriors follow the Bayes-optimal limits of any representation:
- `bayes_accuracy`: per level, the accuracy of the posterior's argmax (full image or the
  visible side of a mask);
- `masked_mse`: the expected squared error of the posterior-mean prediction of the masked
  pixels (Bayes), and of the prior-mean prediction (the predict-the-mean plateau), as
  shares of the pixel variance, so a training loss reads as `normalised_excess`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from maeid.hlvm.random_hierarchy import RandomHierarchy
from maeid.hlvm.texture import signature_components

CHUNK = 2048  # images per pass: keeps the largest message array near 20 MB


@dataclass
class TreePosterior:
    """`levels[l]` is (N, 2^l, 2^l, K_l): each level-l symbol's posterior distribution.

    `renderings` (R, patch^2) and `rendering_probs` (N, G, G, R) are what a leaf patch
    may look like without noise and each one's posterior: the leaf symbols' patches
    (R = v) for the plain model, and with the texture cue every (signature, symbol) pair.
    """

    levels: list[np.ndarray]
    renderings: np.ndarray | None = None
    rendering_probs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.levels[0])

    def argmax(self) -> list[np.ndarray]:
        """The most probable symbol of every latent, (N, 2^l, 2^l) per level."""
        return [p.argmax(-1) for p in self.levels]

    @property
    def leaves(self) -> np.ndarray:
        return self.levels[-1]


def visible_pixels(
    token_mask: torch.Tensor | np.ndarray, patch_size: int, image_hw: tuple[int, int]
) -> np.ndarray:
    """(N, H, W) bool, True where a pixel is seen, from an (N, tokens) MAE mask (1 = masked)."""
    mask = np.asarray(token_mask.cpu() if isinstance(token_mask, torch.Tensor) else token_mask)
    h, w = image_hw
    if h % patch_size or w % patch_size:
        raise ValueError(f"patch size {patch_size} does not tile a {h}x{w} image")
    gh, gw = h // patch_size, w // patch_size
    if mask.ndim != 2 or mask.shape[1] != gh * gw:
        raise ValueError(f"token mask has shape {mask.shape}; expected (N, {gh * gw}) for "
                         f"patch {patch_size} on {h}x{w}")  # fmt: skip
    seen = mask.reshape(-1, gh, gw) < 0.5
    return seen.repeat(patch_size, axis=1).repeat(patch_size, axis=2)


def tree_posterior(
    model: RandomHierarchy, images: np.ndarray, visible: np.ndarray | None = None,
    tied: bool = True, presence: float | None = None,
) -> TreePosterior:  # fmt: skip
    """Posterior of every symbol given the visible pixels of `images` (N, 1, H, W).

    `visible` is (N, H, W) bool (True = seen), or None for the full image; a masked pixel
    carries no evidence. Pixels are in the model's own units (not standardised). The
    texture signature is marginalised: `presence` is its prior probability (the model's
    `p_texture` by default), `tied=False` takes it as independent of the class.
    """
    images, visible = _checked(model, images, visible)
    offsets, prior = signature_components(model, tied, presence)
    k = model.knobs
    renderings = (model.patches.reshape(1, k.v, -1) + offsets[:, None]).reshape(-1, k.patch**2)
    chunk = max(1, CHUNK // len(offsets))  # the K components run as one batch
    parts = []
    for start in range(0, len(images), chunk):
        stop = start + chunk
        parts.append(_mixture(model, images[start:stop],
                              None if visible is None else visible[start:stop],
                              offsets, prior))  # fmt: skip
    levels = [np.concatenate([p[0][lvl] for p in parts]) for lvl in range(k.levels + 1)]
    return TreePosterior(levels, renderings, np.concatenate([p[1] for p in parts]))


def class_posterior(
    model: RandomHierarchy, images: np.ndarray, visible: np.ndarray | None = None,
    tied: bool = True, presence: float | None = None,
) -> np.ndarray:  # fmt: skip
    """(N, n_classes): the class's posterior alone, as `tree_posterior` gives it, without
    the downward pass (a Bayes classifier needs nothing else)."""
    images, visible = _checked(model, images, visible)
    offsets, prior = signature_components(model, tied, presence)
    chunk = max(1, CHUNK // len(offsets))
    parts = [
        _mixture(model, images[start : start + chunk],
                 None if visible is None else visible[start : start + chunk], offsets, prior,
                 root_only=True)[0][0]
        for start in range(0, len(images), chunk)
    ]  # fmt: skip
    return np.concatenate(parts)[:, 0, 0]


def class_from_level(model: RandomHierarchy, messages: np.ndarray, level: int) -> np.ndarray:
    """(N, n_classes): the class's posterior given independent evidence on each symbol of
    `level`, the upward pass started there instead of at the leaves.

    `messages` (N, 2^level, 2^level, A), A that level's vocabulary, holds each symbol's
    likelihood up to a constant (a readout's posterior divided by the symbol's frequency,
    say); the class is uniform, as in the model. With the leaves' pixel likelihoods at
    `level` = the model's `levels` it is `class_posterior` of the pixels.
    """
    k = model.knobs
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise ValueError(f"level={level!r}: give an integer level in 1..{k.levels}")
    if not 1 <= level <= k.levels:
        raise ValueError(f"level={level}: the class is climbed to from a level in 1..{k.levels}")
    side, symbols = 2**level, model.num_symbols(level)
    messages = np.asarray(messages, dtype=np.float64)
    if messages.ndim != 4 or messages.shape[1:] != (side, side, symbols):
        raise ValueError(
            f"messages of shape {messages.shape}: level {level} needs (N, {side}, {side}, "
            f"{symbols}), one likelihood per symbol at each of its {side}x{side} positions"
        )
    if not np.isfinite(messages).all() or (messages < 0).any():
        raise ValueError("messages must be finite and >= 0: each is a likelihood")
    up, _, _ = _climb(model, messages, level)
    return up[0][:, 0, 0]


def prior_marginals(model: RandomHierarchy) -> TreePosterior:
    """Every symbol's distribution before any pixel is seen (a batch of one)."""
    _, h, w = model.spec.image_shape
    blank = np.zeros((1, 1, h, w), dtype=np.float32)
    return tree_posterior(model, blank, np.zeros((1, h, w), dtype=bool))


def bayes_accuracy(posterior: TreePosterior, symbols: list[np.ndarray]) -> list[float]:
    """Per level, the share of latents whose posterior argmax is the true symbol
    (`symbols` as from `RandomHierarchy.symbol_grids`)."""
    if len(symbols) != len(posterior.levels):
        raise ValueError(f"{len(symbols)} symbol grids for {len(posterior.levels)} levels")
    return [float((guess == truth).mean()) for guess, truth in
            zip(posterior.argmax(), symbols, strict=True)]  # fmt: skip


# Smallest probability a log loss takes: the exact posterior never gives the true symbol 0,
# but float64 can round a very unlikely one down to it.
_TINY = 1e-300


def true_symbol_log_loss(posterior: TreePosterior, symbols: list[np.ndarray]) -> list[np.ndarray]:
    """Per level, (N,): each image's mean over the level's latents of -log p(true symbol |
    what was seen), in nats, under the exact posterior. Its mean over images estimates the
    conditional entropy H(level-k symbol | view), the cross-entropy a perfect probe reaches."""
    if len(symbols) != len(posterior.levels):
        raise ValueError(f"{len(symbols)} symbol grids for {len(posterior.levels)} levels")
    losses = []
    for probs, truth in zip(posterior.levels, symbols, strict=True):
        truth = np.asarray(truth, dtype=np.int64)
        if truth.shape != probs.shape[:-1]:
            raise ValueError(f"symbols of shape {truth.shape} for posteriors {probs.shape}")
        picked = np.take_along_axis(probs, truth[..., None], -1)[..., 0]
        picked = np.clip(picked, _TINY, 1.0)  # a normalised 1 may round a hair above 1
        losses.append(-np.log(picked).reshape(len(picked), -1).mean(1))
    return losses


def posterior_entropy(posterior: TreePosterior) -> list[np.ndarray]:
    """Per level, (N,): each image's mean over the level's latents of the entropy of its
    exact posterior, in nats (the same conditional entropy, without the true symbols)."""
    out = []
    for probs in posterior.levels:
        terms = -probs * np.log(np.maximum(probs, _TINY))
        out.append(terms.sum(-1).reshape(len(probs), -1).mean(1))
    return out


@dataclass(frozen=True)
class MaskedMSE:
    """Expected squared error per masked pixel, as shares of the pixel variance."""

    bayes: float  # predicting each masked pixel by its posterior mean
    plateau: float  # predicting it by its prior mean (what a model that learned nothing does)
    pixel_variance: float  # the variance the shares divide by (over images and positions)

    def excess(self, loss: float) -> float:
        return normalised_excess(loss, self.bayes, self.plateau)


def normalised_excess(loss: float, bayes: float, plateau: float) -> float:
    """(loss - Bayes) / (plateau - Bayes): 0 is Bayes-optimal, 1 the predict-the-mean plateau."""
    if not plateau > bayes:
        raise ValueError(f"plateau {plateau} must exceed the Bayes loss {bayes}")
    return (loss - bayes) / (plateau - bayes)


def masked_mse(
    model: RandomHierarchy, images: np.ndarray, visible: np.ndarray,
    posterior: TreePosterior | None = None,
) -> MaskedMSE:  # fmt: skip
    """Bayes-optimal and plateau MSE over the masked pixels (`~visible`) of `images`.

    The error is the exact expectation given the visible pixels, not the sample's own
    error: for a masked pixel it is sigma^2 plus the posterior variance of its rendering.
    The MAE's plain-pixel loss on images standardised by their own mean and std estimates
    the same share (not the norm-pix loss).
    """
    visible = np.asarray(visible, dtype=bool)
    post = posterior if posterior is not None else tree_posterior(model, images, visible)
    k = model.knobs
    rendering = post.renderings
    masked = _as_patches(~visible[:, None], k.grid, k.patch).astype(np.float64)
    if masked.sum() == 0:
        raise ValueError("the mask hides no pixel; there is nothing to predict")
    noise = k.sigma**2

    def error(leaf_probs: np.ndarray) -> float:
        mean = leaf_probs @ rendering
        spread = leaf_probs @ rendering**2 - mean**2
        return float((masked * np.broadcast_to(spread, masked.shape)).sum() / masked.sum())

    prior = prior_marginals(model)
    var = pixel_variance(model, prior)
    return MaskedMSE(
        bayes=(error(post.rendering_probs) + noise) / var,
        plateau=(error(prior.rendering_probs) + noise) / var,
        pixel_variance=var,
    )


def pixel_variance(model: RandomHierarchy, prior: TreePosterior | None = None) -> float:
    """The exact variance of a pixel over images and positions (what standardising divides by)."""
    prior = prior or prior_marginals(model)
    rendering = prior.renderings
    first = prior.rendering_probs[0] @ rendering
    second = prior.rendering_probs[0] @ rendering**2 + model.knobs.sigma**2
    return float(second.mean() - first.mean() ** 2)


# ---------------------------------------------------------------------------- passes
def _checked(
    model: RandomHierarchy, images: np.ndarray, visible: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    images = np.asarray(images)
    shape = model.spec.image_shape
    if images.ndim != 4 or images.shape[1:] != shape:
        want = ", ".join(map(str, shape))
        raise ValueError(f"images have shape {images.shape}; expected (N, {want})")
    if visible is not None:
        visible = np.asarray(visible, dtype=bool)
        if visible.shape != (len(images), *shape[1:]):
            raise ValueError(f"visible has shape {visible.shape}; expected "
                             f"({len(images)}, {shape[1]}, {shape[2]})")  # fmt: skip
    return images, visible


def _as_patches(images: np.ndarray, grid: int, patch: int) -> np.ndarray:
    """(N, 1, H, W) -> (N, G, G, patch^2), row-major inside each patch."""
    n = len(images)
    return (
        images.reshape(n, grid, patch, grid, patch)
        .transpose(0, 1, 3, 2, 4)
        .reshape(n, grid, grid, patch * patch)
    )


def leaf_log_likelihood(
    model: RandomHierarchy, images: np.ndarray, visible: np.ndarray | None,
    offsets: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """(K, N, G, G, v): the log-likelihood of each leaf's visible pixels (all of them if
    `visible` is None) under each of the K signature components' rendering of each
    symbol, up to a constant shared by all of them."""
    k = model.knobs
    x = _as_patches(images.astype(np.float64), k.grid, k.patch)
    seen = (np.ones_like(x) if visible is None
            else _as_patches(visible[:, None], k.grid, k.patch).astype(np.float64))  # fmt: skip
    rendering = model.patches.reshape(1, k.v, -1).astype(np.float64) + offsets[:, None]
    rendering = rendering.reshape(-1, rendering.shape[-1])  # (K * v, patch^2)
    # Squared distance over the seen pixels, expanded so it is two matrix products.
    dist = (seen * x * x).sum(-1, keepdims=True) - 2 * (seen * x) @ rendering.T
    dist += seen @ (rendering**2).T
    if k.sigma > 0:
        loglik = -dist / (2 * k.sigma**2)
    else:  # noiseless: a symbol either renders the seen pixels exactly or is impossible
        loglik = np.where(dist <= 1e-6 * (1 + seen.sum(-1, keepdims=True)), 0.0, -np.inf)
    return np.moveaxis(loglik.reshape(*loglik.shape[:-1], len(offsets), k.v), -2, 0)


def _leaf_messages(
    model: RandomHierarchy, images: np.ndarray, visible: np.ndarray | None,
    offsets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(K, N, G, G, v): each leaf symbol's likelihood of its visible pixels under each of
    the K signature components, max 1; and (K, N) the log of the factors taken out."""
    loglik = leaf_log_likelihood(model, images, visible, offsets)
    top = loglik.max(-1, keepdims=True)
    # A component under which a leaf is impossible (sigma = 0) has evidence 0, not NaN.
    finite = np.where(np.isfinite(top), top, 0.0)
    return np.exp(loglik - finite), top.sum((2, 3, 4))


def _normalised(p: np.ndarray) -> np.ndarray:
    total = p.sum(-1, keepdims=True)
    return p / np.where(total > 0, total, 1.0)


def _log_total(p: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Sum over `axes` of the log of each message's total (-inf where it is 0)."""
    with np.errstate(divide="ignore"):
        return np.log(p.sum(-1)).sum(axes)


def _mixture(
    model: RandomHierarchy, images: np.ndarray, visible: np.ndarray | None,
    offsets: np.ndarray, prior: np.ndarray, root_only: bool = False,
) -> tuple[list[np.ndarray], np.ndarray | None]:  # fmt: skip
    """Every symbol's posterior, mixed over the K signature components, and (N, G, G, K * v)
    the posterior of each leaf's (component, symbol) rendering; the class's alone (and
    None) if `root_only`."""
    n, n_comp = len(images), len(offsets)
    leaves, log_evidence = _leaf_messages(model, images, visible, offsets)
    log_evidence = log_evidence + _log_total(leaves, (2, 3))
    root_prior = prior / prior.sum(1, keepdims=True)  # P(class | component)
    outside = np.repeat(root_prior, n, axis=0)[:, None, None, :]
    flat = leaves.reshape(n_comp * n, *leaves.shape[2:])
    beliefs, log_up = _posterior(model, _normalised(flat), outside, root_only)
    # log P(x | component) up to a constant shared by the components, then P(component | x)
    with np.errstate(divide="ignore"):
        log_w = log_evidence + log_up.reshape(n_comp, n) + np.log(prior.sum(1))[:, None]
    best = log_w.max(0, keepdims=True)
    if not np.isfinite(best).all():
        bad = int(np.flatnonzero(~np.isfinite(best[0]))[0])
        raise ValueError(
            f"image {bad} is impossible under {model.name} (no rendering explains its "
            f"visible pixels at sigma={model.knobs.sigma}); pass images of this model, "
            "standardised back to its pixel scale"
        )
    weight = np.exp(log_w - best)
    weight /= weight.sum(0, keepdims=True)  # (K, N)

    def mixed(belief: np.ndarray) -> np.ndarray:
        per = belief.reshape(n_comp, n, *belief.shape[1:])
        return np.einsum("kn,kn...->n...", weight, per)

    if root_only:
        return [mixed(beliefs[0])], None
    leaf = beliefs[-1].reshape(n_comp, n, *beliefs[-1].shape[1:])
    renders = np.moveaxis(weight[:, :, None, None, None] * leaf, 0, -2)
    return [mixed(b) for b in beliefs], renders.reshape(*renders.shape[:-2], -1)


def _climb(
    model: RandomHierarchy, messages: np.ndarray, start: int
) -> tuple[list[np.ndarray], list[list[np.ndarray]], np.ndarray]:
    """The upward pass from level `start`'s messages (N, 2^start, 2^start, A) to the root:
    every level's normalised up message (levels 0..start), each level's children's messages
    gathered at its rules' children (`gathered[l][j]`: child j's, (N, s, s, A * m), for the
    downward pass), and (N,) the log of the normalisers."""
    n = len(messages)
    up: list[np.ndarray] = [np.empty(0)] * start + [messages]
    log_up = np.zeros(n)
    gathered: list[list[np.ndarray]] = [[] for _ in range(start)]
    for level in range(start - 1, -1, -1):
        side = 2**level
        rules = model.rules[level]  # (A, m, 4)
        blocks = up[level + 1].reshape(n, side, 2, side, 2, -1)
        g = [blocks[:, :, j // 2, :, j % 2, :][..., rules[:, :, j].ravel()] for j in range(4)]
        gathered[level] = g
        joint = (g[0] * g[1] * g[2] * g[3]).reshape(n, side, side, *rules.shape[:2]).sum(-1)
        log_up += _log_total(joint, (1, 2))
        up[level] = _normalised(joint)
    return up, gathered, log_up


def _posterior(
    model: RandomHierarchy, leaves: np.ndarray, root_prior: np.ndarray, root_only: bool = False
) -> tuple[list[np.ndarray], np.ndarray]:
    """Beliefs of every level given normalised leaf messages (N, G, G, v) and the root's
    prior (N, 1, 1, n_classes) (the class's alone if `root_only`: no downward pass); and
    (N,) the log evidence beyond the leaves' own factors."""
    k = model.knobs
    n = len(leaves)
    up, gathered, log_up = _climb(model, leaves, k.levels)
    with np.errstate(divide="ignore"):
        log_up += np.log((root_prior * up[0]).sum(-1)).reshape(n)
    if root_only:
        return [_normalised(root_prior * up[0])], log_up
    outside = root_prior
    beliefs = []
    for level in range(k.levels):
        beliefs.append(_normalised(outside * up[level]))
        side = 2**level
        rules = model.rules[level]
        (parents, m), kids = rules.shape[:2], model.num_symbols(level + 1)
        weight = np.repeat(outside, m, axis=-1)  # (N, s, s, A * m), rule-major per symbol
        g = gathered[level]
        child_outside = np.empty((n, side, 2, side, 2, kids))
        for j in range(4):
            siblings = np.prod([g[i] for i in range(4) if i != j], axis=0)
            onehot = np.zeros((parents * m, kids))
            onehot[np.arange(parents * m), rules[:, :, j].ravel()] = 1.0
            child_outside[:, :, j // 2, :, j % 2, :] = (weight * siblings) @ onehot
        outside = _normalised(child_outside.reshape(n, 2 * side, 2 * side, kids))
    beliefs.append(_normalised(outside * up[k.levels]))
    return beliefs, log_up


def cell_loss_limits(
    model: RandomHierarchy,
    ratio: float,
    unit: int,
    num_masks: int = 256,
    seed: int = 0,
    patch_size: int | None = None,
    chunks: int = 8,
):
    """The Bayes masked loss and the plateau of the mask sampler at (ratio, unit), as
    `maeid.theory.exact_limits.LossLimits` (shares of the pixel variance, the loss's
    units): `num_masks` sampled images, each under its own sampler mask, in `chunks`
    whose spread gives the standard errors."""
    from maeid.theory.exact_limits import Limit, LossLimits
    from maeid.theory.profile import cell_masks

    if num_masks < chunks:
        raise ValueError(f"num_masks={num_masks}: use at least {chunks} (one per chunk)")
    patch = model.knobs.patch if patch_size is None else patch_size
    images = model.sample(num_masks, seed=np.random.SeedSequence([seed, 0xB1E5])).images
    masks = cell_masks(model.spec, ratio, unit, num_masks, seed=seed, patch_size=patch)
    seen = visible_pixels(masks, patch, images.shape[2:])
    parts = [
        masked_mse(model, images[rows], seen[rows])
        for rows in np.array_split(np.arange(num_masks), chunks)
    ]

    def limit(values: list[float]) -> Limit:
        return Limit(float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(chunks)))

    return LossLimits(limit([p.bayes for p in parts]), limit([p.plateau for p in parts]))
