"""`maeid export`: maeid -> HF ViTMAE and maeid -> reference `.pth`, checked by round trip:
the same loss, predictions and mask for the same images and noise (to 1e-5)."""

import json
from pathlib import Path

import pytest
import torch

from maeid.cli import main
from maeid.mae import BottleneckMAE, MaskedAutoencoder, load_hf_pretrained, load_pretrained
from maeid.mae.export import export_hf, export_reference, hf_state_dict
from maeid.train import load_checkpoint
from maeid.train.config import load_config
from maeid.train.loop import train

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
SIZES = dict(img_size=16, patch_size=4, in_chans=3, embed_dim=32, depth=2, num_heads=4,
             decoder_embed_dim=16, decoder_depth=2, decoder_num_heads=2)  # fmt: skip


@pytest.fixture
def hf():
    return pytest.importorskip("transformers", reason="the HF round trip needs transformers")


def perturbed(seed: int = 0, **kw) -> MaskedAutoencoder:
    """A model whose every tensor, the fixed position tables included, is off its init:
    a round trip that dropped or re-initialised any of them would show."""
    torch.manual_seed(seed)
    model = MaskedAutoencoder(**{**SIZES, **kw}).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def same_outputs(a, b, hf_b: bool = False, ratio: float = 0.75) -> None:
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    noise = torch.rand(4, a.layout.num_units, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        loss, pred, mask = a(x, ratio, noise)
        if hf_b:
            out = b(pixel_values=x, noise=noise)
            other = (out.loss, out.logits, out.mask)
        else:
            other = b(x, ratio, noise)
    assert torch.allclose(loss, other[0], atol=1e-5)
    assert torch.allclose(pred, other[1], atol=1e-5)
    assert torch.equal(mask, other[2])


@pytest.mark.parametrize("norm_pix_loss", [False, True])
def test_hf_round_trip(hf, tmp_path, norm_pix_loss):
    ours = perturbed(norm_pix_loss=norm_pix_loss, norm_eps=1e-5)
    out = export_hf(ours, tmp_path / "hf", mask_ratio=0.6)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert config["mask_ratio"] == 0.6 and config["norm_pix_loss"] is norm_pix_loss
    assert config["layer_norm_eps"] == 1e-5 and config["intermediate_size"] == 128
    theirs = hf.ViTMAEForPreTraining.from_pretrained(out).eval()
    assert theirs.config.mask_ratio == 0.6 and theirs.config.norm_pix_loss is norm_pix_loss
    same_outputs(ours, theirs, hf_b=True, ratio=0.6)
    # And back: our HF loader gives every tensor exactly.
    again, report = load_hf_pretrained(out)
    assert not report.fresh
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in ours.state_dict().items())


def test_reference_round_trip(tmp_path):
    ours = perturbed(seed=3, mask_unit=8, norm_pix_loss=True)  # the .pth records the unit
    path = export_reference(ours, tmp_path / "mae.pth", mask_ratio=0.75)
    saved = torch.load(path, weights_only=True)  # plain data only: no code runs on load
    assert set(saved) == {"model", "model_args", "mask_ratio", "normalisation"}
    assert saved["mask_ratio"] == 0.75 and saved["normalisation"] is None  # none was given
    assert set(saved["model"]) == set(ours.state_dict())  # the reference models_mae.py names
    again, report = load_pretrained(path)  # no head counts needed
    assert not report.fresh and again.mask_unit == 8 and again.norm_pix_loss
    same_outputs(ours, again.eval())


def test_hf_names_invert_the_loader():
    state = hf_state_dict(perturbed())
    assert "vit.encoder.layer.1.attention.attention.query.weight" in state
    assert "decoder.decoder_layers.0.output.dense.bias" in state
    assert state["vit.encoder.layer.0.attention.attention.key.weight"].shape == (32, 32)


def test_what_hf_cannot_represent_is_refused(hf, tmp_path):
    unit = perturbed(mask_unit=8)
    with pytest.raises(ValueError, match="HF masks single patches.*--allow-masking-change"):
        export_hf(unit, tmp_path / "a", 0.75)
    with pytest.raises(ValueError, match="skips masked pixels within 1 px"):
        export_hf(perturbed(mask_unit=8, boundary_exclude=1), tmp_path / "a", 0.75)
    with pytest.raises(ValueError, match="square position tables"):
        export_hf(perturbed(img_size=(16, 8)), tmp_path / "a", 0.75)
    mask = torch.zeros(16)
    mask[:8] = 1
    with pytest.raises(ValueError, match="only a MaskedAutoencoder exports, not a BottleneckMAE"):
        export_reference(BottleneckMAE(mask, 4, img_size=16, in_chans=3), tmp_path / "b.pth")
    assert not list(tmp_path.iterdir())
    # Accepting the change exports the same weights; HF then masks single patches.
    out = export_hf(unit, tmp_path / "a", 0.75, allow_masking_change=True)
    theirs = hf.ViTMAEForPreTraining.from_pretrained(out)
    assert torch.equal(theirs.vit.embeddings.cls_token, unit.cls_token)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    overrides = ["data.n_train=32", "optim.batch_size=16", "run.steps=2", "run.recon_every=0",
                 "run.progress=false", "model.norm_pix_loss=true"]  # fmt: skip
    train(load_config(TINY, overrides), out)
    return out


