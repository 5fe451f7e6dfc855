"""Shape bias on the random-hierarchy model, measured where both cues are known.

The paper's Table 2 reports shape bias after Geirhos et al. (ICLR 2019): a classifier
sees cue-conflict images, whose shape says one class and whose texture another, and
shape bias = P(predict the shape's class) / (P(shape's class) + P(texture's class)).
On ImageNet both cues are judged by people; on rhm32 they are known by construction:

- the *shape* is the tree: its class A is the root that generated every symbol;
- the *texture* is the class signature of `maeid.hlvm.texture`, here class B != A's
  (B = A + an offset drawn uniformly from 1..n_classes-1, seeded).

A linear probe (`maeid.evaluate.probe`) is trained to read the class from *cue-consistent*
images (every image carries its own class's signature, so both cues agree) and tested on
cue-conflict images. Beside any feature reader (a frozen MAE encoder's features) it is
measured for two references: a probe on the raw pixels, and the Bayes classifier that
ignores the signature (belief propagation that takes the signature as independent of the
class, `class_posterior(..., tied=False)`), whose shape bias is 1 when the tree is readable,
computed here like every other entry.

A second reader takes the tree's own route to the class: linear probes of the four
level-1 symbols, trained on the same cue-consistent images, combined through the root's
rules (`maeid.evaluate.symbols.class_through_level1_probes`). A linear class probe may take the
signature's shortcut; this one can only reach the class through symbols of the tree, so
its shape bias asks whether the features *carry* A's tree on a cue-conflict image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import torch

from maeid.evaluate.feature_readers import FeatureReader, pixel_reader
from maeid.evaluate.probe import ProbeConfig, train_linear_probe
from maeid.evaluate.symbols import class_through_level1_probes
from maeid.hlvm.model import Sample
from maeid.hlvm.random_hierarchy import RandomHierarchy
from maeid.hlvm.texture import stamp_signature, without_texture
from maeid.theory.belief_propagation import class_posterior

_CONFLICT_TAG = 0xC0F11C7  # the seed stream of the conflicting classes


@dataclass(frozen=True)
class CueConflict:
    """Cue-conflict images: `tree_class` (A) generated the tree, `signature_class` (B) the
    signature; `sample` holds every symbol and `noises["texture"]` = B."""

    sample: Sample
    tree_class: np.ndarray
    signature_class: np.ndarray


@dataclass(frozen=True)
class ShapeBias:
    """One classifier's shape bias on cue-conflict images and its cue-consistent accuracy."""

    shape_bias: float  # P(A) / (P(A) + P(B)); NaN if it never predicts A or B
    tree_share: float  # P(predict A) on cue-conflict images
    signature_share: float  # P(predict B)
    clean_accuracy: float  # accuracy on held-out cue-consistent images

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def cue_consistent(model: RandomHierarchy, n: int, seed: int) -> Sample:
    """`n` images that each carry their own class's signature (whatever `p_texture` is)."""
    base = without_texture(model).sample(n, seed=np.random.SeedSequence([seed, 1]))
    return stamp_signature(model, base, base.latents["z0"][:, 0])


def cue_conflict(model: RandomHierarchy, n: int, seed: int) -> CueConflict:
    """`n` images with class A's tree and class B's signature, B != A (both seeded)."""
    base = without_texture(model).sample(n, seed=np.random.SeedSequence([seed, 2]))
    tree = base.latents["z0"][:, 0].copy()
    n_c = model.knobs.n_classes
    offset = np.random.default_rng([seed, _CONFLICT_TAG]).integers(1, n_c, size=n)
    signature = (tree + offset) % n_c
    return CueConflict(stamp_signature(model, base, signature), tree, signature)


def shape_bias(
    predicted: np.ndarray, tree_class: np.ndarray, signature_class: np.ndarray
) -> tuple[float, float, float]:
    """(shape bias, P(predict A), P(predict B)) of predictions on cue-conflict images."""
    predicted, tree_class = np.asarray(predicted).reshape(-1), np.asarray(tree_class).reshape(-1)
    signature_class = np.asarray(signature_class).reshape(-1)
    if not len(predicted) == len(tree_class) == len(signature_class) > 0:
        raise ValueError(
            f"{len(predicted)} predictions for {len(tree_class)} tree classes and "
            f"{len(signature_class)} signature classes; give one of each per image"
        )
    if (tree_class == signature_class).any():
        raise ValueError("cue-conflict images need signature_class != tree_class everywhere")
    tree, sig = (
        float((predicted == tree_class).mean()),
        float((predicted == signature_class).mean()),
    )
    return (tree / (tree + sig) if tree + sig > 0 else float("nan")), tree, sig


