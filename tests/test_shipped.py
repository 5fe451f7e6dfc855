"""The trained models that ship in checkpoints/: each is its recipe's, intact, trained, loadable."""

import shutil
from pathlib import Path

import pytest
import torch

from maeid.shipped import (
    MODEL,
    checkpoints_dir,
    heldout_curve,
    read_curve,
    shipped_models,
    write_shipped,
)
from maeid.train.config import load_config
from maeid.train.load_any import load_any
from maeid.train.loop import train
from maeid.train.quality import TRAINED_EXCESS

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = shipped_models(ROOT / "checkpoints")
README = (ROOT / "checkpoints" / "README.md").read_text()


def test_the_checkout_ships_rhm32_at_two_ratios_and_qt32_at_units_4_and_16():
    assert checkpoints_dir() == ROOT / "checkpoints"
    cells = {(m.shipped_config().data.model.split(":")[0], m.shipped_config().mask.ratio,
              m.shipped_config().mask.unit) for m in SHIPPED}  # fmt: skip
    assert {r for model, r, _ in cells if model == "rhm32"} >= {0.25, 0.75}
    assert {u for model, _, u in cells if model == "qt32"} >= {4, 16}


@pytest.mark.parametrize("model", SHIPPED, ids=[m.name for m in SHIPPED])
def test_each_shipped_model_is_its_recipe_trained_and_intact(model):
    assert model.recipe_differences(ROOT) == []  # the shipped config is the recipe's
    assert model.excess <= TRAINED_EXCESS
    curve = read_curve(model.folder / "heldout.csv")
    assert curve[-1]["step"] == model.recipe["step"]
    assert curve[-1]["normalised_excess"] == pytest.approx(model.excess, abs=1e-4)
    target = model.shipped_config().run.target_excess  # the recipe's criterion (<= 0.25)
    assert target <= TRAINED_EXCESS and curve[-1]["normalised_excess"] <= target
    assert all(row["normalised_excess"] > target for row in curve[:-1])  # stopped at once
    for item in model.recipe["set"]:
        assert f"--set {item}" in model.recipe["command"]
    digest = (model.folder / "SHA256SUMS").read_text().split()[0]
    assert f"[`{model.name}`]" in README and f"`{digest[:16]}`" in README
    loaded = load_any(model.verified())
    assert loaded.origin == "run" and not loaded.model.training
    assert loaded.model.mask_unit == model.shipped_config().mask.unit


def test_a_damaged_model_is_refused_with_the_fix(tmp_path):
    copy = tmp_path / SHIPPED[0].name
    shutil.copytree(SHIPPED[0].folder, copy)
    data = bytearray((copy / MODEL).read_bytes())
    data[-100] ^= 0xFF
    (copy / MODEL).write_bytes(bytes(data))
    (damaged,) = shipped_models(tmp_path)
    with pytest.raises(ValueError, match="checksum .* does not match SHA256SUMS"):
        damaged.verified()


def test_write_shipped_round_trip_on_a_tiny_run(tmp_path):
    tiny = ROOT / "configs" / "tiny.yaml"
    sets = ["data.n_train=40", "optim.batch_size=16", "run.steps=4", "run.eval_every=2",
            "run.eval_images=16", "run.recon_every=0", "run.progress=false"]  # fmt: skip
    run = tmp_path / "run"
    result = train(load_config(tiny, sets), run)
    shipped = write_shipped(run, tmp_path / "ship" / "tiny-demo", "configs/tiny.yaml", sets, "cmd")
    assert shipped.recipe_differences(ROOT) == []
    assert shipped.recipe["step"] == 4
    assert [row["step"] for row in read_curve(shipped.folder / "heldout.csv")] == [2, 4]
    assert len(heldout_curve(run / "metrics.jsonl")) == 2
    state = torch.load(shipped.verified(), weights_only=True)
    assert "optimizer" not in state and set(state) >= {"model", "model_args", "config"}
    for key, value in result.model.state_dict().items():
        torch.testing.assert_close(state["model"][key], value)
    (shipped.folder / "heldout.png").stat()  # the curve is drawn


def test_write_shipped_refuses_a_run_without_a_held_out_measure(tmp_path):
    tiny = ROOT / "configs" / "tiny.yaml"
    sets = ["data.n_train=40", "optim.batch_size=16", "run.steps=2", "run.eval_every=0",
            "run.recon_every=0", "run.progress=false"]  # fmt: skip
    train(load_config(tiny, sets), tmp_path / "run")
    with pytest.raises(ValueError, match="no held-out measure"):
        write_shipped(tmp_path / "run", tmp_path / "ship", "configs/tiny.yaml", sets, "cmd")
    assert not (tmp_path / "ship").exists()


def test_evaluate_writes_beside_a_shipped_model_and_into_a_runs_own_folder(tmp_path):
    from types import SimpleNamespace

    from maeid.cli.evaluate import default_out

    shipped = SHIPPED[0].model_path
    assert default_out(SimpleNamespace(path=shipped, origin="run")) == shipped.with_name(
        "model-eval"
    )
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("{}")
    last = run / "checkpoints" / "last.pt"
    assert default_out(SimpleNamespace(path=last, origin="run")) == run / "eval"
    assert default_out(SimpleNamespace(path=run, origin="run")) == run / "eval"
