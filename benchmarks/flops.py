"""Model FLOPs of one MAE training image, counted analytically (for MFU figures).

Matmuls and attention only: the encoder on [CLS] + visible tokens, the decoder on
[CLS] + all tokens, the patch embedding and the pixel head; x3 for forward + backward.
"""

from __future__ import annotations


def block_flops(tokens: int, dim: int, mlp_ratio: float) -> float:
    """Forward FLOPs of one transformer block: qkv, proj, MLP matmuls, and attention."""
    return 2 * tokens * dim * dim * (4 + 2 * mlp_ratio) + 4 * tokens * tokens * dim


def mae_flops_per_image(cfg: dict, ratio: float) -> float:
    """`cfg` holds the model's constructor arguments (`MaskedAutoencoder.config`)."""
    p, c = cfg["patch_size"], cfg["in_chans"]
    size = cfg["img_size"]
    h, w = (size, size) if isinstance(size, int) else size
    length = (h // p) * (w // p)
    unit = cfg.get("mask_unit") or p
    units = length // (unit // p) ** 2
    visible = int(units * (1 - ratio)) * (unit // p) ** 2
    d, dd, r = cfg["embed_dim"], cfg["decoder_embed_dim"], cfg.get("mlp_ratio", 4.0)
    enc = 2 * visible * p * p * c * d + cfg["depth"] * block_flops(1 + visible, d, r)
    dec = 2 * (1 + visible) * d * dd + cfg["decoder_depth"] * block_flops(1 + length, dd, r)
    dec += 2 * (1 + length) * dd * p * p * c
    return 3 * (enc + dec)
