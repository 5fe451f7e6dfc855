"""A class-only probe of limited capacity on rhm32: what frozen features give of the class
from class labels alone.

The rules readout (`maeid.evaluate.symbols.class_through_rules`) hands the probe the
grammar: the level-k labels and the root's known rules. Here the reader gets neither,
only the class of each labelled image, and some capacity beyond linear:

- the head: BatchNorm without affine (the linear probe's normalisation, so that
  checkpoints with wildly different feature scales are read alike), one hidden layer of
  `hidden` ReLU units (64), and a linear layer to the classes;
- the features: a readout of `maeid.evaluate.symbols.POOLS`; sweeps and the study use
  `tokens`, every patch token at its position, flattened (a pooled vector has lost the
  positions that the class is written in);
- training: AdamW with a seeded initialisation and minibatch order, on a labelled budget of
  n images of which the last `validation_share` (a fifth) is held out; after each epoch
  the held-out cross-entropy is measured, training stops `patience` epochs after its best
  (at most `max_epochs`), and the best epoch's weights are kept. The budgets are nested:
  the first n images of one training split, so a larger budget adds images;
- reported on held-out test images: accuracy and cross-entropy (nats), beside the same
  probe on the encoder at initialisation and on the view's pixels, and the view's Bayes
  classifier (belief propagation: its accuracy and cross-entropy on the true classes).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maeid.evaluate.symbols import POOLS
from maeid.evaluate.view_features import VIEWS, model_pixels, view_features
from maeid.hlvm.random_hierarchy import RandomHierarchy
from maeid.theory.belief_propagation import class_posterior

BUDGETS = (1000, 8000)  # labelled images per probe, by default


@dataclass(frozen=True)
class MLPProbeConfig:
    hidden: int = 64
    max_epochs: int = 200
    patience: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    validation_share: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class ProbeScore:
    accuracy: float
    cross_entropy: float  # nats, on the true class
    epochs: int  # epochs trained (the kept weights are those of the best held-out epoch)


def mlp_head(dim: int, hidden: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm1d(dim, affine=False, eps=1e-6),
        nn.Linear(dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


def train_mlp_probe(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int,
    config: MLPProbeConfig | None = None,
) -> tuple[nn.Sequential, int]:  # fmt: skip
    """The head (eval mode) at its best held-out epoch, and the number of epochs trained."""
    cfg = config or MLPProbeConfig()
    x, y = _checked(features, labels, num_classes)
    n_val = int(round(cfg.validation_share * len(x)))
    if not 0 < cfg.validation_share < 1 or n_val < 1 or len(x) - n_val < 2:
        raise ValueError(
            f"{len(x)} labelled images with validation_share={cfg.validation_share}: need a "
            "share in (0, 1) that leaves at least 1 held-out and 2 training images"
        )
    if cfg.hidden < 1 or cfg.max_epochs < 1 or cfg.patience < 1:
        raise ValueError(f"hidden={cfg.hidden}, max_epochs={cfg.max_epochs}, "
                         f"patience={cfg.patience}: each must be at least 1")  # fmt: skip
    fit_x, fit_y, val_x, val_y = x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:]
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.random.fork_rng(devices=[]):  # a seeded init that leaves the global stream be
        torch.manual_seed(cfg.seed)
        head = mlp_head(x.shape[1], cfg.hidden, num_classes)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best, best_state, best_epoch, epoch = math.inf, copy.deepcopy(head.state_dict()), 0, 0
    with torch.enable_grad():
        for epoch in range(1, cfg.max_epochs + 1):
            head.train()
            order = torch.randperm(len(fit_x), generator=gen)
            for i in range(0, len(order), cfg.batch_size):
                idx = order[i : i + cfg.batch_size]
                if len(idx) < 2:  # BatchNorm needs two samples
                    continue
                loss = F.cross_entropy(head(fit_x[idx]), fit_y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            held_out = _scores(head, val_x, val_y).cross_entropy
            if held_out < best:
                best, best_epoch = held_out, epoch
                best_state = copy.deepcopy(head.state_dict())
            elif epoch - best_epoch >= cfg.patience:
                break
    head.load_state_dict(best_state)
    return head.eval(), epoch


def class_probe_score(
    train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
    num_classes: int, config: MLPProbeConfig | None = None,
) -> ProbeScore:  # fmt: skip
    """Train the class-only probe on (train_x, train_y); its test accuracy and CE."""
    head, epochs = train_mlp_probe(train_x, train_y, num_classes, config)
    x, y = _checked(test_x, test_y, num_classes)
    score = _scores(head, x, y)
    return ProbeScore(score.accuracy, score.cross_entropy, epochs)


@torch.no_grad()
def _scores(head: nn.Module, x: torch.Tensor, y: torch.Tensor) -> ProbeScore:
    head.eval()
    logits = torch.cat([head(chunk) for chunk in x.split(4096)]).double()
    ce = float(F.cross_entropy(logits, y))
    return ProbeScore(float((logits.argmax(1) == y).double().mean()), ce, 0)


def bayes_class_score(posterior: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    """Accuracy and cross-entropy (nats) of the exact class posterior (N, n_classes)."""
    posterior, classes = np.asarray(posterior), np.asarray(classes).reshape(-1)
    # A normalised probability of 1 may round a hair above 1: clipped, its loss is 0.
    picked = np.clip(posterior[np.arange(len(classes)), classes], 1e-300, 1.0)
    return {
        "accuracy": float((posterior.argmax(1) == classes).mean()),
        "ce": float(-np.log(picked).mean()),
    }


def evaluate_class_probe(
    encoder: nn.Module, model: RandomHierarchy,
    train_images: torch.Tensor, train_latents: Mapping[str, np.ndarray],
    test_images: torch.Tensor, test_latents: Mapping[str, np.ndarray],
    mean: Sequence[float], std: Sequence[float], ratio: float, untrained: nn.Module,
    budgets: Sequence[int] = BUDGETS, config: MLPProbeConfig | None = None, seed: int = 0,
    pool: str = "tokens", views: Sequence[str] = VIEWS,
) -> dict[str, object]:  # fmt: skip
    """The class-only probe at each labelled budget on the trained encoder, the encoder at
    initialisation and the pixels, per view, beside the view's Bayes classifier and
    chance (the most frequent class of the largest budget's labels).

    Result: `{view: {reader: {budget: {"accuracy", "ce", "epochs"}}, "bayes": {"accuracy",
    "ce"}, "chance": accuracy}}` with readers `trained`, `untrained`, `pixels`.
    """
    budgets = check_budgets(budgets, len(train_images))
    if pool not in POOLS:
        raise ValueError(f"pool {pool!r}: use one of {', '.join(POOLS)}")
    unknown = [v for v in views if v not in VIEWS]
    if unknown or not views:
        raise ValueError(f"views={list(views)}: give one or more of {', '.join(VIEWS)}")
    root = model.latent_names(0)[0]
    train_y = torch.from_numpy(np.asarray(train_latents[root]).reshape(-1)).long()
    test_y = torch.from_numpy(np.asarray(test_latents[root]).reshape(-1)).long()
    n_classes = model.knobs.n_classes
    cfg = config or MLPProbeConfig()
    largest = max(budgets)
    images = train_images[:largest]  # every budget is a prefix of these
    raw = model_pixels(test_images, mean, std)
    majority = int(np.bincount(train_y[:largest].numpy(), minlength=n_classes).argmax())
    out: dict[str, object] = {"ratio": ratio, "pool": pool, "budgets": list(budgets),
                              "test": len(test_y), "hidden": cfg.hidden}  # fmt: skip
    for view in views:
        feats = view_features({"trained": encoder, "untrained": untrained}, images, test_images,
                              view, ratio, pool, seed)  # fmt: skip
        result: dict[str, object] = {}
        for reader, (tr, te) in feats.readers.items():
            scores = {}
            for n in budgets:
                s = class_probe_score(tr[:n], train_y[:n], te, test_y, n_classes, cfg)
                scores[n] = {"accuracy": s.accuracy, "ce": s.cross_entropy, "epochs": s.epochs}
            result[reader] = scores
        posterior = class_posterior(model, raw, feats.seen)
        result["bayes"] = bayes_class_score(posterior, test_y.numpy())
        result["chance"] = float((test_y.numpy() == majority).mean())
        out[view] = result
    return out


def check_budgets(budgets: Sequence[int], available: int | None = None) -> tuple[int, ...]:
    """The budgets, sorted and distinct, each a whole number of at least 5 labelled images
    (4 to train on and 1 held out) and, given `available`, no more than there are."""
    values = []
    for b in budgets:
        whole = isinstance(b, (int, np.integer, float)) and not isinstance(b, bool)
        if not whole or not math.isfinite(b) or int(b) != b or b < 5:
            raise ValueError(f"budget {b!r}: give whole numbers of labelled images, each at "
                             "least 5, e.g. 1000,8000")  # fmt: skip
        values.append(int(b))
    if not values:
        raise ValueError("no budget given: name one or more, e.g. 1000,8000")
    if available is not None and max(values) > available:
        raise ValueError(f"budget {max(values)} exceeds the {available} labelled training "
                         "images; draw more or lower the budget")  # fmt: skip
    return tuple(sorted(set(values)))


def _checked(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(features).float().cpu()
    y = torch.as_tensor(labels).long().cpu().reshape(-1)
    if x.ndim != 2 or len(y) != len(x):
        raise ValueError(f"features {tuple(x.shape)} and labels {tuple(y.shape)}: give (N, D) "
                         "features and (N,) class labels")  # fmt: skip
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels span {int(y.min())}..{int(y.max())}; classes are "
                         f"0..{num_classes - 1}")  # fmt: skip
    return x, y


def format_class_probe(result: Mapping[str, object]) -> str:
    """Plain-text table of `evaluate_class_probe`: per view and budget, accuracy and
    cross-entropy of the trained encoder, the untrained one and the pixels, and Bayes."""
    lines = [f"  class-only probe ({result['hidden']} hidden units, {result['pool']} readout; "
             "accuracy / cross-entropy in nats)"]  # fmt: skip
    for view in VIEWS:
        if view not in result:
            continue
        res = result[view]
        bayes = res["bayes"]
        lines.append(f"    {view:<16s} {'trained':>15s} {'untrained':>15s} {'pixels':>15s}   "
                     f"Bayes {bayes['accuracy']:.3f} / {bayes['ce']:.3f}, chance "
                     f"{res['chance']:.3f}")  # fmt: skip
        for n in res["trained"]:
            cells = [f"{res[who][n]['accuracy']:.3f} / {res[who][n]['ce']:.3f}"
                     for who in ("trained", "untrained", "pixels")]  # fmt: skip
            lines.append(f"    {str(n) + ' labels':<16s} {cells[0]:>15s} {cells[1]:>15s} "
                         f"{cells[2]:>15s}")  # fmt: skip
    return "\n".join(lines)
