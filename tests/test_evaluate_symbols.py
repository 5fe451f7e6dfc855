"""Per-level symbol classification from frozen features (rhm32)."""

import numpy as np
import pytest
import torch

from maeid.evaluate.probe import ProbeConfig
from maeid.evaluate.symbols import (
    POOLS,
    by_level,
    chance_accuracy,
    class_through_rules,
    encoder_features,
    evaluate_symbols,
    multi_knn_accuracy,
    multi_probe_accuracy,
    pixel_features,
    rules_posterior,
    symbol_table,
)
from maeid.hlvm import load_model
from maeid.mae.presets import build_mae


def planted(n: int, seed: int):
    """Features that carry column 0 linearly (a one-hot code plus noise) and nothing of
    column 1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=(n, 2))
    x = np.eye(4)[y[:, 0]] + 0.3 * rng.standard_normal((n, 4))
    x = np.concatenate([x, rng.standard_normal((n, 4))], 1)
    return torch.from_numpy(x).float(), torch.from_numpy(y)


def test_probe_and_knn_read_the_planted_column_only():
    tx, ty = planted(2000, 0)
    vx, vy = planted(1000, 1)
    probe = multi_probe_accuracy(tx, ty, vx, vy, 4, ProbeConfig(epochs=10))
    knn = multi_knn_accuracy(tx, ty, vx, vy, 4)
    for acc in (probe, knn):
        assert acc.shape == (2,)
        assert acc[0] > 0.9
        assert abs(acc[1] - 0.25) < 0.07
    np.testing.assert_allclose(
        multi_probe_accuracy(tx, ty, vx, vy, 4, ProbeConfig(epochs=2)),
        multi_probe_accuracy(tx, ty, vx, vy, 4, ProbeConfig(epochs=2)),
    )  # seeded


def test_chance_and_levels():
    train = np.array([[0, 1], [0, 2], [1, 2]])
    test = np.array([[0, 2], [1, 2], [0, 0], [1, 2]])
    np.testing.assert_allclose(chance_accuracy(train, test), [0.5, 0.75])
    model = load_model("rhm32:levels=1,patch=4,size=8")
    assert by_level(model, np.array([1.0, 0.0, 0.5, 0.5, 1.0])) == {0: 1.0, 1: 0.5}
    with pytest.raises(ValueError, match="same N"):
        multi_knn_accuracy(torch.zeros(3, 2), torch.zeros(2, 1), torch.zeros(3, 2),
                           torch.zeros(3, 1), 2)  # fmt: skip


def test_evaluate_symbols_reports_every_view_level_and_limit():
    torch.manual_seed(0)
    model = load_model("rhm32:levels=2,size=16,v=4,m=4,n_classes=4")
    encoder = build_mae("tiny", in_chans=1).eval()
    untrained = build_mae("tiny", in_chans=1).eval()
    train, test = model.sample(300, seed=0), model.sample(200, seed=1)
    mean, std = float(train.images.mean()), float(train.images.std())
    norm = lambda a: torch.from_numpy((a - mean) / std)  # noqa: E731
    out = evaluate_symbols(
        encoder, model, norm(train.images), train.latents, norm(test.images), test.latents,
        (mean,), (std,), 0.5, untrained=untrained, config=ProbeConfig(epochs=2),
    )  # fmt: skip
    assert symbol_table(model, test.latents).shape == (200, 1 + 4 + 16)
    for view in ("full_image", "visible_tokens"):
        res = out[view]
        assert set(res) == {"trained", "untrained", "pixels", "bayes"}
        assert set(res["pixels"]) == {"probe", "knn", "chance", "rules", "rules_from"}
        for pool in POOLS:
            for measure in ("probe", "knn", "chance"):
                levels = res["trained"][pool][measure]
                assert set(levels) == {0, 1, 2}
                assert all(0.0 <= v <= 1.0 for v in levels.values())
            assert set(res["trained"][pool]["rules"]) == {0}
            assert 0.0 <= res["trained"][pool]["rules"][0] <= 1.0
            climbs = res["trained"][pool]["rules_from"]
            assert set(climbs) == {1, 2}  # from each level below the class
            assert climbs[1] == res["trained"][pool]["rules"][0]
    # sigma 0.2 on the whole image: BP reads every symbol; half the tokens hidden: not all.
    assert out["full_image"]["bayes"] == {0: 1.0, 1: 1.0, 2: 1.0}
    assert out["visible_tokens"]["bayes"][2] < 0.9


@pytest.mark.parametrize("level", [2, 3])
def test_the_class_climbs_exactly_from_exact_deeper_readouts(level):
    model = load_model("rhm32:m=32/4/2")
    sample = model.sample(300, seed=5)
    symbols = model.symbol_grids(sample.latents)[level].reshape(300, -1)  # raster order
    v = model.num_symbols(level)
    sure = torch.nn.functional.one_hot(torch.from_numpy(symbols), v).double()
    posterior = rules_posterior(model, sure, torch.from_numpy(symbols))
    assert (posterior.argmax(-1).numpy() == sample.latents["z0"][:, 0]).all()
    with pytest.raises(ValueError, match="4\\^k"):
        class_through_rules(model, sure[:, :5], torch.full((5, v), 1.0 / v))


def test_all_token_readout_keeps_each_token_at_its_position():
    torch.manual_seed(0)
    encoder = build_mae("tiny", in_chans=1).eval()
    tokens, width = encoder.layout.num_tokens, encoder.config["embed_dim"]
    images = torch.randn(3, 1, *encoder.img_size)
    full, none = encoder_features(encoder, images, None)
    assert none is None and full["tokens"].shape == (3, tokens * width)
    feats, masks = encoder_features(encoder, images, 0.75, seed=3)
    grid = feats["tokens"].reshape(3, tokens, width)
    hidden = masks.bool()
    assert (grid[hidden] == 0).all() and (grid[~hidden].abs().sum(-1) > 0).all()
    visible = encoder.encode(images, masks).tokens  # raster order, the same count a row
    torch.testing.assert_close(grid[~hidden].reshape(visible.shape), visible)


def test_pixel_floor_zeroes_exactly_the_masked_patches():
    images = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8) + 1
    mask = torch.zeros(2, 4)
    mask[0, 1] = mask[1, 3] = 1  # patch 4: 2x2 tokens
    x = pixel_features(images, mask, 4).reshape(2, 8, 8)
    assert (x[0, :4, 4:] == 0).all() and (x[1, 4:, 4:] == 0).all()
    assert int((x == 0).sum()) == 2 * 16
    assert torch.equal(pixel_features(images, None, 4), images.flatten(1))


def test_the_class_through_the_rules_is_exact_from_exact_level1_readouts():
    model = load_model("rhm32:m=32/4/2")
    sample = model.sample(500, seed=3)
    level1 = model.symbol_grids(sample.latents)[1].reshape(-1, 4)  # raster order
    classes = sample.latents["z0"][:, 0]
    v = model.knobs.v
    frequencies = torch.full((4, v), 1.0 / v)
    sure = torch.nn.functional.one_hot(torch.from_numpy(level1), v).double()
    posterior = class_through_rules(model, sure, frequencies)
    assert posterior.shape == (500, model.knobs.n_classes)
    assert (posterior.argmax(-1).numpy() == classes).all()  # unambiguous rules
    torch.testing.assert_close(posterior.sum(-1), torch.ones(500, dtype=torch.float64))
    # Readouts that know nothing leave every class as likely as its rules make it.
    blind = class_through_rules(model, torch.full((500, 4, v), 1.0 / v), frequencies)
    torch.testing.assert_close(blind, torch.full_like(blind, 1.0 / model.knobs.n_classes))
    # One symbol read wrong (0.6) but hedged (0.4 on the truth): the rules name the class
    # unless the wrong tuple is itself a rule, of another class, which then wins.
    hedged = sure.clone()
    hedged[:, 0] = 0.6 * hedged[:, 0].roll(1, dims=-1) + 0.4 * hedged[:, 0]
    recovered = class_through_rules(model, hedged, frequencies).argmax(-1).numpy()
    owner = {tuple(rule): c for c, rules in enumerate(model.rules[0]) for rule in rules}
    wrong = np.concatenate([(level1[:, :1] + 1) % v, level1[:, 1:]], 1)
    expected = [owner.get(tuple(t), c) for t, c in zip(wrong, classes, strict=True)]
    assert (recovered == np.array(expected)).all()
    assert 0.8 < (recovered == classes).mean() < 1.0  # both cases occur here


def test_only_the_readouts_asked_for_are_probed():
    torch.manual_seed(0)
    model = load_model("rhm32:levels=2,size=16,v=4,m=4,n_classes=4")
    encoder = build_mae("tiny", in_chans=1).eval()
    train, test = model.sample(60, seed=0), model.sample(40, seed=1)
    args = (encoder, model, torch.from_numpy(train.images), train.latents,
            torch.from_numpy(test.images), test.latents, (0.0,), (1.0,), 0.5)  # fmt: skip
    out = evaluate_symbols(*args, config=ProbeConfig(epochs=1), pools=("tokens",))
    assert set(out["full_image"]["trained"]) == {"tokens"}
    with pytest.raises(ValueError, match="pools=\\['median'\\]"):
        evaluate_symbols(*args, pools=("median",))
    with pytest.raises(ValueError, match="levels are 0..2"):
        model.latent_names(3)
