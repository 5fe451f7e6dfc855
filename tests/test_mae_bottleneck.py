"""The bottleneck MAE of the formal regime, and hierarchy-aligned masking units."""

import pytest
import torch

from maeid.hlvm.quadtree import quadtree_spec
from maeid.mae import BottleneckMAE, build_mae, hierarchy_mask_unit
from maeid.theory.masking import sample_masks


def bottleneck(code_dim=6, seed=0):
    torch.manual_seed(seed)
    mask = sample_masks(1, build_mae("tiny").layout, 0.5, torch.Generator().manual_seed(4)).mask[0]
    return BottleneckMAE(mask, code_dim, img_size=16, patch_size=4, in_chans=3, embed_dim=32,
                         depth=1, num_heads=4, decoder_embed_dim=32, decoder_depth=1,
                         decoder_num_heads=4), mask  # fmt: skip


def test_code_has_the_given_dimension_and_sees_only_visible_pixels():
    model, mask = bottleneck()
    x = torch.randn(3, 3, 16, 16)
    code = model.encode(x)
    assert code.shape == (3, 6)
    pixel_mask = mask.reshape(4, 4).repeat_interleave(4, 0).repeat_interleave(4, 1).bool()
    y = torch.where(pixel_mask, torch.randn_like(x), x)
    assert torch.allclose(model.encode(y), code)


def test_decoder_output_depends_on_the_image_only_through_the_code():
    model, _ = bottleneck()
    x = torch.randn(2, 3, 16, 16)
    code = model.encode(x)
    loss, pred, mask = model(x)
    assert torch.allclose(pred[mask.bool()].reshape(2, -1, 48), model.decode(code))
    assert (pred[~mask.bool()] == 0).all()
    same = model.decode(code[[0, 0]])
    assert torch.allclose(same[0], same[1], atol=1e-6)


def test_loss_is_on_masked_patches_and_trains():
    model, _ = bottleneck()
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = model(x)[0].item()
    for _ in range(30):
        loss = model(x)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_bottleneck_rejects_bad_masks():
    with pytest.raises(ValueError, match="one per token"):
        BottleneckMAE(torch.zeros(15), 4, img_size=16, patch_size=4, in_chans=3)
    with pytest.raises(ValueError, match="at least one token visible"):
        BottleneckMAE(torch.ones(16), 4, img_size=16, patch_size=4, in_chans=3)


def test_hierarchy_units_are_the_quadtree_subtrees():
    spec = quadtree_spec()  # qt32: levels 0 (root), 1 (2x2), 2 (4x4), 4x4-pixel leaves
    assert hierarchy_mask_unit(spec, 1, 4) == 16
    assert hierarchy_mask_unit(spec, 2, 4) == 8
    model = build_mae("qt32", mask_unit=hierarchy_mask_unit(spec, 1, 4))
    _, _, mask = model(torch.randn(2, 1, 32, 32), 0.75)
    # Exactly three of the four level-1 subtrees (16x16-pixel quadrants) are masked whole.
    quadrants = mask.reshape(2, 2, 4, 2, 4).sum(dim=(2, 4))
    assert sorted(quadrants.flatten().tolist()) == [0, 0, 16, 16, 16, 16, 16, 16]
    with pytest.raises(ValueError, match="no latent level 7"):
        hierarchy_mask_unit(spec, 7, 4)
    with pytest.raises(ValueError, match="multiple of patch_size"):
        hierarchy_mask_unit(spec, 2, 16)
