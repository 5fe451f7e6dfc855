"""Image-shaped hierarchies: a tree of latents over a grid of pixel blocks.

The root covers the whole image. Each latent at level l has `branching[l] x branching[l]`
children covering the sub-blocks of its region; the last level's children are the
observed leaves, one per `leaf x leaf` pixel block. The reference model `qt32`
(docs/theory.md) is `quadtree_spec()` with its defaults: 32x32x1, 4x4 leaves, branching
2 at every level, latent dims 2, 4, 8, observed dim 16, every mechanism square.

Names: the root is `z0`; a level-l latent is `z{l}_{row}_{col}` on that level's grid;
a leaf is `x_{row}_{col}` on the leaf grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from maeid.hlvm.spec import GraphSpec, Node, SpecError

# Noise scale of every level below the root (the root's is 1; every non-root node is
# standardised, so this is a noise-to-signal ratio). With 1 everywhere the root of qt32
# explains ~7% of the pixel variance and no short training finds it; with 0.3 the
# shares are about root 50%, level 1 18%, level 2 19%, pixel noise 13%
# (`maeid synth --model qt32` prints the table).
DEFAULT_NOISE_SCALE = 0.3
# The largest leaf grid `quadtree_of_depth` builds. The cost grows faster than the nodes:
# `maeid advise --quadtree ... --target-level 0` with its defaults (one thread) took 22 s
# of CPU for 256,4,6 (64x64 leaves, 5,461 nodes) and 8 min for 1048576,8192,8, the largest
# allowed (128x128 leaves, 38,229 nodes); 512,4,7 (21,845 nodes) took 13 s to build and
# 2.3 ms a mask. A 256x256 grid, growing alike, would take hours.
MAX_GRID = 128
MAX_SKETCH_LEAVES = MAX_GRID * MAX_GRID


def quadtree_spec(
    image_size: int | tuple[int, int] = 32,
    channels: int = 1,
    leaf: int = 4,
    branching: Sequence[int] | None = None,
    dims: Sequence[int] = (2, 4, 8),
    noise_scales: Sequence[float] | None = None,
    name: str = "qt32",
) -> GraphSpec:
    """The structure of a quadtree image model.

    `dims[l]` is the dimension of a level-l latent (`len(dims)` latent levels, root at 0).
    `branching[l]` is how many children per side a level-l latent has; by default 2
    everywhere but the root, which takes whatever is left so that the leaves tile the image.
    `noise_scales[l]` scales the exogenous noise of level l, the observed level being
    `len(dims)`; by default 1 for the root and `DEFAULT_NOISE_SCALE` below it.
    """
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if h % leaf or w % leaf:
        raise SpecError(f"leaf blocks of {leaf} pixels do not tile a {h}x{w} image")
    gh, gw = h // leaf, w // leaf
    if gh != gw:
        raise SpecError(f"a quadtree needs a square leaf grid, got {gh}x{gw}")
    levels = len(dims)
    if levels < 1:
        raise SpecError("a quadtree needs at least one latent level (the root)")
    if branching is None:
        below_root = 2 ** (levels - 1)
        if gh % below_root:
            raise SpecError(
                f"a {gh}x{gh} leaf grid cannot be split by 2 at {levels - 1} levels below the "
                "root; pass `branching` explicitly"
            )
        branching = (gh // below_root,) + (2,) * (levels - 1)
    branching = tuple(int(b) for b in branching)
    if len(branching) != levels or any(b < 1 for b in branching) or math.prod(branching) != gh:
        raise SpecError(
            f"branching {branching} must have one entry per latent level ({levels}) and "
            f"multiply to the leaf grid side {gh}"
        )
    if noise_scales is None:
        noise_scales = (1.0,) + (DEFAULT_NOISE_SCALE,) * levels
    if len(noise_scales) != levels + 1:
        raise SpecError(f"noise_scales needs {levels + 1} entries (latent levels + observed)")

    nodes: list[Node] = [Node("z0", dims[0], noise_scale=noise_scales[0], level=0)]
    side = 1  # grid side of the current latent level
    for lvl in range(1, levels + 1):
        b = branching[lvl - 1]
        child_side = side * b
        observed = lvl == levels
        for r in range(child_side):
            for c in range(child_side):
                parent = "z0" if lvl == 1 else f"z{lvl - 1}_{r // b}_{c // b}"
                if observed:
                    nodes.append(
                        Node(
                            f"x_{r}_{c}",
                            leaf * leaf * channels,
                            (parent,),
                            observed=True,
                            noise_scale=noise_scales[lvl],
                            level=lvl,
                            block=(r * leaf, c * leaf, leaf, leaf),
                        )
                    )
                else:
                    nodes.append(
                        Node(
                            f"z{lvl}_{r}_{c}",
                            dims[lvl],
                            (parent,),
                            noise_scale=noise_scales[lvl],
                            level=lvl,
                        )
                    )
        side = child_side
    return GraphSpec(
        tuple(nodes),
        image_shape=(channels, h, w),
        meta={
            "name": name,
            "builder": "quadtree",
            "leaf": leaf,
            "branching": list(branching),
            "dims": list(dims),
            "noise_scales": list(noise_scales),
        },
    )


def quadtree_of_depth(image_size: int, leaf: int, levels: int, channels: int = 1) -> GraphSpec:
    """A quadtree given by its image side, leaf block and number of latent levels.

    Latent dims double from 2 at the root (2, 4, 8, ...), capped at the leaf's dim so
    that every mechanism stays injective; branching is 2 below the root. Used where a
    user sketches an image hierarchy in three numbers (`maeid advise --quadtree 32,4,3`).
    """
    for value, what in [(image_size, "image size"), (leaf, "leaf size"), (levels, "levels")]:
        if not isinstance(value, int) or value < 1:
            raise SpecError(f"quadtree {what} {value!r} must be a positive integer")
    if image_size % leaf:
        raise SpecError(
            f"leaf blocks of {leaf} px do not tile a {image_size}x{image_size} image; use a "
            "leaf size that divides the image size"
        )
    grid = image_size // leaf
    if grid * grid > MAX_SKETCH_LEAVES:
        fits = [g for g in range(MAX_GRID, 0, -1) if image_size % g == 0]
        g = next((g for g in fits if 1 + _twos(g) >= levels), fits[0])  # keep the levels
        raise SpecError(
            f"quadtree {image_size},{leaf},{levels}: a {grid}x{grid} grid of {grid * grid:,} "
            f"leaves is more than the theory handles in minutes (at most {MAX_SKETCH_LEAVES:,}, "
            f"a {MAX_GRID}x{MAX_GRID} grid); use larger leaves, e.g. "
            f"{image_size},{image_size // g},{min(levels, 1 + _twos(g))}"
        )
    deepest = 1 + _twos(grid)  # the root may take any branching, each level below halves
    if levels > deepest:
        raise SpecError(
            f"{levels} latent levels do not fit a {grid}x{grid} leaf grid split in two at each "
            f"level below the root; use at most {deepest} levels"
        )
    dims = tuple(min(2 ** (lvl + 1), leaf * leaf * channels) for lvl in range(levels))
    name = f"quadtree_{image_size}_{leaf}_{levels}"
    return quadtree_spec(image_size, channels, leaf=leaf, dims=dims, name=name)


def _twos(n: int) -> int:
    """How many times 2 divides n."""
    count = 0
    while n % 2 == 0:
        n //= 2
        count += 1
    return count
