"""Identifiability metrics against known answers: R² (kernel and linear) and MCC."""

import numpy as np
import pytest

from maeid.evaluate.mcc import mcc
from maeid.evaluate.regression import latent_r2


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4))
    latents = {
        "smooth": np.stack([np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2, np.tanh(x[:, 2] * x[:, 3])], 1),
        "linear": x[:, :3] @ rng.normal(size=(3, 2)),
        "independent": rng.normal(size=(2000, 3)),
    }
    return x, latents


def test_kernel_r2_recovers_a_known_function_and_not_independent_noise(toy):
    x, latents = toy
    r2 = latent_r2(x, latents, n_landmarks=400)
    assert r2["smooth"] > 0.95
    assert r2["linear"] > 0.99
    assert abs(r2["independent"]) < 0.05


def test_linear_r2_sees_only_linear_structure(toy):
    x, latents = toy
    r2 = latent_r2(x, latents, method="linear")
    assert r2["linear"] > 0.999
    assert r2["smooth"] < 0.5  # sin + square + tanh of a product is far from linear
    assert abs(r2["independent"]) < 0.05


def test_r2_is_invariant_to_invertible_reparametrisation_of_features(toy):
    x, latents = toy
    # A code that is an invertible non-linear function of the truth still identifies it.
    code = np.tanh(x @ np.random.default_rng(1).normal(size=(4, 4)) * 0.5)
    assert latent_r2(code, {"x": x}, n_landmarks=400)["x"] > 0.95


def test_r2_is_seeded(toy):
    x, latents = toy
    a = latent_r2(x, latents, n_landmarks=200, seed=3)
    b = latent_r2(x, latents, n_landmarks=200, seed=3)
    assert a == b


def test_r2_rejects_bad_input(toy):
    x, latents = toy
    with pytest.raises(ValueError, match="samples"):
        latent_r2(x[:100], latents)
    with pytest.raises(ValueError, match="regressor"):
        latent_r2(x, latents, method="mlp")
    with pytest.raises(ValueError, match="NaN"):
        latent_r2(np.full_like(x, np.nan), latents)


def test_mcc_of_permuted_scaled_sign_flipped_copy_is_one():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1000, 5))
    code = z[:, [3, 0, 4, 1, 2]] * np.array([2.0, -0.5, 3.0, -1.0, 7.0]) + 4.0
    assert mcc(code, z) == pytest.approx(1.0)


def test_mcc_of_independent_code_is_small_and_mixing_lowers_it():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5000, 4))
    assert mcc(rng.normal(size=(5000, 4)), z) < 0.1
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    assert mcc(z @ rotation, z) < 0.95


def test_ridge_leave_one_out_residuals_equal_refitting_without_each_sample():
    from maeid.evaluate.regression import EigenRidge

    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 4))
    y = x @ rng.standard_normal((4, 2)) + 0.3 * rng.standard_normal((30, 2))
    y = y - y.mean(0)
    alpha = 0.7
    _, loo = EigenRidge(x).fit(y, alpha)
    brute = np.zeros_like(y)
    for i in range(len(x)):
        rest = np.delete(np.arange(len(x)), i)
        xm, ym = x[rest].mean(0), y[rest].mean(0)  # unpenalised intercept
        xc = x[rest] - xm
        w = np.linalg.solve(xc.T @ xc + alpha * np.eye(4), xc.T @ (y[rest] - ym))
        brute[i] = y[i] - (ym + (x[i] - xm) @ w)
    np.testing.assert_allclose(loo, brute, rtol=1e-9, atol=1e-10)


def test_bootstrap_half_width_shrinks_with_more_held_out_samples(toy):
    from maeid.evaluate.regression import latent_r2_interval

    x, latents = toy
    target = {"linear": latents["linear"] + np.random.default_rng(1).normal(size=(2000, 2))}
    small = latent_r2_interval(x[:400], {"t": target["linear"][:400]}, method="linear")["t"]
    large = latent_r2_interval(x, {"t": target["linear"]}, method="linear")["t"]
    assert 0 < large[1] < small[1]
    assert large[0] == pytest.approx(latent_r2(x, target, method="linear")["linear"])
