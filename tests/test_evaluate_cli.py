"""`maeid evaluate` on a tiny checkpoint: every measure runs and lands in eval.json."""

import json
from pathlib import Path

import pytest
import torch

from maeid.cli import main
from maeid.evaluate.attention import attention_on_object, mean_attention_distance, patch_distances
from maeid.train.checkpoint import load_checkpoint

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
FMNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    code = main(["train", "--config", str(CONFIG), "--out", str(out), "--set", "run.steps=4",
                 "--set", "run.progress=false", "--set", "run.recon_every=0",
                 "--set", "run.device=cpu"])  # fmt: skip
    assert code == 0
    return out


def test_evaluate_synthetic_writes_recon_attention_identify(run_dir, tmp_path):
    out = tmp_path / "eval"
    code = main(["evaluate", str(run_dir), "--data", "synthetic", "--max-test", "120",
                 "--recon-images", "8", "--out", str(out), "--threads", "1",
                 "--no-progress"])  # fmt: skip
    assert code == 0
    result = json.loads((out / "eval.json").read_text())
    assert set(result["reconstruction"]) >= {"masked", "composed"}
    for part in ("masked", "composed"):
        assert set(result["reconstruction"][part]) >= {"mse", "psnr", "ssim", "fsim"}
        assert result["reconstruction"][part]["mse"] > 0
        assert result["metrics"][f"recon.{part}.mse"] == result["reconstruction"][part]["mse"]
    model, _ = load_checkpoint(run_dir)
    assert len(result["attention"]["mean_distance_per_layer"]) == len(model.blocks)
    levels = result["identifiability"]["per_level"]
    assert set(levels) == {"0", "1", "2"}
    for v in levels.values():
        assert 0 <= v["p_in_S"] <= 1
        assert {"predicted", "measured_visible_tokens", "measured_full_image"} <= set(v)
    for name in ("reconstructions.png", "cls_attention.png", "attention_distance.png"):
        assert (out / name).stat().st_size > 1000


@pytest.mark.skipif(not FMNIST.is_dir(), reason="Fashion-MNIST is not installed")
def test_evaluate_fashion_mnist_probe_knn_tsne_robustness(run_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["evaluate", str(run_dir), "--data", "fashion_mnist", "--measure",
                 "probe,knn,tsne,robustness,attention", "--max-train", "300", "--max-test", "100",
                 "--robust-images", "40", "--probe-epochs", "3", "--out", str(out),
                 "--threads", "1", "--no-progress"])  # fmt: skip
    assert code == 0
    result = json.loads((out / "eval.json").read_text())
    assert 0.1 <= result["probe"]["top1"] <= 1.0  # even random features beat 10-way chance
    assert 0.0 <= result["knn"]["top1"] <= 1.0
    rob = result["robustness"]
    assert set(rob["gaussian_noise"]) == {"1", "2", "3", "4", "5", "mean"}
    assert 0.0 <= rob["mean"] <= 1.0
    assert (out / "tsne.png").is_file()
    attention = result["attention"]
    assert 0.0 < attention["object_area"] < 1.0  # clothes fill part of the padded frame
    assert 0.0 <= attention["cls_attention_on_object"] <= 1.0
    assert "[CLS] attention on the object" in capsys.readouterr().out


def test_evaluate_reads_a_synthesised_rhm32_file_and_knows_it_is_rhm32(tmp_path):
    model = "rhm32:size=16,v=4,m=4,n_classes=4"
    run = tmp_path / "run"
    assert main(["train", "--config", str(CONFIG), "--out", str(run), "--set", "run.steps=2",
                 "--set", f"data.model={model}", "--set", "run.progress=false",
                 "--set", "run.recon_every=0", "--set", "run.device=cpu"]) == 0  # fmt: skip
    data = tmp_path / "held_out.npz"
    assert main(["synth", "--model", model, "--n", "24", "--seed", "9", "--out", str(data)]) == 0
    out = tmp_path / "eval"
    assert main(["evaluate", str(run), "--data", str(data), "--measure", "masked_loss,recon",
                 "--recon-images", "4", "--out", str(out), "--threads", "1",
                 "--no-progress"]) == 0  # fmt: skip
    result = json.loads((out / "eval.json").read_text())
    assert result["masked_loss"]["images"] == 24  # the file's images, all of them
    assert result["metrics"]["masked_loss.bayes"] <= result["metrics"]["masked_loss.plateau"]


