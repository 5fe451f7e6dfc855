"""Vectorised profiles agree with the one-mask theory on the very same masks."""

import json
import math

import numpy as np
import pytest

from maeid.hlvm import load_model, quadtree_spec
from maeid.hlvm.spec import GraphSpec, Node, SpecError
from maeid.theory import (
    TheoryProfile,
    cell_masks,
    default_patch_size,
    identify,
    identify_token_mask,
    theory_profile,
)


def per_mask_statistics(spec, identifications, levels):
    """The profile's numbers, computed one mask at a time with plain sets."""
    n = len(identifications)
    shared = np.array([[z in i.shared for z in spec.latents] for i in identifications]).mean(0)
    ident = np.array([[z in i.identified for z in spec.latents] for i in identifications]).mean(0)
    codes = np.array([i.code_dim for i in identifications])
    shares, lowest = [], np.zeros(len(levels))
    for i in identifications:
        lv = [spec[z].level for z in i.identified]
        shares.append([lv.count(level) / len(lv) for level in levels])
        lowest[levels.index(max(lv))] += 1 / n
    return shared, ident, codes, np.mean(shares, axis=0), lowest


def assert_cell_matches(spec, cell, identifications, levels):
    shared, ident, codes, share, lowest = per_mask_statistics(spec, identifications, levels)
    np.testing.assert_allclose(cell.p_shared, shared, atol=1e-12)
    np.testing.assert_allclose(cell.p_identified, ident, atol=1e-12)
    np.testing.assert_allclose(cell.c_level_share, share, atol=1e-9)
    np.testing.assert_allclose(cell.p_lowest_level, lowest, atol=1e-9)
    assert cell.code_dim["mean"] == pytest.approx(codes.mean())
    assert cell.code_dim["min"] == codes.min() and cell.code_dim["max"] == codes.max()
    assert sum(cell.code_dim["hist_counts"]) == len(codes)
    assert cell.code_dim["quantiles"]["0.5"] == pytest.approx(np.quantile(codes, 0.5))


@pytest.mark.parametrize("ratio,unit", [(0.5, 4), (0.75, 8), (0.25, 4), (0.9, 4)])
def test_qt32_profile_equals_per_mask_theory(qt32, ratio, unit):
    profile = theory_profile(qt32, [ratio], [unit], num_masks=150, seed=3)
    masks = cell_masks(qt32, ratio, unit, num_masks=150, seed=3)
    idents = [identify_token_mask(qt32, m, 4) for m in masks]
    assert_cell_matches(qt32, profile.cell(ratio, unit), idents, profile.levels)


def test_profile_with_split_leaves_equals_per_mask_theory():
    spec = quadtree_spec(32, 1, leaf=8, dims=(2, 4), name="qt32_leaf8")
    profile = theory_profile(spec, [0.5], [4], num_masks=150, seed=0, patch_size=4)
    masks = cell_masks(spec, 0.5, 4, num_masks=150, seed=0, patch_size=4)
    idents = [identify_token_mask(spec, m, 4) for m in masks]
    assert any(i.split for i in idents)  # the case this test is about
    assert_cell_matches(spec, profile.cell(0.5, 4), idents, profile.levels)


def test_profile_of_a_model_without_image(qt32):
    nodes = [Node("a", 2), Node("b", 3, ("a",)), Node("c", 3, ("a",))]
    nodes += [Node(f"x{i}", 4, (p,), observed=True) for i, p in enumerate("bbbccc")]
    spec = GraphSpec(tuple(nodes))
    profile = theory_profile(spec, [0.5], [1], num_masks=100, seed=0)
    masks = cell_masks(spec, 0.5, 1, num_masks=100, seed=0)
    idents = [identify(spec, {spec.observed[j] for j in np.flatnonzero(m.numpy())}) for m in masks]
    assert_cell_matches(spec, profile.cell(0.5, 1), idents, profile.levels)
    with pytest.raises(SpecError, match="the only unit is 1"):
        theory_profile(spec, [0.5], [2], num_masks=10)


def test_paper_regimes_on_qt32(qt32):
    profile = theory_profile(qt32, [0.25, 0.75], [4, 16], num_masks=500, seed=0)
    ideal = profile.cell(0.75, 16)
    assert ideal.p_c_within_level[0] == 1.0  # c = {root} for every mask
    assert ideal.code_dim["min"] == ideal.code_dim["max"] == 2
    assert ideal.p_identified[profile.latents.index("z0")] == 1.0
    for ratio in (0.25, 0.75):
        low = profile.cell(ratio, 4)
        assert low.c_level_share[profile.levels.index(2)] > 0.9
        assert low.p_level_identified[profile.levels.index(2)] == 1.0


def test_invalid_cells_are_flagged_not_raised(qt32, tmp_path):
    profile = theory_profile(qt32, [0.75, 0.9], [8, 16], num_masks=50, seed=0)
    bad = profile.cell(0.9, 16)  # 4 units, int(4 * 0.1) = 0 left visible
    assert not bad.valid and "no visible unit" in bad.reason
    assert np.isnan(bad.p_shared).all() and math.isnan(bad.p_c_empty)
    assert profile.cell(0.9, 8).valid and profile.cell(0.75, 16).valid
    path = tmp_path / "theory.json"
    profile.save(path)
    raw = json.loads(path.read_text())  # strict JSON: NaN written as null
    assert raw["cells"][3]["p_shared"][0] is None
    again = TheoryProfile.load(path)
    assert json.dumps(again.to_dict()) == json.dumps(profile.to_dict())
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_same_seed_same_profile(qt32):
    a = theory_profile(qt32, [0.5], [4], num_masks=200, seed=11).to_dict()
    b = theory_profile(qt32, [0.5], [4], num_masks=200, seed=11).to_dict()
    c = theory_profile(qt32, [0.5], [4], num_masks=200, seed=12).to_dict()
    assert a == b and a != c
    # a cell does not depend on which other cells were asked for
    d = theory_profile(qt32, [0.25, 0.5], [4, 8], num_masks=200, seed=11)
    assert d.cell(0.5, 4).to_dict() == a["cells"][0]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(ratios=[1.0], units=[4]), r"outside \(0, 1\)"),
        (dict(ratios=[0.5], units=[6]), "not a multiple of the 4 px patch"),
        (dict(ratios=[0.5], units=[12]), "does not tile"),
        (dict(ratios=[0.5], units=[4], num_masks=0), "at least one mask"),
        (dict(ratios=[0.5], units=[4], patch_size=5), "does not tile the 32x32 image"),
    ],
)
def test_bad_profile_requests_are_refused(qt32, kwargs, message):
    with pytest.raises(ValueError, match=message):
        theory_profile(qt32, **kwargs)


def test_default_patch_is_the_leaf_block(qt32):
    assert default_patch_size(qt32) == 4
    assert default_patch_size(load_model("qt224").spec) == 8
