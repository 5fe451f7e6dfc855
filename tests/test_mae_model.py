"""Behaviour of `MaskedAutoencoder`: masking, encoder input, loss, features, errors."""

import pytest
import torch

from maeid.mae import MaskedAutoencoder, build_mae, patchify, unpatchify
from maeid.mae.patches import far_from_visible, normalize_patches
from maeid.theory.masking import masks_from_noise, sample_noise


def tiny(**kw) -> MaskedAutoencoder:
    torch.manual_seed(0)
    return build_mae("tiny", **kw).eval()


def images(n=3, c=3, h=16, w=16, seed=1):
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("unit", [4, 8])
@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5, 0.6, 0.75, 0.9])
def test_exact_number_of_masked_units(unit, ratio):
    model = build_mae("tiny", img_size=32, mask_unit=unit)
    units = model.layout.num_units
    keep = int(units * (1 - ratio))
    if keep < 1:  # 4 units at 0.9: nothing left visible -> a clear error
        with pytest.raises(ValueError, match="no visible unit"):
            model(images(h=32, w=32), ratio)
        return
    _, _, mask = model(images(h=32, w=32), ratio)
    k2 = (unit // 4) ** 2
    assert mask.shape == (3, 64)
    assert (mask.sum(dim=1) == (units - keep) * k2).all()


def test_mask_units_tile_blocks_of_patches():
    model = tiny(img_size=32, mask_unit=8)  # 8x8 token grid, 2x2-patch units
    _, _, mask = model(images(4, h=32, w=32), 0.5)
    grid = mask.reshape(4, 4, 2, 4, 2)  # (N, unit row, row in unit, unit col, col in unit)
    per_unit = grid.sum(dim=(2, 4))
    assert ((per_unit == 0) | (per_unit == 4)).all()  # each unit all masked or all visible
    assert (per_unit == 4).sum(dim=(1, 2)).eq(8).all()


def test_same_noise_same_mask_and_loss():
    model = tiny()
    x = images()
    noise = torch.rand(3, model.layout.num_units)
    a = model(x, 0.75, noise)
    b = model(x, 0.75, noise.clone())
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])
    expected = masks_from_noise(noise, model.layout, 0.75).mask
    assert torch.equal(a[2], expected)


def test_global_seed_governs_the_mask_without_noise():
    model = tiny()
    x = images()
    torch.manual_seed(5)
    first = model(x)[2]
    torch.manual_seed(5)
    assert torch.equal(model(x)[2], first)
    torch.manual_seed(5)
    assert torch.equal(
        first, masks_from_noise(sample_noise(3, model.layout), model.layout, 0.75).mask
    )


def test_encoder_sees_only_visible_tokens():
    model = tiny()
    x = images()
    noise = torch.rand(3, model.layout.num_units)
    seen = []
    model.blocks[0].register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape))
    _, _, mask = model(x, 0.75, noise)
    assert seen == [(3, 1 + 4, 32)]  # [CLS] + 4 of 16 tokens
    # Changing masked pixels does not change what the encoder computes.
    masked_pixels = unpatchify(mask[..., None].expand(-1, -1, 48), 4, (4, 4)).bool()
    y = torch.where(masked_pixels, torch.randn_like(x), x)
    ids = masks_from_noise(noise, model.layout, 0.75).ids_keep
    assert torch.allclose(model.forward_encoder(x, ids), model.forward_encoder(y, ids))


def test_loss_ignores_visible_patches():
    model = tiny()
    x = images()
    loss, pred, mask = model(x, 0.75, torch.rand(3, model.layout.num_units))
    garbage = torch.where(mask[..., None].bool(), pred, pred + 100.0)
    assert torch.allclose(model.forward_loss(x, garbage, mask), loss)
    moved = torch.where(mask[..., None].bool(), pred + 1.0, pred)
    assert not torch.allclose(model.forward_loss(x, moved, mask), loss)


def test_loss_is_the_mean_over_masked_patches():
    model = tiny()
    x = images()
    loss, pred, mask = model(x, 0.5, torch.rand(3, model.layout.num_units))
    per_patch = ((pred - patchify(x, 4)) ** 2).mean(-1)
    assert torch.allclose(loss, per_patch[mask.bool()].mean())


def test_norm_pix_targets():
    x = images() * 3 + 2
    target = normalize_patches(patchify(x, 4))
    assert torch.allclose(target.mean(-1), torch.zeros(3, 16), atol=1e-5)
    assert torch.allclose(target.var(-1), torch.ones(3, 16), atol=1e-3)
    model = tiny(norm_pix_loss=True)
    loss, pred, mask = model(x, 0.75, torch.rand(3, 16))
    per_patch = ((pred - target) ** 2).mean(-1)
    assert torch.allclose(loss, per_patch[mask.bool()].mean())


def test_patchify_round_trip_non_square_and_any_channels():
    x = images(2, c=5, h=8, w=12)
    p = patchify(x, 4)
    assert p.shape == (2, 6, 80)
    assert torch.equal(unpatchify(p, 4, (2, 3)), x)
    model = tiny(img_size=(8, 12), in_chans=5)
    loss, pred, mask = model(x, 0.5)
    assert pred.shape == (2, 6, 80) and mask.shape == (2, 6) and torch.isfinite(loss)


