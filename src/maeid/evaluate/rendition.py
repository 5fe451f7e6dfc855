"""Rendition shifts of the random-hierarchy model: the same trees, drawn differently.

The paper's robustness columns (ImageNet-R, -Sketch) test a classifier on the same
classes rendered in another style. On rhm32 the style is the leaf-patch dictionary, so a
shift keeps every tree (the class, every symbol, every rule choice, the pixel noise and
any signature; the same sampling seed) and perturbs only the dictionary, by `severity`:

- `invert`: contrast inversion blended in, `(1 - s) * patch + s * (1 - patch)`, s in
  [0, 1] (s = 0.5 makes every patch flat grey; s = 1 inverts it fully);
- `blur`: a Gaussian blur of std `s` pixels inside each patch (normalised at the border);
- `redraw`: a seeded fraction `s` of the vocabulary's patches drawn anew.

Severity 0 is the identity: the shifted model's images are byte for byte the clean ones.

`rendition_accuracy` trains a linear probe for the class on clean images and reports its
accuracy on each shift beside its clean accuracy, and the Bayes accuracy under the same
shift; with `rules`, also the class read through the root's rules from linear probes of
the level-1 symbols, trained on the same clean images (the tree's route to the class).
That Bayes is belief propagation that knows the shifted dictionary: the ideal observer of
the shifted data, the most any reader of those pixels can get. It says how much of the
class a shift leaves in the pixels, so a probe's drop below it is the representation's
own failure to transfer, not information the shift destroyed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from maeid.evaluate.feature_readers import FeatureReader, pixel_reader
from maeid.evaluate.probe import ProbeConfig, train_linear_probe
from maeid.evaluate.symbols import class_through_level1_probes
from maeid.hlvm.random_hierarchy import RandomHierarchy
from maeid.theory.belief_propagation import class_posterior

KINDS = ("invert", "blur", "redraw")
SEVERITIES: dict[str, tuple[float, ...]] = {
    "invert": (0.25, 0.75, 1.0),
    "blur": (0.5, 1.0, 2.0),
    "redraw": (0.25, 0.5, 1.0),
}
_REDRAW_TAG = 0x5245_4452  # the seed stream of redrawn patches


def shifted_patches(
    model: RandomHierarchy, kind: str, severity: float, seed: int = 0
) -> np.ndarray:
    """The model's patch dictionary (v, 1, patch, patch) under a `kind` shift of `severity`."""
    if kind not in KINDS:
        raise ValueError(f"unknown rendition shift {kind!r}; use one of {', '.join(KINDS)}")
    severity = float(severity)
    bounded = kind != "blur"
    if not np.isfinite(severity) or severity < 0 or (bounded and severity > 1):
        span = "in [0, 1]" if bounded else ">= 0 (pixels)"
        raise ValueError(f"{kind} severity {severity} must be {span}")
    patches = model.patches
    if severity == 0:
        return patches.copy()
    if kind == "invert":
        return ((1 - severity) * patches + severity * (1 - patches)).astype(np.float32)
    if kind == "blur":
        side = np.arange(model.knobs.patch)
        kernel = np.exp(-((side[:, None] - side[None]) ** 2) / (2 * severity**2))
        kernel /= kernel.sum(1, keepdims=True)  # rows sum to 1: a flat patch stays flat
        return np.einsum("ij,vcjk,lk->vcil", kernel, patches, kernel).astype(np.float32)
    rng = np.random.default_rng([model.seed, seed, _REDRAW_TAG])
    v = model.knobs.v
    chosen = rng.permutation(v)[: int(round(severity * v))]
    fresh = rng.random((v, *patches.shape[1:])).astype(np.float32)
    out = patches.copy()
    out[chosen] = fresh[chosen]
    return out


def shifted_model(
    model: RandomHierarchy, kind: str, severity: float, seed: int = 0
) -> RandomHierarchy:
    """The model with its dictionary shifted: the same rules and signatures, so the same
    sampling seed gives the same trees; belief propagation on it is the ideal observer."""
    shifted = copy.copy(model)
    shifted.patches = shifted_patches(model, kind, severity, seed)
    return shifted


def shift_name(kind: str, severity: float) -> str:
    """A shift's metric name, e.g. `invert_0.25`, `blur_1`."""
    return f"{kind}_{severity:g}"


def rendition_accuracy(
    model: RandomHierarchy, readers: Mapping[str, FeatureReader], train: int = 4000,
    test: int = 1000, shifts: Mapping[str, Sequence[float]] | None = None, seed: int = 0,
    config: ProbeConfig | None = None, pixels: bool = True, bayes: bool = True,
    rules: bool = True,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Class accuracy per reader (and `pixels`, `bayes`, and `rules_<reader>` with
    `rules`): `clean`, and one entry per shift and severity (`shift_name`), on `test`
    images whose trees are the clean test set's.

    Probes train on `train` clean images; `shifts` maps kinds to severities (default
    `SEVERITIES`).
    """
    if train < 2 or test < 1:
        raise ValueError(f"train={train}, test={test}: a probe needs train >= 2 and test >= 1")
    shifts = dict(SEVERITIES if shifts is None else shifts)
    for kind in shifts:
        if kind not in KINDS:
            raise ValueError(f"unknown rendition shift {kind!r}; use one of {', '.join(KINDS)}")
    train_set = model.sample(train, seed=np.random.SeedSequence([seed, 1]))
    test_seed = np.random.SeedSequence([seed, 2])
    test_set = model.sample(test, seed=test_seed)
    labels = test_set.latents["z0"][:, 0]
    views = {"clean": (model, test_set.images)}
    for kind, severities in shifts.items():
        for severity in severities:
            shifted = shifted_model(model, kind, severity, seed)
            views[shift_name(kind, severity)] = (
                shifted,
                shifted.sample(test, seed=test_seed).images,
            )
    everyone = {**readers, **({"pixels": pixel_reader} if pixels else {})}
    out: dict[str, dict[str, float]] = {}
    for name, read in everyone.items():
        train_x = read(train_set.images)
        features = {view: read(images) for view, (_, images) in views.items()}
        head = train_linear_probe(train_x, torch.from_numpy(train_set.latents["z0"][:, 0]),
                                  config)  # fmt: skip
        with torch.no_grad():
            out[name] = {
                view: float((head(x).argmax(1).numpy() == labels).mean())
                for view, x in features.items()
            }
        if rules:
            predicted = class_through_level1_probes(
                model, train_x, train_set.latents, torch.cat(list(features.values())), config
            ).reshape(len(features), -1)
            out[f"rules_{name}"] = {
                view: float((p == labels).mean())
                for view, p in zip(features, predicted, strict=True)
            }
    if bayes:
        out["bayes"] = {
            view: float((class_posterior(observer, images).argmax(1) == labels).mean())
            for view, (observer, images) in views.items()
        }
    return out
