"""t-SNE of frozen features, coloured by class: how well do the classes separate?"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from maeid.figures import plt, save_figure


def tsne_embedding(
    features: np.ndarray,
    labels: np.ndarray,
    per_class: int = 200,
    seed: int = 0,
    max_iter: int = 1000,
    threads: int | None = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """2-D t-SNE of up to `per_class` samples of each class (seeded subsample and init).

    `threads` caps OpenMP/BLAS threads (None: the default). One is the default: for a few
    thousand points it is plenty, and on a busy machine sklearn's OpenMP threads spin
    waiting for cores (200 points: 40 s on two threads, 0.4 s on one).
    """
    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"features {x.shape} and labels {y.shape} must be (N, D) and (N,)")
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)]
    )
    if len(keep) < 5:
        raise ValueError(f"t-SNE needs at least 5 samples, got {len(keep)}")
    tsne = TSNE(
        n_components=2, init="pca", perplexity=min(30.0, (len(keep) - 1) / 3),
        random_state=seed, max_iter=max_iter,
    )  # fmt: skip
    with threadpool_limits(threads):
        return tsne.fit_transform(x[keep]), y[keep]


def plot_tsne(
    embedding: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    class_names: Sequence[str] | None = None,
    title: str = "t-SNE of frozen features",
) -> Path:
    fig, ax = plt.subplots(figsize=(6, 6))
    cmap = plt.get_cmap("tab10")
    for i, c in enumerate(np.unique(labels)):
        pts = embedding[labels == c]
        name = class_names[int(c)] if class_names is not None else str(c)
        ax.scatter(pts[:, 0], pts[:, 1], s=4, color=cmap(i % 10), label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    ax.legend(markerscale=3, fontsize=7, loc="best")
    return save_figure(fig, path)
