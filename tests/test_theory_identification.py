"""S(m), c(m), d_c on the paper's examples and on qt32, and refusal of invalid masks."""

from collections import Counter

import networkx as nx
import pytest

from maeid.hlvm import quadtree_spec
from maeid.hlvm.spec import GraphSpec, Node, SpecError
from maeid.theory import (
    cell_masks,
    code_dim,
    identified_latents,
    identify,
    identify_token_mask,
    masked_nodes,
    masked_private_latents,
    shared_latents,
    visible_nodes,
    visible_private_latents,
)


def paper_example(rest_of_image: bool) -> GraphSpec:
    """docs/theory.md's `r -> u -> {u1, u2}`: u1 has one masked (x1) and one visible (x2) pixel,
    u2 has masked pixels only (x3, x4). With `rest_of_image`, r also has a branch
    v -> {x5, x6} of visible pixels: the rest of the image, outside u."""
    nodes = [
        Node("r", 1),
        Node("u", 2, ("r",)),
        Node("u1", 3, ("u",)),
        Node("u2", 3, ("u",)),
        *(Node(x, 4, (p,), observed=True) for x, p in [("x1", "u1"), ("x2", "u1")]),
        *(Node(x, 4, ("u2",), observed=True) for x in ["x3", "x4"]),
    ]
    if rest_of_image:
        nodes += [Node("v", 2, ("r",))]
        nodes += [Node(x, 3, ("v",), observed=True) for x in ["x5", "x6"]]
    return GraphSpec(tuple(nodes))


PAPER_MASK = {"x1", "x3", "x4"}


def minimal_latent_separator(spec: GraphSpec, masked) -> set[str]:
    visible = set(spec.observed) - set(masked)
    return nx.find_minimal_d_separator(
        spec.graph, set(masked), visible, restricted=set(spec.latents)
    )


def test_paper_example_c_is_u1_but_the_minimal_d_separator_is_u1_u2():
    spec = paper_example(rest_of_image=True)
    ident = identify(spec, PAPER_MASK)
    assert ident.shared == {"r", "u", "u1"}
    assert ident.identified == {"u1"}  # u1 determines u and r by invertibility
    assert ident.code_dim == 1 + 1 + 1  # noise dims of r, u, u1
    # The graph needs more: x3 <- u2 <- u <- r -> v -> x5 is open given {u1}.
    assert minimal_latent_separator(spec, PAPER_MASK) == {"u1", "u2"}
    visible = set(spec.observed) - PAPER_MASK
    assert not nx.is_d_separator(spec.graph, PAPER_MASK, visible, ident.identified)
    assert nx.is_d_separator(spec.graph, PAPER_MASK, visible, ident.shared)  # S does, in a tree
    assert ident.masked_private == {"u2"} and ident.visible_private == {"v"}


def test_paper_example_without_other_visible_pixels_has_no_gap():
    # Taken literally (x2 the only visible pixel), u1 alone blocks every path: the gap
    # between c and a d-separator needs visible pixels outside u1's subtree.
    spec = paper_example(rest_of_image=False)
    assert identified_latents(spec, PAPER_MASK) == {"u1"}
    assert minimal_latent_separator(spec, PAPER_MASK) == {"u1"}


def test_qt32_two_neighbouring_leaves(qt32):
    masked = {"x_0_0", "x_0_1"}  # both under z2_0_0, which has two visible leaves too
    assert shared_latents(qt32, masked) == {"z0", "z1_0_0", "z2_0_0"}
    assert identified_latents(qt32, masked) == {"z2_0_0"}
    assert code_dim(qt32, masked) == 2 + 2 + 4
    assert masked_private_latents(qt32, masked) == set()
    assert len(visible_private_latents(qt32, masked)) == 3 + 15


def test_qt32_whole_subtree_masked(qt32):
    masked = {f"x_{r}_{c}" for r in range(4) for c in range(4)}  # the quadrant of z1_0_0
    ident = identify(qt32, masked)
    assert ident.identified == {"z0"} and ident.code_dim == 2
    assert ident.masked_private == {"z1_0_0"} | {f"z2_{r}_{c}" for r in range(2) for c in range(2)}


def test_parts_partition_the_latents(qt32):
    ident = identify(qt32, {"x_0_0", "x_5_7", "x_6_6", "x_7_7", "x_7_6"})
    parts = [ident.shared, ident.masked_private, ident.visible_private]
    assert sum(map(len, parts)) == len(qt32.latents)
    assert frozenset().union(*parts) == set(qt32.latents)