def test_cli_exports_a_run_both_ways(hf, run_dir, tmp_path, capsys):
    trained, config = load_checkpoint(run_dir)
    assert main(["export", str(run_dir), "--format", "hf", "--out", str(tmp_path / "hf")]) == 0
    assert main(["export", str(run_dir / "checkpoints" / "last.pt"), "--format", "reference",
                 "--out", str(tmp_path / "ref.pth")]) == 0  # fmt: skip
    assert "wrote reference .pth" in capsys.readouterr().out
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["mask_ratio"] == 0.75
    theirs = hf.ViTMAEForPreTraining.from_pretrained(tmp_path / "hf").eval()
    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    noise = torch.rand(3, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        loss, pred, mask = trained(x, 0.75, noise)
        out = theirs(pixel_values=x, noise=noise)
        again = load_pretrained(tmp_path / "ref.pth")[0].eval()(x, 0.75, noise)
    for other in [(out.loss, out.logits, out.mask), again]:
        assert torch.allclose(loss, other[0], atol=1e-5)
        assert torch.allclose(pred, other[1], atol=1e-5) and torch.equal(mask, other[2])


def test_cli_refuses_to_overwrite_without_force(run_dir, tmp_path, capsys):
    target = tmp_path / "ref.pth"
    target.write_bytes(b"keep")
    argv = ["export", str(run_dir), "--format", "reference", "--out", str(target)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{target} exists; pass --force" in err and err.count("\n") == 1
    assert target.read_bytes() == b"keep"
    assert main([*argv, "--force"]) == 0 and load_pretrained(target)[1].fresh == []
    # --force replaces an earlier export, never some other folder.
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"x")
    hf_argv = ["export", str(run_dir), "--format", "hf", "--out", str(folder), "--force"]
    assert main(hf_argv) == 2
    assert "not an HF model directory (no config.json)" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["a.jpg"]


def test_cli_bad_sources_write_nothing(tmp_path, capsys):
    missing = tmp_path / "no-run"
    not_ours = tmp_path / "weights.pth"
    torch.save({"w": torch.zeros(2)}, not_ours)
    for source, message in [
        (missing, "does not exist"),
        (not_ours, "neither a maeid training checkpoint nor MAE weights"),
    ]:
        out = tmp_path / "out"
        assert main(["export", str(source), "--format", "hf", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.pth"]


def test_a_failed_write_leaves_the_previous_export(hf, tmp_path, monkeypatch):
    model = perturbed()
    out = export_hf(model, tmp_path / "hf", 0.75)
    before = (out / "model.safetensors").read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        export_hf(perturbed(seed=1), out, 0.75, force=True)
    assert (out / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["hf"]  # no temporary left behind


def png_folder(root: Path, side: int, classes: int = 2, per_class: int = 6) -> Path:
    """Coloured noise PNGs in class subfolders, `side` x `side` (the model's size)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (side, side, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(root / f"class{c}" / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def folder_run_dir(tmp_path_factory):
    """A 2-step run on an RGB image folder: 8-bit pixels, ImageNet's normalisation."""
    images = png_folder(tmp_path_factory.mktemp("images"), 16)
    out = tmp_path_factory.mktemp("folder-run")
    overrides = ["data.source=image_folder", f"data.data_dir={images}", "data.img_size=16",
                 "optim.batch_size=8", "run.steps=2", "run.recon_every=0", "run.eval_every=0",
                 "run.progress=false"]  # fmt: skip
    train(load_config(TINY, overrides), out)
    return out


@pytest.mark.parametrize("which", ["synthetic", "image_folder"])
def test_hf_processor_and_model_reproduce_maeid_loss(hf, which, request, tmp_path):
    """AutoImageProcessor + ViTMAEForPreTraining from an export give maeid's pixels and
    loss for the same images and noise: raw synthetic arrays (no rescale, no resize) and
    8-bit images (rescaled by 1/255, normalised with the run's ImageNet statistics)."""
    import numpy as np
    from PIL import Image

    from maeid.data.transforms import normalize, to_tensor
    from maeid.train.load_any import load_any

    run = request.getfixturevalue("run_dir" if which == "synthetic" else "folder_run_dir")
    loaded = load_any(run)
    norm, model = loaded.normalisation, loaded.model
    assert main(["export", str(run), "--format", "hf", "--out", str(tmp_path / "hf")]) == 0
    processor_file = json.loads((tmp_path / "hf" / "preprocessor_config.json").read_text())
    assert processor_file["image_mean"] == list(norm.mean)
    assert processor_file["do_rescale"] is (which == "image_folder")
    rng = np.random.default_rng(5)
    if which == "synthetic":
        raw = rng.standard_normal((3, 1, 32, 32)).astype(np.float32)
        images, ours = list(raw), normalize(torch.from_numpy(raw), norm.mean, norm.std)
    else:
        images = [Image.fromarray(rng.integers(0, 256, (16, 16, 3)).astype(np.uint8))
                  for _ in range(3)]  # fmt: skip
        ours = normalize(torch.stack([to_tensor(i) for i in images]), norm.mean, norm.std)
    processor = hf.AutoImageProcessor.from_pretrained(tmp_path / "hf")
    pixels = processor(images=images, return_tensors="pt").pixel_values
    assert torch.allclose(pixels, ours, atol=1e-6)
    theirs = hf.ViTMAEForPreTraining.from_pretrained(tmp_path / "hf").eval()
    noise = torch.rand(3, model.layout.num_units, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        loss = model(ours, loaded.config.mask.ratio, noise)[0]
        out = theirs(pixel_values=pixels, noise=noise)
    assert torch.allclose(loss, out.loss, atol=1e-5)
