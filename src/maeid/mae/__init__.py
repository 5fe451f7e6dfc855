"""The masked autoencoder: a ViT MAE numerically equal to the reference and HF ViTMAE.

model = build_mae("qt32", mask_unit=8)
loss, pred, mask = model(imgs, mask_ratio=0.75)        # mask: (N, L), 1 = masked
feats = model.encode(imgs)                             # Features(cls, mean, tokens)
model, report = load_pretrained("mae_pretrain_vit_base.pth", preset="vit_b16")
"""

from maeid.mae.bottleneck import BottleneckMAE
from maeid.mae.checkpoint import (
    LoadReport,
    convert_hf_state_dict,
    load_hf_pretrained,
    load_pretrained,
    load_state,
)
from maeid.mae.hierarchy import hierarchy_mask_unit
from maeid.mae.model import Features, MaskedAutoencoder
from maeid.mae.patches import patchify, unpatchify
from maeid.mae.presets import PRESETS, build_mae

__all__ = [
    "PRESETS",
    "BottleneckMAE",
    "Features",
    "LoadReport",
    "MaskedAutoencoder",
    "build_mae",
    "convert_hf_state_dict",
    "hierarchy_mask_unit",
    "load_hf_pretrained",
    "load_pretrained",
    "load_state",
    "patchify",
    "unpatchify",
]
