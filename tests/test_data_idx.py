"""IDX parsing and Fashion-MNIST loading."""

import gzip
import struct

import numpy as np
import pytest

from maeid.data import IdxError, load_fashion_mnist, parse_idx, read_idx
from maeid.data import fashion_mnist as fm


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_parses_every_dtype_big_endian():
    rng = np.random.default_rng(0)
    for code, dtype in [(0x08, np.uint8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32)]:
        a = (rng.normal(size=(3, 4, 5)) * 100).astype(dtype)
        np.testing.assert_array_equal(parse_idx(idx_bytes(a, code)), a)


def test_reads_gzip_and_plain_files(tmp_path):
    a = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    (tmp_path / "plain").write_bytes(idx_bytes(a, 0x08))
    (tmp_path / "packed.gz").write_bytes(gzip.compress(idx_bytes(a, 0x08)))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "packed.gz"), a)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda raw: raw[:-7], "truncated"),
        (lambda raw: raw + b"\0", "trailing"),
        (lambda raw: b"\x01" + raw[1:], "magic"),
        (lambda raw: raw[:2] + b"\x42" + raw[3:], "magic"),
        (lambda raw: raw[:10], "truncated"),
    ],
)
def test_refuses_corrupt_files(corrupt, message):
    raw = idx_bytes(np.zeros((4, 3, 3), np.uint8), 0x08)
    with pytest.raises(IdxError, match=message):
        parse_idx(corrupt(raw))


def test_refuses_truncated_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8).reshape(10, 100), 0x08))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(IdxError, match="gzip"):
        read_idx(tmp_path / "cut.gz")


def test_missing_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "DEFAULT_DIR", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist()


def test_corrupt_fashion_mnist_folder_is_refused(tmp_path):
    images = np.zeros((5, 28, 28), np.uint8)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images, 0x08)))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(5, np.uint8), 0x08))
    )
    with pytest.raises(IdxError, match="expected 10000"):
        load_fashion_mnist("test", data_dir=tmp_path)


@pytest.mark.skipif(not fm.DEFAULT_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_padded_to_32():
    images, labels = load_fashion_mnist("test", pad_to=32)
    assert images.shape == (10000, 1, 32, 32) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10  # the test split is balanced
    # The border is zero padding; the 28x28 centre is the original image.
    assert images[:, :, :2].max() == 0 and images[:, :, :, -2:].max() == 0
    raw, _ = load_fashion_mnist("test", pad_to=0)
    np.testing.assert_array_equal(images[:, :, 2:30, 2:30], raw)
