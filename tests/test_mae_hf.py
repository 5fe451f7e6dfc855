"""Cross-check against HF transformers' ViTMAEForPreTraining: same weights, same noise,
same loss, predictions and mask (to 1e-5); and loading HF model directories."""

import pytest
import torch

from maeid.mae import MaskedAutoencoder, convert_hf_state_dict, load_hf_pretrained, load_pretrained
from maeid.mae.checkpoint import hf_config_to_kwargs

transformers = pytest.importorskip("transformers", reason="HF cross-check needs transformers")


def hf_pos_embed(grid: int, dim: int) -> torch.Tensor:
    """HF's own sin-cos table, built with its function (newer and older releases)."""
    vm = transformers.models.vit_mae.modeling_vit_mae
    if hasattr(vm, "build_2d_sinusoidal_position_embedding"):
        emb = vm.build_2d_sinusoidal_position_embedding(grid, grid, dim, cls_token=True)
        half = dim // 2  # HF rotates its halves into the published (column-first) layout
        emb = torch.cat([emb[..., half:], emb[..., :half]], dim=-1)
    else:
        emb = torch.from_numpy(vm.get_2d_sincos_pos_embed(dim, grid, add_cls_token=True))
    return emb.float().unsqueeze(0)


def hf_model(norm_pix_loss: bool, seed: int = 0, **kw):
    cfg = dict(image_size=16, patch_size=4, num_channels=3, hidden_size=32,
               num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
               decoder_hidden_size=16, decoder_num_hidden_layers=2,
               decoder_num_attention_heads=2, decoder_intermediate_size=64,
               layer_norm_eps=1e-6, mask_ratio=0.75, norm_pix_loss=norm_pix_loss)  # fmt: skip
    cfg.update(kw)
    torch.manual_seed(seed)
    config = transformers.ViTMAEConfig(**cfg)
    model = transformers.ViTMAEForPreTraining(config).eval()
    with torch.no_grad():
        # Some HF releases leave fresh position tables at zero; set HF's intended values
        # so that the comparison exercises them.
        grid = cfg["image_size"] // cfg["patch_size"]
        model.vit.embeddings.position_embeddings.copy_(hf_pos_embed(grid, cfg["hidden_size"]))
        model.decoder.decoder_pos_embed.copy_(hf_pos_embed(grid, cfg["decoder_hidden_size"]))
        for p in model.parameters():  # non-zero biases and norms, so that every map counts
            p.add_(0.05 * torch.randn_like(p)) if p.requires_grad else None
    return model


@pytest.mark.parametrize("norm_pix_loss", [False, True])
def test_same_loss_predictions_and_mask_as_hf(norm_pix_loss):
    hf = hf_model(norm_pix_loss)
    ours = MaskedAutoencoder(**hf_config_to_kwargs(hf.config.to_dict())).eval()
    # Our own sin-cos tables equal HF's before anything is loaded.
    state = convert_hf_state_dict(hf.state_dict())
    assert torch.allclose(ours.pos_embed, state["pos_embed"], atol=1e-6)
    assert torch.allclose(ours.decoder_pos_embed, state["decoder_pos_embed"], atol=1e-6)
    ours.load_state_dict(state)
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    noise = torch.rand(4, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = hf(pixel_values=x, noise=noise)
        loss, pred, mask = ours(x, 0.75, noise)
    assert torch.allclose(loss, out.loss, atol=1e-5)
    assert torch.allclose(pred, out.logits, atol=1e-5)
    assert torch.equal(mask, out.mask)
    # Gradients agree too, so training is the same.
    hf.zero_grad()
    hf(pixel_values=x, noise=noise).loss.backward()
    ours(x, 0.75, noise)[0].backward()
    hf_grads = convert_hf_state_dict(
        {n: p.grad for n, p in hf.named_parameters() if p.grad is not None}
    )
    for name, p in ours.named_parameters():
        if p.requires_grad:
            assert torch.allclose(p.grad, hf_grads[name], atol=1e-5), name


def hub_format(state: dict) -> dict:
    """Rename transformers>=5 keys to the older layout that Hub checkpoints use."""
    out = {}
    for k, v in state.items():
        if k.startswith("vit.layers."):
            k = "vit.encoder.layer." + k[len("vit.layers.") :]
        for new, old in [("attention.q_proj", "attention.attention.query"),
                         ("attention.k_proj", "attention.attention.key"),
                         ("attention.v_proj", "attention.attention.value"),
                         ("attention.o_proj", "attention.output.dense"),
                         ("mlp.fc1", "intermediate.dense"),
                         ("mlp.fc2", "output.dense")]:  # fmt: skip
            k = k.replace(new, old)
        out[k] = v
    return out


def test_old_and_new_hf_names_convert_alike():
    state = hf_model(False).state_dict()
    new, old = convert_hf_state_dict(state), convert_hf_state_dict(hub_format(state))
    assert new.keys() == old.keys()
    assert all(torch.equal(new[k], old[k]) for k in new)


def test_load_hf_directory(tmp_path):
    hf = hf_model(True, image_size=32, patch_size=8)
    hf.save_pretrained(tmp_path)
    model, report = load_hf_pretrained(tmp_path)
    assert not report.fresh and model.norm_pix_loss and model.patch_size == 8
    x = torch.randn(2, 3, 32, 32)
    noise = torch.rand(2, 16)
    with torch.no_grad():
        assert torch.allclose(
            model(x, 0.75, noise)[0], hf(pixel_values=x, noise=noise).loss, atol=1e-5
        )
    # The same weights as a single file in the older Hub naming load through load_pretrained.
    torch.save(hub_format(hf.state_dict()), tmp_path / "hub.bin")
    again, _ = load_pretrained(tmp_path / "hub.bin", num_heads=4, decoder_num_heads=2,
                               norm_pix_loss=True, norm_eps=1e-6)  # fmt: skip
    assert all(
        torch.equal(a, b)
        for a, b in zip(again.state_dict().values(), model.state_dict().values(), strict=True)
    )  # noqa: E501


def test_hf_directory_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_hf_pretrained(tmp_path)
    hf_model(False).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_hf_pretrained(tmp_path)


def test_unknown_hf_keys_are_listed():
    state = hf_model(False).state_dict()
    state["vit.pooler.dense.weight"] = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="vit.pooler.dense.weight"):
        convert_hf_state_dict(state)
