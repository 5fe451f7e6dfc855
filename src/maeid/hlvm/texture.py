"""The texture cue of the random-hierarchy model: a low-level class signature beside the tree.

Each class `c` owns a seeded `patch x patch` pattern (zero mean, root-mean-square
`texture` pixels, drawn from its own stream of the model seed, so the rules and the leaf
patches do not change). An image that carries class `c`'s signature has the pattern
added to every one of its leaf patches. With probability `p_texture` a sample carries its
own class's signature, so the class can be read from any single patch without the tree:
a shortcut that a shape-reading (tree-reading) representation ignores.

A sample records which signature it carries in `noises["texture"]`, (N, 1) int64: the
signature's class, or -1 for none (absent from samples of models with `p_texture = 0`,
whose output is the same as without the cue). The signatures themselves, which the model
draws and adds while sampling, are `maeid.hlvm.signatures`; this module holds what is
done with a model that has them.

`stamp_signature` writes any class's signature onto a signature-free sample (cue-conflict
images take class B's signature on class A's tree); `signature_scores` is a detector (the
cosine similarity of the image's mean residual patch with each signature);
`signature_components` describes the cue to belief propagation as a mixture over "which
signature, if any", either tied to the class (the true model) or independent of it (an
observer that ignores the cue).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np

from maeid.hlvm.model import Sample
from maeid.hlvm.random_hierarchy import RandomHierarchy
from maeid.hlvm.signatures import NO_SIGNATURE, TEXTURE_KEY, add_signatures, signature_classes


def without_texture(model: RandomHierarchy) -> RandomHierarchy:
    """The same model (rules, patches, signatures) whose samples never carry a signature."""
    plain = copy.copy(model)  # a copy, not a rebuild: it keeps a shifted patch dictionary
    plain.knobs = replace(model.knobs, p_texture=0.0)
    plain.builder = {"name": plain.knobs.tag()}
    return plain


def stamp_signature(model: RandomHierarchy, sample: Sample, classes: np.ndarray) -> Sample:
    """A copy of a signature-free `sample` whose image i carries class `classes[i]`'s
    signature (-1: none); its symbols, rules and pixel noise are the sample's own."""
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    if len(classes) != len(sample):
        raise ValueError(f"{len(classes)} signature classes for {len(sample)} images")
    if (signature_classes(sample) != NO_SIGNATURE).any():
        raise ValueError("the sample already carries signatures; draw it from without_texture()")
    n_c = model.knobs.n_classes
    if ((classes < NO_SIGNATURE) | (classes >= n_c)).any():
        raise ValueError(f"signature classes must be in -1..{n_c - 1}, got {sorted(set(classes))}")
    k = model.knobs
    g, p = k.grid, k.patch
    pixels = (
        sample.images.reshape(len(sample), g, p, g, p)
        .transpose(0, 1, 3, 2, 4)
        .reshape(len(sample), g, g, p * p)
        .copy()
    )
    add_signatures(pixels, model.signatures.reshape(n_c, -1), classes)
    images = pixels.reshape(-1, g, g, p, p).transpose(0, 1, 3, 2, 4).reshape(sample.images.shape)
    images = np.ascontiguousarray(images)
    observed = model.unrender(images)
    noises = {**sample.noises, TEXTURE_KEY: classes[:, None].copy()}
    return Sample(images=images, observed=observed, latents=sample.latents, noises=noises)


def signature_scores(model: RandomHierarchy, images: np.ndarray) -> np.ndarray:
    """(N, n_classes): the cosine of each image's mean residual patch with each class's
    signature. A patch's residual is the patch minus its nearest leaf rendering (the tree's
    part, read patch by patch); averaging the residuals over the image cancels the noise,
    so what is left is the carried signature."""
    k = model.knobs
    g, p = k.grid, k.patch
    images = np.asarray(images, dtype=np.float64)
    x = images.reshape(len(images), g, p, g, p).transpose(0, 1, 3, 2, 4).reshape(-1, p * p)
    rendering = model.patches.reshape(k.v, -1).astype(np.float64)
    dist = (x**2).sum(1, keepdims=True) - 2 * x @ rendering.T + (rendering**2).sum(1)
    residual = (x - rendering[dist.argmin(1)]).reshape(len(images), g * g, -1).mean(1)
    sig = model.signatures.reshape(k.n_classes, -1).astype(np.float64)
    norms = np.linalg.norm(residual, axis=1, keepdims=True) * np.linalg.norm(sig, axis=1)
    return (residual @ sig.T) / np.where(norms > 0, norms, 1.0)


def signature_components(
    model: RandomHierarchy, tied: bool = True, presence: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The cue as a mixture for belief propagation: `offsets` (K, patch^2), what component k
    adds to every leaf rendering, and `prior` (K, n_classes), the joint prior of (k, class).

    Component 0 is "no signature" (if it has mass), component 1 + t "class t's signature".
    `tied`: the signature is the class's own (the true model: P(t, c) = p [t = c] / n);
    otherwise it is independent of the class (P(t, c) = p / n^2), the observer that reads
    the tree and ignores the cue. `presence` is P(signature), the model's `p_texture` by
    default. Components with no prior mass are left out, so `p_texture = 0` gives the one
    component of the plain model.
    """
    p = model.knobs.p_texture if presence is None else float(presence)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"signature presence {p} must be a probability in [0, 1]")
    n = model.knobs.n_classes
    sig = model.signatures.reshape(n, -1).astype(np.float64)
    offsets = np.concatenate([np.zeros((1, sig.shape[1])), sig])
    absent = np.full((1, n), (1.0 - p) / n)
    present = np.eye(n) * p / n if tied else np.full((n, n), p / n**2)
    prior = np.concatenate([absent, present])
    keep = prior.sum(1) > 0
    return offsets[keep], prior[keep]
