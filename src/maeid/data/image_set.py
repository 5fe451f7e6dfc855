"""A user's images as one array at a working resolution, for statistics over the whole set.

Three sources: `fashion_mnist` (Debian's package, read by `load_fashion_mnist`), a folder
of image files (searched recursively, any layout), or an `.npz` holding an (N, H, W) or
(N, C, H, W) array. `open_image_set` reads only what it must to check the set (a folder:
each file's header) and refuses, with the fix, a set that cannot be analysed: no image,
a single image, mixed sizes or channel counts, a file that claims to be an image but is
not, non-finite values. `read_images` then reads a subset at a working side: the centre
square of each image, area-resampled (PIL's box filter: every output pixel is the mean
of the input area it covers) when the side is smaller than the native one.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from maeid.data.image_folder import IMAGE_SUFFIXES

FASHION_MNIST = "fashion_mnist"
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


@dataclass(frozen=True)
class ImageSet:
    """What `open_image_set` learnt of a source; `read(indices)` gives (n, C, H, W) float32."""

    name: str
    count: int
    channels: int
    height: int
    width: int
    read: Callable[[np.ndarray], np.ndarray]
    skipped: int = 0  # files left out of a folder because their suffix is not an image's

    @property
    def native_side(self) -> int:
        """The side of the centre square that `read_images` takes."""
        return min(self.height, self.width)


def open_image_set(source: str) -> ImageSet:
    """`fashion_mnist`, a folder of images or an `.npz`, checked (see the module doc)."""
    if source == FASHION_MNIST:
        from maeid.data.fashion_mnist import load_fashion_mnist

        images, _ = load_fashion_mnist("train", pad_to=None)
        return _from_array(FASHION_MNIST, images)
    path = Path(source)
    if path.is_dir():
        return _open_folder(path)
    if path.suffix.lower() == ".npz":
        if not path.is_file():
            raise FileNotFoundError(f"--data {source}: no such .npz file")
        return _open_npz(path)
    if not path.exists():
        raise FileNotFoundError(
            f"--data {source}: no such folder or file; give {FASHION_MNIST}, a folder of "
            "images or an .npz of images"
        )
    raise ValueError(
        f"--data {source} is neither a folder nor an .npz; give {FASHION_MNIST}, a folder of "
        "images or an .npz holding an (N, H, W) or (N, C, H, W) array"
    )


def read_images(image_set: ImageSet, indices: np.ndarray, side: int) -> np.ndarray:
    """Images `indices` of the set, (n, C, side, side) float32: the centre square of each,
    area-resampled to `side` when it is smaller than the native side."""
    native = image_set.native_side
    if not 1 <= side <= native:
        raise ValueError(
            f"resolution {side} is outside 1..{native}: the images are {image_set.height}x"
            f"{image_set.width} and are only ever downsampled"
        )
    images = image_set.read(np.asarray(indices))
    top, left = (image_set.height - native) // 2, (image_set.width - native) // 2
    images = images[:, :, top : top + native, left : left + native]
    if side == native:
        return np.ascontiguousarray(images, dtype=np.float32)
    out = np.empty((*images.shape[:2], side, side), dtype=np.float32)
    for i, image in enumerate(images):
        for c, plane in enumerate(image):
            small = Image.fromarray(plane.astype(np.float32), mode="F").resize(
                (side, side), Image.Resampling.BOX
            )
            out[i, c] = np.asarray(small)
    return out


# ------------------------------------------------------------------------- sources
def _from_array(name: str, images: np.ndarray) -> ImageSet:
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] > 4:
        raise ValueError(
            f"{name}: an array of shape {images.shape} is not images; give (N, H, W) or "
            "(N, C, H, W) with at most 4 channels, channels first"
        )
    if images.dtype.kind not in "biuf":
        raise ValueError(f"{name}: array of {images.dtype} is not numbers; save the pixels")
    if images.dtype.kind == "f":
        bad = ~np.isfinite(images)
        if bad.any():
            first = int(np.argwhere(bad)[0][0])
            raise ValueError(
                f"{name} holds {int(bad.sum())} NaN or infinite value(s), the first in image "
                f"{first}; remove or repair those images"
            )
    _check_count(name, len(images))
    n, c, h, w = images.shape
    return ImageSet(name, n, c, h, w, lambda idx: images[idx].astype(np.float32))


def _open_npz(path: Path) -> ImageSet:
    keys: list[str] = []
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):  # a lone .npy under an .npz name
            return _from_array(str(path), loaded)
        with loaded as archive:
            keys = list(archive.files)
            key = "images" if "images" in keys else keys[0] if len(keys) == 1 else None
            images = None if key is None else archive[key]
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(
            f"{path} is not a readable .npz ({err}); save the images with numpy.savez"
        ) from None
    except ValueError as err:
        if "pickle" not in str(err):
            raise
        raise ValueError(
            f"{path} is not a readable .npz (it holds pickled objects); save the images with "
            "numpy.savez"
        ) from None
    if images is None:
        raise ValueError(
            f"{path} holds arrays {', '.join(keys) or 'none'} and none is named 'images'; "
            "save the images under the key 'images'"
        )
    return _from_array(f"{path} ({key!r})", images)


def _open_folder(root: Path) -> ImageSet:
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    paths = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        found = f"{len(files)} other file(s), e.g. {files[0].name}" if files else "nothing"
        raise ValueError(
            f"image folder {root} holds no images (found {found}); put "
            f"{', '.join(sorted(IMAGE_SUFFIXES))} files in it"
        )
    heads = {}
    for path in paths:
        try:
            with Image.open(path) as image:
                heads[path] = (image.size, 1 if image.mode in _GREY_MODES else 3, image.mode)
        except (UnidentifiedImageError, OSError) as err:
            why = "not an image PIL can read" if isinstance(err, UnidentifiedImageError) else err
            raise ValueError(
                f"image folder {root}: {path} is {why}; remove it or replace it with an image"
            ) from None
    _check_count(f"image folder {root}", len(paths))
    first = paths[0]
    for path in paths[1:]:
        (size, channels, mode), (size0, channels0, mode0) = heads[path], heads[first]
        if size != size0:
            raise ValueError(
                f"image folder {root} mixes image sizes: {first.name} is {size0[0]}x{size0[1]}, "
                f"{path.name} is {size[0]}x{size[1]}; resize them to one size"
            )
        if channels != channels0:
            raise ValueError(
                f"image folder {root} mixes grey and colour images: {first.name} is {mode0}, "
                f"{path.name} is {mode}; convert them all to grey or all to RGB"
            )
    (width, height), channels, _ = heads[first]

    def read(indices: np.ndarray) -> np.ndarray:
        out = np.empty((len(indices), channels, height, width), dtype=np.float32)
        for row, i in enumerate(indices):
            path = paths[int(i)]
            try:
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert("F" if channels == 1 else "RGB"))
            except OSError as err:  # a header that lied about the rest
                raise ValueError(f"{path} cannot be read ({err}); remove or replace it") from None
            out[row] = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
        return out

    return ImageSet(
        f"image folder {root}", len(paths), channels, height, width, read, len(files) - len(paths)
    )


def _check_count(name: str, count: int) -> None:
    if count < 2:
        raise ValueError(
            f"{name} holds {count} image(s); a covariance needs at least 2 (hundreds for a "
            "stable estimate): add images"
        )
