"""Seeded, shardable loading of in-memory tensors and image folders; the augmentation."""

import numpy as np
import pytest
import torch
from PIL import Image

from maeid.data import EpochBatches, ImageFolder, TensorImages
from maeid.data.transforms import resized_crop_box


def numbered_images(n: int) -> TensorImages:
    # Image i is constant i, so a batch reveals which samples it holds.
    images = torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, 1, 4, 4)
    return TensorImages(images.contiguous(), mean=(0.0,), std=(1.0,))


def ids(batch: torch.Tensor) -> list[int]:
    return batch[:, 0, 0, 0].long().tolist()


def test_tensor_images_normalise_uint8_and_float():
    raw = torch.full((2, 1, 2, 2), 51, dtype=torch.uint8)
    x = TensorImages(raw, mean=(0.1,), std=(0.5,)).batch(torch.tensor([0, 1]))
    torch.testing.assert_close(x, torch.full((2, 1, 2, 2), (0.2 - 0.1) / 0.5))
    with pytest.raises(ValueError, match="one per channel"):
        TensorImages(raw, mean=(0.1, 0.2), std=(0.5, 0.5))


def test_epoch_order_is_seeded_and_covers_each_sample_once():
    data = numbered_images(40)
    a = [ids(b) for b in EpochBatches(data, 8, seed=3).epoch(0)]
    b = [ids(b) for b in EpochBatches(data, 8, seed=3).epoch(0)]
    c = [ids(b) for b in EpochBatches(data, 8, seed=4).epoch(0)]
    d = [ids(b) for b in EpochBatches(data, 8, seed=3).epoch(1)]
    assert a == b and a != c and a != d
    assert sorted(sum(a, [])) == list(range(40))


def test_resuming_mid_epoch_skips_the_batches_seen():
    stream = EpochBatches(numbered_images(40), 8, seed=1)
    full = [ids(b) for b in stream.epoch(2)]
    assert [ids(b) for b in stream.epoch(2, start=3)] == full[3:]


def test_ranks_together_see_the_single_process_batch():
    data = numbered_images(50)
    single = [ids(b) for b in EpochBatches(data, 12, seed=7).epoch(0)]
    ranks = [[ids(b) for b in EpochBatches(data, 4, 7, r, 3).epoch(0)] for r in range(3)]
    assert len(ranks[0]) == len(single) == 4
    for step, batch in enumerate(single):
        # Rank r holds global positions r, r + 3, ...: interleave them back.
        merged = [ranks[i % 3][step][i // 3] for i in range(12)]
        assert merged == batch


def test_too_little_data_for_one_batch_is_refused():
    with pytest.raises(ValueError, match="no full batch"):
        EpochBatches(numbered_images(5), 8)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            pixels = rng.integers(0, 256, size=(20 + 3 * i, 30, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    return tmp_path


def test_image_folder_lists_classes_and_normalises(folder):
    data = ImageFolder(folder, size=16, mean=(0.5,) * 3, std=(0.25,) * 3)
    assert data.classes == ["cat", "dog"] and len(data) == 12
    x, label = data[7]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and label == 1
    assert -2.0 - 1e-6 <= x.min() and x.max() <= 2.0 + 1e-6  # (0..1 - 0.5) / 0.25
    evaluation = ImageFolder(folder, size=16, train=False)
    torch.testing.assert_close(evaluation[3][0], evaluation[3][0])


def test_augmentation_depends_on_seed_epoch_index_not_on_workers(folder):
    def epoch(workers, seed=0, epoch=0):
        stream = EpochBatches(ImageFolder(folder, size=8, seed=seed), 4, seed, num_workers=workers)
        return torch.cat(list(stream.epoch(epoch)))

    serial = epoch(0)
    torch.testing.assert_close(epoch(2), serial, rtol=0, atol=0)
    assert not torch.equal(epoch(0, epoch=1), serial)
    assert not torch.equal(epoch(0, seed=1), serial)


def test_crop_box_stays_inside_and_respects_scale():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        left, top, w, h = resized_crop_box(64, 48, (0.2, 1.0), (3 / 4, 4 / 3), g)
        assert 0 <= left and left + w <= 64 and 0 <= top and top + h <= 48
        assert 0.2 * 64 * 48 * 0.9 <= w * h <= 64 * 48
    # An impossible aspect falls back to the central box of the nearest allowed aspect.
    assert resized_crop_box(100, 10, (0.9, 1.0), (1.0, 1.0), g, attempts=0) == (45, 0, 10, 10)


def test_image_folder_refuses_bad_roots(tmp_path):
    with pytest.raises(FileNotFoundError):
        ImageFolder(tmp_path / "absent")
    with pytest.raises(ValueError, match="no class subfolders"):
        ImageFolder(tmp_path)


def test_image_folder_names_and_skips_files_that_are_not_images(tmp_path):
    (tmp_path / "cls").mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / "cls" / f"{i}.png")
    (tmp_path / "cls" / "notes.jpg").write_text("not an image")
    with pytest.warns(UserWarning, match=r"skipped 1 file\(s\).*notes\.jpg"):
        folder = ImageFolder(tmp_path, size=8, train=False)
    assert len(folder) == 2 and all(p.suffix == ".png" for p, _ in folder.samples)
    assert folder[1][0].shape == (3, 8, 8)
