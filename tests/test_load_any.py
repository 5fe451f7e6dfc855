"""`maeid.train.load_any`: runs, reference .pth files and HF folders load alike, an import
gets a config built from what it records; `evaluate` reads any of them, and image folders
as held-out data (seeded split, labels from class subfolders)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from maeid.cli import main
from maeid.data.held_out_folder import scan_folder, split_folder
from maeid.data.transforms import IMAGENET_MEAN
from maeid.mae import build_mae
from maeid.mae.export import export_hf, export_reference
from maeid.mae.normalisation import PixelNormalisation, from_preprocessor_config
from maeid.train.config import load_config
from maeid.train.load_any import load_any
from maeid.train.loop import train

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    overrides = ["data.n_train=32", "optim.batch_size=16", "run.steps=2", "run.recon_every=0",
                 "run.progress=false", "mask.ratio=0.6"]  # fmt: skip
    train(load_config(TINY, overrides), out)
    return out


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_run_and_its_exports_load_to_the_same_model_ratio_and_normalisation(run_dir, tmp_path):
    run = load_any(run_dir)
    assert run.origin == "run" and run.knows_its_data and run.config.data.source == "synthetic"
    assert run.normalisation.rescale is False  # synthetic pixels are the generator's own
    ratio, norm = run.config.mask.ratio, run.normalisation
    assert ratio == 0.6
    export_hf(run.model, tmp_path / "hf", ratio, normalisation=norm)
    export_reference(run.model, tmp_path / "ref.pth", ratio, normalisation=norm)
    for path, origin in [(run_dir / "checkpoints" / "last.pt", "run"), (tmp_path / "hf", "hf"),
                         (tmp_path / "ref.pth", "reference")]:  # fmt: skip
        other = load_any(path)
        assert other.origin == origin and same_weights(other.model, run.model)
        assert other.config.mask.ratio == ratio and other.normalisation == norm
        assert other.model.mask_unit == run.model.mask_unit == other.config.mask.unit
    imported = load_any(tmp_path / "hf")
    assert not imported.knows_its_data and imported.config.data.data_dir == ""
    assert imported.config.data.mean == norm.mean and imported.config.model.embed_dim == 32


def test_flags_override_the_recorded_ratio_and_unit(run_dir):
    loaded = load_any(run_dir, mask_ratio=0.9, mask_unit=8)
    assert loaded.config.mask.ratio == 0.9
    assert loaded.model.mask_unit == 8 and loaded.config.mask.unit == 8
    assert same_weights(loaded.model, load_any(run_dir).model)  # the unit holds no weights


def test_a_published_pth_needs_a_ratio_and_gets_imagenet_normalisation(tmp_path):
    torch.manual_seed(0)
    rgb = build_mae("tiny")
    torch.save({"model": rgb.state_dict()}, tmp_path / "published.pth")
    with pytest.raises(ValueError, match="does not record the mask ratio.*--mask-ratio"):
        load_any(tmp_path / "published.pth", preset="tiny")
    with pytest.raises(ValueError, match="num_heads.*--preset"):
        load_any(tmp_path / "published.pth", mask_ratio=0.75)
    loaded = load_any(tmp_path / "published.pth", mask_ratio=0.75, preset="tiny")
    assert loaded.origin == "reference" and same_weights(loaded.model, rgb)
    assert loaded.normalisation == PixelNormalisation(IMAGENET_MEAN, (0.229, 0.224, 0.225))
    grey = build_mae("tiny", in_chans=1)
    torch.save({"model": grey.state_dict(), "model_args": grey.config}, tmp_path / "grey.pth")
    unknown = load_any(tmp_path / "grey.pth", mask_ratio=0.75)  # sizes recorded, pixels not
    assert unknown.normalisation is None and unknown.config.data.mean == ()


def test_preprocessor_configs_are_read_as_hf_applies_them(tmp_path):
    path = tmp_path / "preprocessor_config.json"
    one = from_preprocessor_config({"image_mean": 0.5, "image_std": 0.25}, path)
    assert one.for_channels(3, path) == PixelNormalisation((0.5,) * 3, (0.25,) * 3)
    plain = from_preprocessor_config({"do_normalize": False, "do_rescale": False}, path)
    assert plain == PixelNormalisation((0.0,), (1.0,), rescale=False)
    with pytest.raises(ValueError, match="rescale_factor 0.5 is not 1/255"):
        from_preprocessor_config({"rescale_factor": 0.5}, path)
    with pytest.raises(ValueError, match="2 values; the model takes 3-channel"):
        PixelNormalisation((0.1, 0.2), (1.0, 1.0)).for_channels(3, path)


def test_what_is_not_a_model_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither checkpoints/last.pt.*nor config.json"):
        load_any(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_any(tmp_path / "nope")
    torch.save({"w": torch.zeros(2)}, tmp_path / "w.pth")
    with pytest.raises(ValueError, match="neither a maeid training checkpoint nor MAE weights"):
        load_any(tmp_path / "w.pth")


# ------------------------------------------------------------------ image folders
def images(root: Path, classes: list[str] | None, per_class: int = 5, side: int = 20) -> Path:
    """PNGs in class subfolders (or loose with `classes=None`); each class its own colour."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes or [""]):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            base = np.zeros((side, side + 4, 3))
            base[..., c % 3] = 200
            pixels = np.clip(base + rng.integers(0, 55, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_a_folder_split_is_seeded_disjoint_and_labelled_by_subfolder(tmp_path):
    folder = scan_folder(images(tmp_path / "f", ["a", "b", "c"]))
    assert folder.classes == ("a", "b", "c") and sorted(set(folder.labels)) == [0, 1, 2]
    readout, test = split_folder(len(folder), seed=3)
    assert len(test) == 3 and sorted([*readout, *test]) == list(range(15))
    assert np.array_equal(test, split_folder(len(folder), seed=3)[1])
    assert not np.array_equal(test, split_folder(len(folder), seed=4)[1])
    loose = scan_folder(images(tmp_path / "loose", None))
    assert loose.labels is None and len(loose) == 5


def test_evaluate_an_hf_export_on_an_image_folder(run_dir, tmp_path, capsys):
    """An import has no training data: evaluate asks for --data, then reads the folder's
    seeded test split (grey, as the model takes) and labels from its subfolders."""
    hf = tmp_path / "hf"
    assert main(["export", str(run_dir), "--format", "hf", "--out", str(hf)]) == 0
    args = ["evaluate", str(hf), "--threads", "1", "--no-progress"]
    assert main(args) == 2
    assert "pass --data" in capsys.readouterr().err and not (tmp_path / "hf-eval").exists()
    photos = images(tmp_path / "photos", ["red", "green"], side=40)
    knn = [*args, "--data", str(photos), "--measure", "knn", "--option", "knn.k=3"]
    assert main(knn) == 0
    result = json.loads((tmp_path / "hf-eval" / "eval.json").read_text())
    assert result["data"] == str(photos) and result["knn"]["top1"] in (0.0, 0.5, 1.0)  # 2 images
    assert result["mask_ratio"] == 0.6  # the ratio config.json records
    assert main([*args, "--data", str(photos), "--list-measures"]) == 0  # still parses
    capsys.readouterr()
    loose = images(tmp_path / "loose", None, per_class=6)
    assert (
        main([*args, "--data", str(loose), "--measure", "knn", "--out", str(tmp_path / "e")]) == 2
    )
    assert "class labels" in capsys.readouterr().err


def test_the_context_reads_a_folder_split_as_the_model_takes_it(run_dir, tmp_path):
    from maeid.measures import EvalContext

    loaded = load_any(run_dir)  # grey 32x32 images, normalised by the run's statistics
    photos = images(tmp_path / "photos", ["a", "b"], per_class=10)
    ctx = EvalContext(loaded.model, loaded.config, tmp_path / "e", source=str(photos))
    assert ctx.kind().labelled
    test, train = ctx.test(None, 100), ctx.train(None, 100)
    assert test.images.shape == (4, 1, 32, 32) and len(train.images) == 16
    assert test.mean == tuple(loaded.config.data.mean) and test.class_names == ("a", "b")
    folder = scan_folder(photos)
    by_pixels = {}
    for split in (test, train):
        for image, label in zip(split.images, split.labels, strict=True):
            by_pixels[image.sum().item()] = label.item()
    assert sorted(by_pixels.values()) == sorted(folder.labels)  # every image once, its label
    again = EvalContext(loaded.model, loaded.config, tmp_path / "e", source=str(photos), seed=9)
    assert torch.equal(again.test(None, 100).images, test.images)  # the data's seed decides
