"""Reconstruction figures, and norm-pix de-normalisation with the visible patches' stats."""

import torch

from maeid.mae import build_mae
from maeid.mae.patches import normalize_patches
from maeid.train.recon import denormalize_with_visible, reconstruct, save_reconstruction_grid


def test_denormalisation_is_exact_when_patches_share_their_statistics():
    # Every patch of an image has the same mean and variance (a permuted copy of one patch),
    # so the visible patches' pooled statistics are the masked patches' own.
    g = torch.Generator().manual_seed(0)
    base = torch.randn(2, 1, 16, generator=g) * 3 + 5
    target = torch.stack([base[:, 0, torch.randperm(16, generator=g)] for _ in range(6)], dim=1)
    mask = torch.tensor([[1, 1, 0, 1, 0, 1], [0, 1, 1, 1, 1, 0]]).float()
    restored = denormalize_with_visible(normalize_patches(target), target, mask)
    torch.testing.assert_close(restored, target, atol=1e-4, rtol=1e-4)


def test_grid_panels_and_png(tmp_path):
    torch.manual_seed(0)
    model = build_mae("tiny", img_size=16, in_chans=1, norm_pix_loss=True)
    images = torch.randn(3, 1, 16, 16)
    noise = torch.rand(3, model.layout.num_units, generator=torch.Generator().manual_seed(1))
    panels = reconstruct(model, images, noise, 0.75)
    assert list(panels) == ["masked", "prediction", "prediction + visible", "original"]
    _, _, mask = model(images, 0.75, noise=noise)
    masked_pixels = model.unpatchify(mask[:, :, None].expand(-1, -1, 16)).bool()
    assert panels["masked"][masked_pixels].isnan().all()  # masked patches are blank
    visible = ~masked_pixels
    torch.testing.assert_close(panels["prediction + visible"][visible], images[visible])
    fig = save_reconstruction_grid(panels, tmp_path / "r.png", (0.0,), (1.0,), "t", True)
    assert (tmp_path / "r.png").stat().st_size > 1000
    assert "pooled" in fig.axes[1].get_title()
