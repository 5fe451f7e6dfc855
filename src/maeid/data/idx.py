"""The IDX file format of MNIST and Fashion-MNIST, read with numpy.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the array in C order, big-endian.
Files may be gzip-compressed; the `.gz` suffix is not trusted, the gzip magic is.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

# Type code -> big-endian numpy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
    """An IDX file that is truncated, corrupt, or not IDX at all."""


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file into a native-endian array."""
    if len(raw) < 4:
        raise IdxError(f"{name}: {len(raw)} bytes is too short for an IDX header")
    zero, code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or code not in IDX_DTYPES or ndim == 0:
        raise IdxError(
            f"{name}: bad IDX magic number 0x{raw[:4].hex()}; expected 0x0000 then a type "
            f"code in {{{', '.join(f'0x{c:02x}' for c in IDX_DTYPES)}}} then a dimension count"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(f"{name}: truncated header ({len(raw)} bytes, need {header})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise IdxError(
            f"{name}: file {what}: {len(raw)} bytes, but the header {shape} of {dtype.name} "
            f"needs {expected}; re-download or reinstall the data"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not), checking its magic number and size."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} does not exist")
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise IdxError(f"{path}: corrupt or truncated gzip stream ({err})") from err
    return parse_idx(raw, str(path))
