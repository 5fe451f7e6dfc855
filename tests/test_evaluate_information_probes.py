"""Information per level from probes (G) and its exact limit H_Bayes, on rhm32."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from maeid.cli import main
from maeid.evaluate.information_probes import (
    evaluate_information,
    format_information,
    gap_share,
    information_per_level,
    level_log_loss,
)
from maeid.evaluate.probe import ProbeConfig
from maeid.evaluate.symbols import symbol_table
from maeid.hlvm import load_model
from maeid.mae.presets import build_mae
from maeid.theory.belief_propagation import (
    posterior_entropy,
    tree_posterior,
    true_symbol_log_loss,
)

ONE_LEVEL = "rhm32:levels=1,patch=2,v=3,m=2,n_classes=2,sigma=0.6"


def enumerated_posterior(model, images: np.ndarray, visible: np.ndarray):
    """By hand, for a tree of one level: every (class, rule) weighed by the Gaussian
    likelihood of the visible pixels; the class's and each leaf's exact posterior."""
    k = model.knobs
    tiles = model.patches[:, 0].astype(np.float64)  # (v, 2, 2)
    configs = list(itertools.product(range(k.n_classes), range(k.rules_at(0))))
    leaves = np.stack([model.rules[0][c, r] for c, r in configs])  # (configs, 4) raster
    renders = np.stack([np.block([[tiles[s[0]], tiles[s[1]]], [tiles[s[2]], tiles[s[3]]]])
                        for s in leaves])  # fmt: skip
    root = np.zeros((len(images), k.n_classes))
    leaf = np.zeros((len(images), 4, k.v))
    for i, (x, seen) in enumerate(zip(images[:, 0].astype(np.float64), visible, strict=True)):
        loglik = -(((x - renders) ** 2) * seen).sum((1, 2)) / (2 * k.sigma**2)
        w = np.exp(loglik - loglik.max())
        w /= w.sum()
        for wk, (c, _), kids in zip(w, configs, leaves, strict=True):
            root[i, c] += wk
            leaf[i, np.arange(4), kids] += wk
    return root, leaf


def test_h_bayes_is_the_exact_posterior_cross_entropy_computed_by_hand():
    model = load_model(ONE_LEVEL, seed=2)
    sample = model.sample(40, seed=3)
    visible = np.random.default_rng(0).random((40, 4, 4)) < 0.4  # a sparse view: H > 0
    root, leaf = enumerated_posterior(model, sample.images, visible)
    post = tree_posterior(model, sample.images, visible)
    truth = model.symbol_grids(sample.latents)
    losses = true_symbol_log_loss(post, truth)
    classes = truth[0].reshape(-1)
    leaves = truth[1].reshape(40, 4)
    want_root = -np.log(root[np.arange(40), classes])
    want_leaf = -np.log(np.take_along_axis(leaf, leaves[..., None], -1)[..., 0]).mean(1)
    np.testing.assert_allclose(losses[0], want_root, rtol=1e-9)
    np.testing.assert_allclose(losses[1], want_leaf, rtol=1e-9)
    entropy = posterior_entropy(post)
    np.testing.assert_allclose(entropy[0], -(root * np.log(root)).sum(1), rtol=1e-9)
    assert losses[0].mean() > 0.05  # the view leaves the class uncertain: a real test


def test_the_log_loss_averages_to_the_posterior_entropy():
    """-log p(true) and the posterior entropy estimate the same conditional entropy."""
    model = load_model(ONE_LEVEL, seed=2)
    sample = model.sample(4000, seed=4)
    visible = np.random.default_rng(1).random((4000, 4, 4)) < 0.4
    post = tree_posterior(model, sample.images, visible)
    losses = true_symbol_log_loss(post, model.symbol_grids(sample.latents))
    for loss, entropy in zip(losses, posterior_entropy(post), strict=True):
        assert abs(loss.mean() - entropy.mean()) < 4 * loss.std() / math.sqrt(len(loss))


def test_g_is_one_at_the_limit_zero_at_the_floor_and_undefined_without_a_gap():
    rng = np.random.default_rng(0)
    bayes = rng.random(500) * 0.2
    floor = bayes + 0.5 + 0.1 * rng.standard_normal(500)
    halfway = (floor + bayes) / 2
    assert gap_share(bayes, floor, bayes).value == pytest.approx(1.0)
    assert gap_share(floor, floor, bayes).value == pytest.approx(0.0)
    assert gap_share(halfway, floor, bayes).value == pytest.approx(0.5)
    share = gap_share(halfway, floor, bayes)
    assert share.gap == pytest.approx((floor - bayes).mean())
    assert share.gap_se == pytest.approx(share.gap / (floor.std(ddof=1) / math.sqrt(500)))
    assert math.isnan(gap_share(bayes, bayes, bayes).value)  # no gap: nothing to share
    with pytest.raises(ValueError, match="one loss per test image"):
        gap_share(bayes, floor[:10], bayes)


def test_the_standard_error_of_g_matches_its_spread_over_test_sets():
    """value_se, from one test set, predicts how much G moves between test sets."""
    rng = np.random.default_rng(1)

    def one_test_set(n: int = 400):
        bayes = rng.random(n) * 0.2
        floor = bayes + 0.6 + 0.3 * rng.standard_normal(n)
        reader = bayes + 0.3 + 0.3 * rng.standard_normal(n)
        return gap_share(reader, floor, bayes)

    shares = [one_test_set() for _ in range(400)]
    spread = np.std([s.value for s in shares], ddof=1)
    mean_se = np.mean([s.value_se for s in shares])
    assert abs(np.mean([s.value for s in shares]) - 0.5) < 0.01
    assert 0.85 < mean_se / spread < 1.15
    assert math.isnan(gap_share(bayes_zero := np.zeros(5), bayes_zero, bayes_zero).value_se)


@pytest.fixture(scope="module")
def noisy_tree():
    """A grammar whose pixels leave every level uncertain (sigma 1), its samples and BP."""
    model = load_model("rhm32:levels=1,patch=4,v=4,m=4,n_classes=4,sigma=1.0")
    train, test = model.sample(8000, seed=0), model.sample(1000, seed=1)
    posts = [tree_posterior(model, s.images) for s in (train, test)]
    return model, train, test, posts


def _exact_log_posteriors(post) -> torch.Tensor:
    """Every latent's exact log-posterior side by side: features that hold all the view
    says of every symbol, linearly."""
    cols = [np.log(np.maximum(p, 1e-4)).reshape(len(p), -1) for p in post.levels]
    return torch.from_numpy(np.concatenate(cols, 1)).float()


def test_a_probe_of_the_exact_posterior_closes_the_gap_and_noise_closes_none(noisy_tree):
    model, train, test, (train_post, test_post) = noisy_tree
    rng = torch.Generator().manual_seed(0)
    n, m = len(train_post), len(test_post)
    readers = {
        "untrained": (torch.randn(n, 16, generator=rng), torch.randn(m, 16, generator=rng)),
        "exact": (_exact_log_posteriors(train_post), _exact_log_posteriors(test_post)),
        "noise": (torch.randn(n, 16, generator=rng), torch.randn(m, 16, generator=rng)),
    }
    truth = model.symbol_grids(test.latents)
    bayes = np.stack(true_symbol_log_loss(test_post, truth), 1)
    # A probe's excess over H_Bayes shrinks as (parameters / samples): 8000 samples for
    # 5 x 4 features leave it within a few hundredths of a nat.
    out = information_per_level(
        model, readers, symbol_table(model, train.latents), symbol_table(model, test.latents),
        bayes, ProbeConfig(epochs=6, lr=3e-2, batch_size=256),
    )  # fmt: skip
    for level in (0, 1):
        assert out["bayes_ce"][level] > 0.3  # sigma 1: every level is uncertain
        assert out["gap_se"][level] > 5  # the noise floor is far from the limit
        assert out["gain_share"]["exact"][level] > 0.95, level
        assert abs(out["gain_share"]["noise"][level]) < 0.05, level
        assert out["ce"]["exact"][level] >= out["bayes_ce"][level] - 0.02  # no probe beats BP
    assert set(out["gain_share"]) == {"exact", "noise"}  # none for the floor itself


def test_level_log_loss_averages_each_level_s_latents():
    model = load_model("rhm32:levels=1,patch=4,size=8")
    probs = torch.full((2, 5, 8), 1e-3)
    probs[:, 0, 3] = 0.5  # the class: 0.5 on symbol 3
    probs[:, 1:, 0] = 0.25  # every leaf: 0.25 on symbol 0
    truth = np.array([[3, 0, 0, 0, 0], [3, 1, 0, 0, 0]])
    loss = level_log_loss(model, probs.log(), truth)
    np.testing.assert_allclose(loss[:, 0], -math.log(0.5))
    np.testing.assert_allclose(loss[0, 1], -math.log(0.25))
    np.testing.assert_allclose(loss[1, 1], -(3 * math.log(0.25) + math.log(1e-3)) / 4, rtol=1e-6)


def test_evaluate_information_reads_every_view_and_level_beside_both_floors():
    torch.manual_seed(0)
    model = load_model("rhm32:levels=2,size=16,v=4,m=4,n_classes=4")
    encoder, untrained = build_mae("tiny", in_chans=1).eval(), build_mae("tiny", in_chans=1).eval()
    train, test = model.sample(200, seed=0), model.sample(100, seed=1)
    mean, std = float(train.images.mean()), float(train.images.std())
    norm = lambda a: torch.from_numpy((a - mean) / std)  # noqa: E731
    out = evaluate_information(
        encoder, model, norm(train.images), train.latents, norm(test.images), test.latents,
        (mean,), (std,), 0.5, untrained, ProbeConfig(epochs=2), pool="tokens",
    )  # fmt: skip
    assert (out["train"], out["test"], out["pool"]) == (200, 100, "tokens")
    for view in ("full_image", "visible_tokens"):
        res = out[view]
        assert set(res["ce"]) == {"trained", "untrained", "pixels"}
        assert set(res["gain_share"]) == {"trained", "pixels"}
        for level in (0, 1, 2):
            assert all(res["ce"][who][level] > 0 for who in res["ce"])
    assert out["full_image"]["bayes_ce"][0] < 1e-6  # sigma 0.2, whole image: BP is sure
    assert out["visible_tokens"]["bayes_ce"][2] > 0.01  # half the leaves hidden
    again = evaluate_information(
        encoder, model, norm(train.images), train.latents, norm(test.images), test.latents,
        (mean,), (std,), 0.5, untrained, ProbeConfig(epochs=2), pool="tokens",
    )  # fmt: skip
    assert again == out  # seeded: the same masks, probes and numbers
    text = format_information(out)
    assert "H_Bayes" in text and text.count("level 2") == 2
    with pytest.raises(ValueError, match="views=\\['side'\\]"):
        evaluate_information(encoder, model, norm(train.images), train.latents,
                             norm(test.images), test.latents, (mean,), (std,), 0.5, untrained,
                             views=("side",))  # fmt: skip


def test_maeid_evaluate_measures_information_and_the_class_probe(tmp_path, capsys):
    run, out = tmp_path / "run", tmp_path / "eval"
    config = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
    assert main(["train", "--config", str(config), "--out", str(run), "--set", "run.steps=2",
                 "--set", "data.model=rhm32:size=16,v=4,m=4,n_classes=4", "--set",
                 "run.progress=false", "--set", "run.recon_every=0", "--set",
                 "run.device=cpu"]) == 0  # fmt: skip
    code = main(["evaluate", str(run), "--data", "synthetic", "--max-test", "60",
                 "--max-train", "80", "--probe-epochs", "1", "--pool", "tokens",
                 "--measure", "symbols,information,class_probe", "--class-budgets", "40,20",
                 "--out", str(out), "--threads", "1", "--no-progress"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "information per level (probe cross-entropy, nats; tokens readout)" in printed
    assert "class-only probe (64 hidden units, tokens readout" in printed
    assert "its share of the untrained floor's gap to Bayes" in printed
    result = json.loads((out / "eval.json").read_text())
    assert result["information"]["train"] == 80 and result["information"]["test"] == 60
    assert result["class_probe"]["budgets"] == [20, 40]
    assert set(result["class_probe"]["visible_tokens"]["pixels"]) == {"20", "40"}
