"""Linear probe, kNN and t-SNE on toy features with a known answer."""

import numpy as np
import torch

from maeid.evaluate.knn import knn_top1
from maeid.evaluate.probe import ProbeConfig, linear_probe, top1, train_linear_probe
from maeid.evaluate.tsne import plot_tsne, tsne_embedding


def _blobs(n_per_class=100, classes=4, dim=16, sep=4.0, noise_seed=0):
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(0)) * sep
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    gen = torch.Generator().manual_seed(100 + noise_seed)
    feats = centres[labels] + torch.randn(len(labels), dim, generator=gen)
    return feats * 50.0 + 7.0, labels  # a scale BatchNorm must undo


def test_probe_learns_linearly_separable_classes():
    x, y = _blobs()
    xt, yt = _blobs(noise_seed=1)  # same classes, fresh samples
    acc, head = linear_probe(x, y, xt, yt, ProbeConfig(epochs=20))
    assert acc > 0.97
    assert not any(p.numel() for p in head[0].parameters())  # BatchNorm without affine


def test_probe_trains_under_no_grad_as_the_sweep_calls_it():
    x, y = _blobs()
    xt, yt = _blobs(noise_seed=1)
    with torch.no_grad():
        acc, _ = linear_probe(x, y, xt, yt, ProbeConfig(epochs=5))
    assert acc > 0.9


def test_probe_is_chance_on_random_labels_and_seeded():
    x, _ = _blobs()
    y = torch.randint(0, 4, (len(x),), generator=torch.Generator().manual_seed(1))
    a = train_linear_probe(x[:200], y[:200], ProbeConfig(epochs=5, seed=2))
    b = train_linear_probe(x[:200], y[:200], ProbeConfig(epochs=5, seed=2))
    assert torch.equal(a[1].weight, b[1].weight)
    assert top1(a, x[200:], y[200:]) < 0.5


def test_knn_classifies_clusters_and_uses_cosine():
    x, y = _blobs(sep=3.0)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    tr, te = perm[:300], perm[300:]
    assert knn_top1(x[tr] - 7.0, y[tr], x[te] - 7.0, y[te]) > 0.95
    # Cosine similarity ignores the norm: rescaling queries changes nothing.
    assert knn_top1(x[tr], y[tr], x[te] * 3.0, y[te]) == knn_top1(x[tr], y[tr], x[te], y[te])


def test_tsne_is_seeded_and_plots(tmp_path):
    x, y = _blobs(n_per_class=30)
    e1, l1 = tsne_embedding(x.numpy(), y.numpy(), per_class=20, seed=0, max_iter=250)
    e2, _ = tsne_embedding(x.numpy(), y.numpy(), per_class=20, seed=0, max_iter=250)
    assert e1.shape == (80, 2) and np.allclose(e1, e2)
    out = plot_tsne(e1, l1, tmp_path / "tsne.png")
    assert out.stat().st_size > 1000