def test_tiny_model_overfits_one_batch():
    model = tiny(embed_dim=64, decoder_embed_dim=64, decoder_num_heads=4).train()
    x = images(4)
    noise = torch.rand(4, model.layout.num_units, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(200):
        loss = model(x, 0.75, noise)[0]
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first


def test_pos_embeddings_are_frozen_and_everything_else_trains():
    model = tiny()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {"pos_embed", "decoder_pos_embed"}
    model(images())[0].backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_encode_all_tokens_and_visible_tokens():
    model = tiny()
    x = images()
    full = model.encode(x)
    assert full.cls.shape == (3, 32) and full.tokens.shape == (3, 16, 32)
    assert torch.allclose(full.mean, full.tokens.mean(1))
    masks = masks_from_noise(torch.rand(3, 16), model.layout, 0.75)
    part = model.encode(x, masks.mask)
    assert part.tokens.shape == (3, 4, 32)
    # Same tokens as the training forward, up to order (raster here, shuffled there).
    latent = model.forward_encoder(x, masks.ids_keep)
    order = masks.ids_keep.argsort(dim=1)
    assert torch.allclose(
        part.tokens, torch.gather(latent[:, 1:], 1, order[..., None].expand(-1, -1, 32)), atol=1e-6
    )  # noqa: E501
    ragged = masks.mask.clone()
    ragged[0, masks.ids_keep[0, 0]] = 1
    with pytest.raises(ValueError, match="same"):
        model.encode(x, ragged)
    with pytest.raises(ValueError, match="one entry per token"):
        model.encode(x, masks.mask[:, :5])


def test_last_attention_is_the_last_blocks_softmax():
    model = tiny()
    x = images()
    attn = model.last_attention(x)
    assert attn.shape == (3, 4, 17, 17)
    assert torch.allclose(attn.sum(-1), torch.ones(3, 4, 17), atol=1e-5)
    # Applying these probabilities reproduces the SDPA block output.
    block = model.blocks[-1]
    h = model.patch_embed(x) + model.pos_embed[:, 1:]
    h = torch.cat([(model.cls_token + model.pos_embed[:, :1]).expand(3, -1, -1), h], 1)
    h = model.blocks[0](h)
    v = block.attn.qkv(block.norm1(h)).view(3, 17, 3, 4, 8)[:, :, 2].transpose(1, 2)
    manual = h + block.attn.proj((attn @ v).transpose(1, 2).reshape(3, 17, 32))
    sdpa = h + block.attn(block.norm1(h))
    assert torch.allclose(manual, sdpa, atol=1e-5)


def test_boundary_exclusion_drops_pixels_next_to_visible_patches():
    # 1 row, 2x2 token grid of 4-pixel patches: token 0 visible, the rest masked.
    mask = torch.tensor([[0.0, 1.0, 1.0, 1.0]])
    keep = far_from_visible(mask, (2, 2), 4, width=1).reshape(4, 4, 4)
    assert keep[0].sum() == 0  # the visible patch never counts
    # Token 1 (right of the visible one): its first column is within 1 pixel.
    assert keep[1][:, 0].sum() == 0 and keep[1][:, 1:].sum() == 12
    # Token 3 (diagonal): only its top-left pixel touches the visible patch.
    assert keep[3][0, 0] == 0 and keep[3].sum() == 15
    model = tiny(img_size=32, mask_unit=8, boundary_exclude=1)
    x = images(h=32, w=32)
    loss, pred, mask = model(x, 0.5)
    err = ((pred - patchify(x, 4)) ** 2).reshape(3, 64, 16, 3)
    weight = far_from_visible(mask, (8, 8), 4, 1)[..., None] * mask[..., None, None]
    assert torch.allclose(loss, (err * weight).sum() / (weight.sum() * 3))
    assert not torch.allclose(loss, tiny(img_size=32, mask_unit=8).forward_loss(x, pred, mask))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(img_size=18), "does not tile"),
        (dict(img_size=(16, 18)), "does not tile"),
        (dict(mask_unit=6), "not a multiple of patch_size"),
        (dict(mask_unit=2), "not a multiple of patch_size"),
        (dict(mask_unit=12), "does not tile"),
        (dict(boundary_exclude=2), "boundary_exclude"),
        (dict(num_heads=3), "not divisible"),
    ],
)
def test_bad_sizes_give_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_mae("tiny", **kwargs)


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5])
def test_bad_ratio(ratio):
    with pytest.raises(ValueError, match="ratio"):
        tiny()(images(), ratio)


def test_bad_images_and_noise():
    model = tiny()
    with pytest.raises(ValueError, match="expected"):
        model(images(c=1))
    with pytest.raises(ValueError, match="one value per masking unit"):
        model(images(), 0.75, torch.rand(3, 15))


def test_prediction_to_image_undoes_norm_pix():
    model = tiny(norm_pix_loss=True)
    x = images() * 2 + 1
    perfect = normalize_patches(patchify(x, 4))
    assert torch.allclose(model.prediction_to_image(perfect, x), x, atol=1e-4)
    plain = tiny()
    assert torch.equal(plain.prediction_to_image(patchify(x, 4), x), x)
