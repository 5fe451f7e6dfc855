"""The one mask sampler: exact counts, k x k units, reproducibility, clear errors."""

import pytest
import torch

from maeid.theory.masking import MaskLayout, masks_from_noise, sample_masks, sample_noise

RATIOS = (0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9)


@pytest.mark.parametrize("unit", [1, 2, 4])
@pytest.mark.parametrize("ratio", RATIOS)
def test_exact_number_of_masked_units(ratio, unit):
    layout = MaskLayout(8, 8, unit)
    units = layout.num_units
    keep = int(units * (1 - ratio))  # the reference MAE's len_keep, counted in units
    if not 0 < keep < units:
        with pytest.raises(ValueError):
            layout.num_kept_units(ratio)
        return
    batch = sample_masks(64, layout, ratio, torch.Generator().manual_seed(1))
    masked_tokens = batch.mask.sum(dim=1)
    assert torch.all(masked_tokens == (units - keep) * unit * unit)
    assert batch.num_visible == keep * unit * unit
    assert batch.ids_keep.shape == (64, keep * unit * unit)


@pytest.mark.parametrize("grid,unit", [((8, 8), 2), ((8, 8), 4), ((28, 28), 7), ((6, 9), 3)])
def test_units_tile_the_grid_in_k_by_k_blocks(grid, unit):
    layout = MaskLayout(*grid, unit)
    tokens = layout.unit_tokens
    assert sorted(tokens.flatten().tolist()) == list(range(layout.num_tokens))  # a partition
    rows, cols = tokens // grid[1], tokens % grid[1]
    for r, c in zip(rows, cols, strict=True):  # each unit is a k x k square of tokens
        assert r.max() - r.min() == unit - 1 and c.max() - c.min() == unit - 1
        assert len(set(zip(r.tolist(), c.tolist(), strict=True))) == unit * unit
    mask = sample_masks(16, layout, 0.5, torch.Generator().manual_seed(0)).mask
    per_unit = mask[:, tokens]  # (N, units, k*k): a unit is masked as a whole
    assert torch.all(per_unit == per_unit[:, :, :1])


def test_unit_one_keeps_the_tokens_with_the_smallest_noise():
    layout = MaskLayout(4, 4, 1)
    noise = sample_noise(32, layout, torch.Generator().manual_seed(3))
    batch = masks_from_noise(noise, layout, 0.75)
    keep = int(16 * 0.25)
    smallest = torch.topk(noise, keep, dim=1, largest=False).indices
    assert torch.equal(batch.ids_keep.sort(dim=1).values, smallest.sort(dim=1).values)
    assert torch.equal(
        torch.gather(batch.ids_shuffle, 1, batch.ids_restore), torch.arange(16).expand(32, 16)
    )
    visible = torch.zeros(32, 16).scatter_(1, batch.ids_keep, 1.0)
    assert torch.equal(batch.mask, 1.0 - visible)


def test_same_noise_same_mask_and_seeded_draws_repeat():
    layout = MaskLayout(8, 8, 2)
    noise = sample_noise(10, layout, torch.Generator().manual_seed(5))
    a, b = masks_from_noise(noise, layout, 0.6), masks_from_noise(noise.clone(), layout, 0.6)
    assert torch.equal(a.mask, b.mask) and torch.equal(a.ids_shuffle, b.ids_shuffle)
    s1 = sample_masks(10, layout, 0.6, torch.Generator().manual_seed(7)).mask
    s2 = sample_masks(10, layout, 0.6, torch.Generator().manual_seed(7)).mask
    s3 = sample_masks(10, layout, 0.6, torch.Generator().manual_seed(8)).mask
    assert torch.equal(s1, s2) and not torch.equal(s1, s3)


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.2, 1.5])
def test_ratio_outside_open_interval_is_refused(ratio):
    with pytest.raises(ValueError, match=r"outside \(0, 1\)"):
        sample_masks(2, MaskLayout(8, 8, 1), ratio)


@pytest.mark.parametrize("grid,unit", [((8, 8), 3), ((8, 6), 4), ((8, 8), 0)])
def test_unit_that_does_not_tile_is_refused(grid, unit):
    with pytest.raises(ValueError, match="does not tile"):
        MaskLayout(*grid, unit)


def test_ratio_leaving_no_visible_or_no_masked_unit_is_refused():
    layout = MaskLayout(8, 8, 4)  # 4 units
    with pytest.raises(ValueError, match="leaves no visible unit"):
        sample_masks(2, layout, 0.9)
    with pytest.raises(ValueError, match="masks no unit"):  # 1 - 1e-17 rounds to 1.0
        sample_masks(2, layout, 1e-17)


def test_noise_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="one value per masking unit"):
        masks_from_noise(torch.rand(2, 64), MaskLayout(8, 8, 2), 0.5)
