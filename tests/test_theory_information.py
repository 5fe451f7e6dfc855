"""Information per level: the Bayes masked loss with the evidence confined to each level's
blocks, against brute-force enumeration, the existing Bayes losses, and its own identities."""

import itertools
import json

import numpy as np
import pytest

from maeid.cli import main
from maeid.hlvm import load_model
from maeid.hlvm.texture import signature_components
from maeid.theory import exact_limits
from maeid.theory.belief_propagation import (
    cell_loss_limits,
    masked_mse,
    pixel_variance,
    visible_pixels,
)
from maeid.theory.exact_limits import _nested
from maeid.theory.information import (
    LevelInformation,
    _tree_rows,
    cell_information,
    confined_losses,
    level_information,
)
from maeid.theory.profile import cell_masks

# Two levels of rules over a 4x4 grid of 2x2 patches: 2 x m0 x m1^4 trees to enumerate.
TINY = "rhm32:levels=2,patch=2,v=3,m=2,n_classes=2,sigma=0.5"
TINY_TEXTURE = "rhm32:levels=2,patch=2,v=3,m=3/2,n_classes=2,sigma=0.4,p_texture=0.6,texture=0.5"
DEEP = "rhm32:m=32/4/2"  # the benchmark's model


def enumerated_losses(model, images, visible):
    """(N, 3) L_0, L_1, L_2 by enumerating every (class, rules, signature) configuration:
    for each block, the configurations weighed by the likelihood of its visible pixels."""
    rules, k = model.rules, model.knobs
    m0, m1 = rules[0].shape[1], rules[1].shape[1]
    offsets, joint = signature_components(model)  # (K, 4), (K, classes): P(component, class)
    tiles = model.patches[:, 0].astype(np.float64)  # (v, 2, 2)
    renders, priors = [], []
    for root, r0, *r1 in itertools.product(range(k.n_classes), range(m0), *[range(m1)] * 4):
        kids = rules[0][root, r0]
        leaves = np.zeros((4, 4), dtype=int)
        for j, (r, c) in enumerate(itertools.product(range(2), range(2))):
            leaves[2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = rules[1][kids[j], r1[j]].reshape(2, 2)
        plain = tiles[leaves].transpose(0, 2, 1, 3).reshape(8, 8)
        for comp, offset in enumerate(offsets):
            if joint[comp, root] > 0:
                renders.append(plain + np.tile(offset.reshape(2, 2), (4, 4)))
                priors.append(joint[comp, root])
    renders, log_prior = np.stack(renders), np.log(np.array(priors))
    var = pixel_variance(model)
    out = np.zeros((len(images), 3))
    for i, (x, seen) in enumerate(zip(images[:, 0].astype(np.float64), visible, strict=True)):
        for level in range(3):
            side = 8 >> level  # block side in pixels
            errors = []
            for r0, c0 in itertools.product(range(0, 8, side), range(0, 8, side)):
                block = np.zeros((8, 8), dtype=bool)
                block[r0 : r0 + side, c0 : c0 + side] = True
                evidence = seen & block
                loglik = -(((x - renders) ** 2) * evidence).sum((1, 2)) / (2 * k.sigma**2)
                w = np.exp(log_prior + loglik - (log_prior + loglik).max())
                w /= w.sum()
                mean = np.einsum("t,tij->ij", w, renders)
                spread = np.einsum("t,tij->ij", w, renders**2) - mean**2
                errors.append(spread[block & ~seen])
            out[i, level] = (np.concatenate(errors).mean() + k.sigma**2) / var
    return out


def random_visible(n, grid, patch, seed, tokens_per_side=1):
    """(n, H, W) visible pixels of random token masks, each hiding at least one token."""
    rng = np.random.default_rng(seed)
    side = grid // tokens_per_side
    masks = rng.random((n, side * side)) < 0.6
    masks[:, 0] = True
    return visible_pixels(masks.astype(float), patch * tokens_per_side, (grid * patch,) * 2)


@pytest.mark.parametrize("name", [TINY, TINY_TEXTURE])
@pytest.mark.parametrize("tokens_per_side", [1, 2])
def test_confined_losses_match_enumeration(name, tokens_per_side):
    model = load_model(name, seed=3)
    sample = model.sample(6, seed=11)
    seen = random_visible(6, 4, 2, seed=5, tokens_per_side=tokens_per_side)
    got = confined_losses(model, sample.images, seen)
    np.testing.assert_allclose(got, enumerated_losses(model, sample.images, seen), rtol=1e-9)
    # Not a degenerate check: cutting the class's channel costs something. A token of 2x2
    # patches is a whole level-1 block, so then cutting level 1 costs nothing, exactly.
    gain = np.diff(got, axis=1).mean(0)
    assert gain[0] > 1e-3
    if tokens_per_side == 1:
        assert gain[1] > 1e-3
    else:
        np.testing.assert_allclose(got[:, 2], got[:, 1], rtol=1e-12)


@pytest.mark.parametrize("name", [DEEP, TINY_TEXTURE, "rhm32:sigma=0,m=4"])
def test_no_cut_is_bp_bayes_and_the_leaf_level_is_the_plateau(name):
    model = load_model(name, seed=1)
    patch = model.knobs.patch
    masks = cell_masks(model.spec, 0.6, 2 * patch, 12, seed=4)
    sample = model.sample(12, seed=7)
    seen = visible_pixels(masks, patch, sample.images.shape[2:])
    got = confined_losses(model, sample.images, seen)
    for i in range(0, 12, 3):  # image by image: masked_mse pools over its batch
        ref = masked_mse(model, sample.images[i : i + 1], seen[i : i + 1])
        assert got[i, 0] == pytest.approx(ref.bayes, rel=1e-10)
        assert got[i, -1] == pytest.approx(ref.plateau, rel=1e-10)


def test_a_cell_is_the_bp_cell_loss_limits_and_telescopes():
    model = load_model(DEEP)
    info = cell_information(model, 0.75, 4, num_images=256, seed=2)
    ref = cell_loss_limits(model, 0.75, 4, num_masks=256, seed=2)
    assert info.bayes.value == pytest.approx(ref.bayes.value, rel=1e-12)
    assert info.plateau.value == pytest.approx(ref.plateau.value, rel=1e-12)
    gap = info.plateau.value - info.bayes.value
    assert sum(info.value.values()) == pytest.approx(gap, rel=1e-10)
    assert sum(info.share.values()) == pytest.approx(1.0, rel=1e-10)
    assert info.levels == [0, 1, 2]
    for level in info.levels:
        assert info.value[level] >= -3 * info.se[level]
        assert 0 < info.se[level] < 0.01 and 0 < info.share_se[level] < 0.03
    # At ratio 0.75 with 4 px units every level carries some of the objective's information.
    assert min(info.value.values()) > 10 * max(info.se.values())


def test_a_unit_aligned_with_a_level_leaves_nothing_below_it():
    """With 8 px units every 8x8 block is wholly masked or wholly seen: cutting the
    channel through level 2 costs nothing."""
    info = cell_information(load_model(DEEP), 0.5, 8, num_images=64, seed=0)
    assert info.value[2] == 0.0 and info.se[2] == 0.0
    assert info.value[0] > 0 and info.value[1] > 0


def test_same_seed_same_numbers_other_seed_other_numbers():
    model = load_model(TINY_TEXTURE, seed=2)
    a = cell_information(model, 0.5, 2, num_images=40, seed=5).to_dict()
    assert a == cell_information(model, 0.5, 2, num_images=40, seed=5).to_dict()
    assert a != cell_information(model, 0.5, 2, num_images=40, seed=6).to_dict()


def test_one_mask_for_many_images_and_the_json_round_trip():
    model = load_model(TINY, seed=1)
    mask = np.zeros(16)
    mask[:8] = 1  # the top half of the image
    images = model.sample(30, seed=1).images
    info = level_information(model, mask, images=images)
    many = level_information(model, np.tile(mask, (30, 1)), images=images)
    assert info.to_dict() == many.to_dict() and info.num_images == 30
    # The top half is two whole level-1 blocks: only the class links them to the rest.
    assert info.value[1] == 0.0 and info.value[0] > 0
    again = LevelInformation.from_dict(json.loads(json.dumps(info.to_dict())))
    assert again == info


def test_qt32_ends_are_the_exact_limits_and_values_are_nonnegative():
    model = load_model("qt32")
    info = cell_information(model, 0.75, 8, num_images=48, seed=1, inner=8, var_draws=1024)
    ref = exact_limits.cell_loss_limits(model, 0.75, 8, 48, seed=1, inner=8, var_draws=1024)
    for ours, theirs in ((info.bayes, ref.bayes), (info.plateau, ref.plateau)):
        assert ours.value == theirs.value and ours.se == pytest.approx(theirs.se, rel=1e-12)
    gap = info.plateau.value - info.bayes.value
    assert sum(info.value.values()) == pytest.approx(gap, rel=1e-10)
    assert info.value[2] == 0.0  # 8 px units: the level-2 blocks are whole
    for level in (0, 1):
        assert info.value[level] >= -3 * info.se[level]
    assert info.value[1] > 5 * info.se[1]


@pytest.mark.parametrize(("unit", "level"), [(8, 1), (4, 2)])
def test_qt32_shortcut_equals_resampling_each_block_on_its_own(unit, level):
    """For an invertible tree, a masked patch whose block holds a visible patch may use
    the unconstrained posterior; check against nested resampling that holds, block by
    block, only the latent ancestors of the block's own visible patches."""
    model = load_model("qt32")
    spec = model.spec
    masks = cell_masks(spec, 0.75, unit, 48, seed=3)
    shortcut = _tree_rows(model, masks.numpy(), None, 0, 16, 4096)
    masked, visible = exact_limits._sides(spec, masks, None)
    masked, visible = masked.numpy(), visible.numpy()
    latents, observed = list(spec.latents), list(spec.observed)
    ancestors = {x: _ancestors(spec, x) for x in observed}
    owner = [next(a for a in ancestors[x] if spec[a].level == level) for x in observed]
    rows_held, rows_masked = [], []
    for r in range(len(masks)):
        for block in sorted(set(owner)):
            inside = np.array([o == block for o in owner])
            held = set().union(*(ancestors[x] for x, v in zip(observed, visible[r] & inside,
                                                               strict=True) if v))  # fmt: skip
            rows_held.append([z in held for z in latents])
            rows_masked.append(masked[r] & inside)
    held = np.array(rows_held)
    rng = np.random.default_rng(9)
    nested = _nested(model, {z: held[:, i] for i, z in enumerate(latents)}, observed, 16, rng)
    reference = model.generate(model.draw_noise(4096, rng), only=observed)
    var = np.concatenate([reference[x] for x in observed], 1).var()  # one channel, pooled
    per_block = np.array(rows_masked) * np.stack(
        [nested[x].var(axis=1, ddof=1).sum(1) / var for x in observed], 1
    )
    count = masked.sum(1) * 16
    brute = per_block.sum(1).reshape(len(masks), -1).sum(1) / count
    ours = shortcut.losses[:, level]
    # Same masks row by row, independent draws: the paired difference's spread.
    diff = brute.mean() - ours.mean()
    se = (brute - ours).std(ddof=1) / np.sqrt(len(masks))
    assert abs(diff) < 4 * se
    # and the check can tell: the cut at this level moves the loss by many se
    assert shortcut.losses[:, level].mean() - shortcut.losses[:, level - 1].mean() > 8 * se


def _ancestors(spec, name):
    out, node = set(), spec[name]
    while node.parents:
        node = spec[node.parents[0]]
        out.add(node.name)
    return out


# ------------------------------------------------------------------------ bad input
DIAMOND = """\
nodes:
  r:  {dim: 1}
  a:  {dim: 2, parents: [r]}
  b:  {dim: 2, parents: [r]}
  x1: {dim: 5, parents: [a, b], observed: true}
  x2: {dim: 3, parents: [a], observed: true}
"""


def test_bad_inputs_are_refused_with_the_fix(tmp_path):
    rhm = load_model(TINY)
    with pytest.raises(ValueError, match="masking ratio 1.2 is outside"):
        cell_information(rhm, 1.2, 2, num_images=8)
    with pytest.raises(ValueError, match="masking unit 3 px is not a multiple"):
        cell_information(rhm, 0.5, 3, num_images=8)
    with pytest.raises(ValueError, match="leaves no visible unit"):
        cell_information(rhm, 0.9, 4, num_images=8)
    with pytest.raises(ValueError, match="num_images=1: at least 2"):
        cell_information(rhm, 0.5, 2, num_images=1)
    with pytest.raises(ValueError, match="multiple of the leaf patch"):
        cell_information(load_model("rhm32:patch=4,size=16"), 0.5, 2, num_images=8, patch_size=2)
    with pytest.raises(ValueError, match="leave them out"):
        cell_information(rhm, 0.5, 2, num_images=8, inner=4)
    with pytest.raises(ValueError, match="hides no pixel"):
        level_information(rhm, np.zeros(16), num_images=4)
    with pytest.raises(ValueError, match="4 images for 3 masks"):
        level_information(rhm, np.ones((3, 16)), images=rhm.sample(4).images)
    qt = load_model("qt32")
    with pytest.raises(ValueError, match="pass images=None"):
        level_information(qt, np.ones(64), images=np.zeros((2, 1, 32, 32)))
    with pytest.raises(ValueError, match="with its mechanisms"):
        cell_information(qt.spec, 0.5, 4)
    path = tmp_path / "diamond.yaml"
    path.write_text(DIAMOND)
    with pytest.raises(ValueError, match="x1 has 2 parents; information per level needs a tree"):
        cell_information(load_model(str(path)), 0.5, 1, num_images=8)


# ------------------------------------------------------------------------------ CLI
def test_theory_information_json_and_table(tmp_path, capsys):
    argv = ["theory", "--model", TINY, "--ratios", "0.5,0.9", "--units", "2,8", "--masks", "50"]
    argv += ["--seed", "3"]
    assert main([*argv, "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert all("information" not in c for c in plain["cells"])  # unchanged without the flag
    assert main([*argv, "--information", "--images", "40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    cells = {(c["ratio"], c["unit"]): c for c in out["cells"]}
    assert cells[(0.9, 8)]["information"] is None  # nothing left visible
    info = cells[(0.5, 2)]["information"]
    ref = cell_information(load_model(TINY), 0.5, 2, num_images=40, seed=3).to_dict()
    assert info == json.loads(json.dumps(ref))
    assert set(info["value"]) == {"0", "1"} and set(info["share"]) == {"value", "se"}
    # The rest is the plain output, number for number.
    assert [{k: v for k, v in c.items() if k != "information"} for c in out["cells"]] == plain[
        "cells"
    ]
    assert main([*argv, "--information", "--images", "40", "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "information per level" in text and "V_0" in text and "plateau" in text
    saved = json.loads((tmp_path / "o" / "information.json").read_text())
    assert saved["images"] == 40 and len(saved["cells"]) == 4


def test_advise_ranks_by_the_information_share(capsys):
    argv = ["advise", "--model", "rhm32:m=32/4/2", "--target-level", "0", "--masks", "100"]
    assert main([*argv, "--ratios", "0.25,0.5,0.75", "--units", "4,8", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert all("information" not in c for c in plain["cells"])
    extra = ["--ratios", "0.25,0.5,0.75", "--units", "4,8", "--images", "64"]
    assert main([*argv, *extra, "--rank-by", "information", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rank_by"] == "information" and "share of the reducible" in out["rule"]
    shares = [c["information_share"] for c in out["cells"]]
    assert shares == sorted(shares, reverse=True) and shares[0] > shares[-1]
    assert main([*argv, *extra, "--rank-by", "information"]) == 0
    text = capsys.readouterr().out
    assert "info≤L0" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["theory", "--information", "--images", "1"], "--images 1"),
        (["theory", "--model", "{diamond}", "--information", "--units", "1"], "needs a tree"),
        (
            ["advise", "--target-level", "0", "--rank-by", "information", "--images", "0"],
            "--images 0",
        ),  # fmt: skip
    ],
)
def test_cli_bad_information_input_is_one_line(tmp_path, capsys, argv, message):
    path = tmp_path / "diamond.yaml"
    path.write_text(DIAMOND)
    argv = [a.replace("{diamond}", str(path)) for a in argv]
    assert main([*argv, "--masks", "10", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()
