"""Training to a criterion (run.target_excess) and warm starts (run.init_from)."""

from pathlib import Path

import pytest
import torch

from maeid.train import read_checkpoint
from maeid.train.config import ConfigError, load_config
from maeid.train.loop import train
from maeid.train.quality import HeldOutLoss

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


def tiny(*overrides: str):
    base = ["data.n_train=64", "optim.batch_size=16", "run.steps=12", "run.ckpt_every=4",
            "run.recon_every=0", "run.progress=false", "run.log_every=1",
            "run.eval_every=2", "run.eval_images=32", "data.fresh=true"]  # fmt: skip
    return load_config(TINY, [*base, *overrides])


@pytest.fixture
def scripted_excess(monkeypatch):
    """Held-out measures that report a given excess per call, in order."""
    script: list[float] = []

    def measure(self, model):
        value = script.pop(0)
        return {"heldout_loss": value, "bayes_loss": 0.0, "plateau_loss": 1.0,
                "normalised_excess": value}  # fmt: skip

    monkeypatch.setattr(HeldOutLoss, "measure", measure)
    return script


def test_training_stops_at_the_first_measure_meeting_the_target(tmp_path, scripted_excess):
    scripted_excess.extend([0.9, 0.6, 0.3, 0.2, 0.1, 0.05])
    result = train(tiny("run.target_excess=0.35"), tmp_path / "run")
    assert result.reached_target == 6 and result.step == 6  # the third measure, at step 6
    ckpt = read_checkpoint(tmp_path / "run")
    assert ckpt["step"] == 6 and ckpt["heldout"]["normalised_excess"] == 0.3

    # Resumed with the same target there is nothing to do; a lower one trains on.
    again = train(tiny("run.target_excess=0.35"), tmp_path / "run", resume=True)
    assert again.step == 6 and again.first_loss is None and again.reached_target == 6
    lower = train(tiny("run.target_excess=0.15"), tmp_path / "run", resume=True)
    assert lower.step == 10 and lower.reached_target == 10  # measures 0.2 (step 8), 0.1


def test_a_target_never_met_runs_to_the_cap(tmp_path, scripted_excess):
    scripted_excess.extend([0.9] * 6)
    result = train(tiny("run.target_excess=0.25"), tmp_path / "run")
    assert result.step == 12 and result.reached_target is None


def test_target_excess_is_checked():
    with pytest.raises(ConfigError, match="run.target_excess"):
        tiny("run.target_excess=1.5")
    with pytest.raises(ConfigError, match="run.eval_every"):
        tiny("run.target_excess=0.25", "run.eval_every=0")


def test_init_from_copies_the_weights_and_nothing_else(tmp_path):
    source = train(tiny("run.steps=3"), tmp_path / "source")
    # A different masking unit and ratio: the weights carry over all the same.
    warm = tiny("run.steps=1", f"run.init_from={tmp_path / 'source'}", "mask.unit=8",
                "mask.ratio=0.5", "optim.lr=1e-12", "optim.weight_decay=0.0")  # fmt: skip
    result = train(warm, tmp_path / "warm")
    for name, value in source.model.state_dict().items():
        torch.testing.assert_close(result.model.state_dict()[name], value, msg=name)
    ckpt = read_checkpoint(tmp_path / "warm")
    assert ckpt["step"] == 1  # its own step count and a fresh optimiser
    assert all(s["step"] == 1 for s in ckpt["optimizer"]["state"].values())

    cold = train(tiny("run.steps=1", "optim.lr=1e-12", "optim.weight_decay=0.0"), tmp_path / "cold")
    assert not torch.equal(
        cold.model.state_dict()["blocks.0.attn.qkv.weight"],
        result.model.state_dict()["blocks.0.attn.qkv.weight"],
    )


def test_init_from_refuses_another_architecture(tmp_path):
    train(tiny("run.steps=1"), tmp_path / "source")
    wider = tiny("run.steps=1", f"run.init_from={tmp_path / 'source'}", "model.embed_dim=64")
    with pytest.raises(ValueError, match="does not fit this config"):
        train(wider, tmp_path / "wider")
    assert not (tmp_path / "wider").exists()


def test_the_cli_says_when_a_run_met_its_target(tmp_path, scripted_excess, capsys):
    from maeid.cli import main

    scripted_excess.extend([0.9, 0.2, 0.1])
    args = ["train", "--config", str(TINY), "--out", str(tmp_path / "run")]
    sets = ["data.n_train=64", "optim.batch_size=16", "run.steps=12", "run.recon_every=0",
            "run.progress=false", "run.eval_every=2", "run.eval_images=32", "data.fresh=true",
            "run.target_excess=0.25"]  # fmt: skip
    sets = [a for s in sets for a in ("--set", s)]
    assert main([*args, *sets]) == 0
    assert (
        "trained to step 4 (met run.target_excess: held-out excess 0.200)"
        in capsys.readouterr().out
    )
    assert main([*args, *sets, "--resume"]) == 0
    assert "met run.target_excess at step 4" in capsys.readouterr().out


def test_a_target_is_refused_where_no_excess_is_measured(tmp_path):
    with pytest.raises(ValueError, match="norm_pix_loss"):
        train(tiny("run.target_excess=0.25", "model.norm_pix_loss=true"), tmp_path / "run")
    assert not (tmp_path / "run").exists()
