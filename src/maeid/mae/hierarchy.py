"""Hierarchy-aligned masking: masking units that are the footprints of a latent level.

The paper's second suggested improvement is to design masks from the latent structure.
For a tree-structured image model (the quadtree of `maeid.hlvm.quadtree`) the honest,
simple version is this: take the latents of one level; each one's observed descendants
cover a block of pixels (its footprint). If the footprints are equal squares tiling the
image, masking whole subtrees at that level is exactly block masking with the footprint
as the masking unit: every masked unit removes all leaves of one subtree and nothing of
its siblings. `hierarchy_mask_unit` derives that unit from the graph instead of by hand,
and refuses graphs where no such unit exists. Masks are then drawn by the one sampler
(`maeid.theory.masking`) as for any other unit, so the theory predicts for them as usual.

It does not discover the structure (the paper suggests causal discovery for that): the
graph is given.
"""

from __future__ import annotations

import networkx as nx

from maeid.hlvm.spec import GraphSpec


def footprint(spec: GraphSpec, latent: str) -> tuple[int, int, int, int]:
    """(row, col, height, width) in pixels covered by `latent`'s observed descendants;
    an error if they do not fill that rectangle exactly."""
    leaves = [spec[n] for n in nx.descendants(spec.graph, latent) if spec[n].observed]
    blocks = [leaf.block for leaf in leaves]
    if not blocks or any(b is None for b in blocks):
        raise ValueError(f"latent {latent!r} has observed descendants without a pixel block")
    top = min(b[0] for b in blocks)
    left = min(b[1] for b in blocks)
    bottom = max(b[0] + b[2] for b in blocks)
    right = max(b[1] + b[3] for b in blocks)
    if sum(b[2] * b[3] for b in blocks) != (bottom - top) * (right - left):
        raise ValueError(f"the observed descendants of {latent!r} do not fill a rectangle")
    return (top, left, bottom - top, right - left)


def hierarchy_mask_unit(spec: GraphSpec, level: int, patch_size: int) -> int:
    """The masking unit (pixels) whose units are exactly the subtrees of `level`.

    E.g. for qt32 with patch 4: level 1 -> 16, level 2 -> 8 (a unit of 4 is one leaf).
    """
    if spec.image_shape is None:
        raise ValueError("hierarchy-aligned masking needs an image model (spec.image_shape)")
    levels = spec.levels
    if level not in levels:
        raise ValueError(f"no latent level {level}; the model has levels {sorted(levels)}")
    _, h, w = spec.image_shape
    feet = {footprint(spec, z) for z in levels[level]}
    sizes = {(f[2], f[3]) for f in feet}
    if len(sizes) != 1 or len(feet) != len(levels[level]):
        raise ValueError(f"the subtrees of level {level} overlap or differ in size: {sizes}")
    ((fh, fw),) = sizes
    if fh != fw:
        raise ValueError(f"level {level} subtrees cover {fh}x{fw} pixels; a unit must be square")
    if len(feet) * fh * fw != h * w or any(f[0] % fh or f[1] % fw for f in feet):
        raise ValueError(f"the subtrees of level {level} do not tile the {h}x{w} image")
    if fh % patch_size:
        raise ValueError(
            f"level {level} subtrees are {fh} pixels wide, not a multiple of patch_size "
            f"{patch_size}; use a patch that divides {fh}"
        )
    return fh