def test_qt32_unit_16_ratio_075_identifies_the_root_alone(qt32):
    masks = cell_masks(qt32, 0.75, 16, num_masks=300, seed=0)
    for mask in masks:
        ident = identify_token_mask(qt32, mask, patch_size=4)
        assert ident.identified == {"z0"}
        assert ident.code_dim == 2
        assert len(ident.masked) == 48


@pytest.mark.parametrize("ratio", [0.25, 0.75])
def test_qt32_unit_4_identifies_mostly_level_2(qt32, ratio):
    levels = Counter()
    for mask in cell_masks(qt32, ratio, 4, num_masks=300, seed=1):
        levels.update(qt32[z].level for z in identify_token_mask(qt32, mask, 4).identified)
    assert levels[2] > 0.9 * sum(levels.values())
    assert levels[0] == 0  # c = {root} would need whole quadrants masked: not in these masks


@pytest.mark.parametrize(
    "masked,message",
    [
        ({"x_0_0", "x_99_0"}, "unknown nodes"),
        ({"z0"}, "latent nodes"),
        (set(), "mask is empty"),
        ("x_0_0", "is a string"),
    ],
)
def test_invalid_masks_are_refused(qt32, masked, message):
    for fn in (identify, shared_latents, identified_latents, code_dim):
        with pytest.raises(SpecError, match=message):
            fn(qt32, masked)


def test_all_masked_is_refused(qt32):
    with pytest.raises(SpecError, match="hides all 64 observed nodes"):
        identify(qt32, qt32.observed)


def test_explicit_visible_side_must_cover_the_rest(qt32):
    with pytest.raises(SpecError, match="neither masked nor visible"):
        identify(qt32, {"x_0_0"}, visible={"x_0_1"})


# ------------------------------------------------------------------ token masks
@pytest.fixture(scope="module")
def coarse_leaves() -> GraphSpec:
    """32x32, leaves of 8x8 pixels: with a 4-pixel patch each leaf is 2x2 tokens."""
    return quadtree_spec(32, 1, leaf=8, dims=(2, 4), name="qt32_leaf8")


def tokens_of_leaf(r: int, c: int) -> list[int]:  # 8x8 token grid, leaf = 2x2 tokens
    return [(2 * r + i) * 8 + 2 * c + j for i in range(2) for j in range(2)]


def test_token_mask_maps_to_observed_nodes(qt32):
    mask = [0.0] * 64
    for t in (0, 9, 63):  # one token per leaf with patch 4
        mask[t] = 1.0
    assert masked_nodes(qt32, mask, 4) == {"x_0_0", "x_1_1", "x_7_7"}
    assert visible_nodes(qt32, mask, 4) == set(qt32.observed) - {"x_0_0", "x_1_1", "x_7_7"}
    # a patch of 8 covers four leaves per token
    mask16 = [1.0] + [0.0] * 15
    assert masked_nodes(qt32, mask16, 8) == {"x_0_0", "x_0_1", "x_1_0", "x_1_1"}


def test_split_leaf_counts_on_both_sides(coarse_leaves):
    # Hide every token of z1_0_0's quadrant (leaves x_0_0, x_0_1, x_1_0, x_1_1) except one
    # token of x_0_0: the visible pixel of x_0_0 still reveals z1_0_0, so it is shared.
    mask = [0.0] * 64
    for leaf in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        for t in tokens_of_leaf(*leaf):
            mask[t] = 1.0
    mask[0] = 0.0
    ident = identify_token_mask(coarse_leaves, mask, patch_size=4)
    assert ident.split == {"x_0_0"}
    assert ident.identified == {"z1_0_0"}
    # Had x_0_0 counted as masked only, z1_0_0 would look private to the masked side.
    naive = identify(coarse_leaves, masked_nodes(coarse_leaves, mask, 4))
    assert naive.identified == {"z0"} and "z1_0_0" in naive.masked_private


@pytest.mark.parametrize(
    "mask,patch,message",
    [
        ([0.0] * 63, 4, r"expected \(N, 64\)"),
        ([0.5] * 64, 4, "only 0"),
        ([0.0] * 64, 5, "does not tile"),
        ([[0.0] * 8] * 8, 4, "must be 1-D"),
    ],
)
def test_invalid_token_masks_are_refused(qt32, mask, patch, message):
    with pytest.raises(SpecError, match=message):
        masked_nodes(qt32, mask, patch)


def test_token_masks_need_an_image_model():
    with pytest.raises(SpecError, match="not an image model"):
        masked_nodes(paper_example(True), [1.0, 0.0], 1)
