"""The second-order information profile (`maeid.theory.gaussian_information`)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from maeid.data.image_set import open_image_set, read_images
from maeid.theory.gaussian_information import (
    ConfinedLoss,
    PixelCovariance,
    cell_generator,
    default_target_scale,
    gaussian_profile,
    pixel_masks,
    scale_chain,
    tiling_units,
)

SIDE = 16


def covariance(
    matrix: np.ndarray, channels: int = 1, means: np.ndarray | None = None
) -> PixelCovariance:
    side = int(round((matrix.shape[0] / channels) ** 0.5))
    return PixelCovariance(matrix, channels, side, 0.0, 0, means)


def sample(cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    factor = np.linalg.cholesky(cov)
    noise = np.random.default_rng(seed).standard_normal((n, len(cov)))
    return (noise @ factor.T).reshape(n, 1, SIDE, SIDE)


def positions(side: int = SIDE) -> np.ndarray:
    yy, xx = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    return np.stack([yy.ravel(), xx.ravel()], 1)


def test_conditional_variance_matches_the_equicorrelated_closed_form():
    # Unit variances, correlation rho between every pair: a value's variance given k
    # others is 1 - k rho^2 / (1 + (k - 1) rho). Masks with 1 and with 15 masked values
    # take the precision and the covariance route respectively.
    rho, side = 0.3, 4
    d = side * side
    solver = ConfinedLoss(covariance((1 - rho) * np.eye(d) + rho * np.ones((d, d))))

    def given(k: int) -> float:
        return 1 - k * rho**2 / (1 + (k - 1) * rho)

    rng = np.random.default_rng(0)
    masks = np.zeros((4, d), dtype=bool)
    for row, count in enumerate((1, 5, 11, 15)):
        masks[row, rng.choice(d, count, replace=False)] = True
    whole = solver(masks, side)
    np.testing.assert_allclose(whole, [given(d - c) for c in (1, 5, 11, 15)], rtol=1e-12)
    # Confined to 2x2 blocks: each masked value sees only its block's visible values.
    blocks = positions(side) // 2
    block_id = blocks[:, 0] * 2 + blocks[:, 1]
    expected = []
    for mask in masks:
        visible_in_block = [4 - mask[block_id == block_id[i]].sum() for i in np.flatnonzero(mask)]
        expected.append(np.mean([given(k) for k in visible_in_block]))
    np.testing.assert_allclose(solver(masks, 2), expected, rtol=1e-12)
    assert np.allclose(solver(masks, 1), 1.0)  # a 1-px block holds nothing visible


def test_whole_image_confinement_is_the_unconfined_gaussian_loss():
    # Two channels of different scale and pixel means: each masked value is weighted by
    # 1 / its channel's variance pooled over the image (within pixels + between means).
    rng = np.random.default_rng(1)
    side, channels = 4, 2
    d = channels * side * side
    a = rng.standard_normal((d, 3 * d))
    matrix = a @ a.T / (3 * d) + 0.1 * np.eye(d)
    matrix[: d // 2] *= 3.0
    matrix[:, : d // 2] *= 3.0
    means = rng.standard_normal(d)
    solver = ConfinedLoss(covariance(matrix, channels, means))
    masks = pixel_masks(0.5, 2, side, channels, 6, torch.Generator().manual_seed(0))
    assert masks[:, : d // 2].tolist() == masks[:, d // 2 :].tolist()  # channels go together
    within = np.diag(matrix).reshape(channels, -1).mean(1)
    pooled = (within + means.reshape(channels, -1).var(1)).repeat(side * side)
    expected = []
    for m in masks:
        v = ~m
        conditional = matrix[np.ix_(m, m)] - matrix[np.ix_(m, v)] @ np.linalg.solve(
            matrix[np.ix_(v, v)], matrix[np.ix_(v, m)]
        )
        expected.append(np.mean(np.diag(conditional) / pooled[m]))
    np.testing.assert_allclose(solver(masks, side), expected, rtol=1e-10)


def block_field(block: int, noise: float = 0.5) -> np.ndarray:
    """A constant per block x block square plus independent pixel noise."""
    b = positions() // block
    same = (b[:, None] == b[None]).all(-1)
    return same.astype(float) + noise * np.eye(SIDE * SIDE)


def periodic_field(period: int, noise: float = 0.5) -> np.ndarray:
    """A stationary field on the torus: an iid pattern repeated every `period` pixels."""
    p = positions() % period
    same = (p[:, None] == p[None]).all(-1)
    return same.astype(float) + noise * np.eye(SIDE * SIDE)


def test_value_lands_at_the_scale_of_the_correlation():
    # Exact covariances: a field constant on 4-px blocks gives no value beyond 4 px; one
    # that repeats every 8 px gives all its value from beyond the 8-px block (the copies of
    # a pixel sit 8 px away, in the next 8-px block of its 16-px block).
    masks = pixel_masks(0.5, 2, SIDE, 1, 32, torch.Generator().manual_seed(0))
    blocky = ConfinedLoss(covariance(block_field(4)))
    losses = {s: blocky(masks, s) for s in (16, 8, 4, 2)}
    np.testing.assert_allclose(losses[4], losses[16], atol=1e-12)
    assert (losses[2] - losses[4]).mean() > 0.2
    periodic = ConfinedLoss(covariance(periodic_field(8)))
    losses = {s: periodic(masks, s) for s in (16, 8, 2)}
    np.testing.assert_allclose(losses[8], losses[2], atol=1e-12)
    assert (losses[8] - losses[16]).mean() > 0.3


def test_the_profile_of_sampled_fields_finds_their_scale():
    # The same from seeded samples, through the estimate: value beyond the block side of a
    # 4-px block field is small (the estimate's own noise), and a period-8 field puts
    # nearly all of its value at '>8'.
    kw = dict(ratios=(0.5,), units=(2,), num_masks=16, bootstrap=0)
    blocky = gaussian_profile(sample(block_field(4), 3000, 0), target_scale=4, **kw).cells[0]
    periodic = gaussian_profile(sample(periodic_field(8), 3000, 1), target_scale=8, **kw).cells[0]
    assert blocky.scales == [16, 8, 4, 2] and periodic.scales == [16, 8, 4, 2]
    assert blocky.beyond_target_share.mean < 0.05
    assert blocky.value_share[2].mean > 0.95
    assert periodic.value_share[8].mean > 0.9 and periodic.beyond_target_share.mean > 0.9
    shares = sum(e.mean for e in periodic.value_share.values())
    assert shares == pytest.approx(1.0, abs=1e-9)  # the V telescope to plateau - Bayes


def test_values_are_non_negative_and_the_numbers_are_seeded():
    field = np.exp(-np.sqrt(((positions()[:, None] - positions()[None]) ** 2).sum(-1)) / 2.0)
    images = sample(field + 1e-6 * np.eye(SIDE * SIDE), 1500, 2)
    kw = dict(ratios=(0.25, 0.75), units=(2, 4), num_masks=12, bootstrap=2, bootstrap_masks=4)
    profile = gaussian_profile(images, seed=3, **kw)
    assert profile.target_scale == default_target_scale(SIDE) == 4
    assert [c.rank for c in profile.ranked] == [1, 2, 3, 4]
    for cell in profile.ranked:
        assert cell.bayes.mean < cell.plateau.mean
        assert abs(cell.plateau.mean - 1.0) < 0.1
        for e in cell.value.values():
            assert e.mean >= -2 * e.se and e.se_masks >= 0 and e.se_images >= 0
        losses = [cell.loss[s].mean for s in cell.scales]
        assert losses == sorted(losses)  # evidence cut at smaller blocks only adds loss
    shares = [c.beyond_target_share.mean for c in profile.ranked]
    assert shares == sorted(shares, reverse=True)
    again = gaussian_profile(images, seed=3, **kw)
    other = gaussian_profile(images, seed=4, **kw)
    assert again.to_dict() == profile.to_dict()
    assert other.to_dict()["cells"] != profile.to_dict()["cells"]


def test_masks_are_the_samplers_and_cells_have_their_own_stream():
    a = pixel_masks(0.75, 4, 16, 1, 5, cell_generator(0, 0.75, 4))
    b = pixel_masks(0.75, 4, 16, 1, 5, cell_generator(0, 0.75, 4))
    assert (a == b).all() and (a.sum(1) == 12 * 16).all()  # 12 of 16 units, 16 px each
    assert not (a == pixel_masks(0.75, 4, 16, 1, 5, cell_generator(0, 0.5, 4))).all()


def test_scales_units_and_the_impossible_cell():
    assert scale_chain(32, 2) == [32, 16, 8, 4, 2]
    assert scale_chain(28, 2) == [28, 14, 7, 2] and scale_chain(28, 7) == [28, 14, 7]
    assert scale_chain(27, 3) == [27, 9, 3]
    assert tiling_units(28) == [2, 4, 7, 14] and tiling_units(32) == [2, 4, 8, 16]
    images = sample(block_field(8), 200, 0)
    profile = gaussian_profile(images, ratios=(0.9,), units=(8,), num_masks=4, bootstrap=0)
    (cell,) = profile.impossible
    assert "no visible unit" in cell.reason and cell.to_dict()["rank"] is None
    with pytest.raises(ValueError, match="use one of 2, 4, 8"):
        gaussian_profile(images, units=(3,), num_masks=4, bootstrap=0)
    with pytest.raises(ValueError, match="target scale 5 px"):
        gaussian_profile(images, target_scale=5, num_masks=4, bootstrap=0)


def test_a_folder_is_read_and_area_downsampled(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 6, 8), dtype=np.uint8)  # 8 wide, 6 high
    for i, p in enumerate(pixels):
        Image.fromarray(p, mode="L").save(tmp_path / f"{i}.png")
    (tmp_path / "labels.csv").write_text("not an image\n")
    image_set = open_image_set(str(tmp_path))
    assert (image_set.count, image_set.channels, image_set.native_side) == (3, 1, 6)
    assert image_set.skipped == 1
    full = read_images(image_set, np.arange(3), 6)
    np.testing.assert_array_equal(full[:, 0], pixels[:, :, 1:7])  # the centre square
    half = read_images(image_set, np.arange(3), 3)
    box = full[:, 0].reshape(3, 3, 2, 3, 2).mean((2, 4))
    np.testing.assert_allclose(half[:, 0], box, rtol=1e-5)


def test_losses_are_in_the_mae_units_of_standardised_images():
    # Pixel means that vary over the image (a bright centre) hold part of the channel's
    # variance: predicting each masked pixel by its own mean leaves only the rest.
    centre = np.exp(-(((positions() - SIDE / 2 + 0.5) ** 2).sum(1)) / 20.0)
    images = sample(block_field(4), 2000, 3) + 3.0 * centre.reshape(1, 1, SIDE, SIDE)
    cell = gaussian_profile(images, ratios=(0.5,), units=(4,), num_masks=32, bootstrap=0).cells[0]
    flat = images.reshape(len(images), -1)
    within = flat.var(0).mean() / flat.var()
    assert within < 0.8
    assert abs(cell.plateau.mean - within) < 3 * cell.plateau.se + 1e-3


def test_the_command_prints_the_profile_and_writes_it(tmp_path, capsys):
    from maeid.cli import main

    images = sample(block_field(4), 2000, 4).astype(np.float32)  # no value beyond 4 px
    np.savez(tmp_path / "set.npz", images=images)
    argv = ["advise", "--data", str(tmp_path / "set.npz"), "--ratios", "0.5,0.9", "--units",
            "2,8", "--target-scale", "8", "--masks", "8", "--bootstrap", "2"]  # fmt: skip
    assert main([*argv, "--json", "--out", str(tmp_path / "out")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "out" / "advice_data.json").read_text())
    assert (tmp_path / "out" / "advice_data.png").stat().st_size > 0
    assert printed["side"] == 16 and printed["target_scale"] == 8 and "linear" in printed["note"]
    ranked = [c for c in printed["cells"] if c["possible"]]
    assert [c["rank"] for c in ranked] == [1, 2, 3]
    assert (ranked[0]["ratio"], ranked[0]["unit"]) == (0.5, 8)  # all its value lies beyond 8
    assert all(c["beyond_target_share"]["mean"] < 0.15 for c in ranked[1:])  # estimate only
    assert printed["cells"][-1]["reason"].startswith("masking ratio 0.9 leaves no visible")
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "second-order (Gaussian)" in text and "best: ratio 0.5, unit 8 px" in text
    assert "impossible, not ranked:\n  ratio 0.9 x unit 8" in text
