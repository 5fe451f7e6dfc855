"""Reconstruction metrics and corruptions against known values."""

import numpy as np
import pytest
import torch
from skimage.data import camera
from skimage.transform import resize

from maeid.evaluate.corruptions import CORRUPTIONS, corrupt
from maeid.evaluate.fsim import fsim
from maeid.evaluate.image_quality import image_quality, mse, psnr, ssim


@pytest.fixture(scope="module")
def image():
    return resize(camera(), (32, 32), anti_aliasing=True)  # a natural image in [0, 1]


def test_identical_images_are_perfect(image):
    q = image_quality(image, image, data_range=1.0)
    assert q == {"mse": 0.0, "psnr": float("inf"), "ssim": pytest.approx(1.0),
                 "fsim": pytest.approx(1.0)}  # fmt: skip


def test_psnr_of_a_known_error():
    ref = np.zeros((8, 8))
    assert psnr(ref, ref + 0.1, data_range=1.0) == pytest.approx(20.0)
    assert mse(ref, ref + 0.1) == pytest.approx(0.01)


def test_every_metric_degrades_with_noise(image):
    rng = np.random.default_rng(0)
    qs = [image_quality(image, np.clip(image + rng.normal(0, s, image.shape), 0, 1), 1.0)
          for s in (0.02, 0.08, 0.3)]  # fmt: skip
    for a, b in zip(qs, qs[1:], strict=False):
        assert a["mse"] < b["mse"] and a["psnr"] > b["psnr"]
        assert a["ssim"] > b["ssim"] and a["fsim"] > b["fsim"]
    assert 0.0 < qs[-1]["fsim"] < 0.9


def test_region_restricts_the_comparison(image):
    damaged = image.copy()
    damaged[:16] = 0.5
    top = np.zeros((32, 32), bool)
    top[:16] = True
    assert mse(image, damaged, region=~top) == 0.0
    assert ssim(image, damaged, 1.0, region=~top[:, :]) > ssim(image, damaged, 1.0, region=top)
    assert fsim(image, damaged, 1.0, region=top) < fsim(image, damaged, 1.0)
    with pytest.raises(ValueError, match="no pixel"):
        mse(image, damaged, region=np.zeros((32, 32), bool))


def test_fsim_is_symmetric_and_accepts_channels(image):
    noisy = np.clip(image + 0.1 * np.random.default_rng(0).normal(size=image.shape), 0, 1)
    assert fsim(image, noisy, 1.0) == pytest.approx(fsim(noisy, image, 1.0))
    assert fsim(image[None], noisy[None], 1.0) == pytest.approx(fsim(image, noisy, 1.0))


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_is_seeded_bounded_and_identity_at_severity_zero(image, name):
    x = torch.from_numpy(np.stack([image, image[::-1].copy()])[:, None]).float()
    assert torch.equal(corrupt(x, name, 0), x)
    a, b = corrupt(x, name, 3, seed=1), corrupt(x, name, 3, seed=1)
    assert torch.equal(a, b) and a.shape == x.shape
    assert a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a, x)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_grows_with_severity(image, name):
    x = torch.from_numpy(np.stack([image] * 4)[:, None]).float()
    dist = [float((corrupt(x, name, s, seed=0) - x).abs().mean()) for s in range(6)]
    assert dist[0] == 0.0
    assert dist[5] > dist[1] > 0.0
    assert all(b >= a - 1e-3 for a, b in zip(dist, dist[1:], strict=False)), dist


def test_corrupt_rejects_bad_arguments(image):
    x = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(x, "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        corrupt(x, "contrast", 6)