def test_evaluate_refuses_measures_the_data_cannot_support(run_dir, tmp_path, capsys):
    code = main(["evaluate", str(run_dir), "--data", "synthetic", "--measure", "probe",
                 "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    assert code == 2
    assert "labels" in capsys.readouterr().err
    assert not (tmp_path / "eval.json").exists()
    code = main(["evaluate", str(run_dir), "--data", "synthetic", "--measure", "fid",
                 "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    assert code == 2


def test_mean_attention_distance_of_uniform_and_local_attention():
    dist = patch_distances((4, 4), 2)
    assert dist[0, 15] == pytest.approx((2 * 36) ** 0.5)
    # Uniform attention over patches has the grid's mean pairwise distance.

    class Uniform(torch.nn.Module):
        def __init__(self, probs):
            super().__init__()
            self.probs = probs

        def attention_probabilities(self, x):
            return self.probs.expand(x.shape[0], -1, -1, -1)

        def forward(self, x):
            return x

    class Model(torch.nn.Module):
        grid_size, patch_size = (4, 4), 2

        def __init__(self, probs):
            super().__init__()
            self.blocks = torch.nn.ModuleList([Uniform(probs)])
            self.patch_embed = lambda imgs: torch.zeros(imgs.shape[0], 16, 8)
            self.pos_embed = torch.zeros(1, 17, 8)
            self.cls_token = torch.zeros(1, 1, 8)

        def check_images(self, imgs):
            pass

    uniform = torch.full((1, 1, 17, 17), 1 / 17)
    got = mean_attention_distance(Model(uniform), torch.zeros(2, 1, 8, 8))
    assert got[0][0] == pytest.approx(float(dist.mean()), rel=1e-5)
    local = torch.eye(17)[None, None]  # every patch attends to itself only
    assert mean_attention_distance(Model(local), torch.zeros(2, 1, 8, 8))[0][0] == 0.0


def test_attention_on_object_against_uniform_and_focused_maps():
    images = torch.zeros(2, 1, 8, 8)
    images[:, :, :4, :4] = 0.8  # the object: the top-left quarter, on black
    uniform = torch.full((2, 4, 4), 1 / 16)
    got = attention_on_object(uniform, images, patch_size=2)
    assert got == {"cls_attention_on_object": pytest.approx(0.25), "object_area": 0.25}
    focused = torch.zeros(2, 4, 4)
    focused[:, 0, 0], focused[:, 3, 3] = 0.9, 0.1  # 90 % on an object patch
    assert attention_on_object(focused, images, 2)["cls_attention_on_object"] == pytest.approx(0.9)
    with pytest.raises(ValueError, match="does not match"):
        attention_on_object(uniform, images, patch_size=4)


def test_evaluate_seeds_like_the_run_unless_told(tmp_path):
    """The untrained floor is the run's own initialisation by default, as in a sweep."""
    run = tmp_path / "run"
    code = main(["train", "--config", str(CONFIG), "--out", str(run), "--set", "run.steps=2",
                 "--set", "run.seed=5", "--set", "run.progress=false",
                 "--set", "run.recon_every=0", "--set", "run.device=cpu"])  # fmt: skip
    assert code == 0
    for extra, seed in (([], 5), (["--seed", "1"], 1)):
        out = tmp_path / f"eval{seed}"
        code = main(["evaluate", str(run), "--data", "synthetic", "--measure", "recon",
                     "--max-test", "16", "--recon-images", "4", "--out", str(out),
                     "--threads", "1", "--no-progress", *extra])  # fmt: skip
        assert code == 0
        assert json.loads((out / "eval.json").read_text())["seed"] == seed
