"""From a mask over ViT tokens to the observed nodes it hides, for image models.

A ViT with patch size p cuts a (C, H, W) image into an (H/p) x (W/p) grid of tokens in
raster order; the mask sampler hides tokens. Each observed node of an image model covers
a pixel block `(row, col, height, width)`, so a token mask hides some pixels of some nodes.

Partly hidden nodes. When a node's block straddles the mask boundary (a leaf block larger
than the patch, masked with units smaller than the block), its pixels fall on both sides.
Such a *split* node counts on BOTH sides. The reasoning: the node is `x = g(pa, eps)` and
a random invertible mechanism mixes every input into every output coordinate, so the
hidden pixels and the seen pixels both depend on `pa` and hence on every latent ancestor
of `x`. Those ancestors are therefore shared; putting the node on one side only would
call them private to that side although the other side's pixels reveal them, and would
understate S(m). Two caveats. Invertibility holds for the whole node, not a part of it,
so for split nodes S(m) is the set of latents both sides depend on rather than a set
each side provably determines. And the node's own noise `eps` is shared too but is not a
latent, so it is not part of d_c. `Identification.masked & Identification.visible` lists
the split nodes. With the default patch (the leaf block) no node is ever split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from maeid.hlvm.spec import GraphSpec, SpecError
from maeid.theory.identification import Identification, identify
from maeid.theory.spec_like import SpecLike, takes_spec


@takes_spec
def default_patch_size(spec: SpecLike) -> int:
    """The largest patch such that every observed block is a whole number of tokens.

    For a quadtree model this is its leaf block: one token per observed leaf.
    """
    _, h, w = _image_shape(spec)
    blocks = _blocks(spec)
    return math.gcd(h, w, *(int(v) for v in blocks.flatten()))


@takes_spec
def token_grid(spec: SpecLike, patch_size: int) -> tuple[int, int]:
    """(rows, cols) of the ViT token grid for `patch_size`."""
    _, h, w = _image_shape(spec)
    if not isinstance(patch_size, int | np.integer) or patch_size < 1:
        raise SpecError(f"patch size {patch_size!r} must be a positive integer (pixels)")
    if h % patch_size or w % patch_size:
        raise SpecError(
            f"patch size {patch_size} does not tile the {h}x{w} image; use a divisor of "
            f"both sides, e.g. {default_patch_size(spec)}"
        )
    return h // patch_size, w // patch_size


@takes_spec
def token_incidence(spec: SpecLike, patch_size: int) -> torch.Tensor:
    """(tokens, observed) bool: token t covers at least one pixel of observed node j."""
    gh, gw = token_grid(spec, patch_size)
    blocks = _blocks(spec)  # (observed, 4): row, col, height, width
    p = patch_size
    rows = np.arange(gh)[:, None] * p  # token top edges
    cols = np.arange(gw)[:, None] * p
    # Half-open intervals [a, a+len) overlap iff each starts before the other ends.
    row_hit = (rows < blocks[None, :, 0] + blocks[None, :, 2]) & (blocks[None, :, 0] < rows + p)
    col_hit = (cols < blocks[None, :, 1] + blocks[None, :, 3]) & (blocks[None, :, 1] < cols + p)
    hit = row_hit[:, None, :] & col_hit[None, :, :]  # (gh, gw, observed), raster order
    return torch.from_numpy(hit.reshape(gh * gw, -1))


@takes_spec
def observed_sides(
    spec: SpecLike, token_masks: torch.Tensor, patch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch form: (N, tokens) masks, 1 = masked, to (N, observed) bool (masked, visible).

    A node is on the masked side if any of its pixels is hidden and on the visible side
    if any is seen; a split node is on both (see the module docstring).
    """
    incidence = token_incidence(spec, patch_size).float()
    masks = _as_token_masks(token_masks, incidence.shape[0])
    masked = (masks @ incidence) > 0
    visible = ((1.0 - masks) @ incidence) > 0
    return masked, visible


@takes_spec
def masked_nodes(spec: SpecLike, token_mask: Sequence[float] | torch.Tensor, patch_size: int):
    """The observed nodes with at least one hidden pixel under a (tokens,) mask.

    Returns a frozenset of names. With split nodes (see the module docstring) pass
    `visible_nodes` too, or use `identify_token_mask`, which does both.
    """
    masked, _ = observed_sides(spec, _one_mask(token_mask), patch_size)
    return _names(spec, masked[0])


@takes_spec
def visible_nodes(spec: SpecLike, token_mask: Sequence[float] | torch.Tensor, patch_size: int):
    """The observed nodes with at least one seen pixel under a (tokens,) mask."""
    _, visible = observed_sides(spec, _one_mask(token_mask), patch_size)
    return _names(spec, visible[0])


@takes_spec
def identify_token_mask(
    spec: SpecLike, token_mask: Sequence[float] | torch.Tensor, patch_size: int
) -> Identification:
    """S(m), c(m), d_c and the private parts for one (tokens,) mask of an image model."""
    masked, visible = observed_sides(spec, _one_mask(token_mask), patch_size)
    return identify(spec, _names(spec, masked[0]), _names(spec, visible[0]))


# ---------------------------------------------------------------------------- helpers
def _image_shape(spec: GraphSpec) -> tuple[int, int, int]:
    if spec.image_shape is None:
        raise SpecError(
            f"model {spec.meta.get('name', '?')!r} is not an image model (no image_shape); "
            "token masks need one, so give masks as observed node names instead"
        )
    return spec.image_shape


def _blocks(spec: GraphSpec) -> np.ndarray:
    _, h, w = _image_shape(spec)
    missing = [x for x in spec.observed if spec[x].block is None]
    if missing:
        raise SpecError(f"observed nodes {missing[:8]} have no pixel block in an image model")
    blocks = np.array([spec[x].block for x in spec.observed], dtype=np.int64)
    r, c, bh, bw = blocks.T
    bad = [
        spec.observed[j]
        for j in np.flatnonzero(
            (r < 0) | (c < 0) | (bh < 1) | (bw < 1) | (r + bh > h) | (c + bw > w)
        )
    ]
    if bad:
        raise SpecError(f"observed nodes {bad[:8]} have blocks outside the {h}x{w} image")
    return blocks


def _as_token_masks(token_masks: torch.Tensor | Sequence, num_tokens: int) -> torch.Tensor:
    masks = torch.as_tensor(token_masks)
    if masks.ndim != 2 or masks.shape[1] != num_tokens:
        raise SpecError(
            f"token masks have shape {tuple(masks.shape)}; expected (N, {num_tokens}), "
            "one entry per token in raster order"
        )
    masks = masks.float()
    if not bool(((masks == 0) | (masks == 1)).all()):
        raise SpecError("token masks must hold only 0 (visible) and 1 (masked)")
    return masks


def _one_mask(token_mask: Sequence[float] | torch.Tensor) -> torch.Tensor:
    mask = torch.as_tensor(token_mask)
    if mask.ndim != 1:
        raise SpecError(
            f"one token mask must be 1-D (tokens in raster order), got shape {tuple(mask.shape)}"
        )
    return mask[None]


def _names(spec: GraphSpec, row: torch.Tensor) -> frozenset[str]:
    return frozenset(spec.observed[j] for j in torch.nonzero(row).flatten().tolist())
