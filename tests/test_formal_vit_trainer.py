"""The formal-regime trainer: a bottleneck MAE on one fixed mask."""

import torch

from maeid.formal.vit import train_bottleneck
from maeid.mae import BottleneckMAE


def small_model(seed: int) -> BottleneckMAE:
    torch.manual_seed(seed)
    mask = torch.zeros(16)
    mask[4:] = 1  # the top row of a 4x4 token grid stays visible
    return BottleneckMAE(
        mask, code_dim=3, img_size=16, patch_size=4, in_chans=1, embed_dim=16, depth=1,
        num_heads=2, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2,
    )  # fmt: skip


def structured_images(n: int) -> torch.Tensor:
    # Each image is a smooth function of 3 numbers: a code of dimension 3 can explain it.
    g = torch.Generator().manual_seed(0)
    z = torch.randn(n, 3, generator=g)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 16), torch.linspace(-1, 1, 16), indexing="ij")
    return (z[:, 0, None, None] + z[:, 1, None, None] * xs + z[:, 2, None, None] * ys)[:, None]


def test_loss_falls_and_training_is_seeded():
    images = structured_images(64)
    losses, again = [], []
    model = train_bottleneck(small_model(0), images, steps=60, batch_size=32, lr=3e-3,
                             seed=1, device="cpu", history=losses)  # fmt: skip
    twin = train_bottleneck(small_model(0), images.numpy(), steps=60, batch_size=32, lr=3e-3,
                            seed=1, device="cpu", history=again)  # fmt: skip
    assert len(losses) == 60 and not model.training
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:5]) / 5
    assert losses == again
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters(), strict=True)
    )
    assert model.encode(images[:5]).shape == (5, 3)
