"""Every preset builds and runs; parameter names are the reference MAE's."""

import pytest
import torch

from maeid.mae import PRESETS, build_mae


def reference_names(depth: int, decoder_depth: int) -> list[str]:
    """The state_dict keys of the reference `models_mae.MaskedAutoencoderViT`."""
    block = ["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias",
             "attn.proj.weight", "attn.proj.bias", "norm2.weight", "norm2.bias",
             "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"]  # fmt: skip
    names = ["cls_token", "pos_embed", "mask_token", "decoder_pos_embed",
             "patch_embed.proj.weight", "patch_embed.proj.bias"]  # fmt: skip
    names += [f"blocks.{i}.{b}" for i in range(depth) for b in block]
    names += ["norm.weight", "norm.bias", "decoder_embed.weight", "decoder_embed.bias"]
    names += [f"decoder_blocks.{i}.{b}" for i in range(decoder_depth) for b in block]
    names += [
        "decoder_norm.weight",
        "decoder_norm.bias",
        "decoder_pred.weight",
        "decoder_pred.bias",
    ]  # noqa: E501
    return names


def test_key_names_and_sizes_equal_the_reference():
    model = build_mae("vit_b16")
    assert sorted(model.state_dict()) == sorted(reference_names(12, 8))
    assert model.state_dict()["blocks.0.attn.qkv.weight"].shape == (3 * 768, 768)
    assert model.state_dict()["decoder_pred.weight"].shape == (16 * 16 * 3, 512)
    encoder = sum(p.numel() for n, p in model.named_parameters()
                  if n.startswith(("patch_embed", "blocks", "norm.", "cls")))  # fmt: skip
    assert 85e6 < encoder < 87e6  # ViT-B/16: 86M parameters
    assert model.pos_embed.shape == (1, 197, 768)


# The ViT-B presets are built at their real size; the forward pass runs at a smaller
# image (the weights do not depend on it) to keep the test fast on a CPU.
FORWARD_SIZE = {"vit_b8": 64, "vit_b16": 64, "vit_b32": 64, "vit_s16": 64}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_runs(name):
    torch.manual_seed(0)
    cfg = PRESETS[name]
    size = FORWARD_SIZE.get(name)
    model = build_mae(name) if size is None else build_mae(name, img_size=size)
    if size is None:
        size = cfg["img_size"]
    x = torch.randn(1, cfg["in_chans"], size, size)
    with torch.no_grad():
        loss, pred, mask = model(x)
    assert torch.isfinite(loss)
    assert pred.shape == (1, mask.shape[1], cfg["patch_size"] ** 2 * cfg["in_chans"])


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match="vit_b16"):
        build_mae("vit_z99")
