"""Reference-format checkpoints (`.pth` with a `model` key), written here to tmp_path."""

import pytest
import torch

from maeid.mae import build_mae, load_pretrained

ENCODER = ("cls_token", "pos_embed", "patch_embed.", "blocks.", "norm.")


def reference_checkpoint(path, encoder_only=False, seed=3):
    torch.manual_seed(seed)
    state = build_mae("tiny").state_dict()
    if encoder_only:
        state = {k: v for k, v in state.items() if k.startswith(ENCODER)}
    torch.save({"model": state, "epoch": 799}, path)
    return state


def test_full_checkpoint_round_trip(tmp_path):
    state = reference_checkpoint(tmp_path / "full.pth")
    model, report = load_pretrained(tmp_path / "full.pth", preset="tiny")
    assert report.fresh == [] and "every parameter" in report.note
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


def test_architecture_is_read_off_the_shapes(tmp_path):
    reference_checkpoint(tmp_path / "full.pth")
    with pytest.raises(ValueError, match="num_heads=.*decoder_num_heads="):
        load_pretrained(tmp_path / "full.pth")
    model, _ = load_pretrained(tmp_path / "full.pth", num_heads=4, decoder_num_heads=2)
    assert model.config == build_mae("tiny").config


def test_encoder_only_checkpoint_leaves_a_fresh_decoder(tmp_path):
    state = reference_checkpoint(tmp_path / "enc.pth", encoder_only=True)
    with pytest.warns(UserWarning, match="decoder is freshly initialised"):
        model, report = load_pretrained(tmp_path / "enc.pth", preset="tiny")
    assert report.fresh and all(k.startswith(("decoder", "mask_token")) for k in report.fresh)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    x = torch.randn(2, 3, 16, 16)
    assert torch.isfinite(model(x)[0])


def test_shape_mismatch_lists_the_keys(tmp_path):
    reference_checkpoint(tmp_path / "full.pth")
    with pytest.raises(ValueError, match=r"pos_embed: checkpoint \(1, 17, 32\) vs model"):
        load_pretrained(tmp_path / "full.pth", preset="tiny", img_size=32)


def test_unknown_and_missing_encoder_keys_are_listed(tmp_path):
    state = reference_checkpoint(tmp_path / "full.pth")
    state["head.weight"] = torch.zeros(10, 32)  # a fine-tuned classifier, not an MAE
    del state["blocks.1.norm1.weight"]
    torch.save({"model": state}, tmp_path / "odd.pth")
    with pytest.raises(ValueError, match=r"unknown keys \['head.weight'\].*blocks.1.norm1.weight"):
        load_pretrained(tmp_path / "odd.pth", preset="tiny")


def test_not_a_state_dict(tmp_path):
    torch.save({"model": "no tensors"}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="no state dict"):
        load_pretrained(tmp_path / "bad.pth", preset="tiny")
    with pytest.raises(FileNotFoundError):
        load_pretrained(tmp_path / "missing.pth", preset="tiny")