def probe_shape_bias(
    reader: FeatureReader, train: Sample, test: Sample, conflict: CueConflict,
    config: ProbeConfig | None = None,
) -> ShapeBias:  # fmt: skip
    """Shape bias of a linear probe on `reader`'s features, trained on cue-consistent
    `train` images, with its accuracy on cue-consistent `test` images."""
    head = train_linear_probe(reader(train.images), torch.from_numpy(train.latents["z0"][:, 0]),
                              config)  # fmt: skip

    def predict(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.cat([head(x).argmax(1) for x in reader(images).split(4096)]).numpy()

    clean = float((predict(test.images) == test.latents["z0"][:, 0]).mean())
    bias, tree, sig = shape_bias(predict(conflict.sample.images), conflict.tree_class,
                                 conflict.signature_class)  # fmt: skip
    return ShapeBias(bias, tree, sig, clean)


def rules_shape_bias(
    model: RandomHierarchy, reader: FeatureReader, train: Sample, test: Sample,
    conflict: CueConflict, config: ProbeConfig | None = None,
) -> ShapeBias:  # fmt: skip
    """Shape bias of the class read through the root's rules from linear probes of the
    level-1 symbols on `reader`'s features, trained on cue-consistent `train` images."""
    queries = torch.cat([reader(test.images), reader(conflict.sample.images)])
    predicted = class_through_level1_probes(model, reader(train.images), train.latents,
                                            queries, config)  # fmt: skip
    clean = float((predicted[: len(test.images)] == test.latents["z0"][:, 0]).mean())
    bias, tree, sig = shape_bias(predicted[len(test.images) :], conflict.tree_class,
                                 conflict.signature_class)  # fmt: skip
    return ShapeBias(bias, tree, sig, clean)


def bayes_shape_bias(model: RandomHierarchy, test: Sample, conflict: CueConflict) -> ShapeBias:
    """The Bayes classifier that ignores the signature: the posterior class of a model in
    which every image carries a signature independent of its class."""

    def predict(images: np.ndarray) -> np.ndarray:
        return class_posterior(model, images, tied=False, presence=1.0).argmax(-1)

    clean = float((predict(test.images) == test.latents["z0"][:, 0]).mean())
    bias, tree, sig = shape_bias(predict(conflict.sample.images), conflict.tree_class,
                                 conflict.signature_class)  # fmt: skip
    return ShapeBias(bias, tree, sig, clean)


def measure_shape_bias(
    model: RandomHierarchy, readers: Mapping[str, FeatureReader], train: int = 4000,
    test: int = 1000, seed: int = 0, config: ProbeConfig | None = None, pixels: bool = True,
    bayes: bool = True, rules: bool = True,
) -> dict[str, ShapeBias]:  # fmt: skip
    """Shape bias of a probe on each reader, beside the pixel probe (`pixels`) and the
    Bayes classifier that ignores the signature (`bayes`), on seeded images: `train`
    cue-consistent ones for the probes, `test` cue-consistent and `test` cue-conflict.
    With `rules`, also `rules_<reader>`: the class through the rules of each reader's
    level-1 probes (`rules_shape_bias`)."""
    if train < 2 or test < 1:
        raise ValueError(f"train={train}, test={test}: a probe needs train >= 2 and test >= 1")
    train_set = cue_consistent(model, train, seed)
    test_set = cue_consistent(model, test, seed + 1)
    conflict = cue_conflict(model, test, seed + 2)
    everyone = {**readers, **({"pixels": pixel_reader} if pixels else {})}
    out = {}
    for name, read in everyone.items():
        read = _remembering(read)  # both readouts see the same three image sets
        out[name] = probe_shape_bias(read, train_set, test_set, conflict, config)
        if rules:
            out[f"rules_{name}"] = rules_shape_bias(model, read, train_set, test_set, conflict,
                                                    config)  # fmt: skip
    if bayes:
        out["bayes"] = bayes_shape_bias(model, test_set, conflict)
    return out


def _remembering(reader: FeatureReader) -> Callable[[np.ndarray], torch.Tensor]:
    """`reader`, computing each image array's features once (the array is kept beside its
    features, so its identity cannot pass to another array)."""
    seen: dict[int, tuple[np.ndarray, torch.Tensor]] = {}

    def read(images: np.ndarray) -> torch.Tensor:
        if id(images) not in seen:
            seen[id(images)] = (images, reader(images))
        return seen[id(images)][1]

    return read
