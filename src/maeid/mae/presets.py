"""Named model sizes. `build_mae(name, **overrides)` builds one, e.g. with `mask_unit=32`."""

from __future__ import annotations

from maeid.mae.model import MaskedAutoencoder

_VIT_B = dict(embed_dim=768, depth=12, num_heads=12, decoder_embed_dim=512, decoder_depth=8,
              decoder_num_heads=16)  # fmt: skip

PRESETS: dict[str, dict] = {
    # For tests: runs in milliseconds on a CPU.
    "tiny": dict(img_size=16, patch_size=4, in_chans=3, embed_dim=32, depth=2, num_heads=4,
                 decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2),
    # The reference synthetic model qt32: 32x32x1, one token per 4x4 observed block.
    "qt32": dict(img_size=32, patch_size=4, in_chans=1, embed_dim=128, depth=4, num_heads=4,
                 decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4),
    # Fashion-MNIST, 28x28x1 in a 7x7 grid of 4x4 patches.
    "fmnist": dict(img_size=28, patch_size=4, in_chans=1, embed_dim=192, depth=6, num_heads=3,
                   decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4),
    "vit_s16": dict(img_size=224, patch_size=16, in_chans=3, embed_dim=384, depth=12,
                    num_heads=6, decoder_embed_dim=256, decoder_depth=4, decoder_num_heads=8),
    # The paper's model (ViT-B, decoder 512 wide and 8 deep) at patch 16, 8 and 32.
    "vit_b16": dict(img_size=224, patch_size=16, in_chans=3, **_VIT_B),
    "vit_b8": dict(img_size=224, patch_size=8, in_chans=3, **_VIT_B),
    "vit_b32": dict(img_size=224, patch_size=32, in_chans=3, **_VIT_B),
}  # fmt: skip


def preset_kwargs(name: str, **overrides) -> dict:
    if name not in PRESETS:
        raise ValueError(f"unknown MAE preset {name!r}; choose one of {sorted(PRESETS)}")
    return {**PRESETS[name], **overrides}


def build_mae(preset: str, **overrides) -> MaskedAutoencoder:
    """The named model with `overrides` applied to its keyword arguments."""
    return MaskedAutoencoder(**preset_kwargs(preset, **overrides))
