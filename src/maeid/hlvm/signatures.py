"""The class signatures of the random-hierarchy model's texture cue, as arrays.

What sampling needs (`maeid.hlvm.random_hierarchy` draws the signatures and adds them to
the leaf patches) and how a sample records them; the cue's description and what is done
with a model that has one are in `maeid.hlvm.texture`.
"""

from __future__ import annotations

import numpy as np

from maeid.hlvm.model import Sample

TEXTURE_KEY = "texture"  # the `noises` entry that records the signature's class
NO_SIGNATURE = -1
_TEXTURE_TAG = 0x52484D33  # the seed's third stream, beside the rules' and the patches'


def draw_signatures(seed: int, n_classes: int, patch: int, amplitude: float) -> np.ndarray:
    """(n_classes, patch * patch) float32: zero-mean patterns of root-mean-square `amplitude`."""
    rng = np.random.default_rng([seed, _TEXTURE_TAG])
    raw = rng.standard_normal((n_classes, patch * patch))
    raw -= raw.mean(1, keepdims=True)  # leave each patch's mean brightness alone
    raw /= np.sqrt((raw**2).mean(1, keepdims=True))
    return (amplitude * raw).astype(np.float32)


def add_signatures(pixels: np.ndarray, signatures: np.ndarray, classes: np.ndarray) -> None:
    """Add class `classes[i]`'s signature to every patch of `pixels[i]` (N, G, G, P), in place;
    a class of -1 adds nothing."""
    classes = np.asarray(classes).reshape(-1)
    carries = classes >= 0
    if carries.any():
        pixels[carries] += signatures[classes[carries]][:, None, None, :]


def signature_classes(sample: Sample) -> np.ndarray:
    """(N,) int64: the class whose signature each image carries, -1 for none."""
    found = sample.noises.get(TEXTURE_KEY)
    if found is None:
        return np.full(len(sample), NO_SIGNATURE, dtype=np.int64)
    return np.asarray(found).reshape(-1).astype(np.int64)
