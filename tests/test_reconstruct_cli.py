"""`maeid reconstruct`: a panel per image, the same numbers for the same seed, and image
files read as the model's input (picture files cropped and scaled, .npy taken as is)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from maeid.cli import main
from maeid.data.image_file import read_image_file
from maeid.train.config import load_config
from maeid.train.loop import train

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    overrides = ["data.n_train=32", "optim.batch_size=16", "run.steps=2", "run.recon_every=0",
                 "run.progress=false"]  # fmt: skip
    train(load_config(TINY, overrides), out)
    return out


@pytest.fixture
def inputs(tmp_path) -> list[str]:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3)).astype(np.uint8)).save(tmp_path / "a.jpg")
    np.save(tmp_path / "b.npy", rng.standard_normal((32, 32)).astype(np.float32))
    return [str(tmp_path / "a.jpg"), str(tmp_path / "b.npy")]


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_one_panel_per_image_the_same_for_the_same_seed(run_dir, inputs, tmp_path, capsys):
    for out, seed in [("r1", "0"), ("r2", "0"), ("r3", "1")]:
        argv = ["reconstruct", str(run_dir), *inputs, "--out", str(tmp_path / out), "--seed", seed]
        assert main(argv) == 0
    assert "wrote 2 panel(s)" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "r1").iterdir()) == ["a.png", "b.png"]
    for name in ("a.png", "b.png"):
        first = pixels(tmp_path / "r1" / name)
        assert first.shape[1] > 3 * first.shape[0] / 2  # four panels side by side
        assert np.array_equal(first, pixels(tmp_path / "r2" / name))
        assert not np.array_equal(first, pixels(tmp_path / "r3" / name))  # another mask


def test_bad_images_are_refused_before_anything_is_written(run_dir, inputs, tmp_path, capsys):
    np.save(tmp_path / "c.npy", np.zeros((3, 32, 32), np.float32))  # the model is grey
    (tmp_path / "other").mkdir()
    Image.new("L", (32, 32)).save(tmp_path / "other" / "a.png")
    for extra, says in [(str(tmp_path / "c.npy"), "(1, 32, 32)"),
                        (str(tmp_path / "other" / "a.png"), "would both write")]:  # fmt: skip
        out = tmp_path / "out"
        assert main(["reconstruct", str(run_dir), *inputs, extra, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1 and not out.exists()


def test_picture_files_are_cropped_and_scaled_npy_taken_as_is(tmp_path):
    wide = np.zeros((20, 40), np.uint8)
    wide[:, 10:30] = 255  # the centre square is white, the sides black
    Image.fromarray(wide).save(tmp_path / "wide.png")
    square = read_image_file(tmp_path / "wide.png", 8, 1)
    assert square.shape == (1, 8, 8) and square.min() > 0.9  # only the centre is kept
    assert read_image_file(tmp_path / "wide.png", 8, 3).shape == (3, 8, 8)
    np.save(tmp_path / "bytes.npy", np.full((4, 4), 255, np.uint8))
    assert torch.equal(read_image_file(tmp_path / "bytes.npy", 4, 1), torch.ones(1, 4, 4))
    raw = np.full((1, 4, 4), -3.5, np.float32)
    np.save(tmp_path / "raw.npy", raw)
    assert torch.equal(read_image_file(tmp_path / "raw.npy", 4, 1), torch.from_numpy(raw))
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match="text.png cannot be read"):
        read_image_file(tmp_path / "text.png", 4, 1)
