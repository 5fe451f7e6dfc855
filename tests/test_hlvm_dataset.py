"""Datasets round-trip bit for bit, and `maeid synth` writes one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from maeid.cli import main
from maeid.hlvm import load_dataset, load_model, save_dataset

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "models"


def assert_same_sample(a, b):
    if a.images is None:
        assert b.images is None
    else:
        assert a.images.dtype == b.images.dtype
        np.testing.assert_array_equal(a.images, b.images)
    for field in ("observed", "latents", "noises"):
        x, y = getattr(a, field), getattr(b, field)
        assert list(x) == list(y), field
        for k in x:
            assert x[k].dtype == y[k].dtype == np.float32
            np.testing.assert_array_equal(x[k], y[k], err_msg=f"{field}[{k}]")


@pytest.mark.parametrize("source", ["qt32", "diamond.yaml"])
def test_round_trip_is_bit_for_bit(tmp_path, source):
    model = load_model(source if source == "qt32" else CONFIGS / source, seed=4)
    sample = model.sample(50, seed=11)
    path = save_dataset(tmp_path / "data.npz", model, sample)
    rebuilt, loaded = load_dataset(path)
    assert_same_sample(sample, loaded)
    assert rebuilt.spec == model.spec and rebuilt.config == model.config
    assert rebuilt.name == model.name
    # The rebuilt model is the same model: fresh draws match too.
    assert_same_sample(model.sample(20, seed=3), rebuilt.sample(20, seed=3))
    assert [p.name for p in tmp_path.iterdir()] == ["data.npz"]  # no temp files left


def test_save_refuses_bad_paths_and_mismatched_samples(tmp_path):
    model = load_model("qt32")
    sample = model.sample(4, seed=0)
    with pytest.raises(ValueError, match=r"\.npz"):
        save_dataset(tmp_path / "data.bin", model, sample)
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        save_dataset(tmp_path / "missing_dir" / "d.npz", model, sample)
    other = load_model(CONFIGS / "paper_example.yaml").sample(4, seed=0)
    with pytest.raises(ValueError, match="does not match"):
        save_dataset(tmp_path / "d.npz", model, other)
    assert not list(tmp_path.iterdir())


def test_load_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no dataset"):
        load_dataset(tmp_path / "absent.npz")
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a maeid dataset"):
        load_dataset(tmp_path / "foreign.npz")


def test_cli_synth_end_to_end(tmp_path, capsys):
    out = tmp_path / "sub" / "qt32.npz"
    args = ["synth", "--model", "qt32", "--n", "40", "--seed", "2", "--model-seed", "1"]
    assert main([*args, "--out", str(out), "--variance-samples", "256"]) == 0
    printed = capsys.readouterr().out
    for label in ("level 0", "level 1", "level 2", "observed noise"):
        assert label in printed
    assert out.with_suffix(".png").stat().st_size > 0
    model, sample = load_dataset(out)
    assert model.seed == 1 and model.builder == {"name": "qt32"}
    assert_same_sample(sample, load_model("qt32", seed=1).sample(40, seed=2))


def test_cli_synth_yaml_model_and_errors(tmp_path, capsys):
    out = tmp_path / "ex.npz"
    yaml_path = str(CONFIGS / "paper_example.yaml")
    assert main(["synth", "--model", yaml_path, "--n", "10", "--out", str(out)]) == 0
    assert not out.with_suffix(".png").exists()  # not an image model
    _, sample = load_dataset(out)
    assert sample.images is None and sample.observed["x3"].shape == (10, 8)

    capsys.readouterr()
    assert main(["synth", "--model", "qt99", "--out", str(tmp_path / "x.npz")]) == 2
    assert "unknown model 'qt99'" in capsys.readouterr().err
    assert main(["synth", "--n", "5", "--out", str(tmp_path / "x.txt")]) == 2
    assert ".npz" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "x.txt").exists()
