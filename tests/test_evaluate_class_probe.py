"""The class-only probe of limited capacity, and the rules readout as a share of its gap."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from maeid.cli import main
from maeid.evaluate.class_probe import (
    MLPProbeConfig,
    check_budgets,
    class_probe_score,
    evaluate_class_probe,
    format_class_probe,
)
from maeid.evaluate.rules_share import READABLE_SE, rules_share
from maeid.hlvm import load_model
from maeid.mae.presets import build_mae

FAST = MLPProbeConfig(max_epochs=40, patience=5)


def labelled(n: int, seed: int, signal: float):
    """4 classes; 32 features, the first 4 a one-hot of the class times `signal`, all with
    unit noise: the class is linearly present for signal > 0, absent at 0."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.randn(n, 32, generator=g)
    x[:, :4] += signal * torch.nn.functional.one_hot(y, 4).float()
    return x, y


def test_the_probe_reads_a_linearly_present_class_and_nothing_from_noise():
    tx, ty = labelled(1000, 0, 3.0)
    vx, vy = labelled(2000, 1, 3.0)
    present = class_probe_score(tx, ty, vx, vy, 4, FAST)
    assert present.accuracy > 0.9 and present.cross_entropy < 0.4
    nx, _ = labelled(1000, 2, 0.0)
    wx, _ = labelled(2000, 3, 0.0)
    noise = class_probe_score(nx, ty, wx, vy, 4, FAST)
    assert abs(noise.accuracy - 0.25) < 0.04  # chance; 2000 test images: SE 0.01
    assert noise.cross_entropy == pytest.approx(math.log(4), abs=0.05)  # early stopping
    assert noise.epochs < FAST.max_epochs  # stopped once the held-out loss stopped falling
    assert class_probe_score(nx, ty, wx, vy, 4, FAST) == noise  # seeded


def test_budgets_and_bad_inputs_are_refused_with_the_fix():
    assert check_budgets([8000, 1000, 1000.0]) == (1000, 8000)
    for bad in ([], [4], [10.5], ["1000"], [True]):
        with pytest.raises(ValueError, match="budget|no budget"):
            check_budgets(bad)
    with pytest.raises(ValueError, match="budget 8000 exceeds the 1000"):
        check_budgets([8000], available=1000)
    x, y = labelled(20, 0, 1.0)
    with pytest.raises(ValueError, match="classes are 0..2"):
        class_probe_score(x, y, x, y, 3, FAST)
    with pytest.raises(ValueError, match="validation_share"):
        class_probe_score(x, y, x, y, 4, MLPProbeConfig(validation_share=1.0))


def test_evaluate_class_probe_sets_each_budget_beside_its_floors_and_bayes():
    torch.manual_seed(0)
    model = load_model("rhm32:levels=2,size=16,v=4,m=4,n_classes=4")
    encoder, untrained = build_mae("tiny", in_chans=1).eval(), build_mae("tiny", in_chans=1).eval()
    train, test = model.sample(120, seed=0), model.sample(100, seed=1)
    mean, std = float(train.images.mean()), float(train.images.std())
    norm = lambda a: torch.from_numpy((a - mean) / std)  # noqa: E731
    out = evaluate_class_probe(
        encoder, model, norm(train.images), train.latents, norm(test.images), test.latents,
        (mean,), (std,), 0.5, untrained, budgets=(120, 40), config=MLPProbeConfig(max_epochs=3),
    )  # fmt: skip
    assert out["budgets"] == [40, 120] and out["test"] == 100
    classes = test.latents["z0"].reshape(-1)
    for view in ("full_image", "visible_tokens"):
        res = out[view]
        for reader in ("trained", "untrained", "pixels"):
            assert set(res[reader]) == {40, 120}
            for score in res[reader].values():
                assert 0.0 <= score["accuracy"] <= 1.0 and score["ce"] > 0
        counts = np.bincount(train.latents["z0"].reshape(-1), minlength=4)
        assert res["chance"] == pytest.approx((classes == counts.argmax()).mean())
    assert out["full_image"]["bayes"]["accuracy"] == 1.0  # sigma 0.2: BP reads the class
    assert out["visible_tokens"]["bayes"]["ce"] > out["full_image"]["bayes"]["ce"]
    assert "120 labels" in format_class_probe(out)
    with pytest.raises(ValueError, match="budget 500 exceeds the 120"):
        evaluate_class_probe(encoder, model, norm(train.images), train.latents,
                             norm(test.images), test.latents, (mean,), (std,), 0.5, untrained,
                             budgets=(500,))  # fmt: skip


def test_the_rules_share_and_its_five_standard_error_rule():
    # A floor of 0.9 on 1000 images has a standard error of 0.0095: 5 SE is 0.047.
    se = math.sqrt(0.9 * 0.1 / 1000)
    wide = rules_share(0.97, 0.9, 0.95 + 1e-9, 1000)  # gap 0.05: 5.27 SE
    assert wide.readable and wide.gap_se == pytest.approx(0.05 / se)
    assert wide.share == pytest.approx(0.07 / 0.05)  # above the limit: more than all of it
    narrow = rules_share(0.93, 0.9, 0.94, 1000)  # gap 0.04: 4.2 SE
    assert not narrow.readable and narrow.share == pytest.approx(0.75)
    assert READABLE_SE == 5.0
    assert rules_share(0.93, 0.9, 0.94, 100_000).readable  # more test images: 42 SE
    none = rules_share(1.0, 1.0, 1.0, 1000)  # the floor is at the limit
    assert math.isnan(none.share) and not none.readable
    assert rules_share(0.5, 0.0, 1.0, 10).readable  # no binomial spread, a whole gap
    with pytest.raises(ValueError, match="accuracy lies in"):
        rules_share(1.2, 0.9, 1.0, 1000)


@pytest.mark.parametrize("budgets", ["1000,x", "1000,3", ""])
def test_the_cli_refuses_a_bad_budget_before_it_reads_or_writes_anything(tmp_path, capsys, budgets):
    out = tmp_path / "out"
    code = main(["evaluate", str(tmp_path / "missing.pt"), "--measure", "class_probe",
                 "--class-budgets", budgets, "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"--class-budgets {budgets!r}" in err and "e.g. 1000,8000" in err
    assert not out.exists()
