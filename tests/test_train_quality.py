"""Training quality on synthetic data: fresh samples, and the held-out loss against the
exact Bayes loss in the run's logs."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from maeid.data.fresh import FreshBatches
from maeid.hlvm import load_model
from maeid.train.config import ConfigError, load_config
from maeid.train.loop import train
from maeid.train.quality import TRAINED_EXCESS, under_trained

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


def tiny(*overrides: str):
    base = ["data.n_train=64", "optim.batch_size=16", "run.steps=6", "run.ckpt_every=2",
            "run.recon_every=0", "run.progress=false", "run.log_every=2",
            "run.eval_every=3", "run.eval_images=64", "data.fresh=true"]  # fmt: skip
    return load_config(TINY, [*base, *overrides])


def test_fresh_batches_are_a_function_of_the_step_and_split_over_ranks():
    model = load_model("qt32")
    one = FreshBatches(model, 8, (0.0,), (1.0,), seed=3)
    assert torch.equal(one.at(5), one.at(5))
    assert not torch.equal(one.at(5), one.at(6))
    # Under DDP each rank draws only its own half, seeded by its rank: two different,
    # reproducible halves, none of them the single process's images.
    ranks = [FreshBatches(model, 8, (0.0,), (1.0,), seed=3, rank=r, world_size=2) for r in (0, 1)]
    halves = [r.at(5) for r in ranks]
    assert halves[0].shape == halves[1].shape == (4, 1, 32, 32)
    assert torch.equal(halves[0], ranks[0].at(5))
    assert not torch.equal(halves[0], halves[1])
    assert not torch.equal(halves[0], one.at(5)[:4])
    first = next(iter(one.epoch(1, start=1)))  # drawn a batch ahead, in a background thread
    assert first.shape == (8, 1, 32, 32)
    assert torch.equal(first, one.at(one.steps_per_epoch + 1))


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory):
    return train(tiny(), tmp_path_factory.mktemp("fresh"))


def test_held_out_loss_is_logged_against_the_bayes_loss(fresh_run):
    entries = [json.loads(line) for line in (fresh_run.out_dir / "metrics.jsonl").open()]
    measured = [e for e in entries if "heldout_loss" in e]
    assert [e["step"] for e in measured] == [3, 6]
    for e in measured:
        assert 0.1 < e["bayes_loss"] < e["plateau_loss"] < 1.2  # qt32 at 0.75, unit 4: ~0.2
        excess = (e["heldout_loss"] - e["bayes_loss"]) / (e["plateau_loss"] - e["bayes_loss"])
        assert e["normalised_excess"] == pytest.approx(excess)
    assert fresh_run.quality == {k: measured[-1][k] for k in fresh_run.quality}
    assert (fresh_run.out_dir / "heldout.png").stat().st_size > 1000  # the learning curve
    # Six steps of a tiny model are nowhere near trained.
    assert under_trained(fresh_run.quality["normalised_excess"])


def test_fresh_training_resumes_bit_for_bit(fresh_run, tmp_path):
    train(tiny(), tmp_path, stop_after=4)
    resumed = train(tiny(), tmp_path, resume=True)
    a, b = fresh_run.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.quality == fresh_run.quality


def test_a_run_resumed_after_its_last_step_still_reports_its_quality(fresh_run, tmp_path):
    train(tiny(), tmp_path)  # finished; then stopped before its result was recorded
    again = train(tiny(), tmp_path, resume=True)
    assert again.step == 6 and again.first_loss is None  # nothing left to train
    assert again.quality == fresh_run.quality


def test_fresh_needs_a_generating_model_and_eval_settings_are_checked():
    with pytest.raises(ConfigError, match="data.fresh"):
        load_config(TINY, ["data.source=fashion_mnist", "data.fresh=true"])
    with pytest.raises(ConfigError, match="run.eval_images"):
        load_config(TINY, ["run.eval_images=0"])


def test_under_trained_label():
    assert under_trained(TRAINED_EXCESS + 0.01)
    assert not under_trained(TRAINED_EXCESS)
    assert not under_trained(None)  # unknown (real data): no label
    assert under_trained(float("nan"))
    assert np.isfinite(TRAINED_EXCESS)


def test_the_random_hierarchy_gets_its_limits_from_belief_propagation():
    from maeid.theory.belief_propagation import masked_mse, visible_pixels
    from maeid.theory.profile import cell_masks
    from maeid.train.quality import loss_limits

    rhm = load_model("rhm32")
    limits = loss_limits(rhm, 0.5, 4, 4, 0)
    # The same quantity straight from belief propagation on other images and masks.
    images = rhm.sample(256, seed=11).images
    masks = cell_masks(rhm.spec, 0.5, 4, 256, seed=12, patch_size=4)
    direct = masked_mse(rhm, images, visible_pixels(masks, 4, images.shape[2:]))
    assert abs(limits.bayes.value - direct.bayes) < 6 * limits.bayes.se + 0.02
    assert limits.plateau.value == pytest.approx(direct.plateau, abs=0.02)
    assert limits.bayes.value < limits.plateau.value
