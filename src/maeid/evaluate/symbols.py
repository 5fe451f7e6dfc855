"""Per-level classification of the random-hierarchy model's symbols from frozen features.

Every latent of `rhm32` is a discrete symbol (the class at the root, vocabulary symbols
below), so what a representation holds of a level is read as classification accuracy:

- *linear probe*: BatchNorm without affine then one linear layer (`maeid.evaluate.probe`'s
  head), one head per latent. The heads share only the parameter-free BatchNorm, the loss
  is their sum and AdamW updates each parameter on its own, so training all heads at once
  is training each probe alone, in one pass;
- *kNN*: DINO's weighted vote over the 20 nearest training samples by cosine similarity
  (`maeid.evaluate.knn`), one neighbour search shared by every latent;
- *chance*: predicting each latent's most frequent training symbol;
- *through the rules* (the class only): the level-1 probes' posteriors, combined by the
  root's known production rules (`class_through_rules`). A linear probe asks whether a
  representation lays the class out linearly; this asks whether it determines it.

`evaluate_symbols` reads a frozen MAE encoder's features, on the full image and on the
visible tokens of masks from the training sampler, beside the encoder at initialisation
(the floor), a linear probe on the same view's pixels (masked patches zeroed), and the
Bayes limit of the same view (belief propagation on the full image, or on the same masks'
visible pixels). Three readouts (`POOLS`): the [CLS] token, the mean of
the patch tokens, and `tokens`, every patch token side by side at its position (a masked
token reads as zeros). The pooled readouts lose where a token sits, so they cannot hold a
symbol of one position linearly; `tokens` can, and it is the readout set beside a linear
probe on all the pixels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maeid.evaluate.probe import ProbeConfig, linear_head
from maeid.hlvm.random_hierarchy import RandomHierarchy
from maeid.theory.belief_propagation import (
    bayes_accuracy,
    class_from_level,
    tree_posterior,
    visible_pixels,
)
from maeid.theory.masking import sample_masks

# The readouts of the encoder, by name: what `pool` options and `--pool` accept.
READOUTS = {
    "cls": "[CLS]",
    "mean": "mean of the patch tokens",
    "tokens": "all tokens at their positions",
}
POOLS = tuple(READOUTS)


def symbol_table(model: RandomHierarchy, latents: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N, latents) int64 symbols in `model.spec.latents` order."""
    return np.stack([np.asarray(latents[z]).reshape(-1) for z in model.spec.latents], 1)


def multi_probe_accuracy(
    train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
    num_classes: int, config: ProbeConfig | None = None,
) -> np.ndarray:  # fmt: skip
    """Test accuracy of one linear probe per column of `train_y` (N, Z), shape (Z,)."""
    ty = torch.as_tensor(test_y).long()
    _check(torch.as_tensor(test_x), ty, "test")
    posteriors = multi_probe_posteriors(train_x, train_y, test_x, num_classes, config)
    return (posteriors.argmax(-1) == ty).double().mean(0).numpy()


def multi_probe_posteriors(
    train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, num_classes: int,
    config: ProbeConfig | None = None,
) -> torch.Tensor:  # fmt: skip
    """(N_test, Z, num_classes) softmax of one linear probe per column of `train_y` (N, Z)."""
    cfg = config or ProbeConfig()
    x, y = torch.as_tensor(train_x).float(), torch.as_tensor(train_y).long()
    _check(x, y, "train")
    z = y.shape[1]
    gen = torch.Generator().manual_seed(cfg.seed)
    head = linear_head(x.shape[1], z * num_classes)
    with torch.no_grad():
        head[1].weight.copy_(torch.randn(head[1].weight.shape, generator=gen) * 0.01)
        head[1].bias.zero_()
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = max(1, cfg.epochs * math.ceil(len(x) / cfg.batch_size))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    )
    head.train()
    with torch.enable_grad():
        for _ in range(cfg.epochs):
            order = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), cfg.batch_size):
                idx = order[i : i + cfg.batch_size]
                if len(idx) < 2:  # BatchNorm needs two samples
                    continue
                logits = head(x[idx]).view(len(idx), z, num_classes)
                # Summed over latents: each head's gradient is its own probe's.
                loss = F.cross_entropy(logits.transpose(1, 2), y[idx], reduction="sum") / len(idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    head.eval()
    with torch.no_grad():
        tx = torch.as_tensor(test_x).float()
        logits = torch.cat([head(c).view(len(c), z, num_classes) for c in tx.split(4096)])
    return logits.double().softmax(-1)


def class_through_rules(
    model: RandomHierarchy, readouts: torch.Tensor, frequencies: torch.Tensor
) -> torch.Tensor:
    """(N, n_classes) posterior of the class given what readouts say of every symbol of one
    level k >= 1: `readouts` (N, 4^k, >= v), each readout's posterior over its symbol, in
    the level's raster order (`model.latent_names(k)`), and `frequencies` (4^k, >= v), each
    symbol's frequency at its position in the readouts' training set.

    A readout's posterior divided by its symbol's frequency is a likelihood up to a
    constant; belief propagation's upward pass, started at level k, climbs the known rules
    from there to the class (`class_from_level`). From level 1 that is one step: the class
    sums the product of its rules' four likelihoods over its rules. It turns a linear code
    of the level-k symbols into the class without a linear code of the class, so it asks
    whether a representation *determines* the class (Theorem 2), not whether it lays it
    out linearly. It takes the readouts' errors as independent, as the climb from deeper
    levels multiplies more of them.
    """
    positions = readouts.shape[1]
    level = max(1, round(math.log(positions, 4)))
    if 4**level != positions:
        raise ValueError(f"{positions} readouts: give one per symbol of a level, 4^k of them")
    side, v = 2**level, model.num_symbols(level)
    lik = readouts[:, :, :v].double() / frequencies[None, :, :v].double()
    return torch.from_numpy(class_from_level(model, lik.reshape(-1, side, side, v).numpy(), level))


def rules_posterior(
    model: RandomHierarchy, readouts: torch.Tensor, train_labels: torch.Tensor
) -> torch.Tensor:
    """`class_through_rules` of one level's readouts' posteriors `readouts` (N, 4^k, >= v),
    with each symbol's frequency taken from the readouts' training labels (M, 4^k)."""
    counts = F.one_hot(train_labels.long(), readouts.shape[-1]).double().sum(0)
    counts = counts + 1  # add-one: a symbol the training set missed is no zero divisor
    return class_through_rules(model, readouts, counts / counts.sum(-1, keepdim=True))


def class_through_level1_probes(
    model: RandomHierarchy, train_x: torch.Tensor, train_latents: Mapping[str, np.ndarray],
    queries: torch.Tensor, config: ProbeConfig | None = None,
) -> np.ndarray:  # fmt: skip
    """(N,) class of each row of `queries`: linear probes of the four level-1 symbols,
    trained on `train_x` and the level-1 symbols of `train_latents`, read through the
    root's rules (`rules_posterior`)."""
    labels = torch.from_numpy(
        np.stack([np.asarray(train_latents[z]).reshape(-1) for z in model.latent_names(1)], 1)
    ).long()
    posteriors = multi_probe_posteriors(train_x, labels, queries, model.num_symbols(1), config)
    return rules_posterior(model, posteriors, labels).argmax(-1).numpy()


@torch.no_grad()
def multi_knn_accuracy(
    train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
    num_classes: int, k: int = 20, temperature: float = 0.07, chunk: int = 1024,
) -> np.ndarray:  # fmt: skip
    """Weighted cosine kNN accuracy per column of `train_y` (N, Z), shape (Z,)."""
    bank = F.normalize(torch.as_tensor(train_x).float(), dim=1)
    labels = torch.as_tensor(train_y).long()
    queries = F.normalize(torch.as_tensor(test_x).float(), dim=1)
    truth = torch.as_tensor(test_y).long()
    _check(bank, labels, "train")
    _check(queries, truth, "test")
    if k < 1:
        raise ValueError(f"k = {k}; it must be at least 1")
    k = min(k, len(bank))
    correct = torch.zeros(labels.shape[1], dtype=torch.float64)
    for q, t in zip(queries.split(chunk), truth.split(chunk), strict=True):
        sim, idx = (q @ bank.T).topk(k, dim=1)
        votes = torch.zeros(len(q), labels.shape[1], num_classes)
        weight = (sim / temperature).exp()[:, None, :].expand(-1, labels.shape[1], -1)
        votes.scatter_add_(2, labels[idx].transpose(1, 2), weight)
        correct += (votes.argmax(-1) == t).double().sum(0)
    return (correct / len(queries)).numpy()


def chance_accuracy(train_y: np.ndarray, test_y: np.ndarray) -> np.ndarray:
    """Accuracy of predicting each column's most frequent training symbol, shape (Z,)."""
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    majority = [np.bincount(col).argmax() for col in train_y.T]
    return (test_y == np.asarray(majority)[None]).mean(0)


def by_level(model: RandomHierarchy, per_latent: np.ndarray) -> dict[int, float]:
    """Mean over each level's latents of a per-latent array in `spec.latents` order."""
    level = np.array([model.spec[z].level for z in model.spec.latents])
    return {int(lv): float(per_latent[level == lv].mean()) for lv in np.unique(level)}


def symbol_accuracy(
    model: RandomHierarchy, train_x: torch.Tensor, train_y: np.ndarray, test_x: torch.Tensor,
    test_y: np.ndarray, config: ProbeConfig | None = None,
) -> dict[str, dict[int, float]]:  # fmt: skip
    """Per-level linear-probe, kNN and chance accuracy of features to every symbol;
    `rules_from`: for each level k >= 1, the accuracy of the class read through the rules
    from the level-k probes (`class_through_rules`), under k; and `rules`, the same from
    level 1, under level 0."""
    classes = max(model.knobs.n_classes, model.knobs.v)
    ty, vy = torch.from_numpy(np.asarray(train_y)), torch.from_numpy(np.asarray(test_y))
    _check(torch.as_tensor(test_x), vy, "test")
    posteriors = multi_probe_posteriors(train_x, ty, test_x, classes, config)
    latents = list(model.spec.latents)
    root = latents.index(model.latent_names(0)[0])
    rules_from = {}
    for level in range(1, model.knobs.levels + 1):
        cols = [latents.index(name) for name in model.latent_names(level)]
        through = rules_posterior(model, posteriors[:, cols], ty[:, cols])
        rules_from[level] = float((through.argmax(-1) == vy[:, root]).double().mean())
    return {
        "probe": by_level(model, (posteriors.argmax(-1) == vy).double().mean(0).numpy()),
        "knn": by_level(model, multi_knn_accuracy(train_x, ty, test_x, vy, classes)),
        "chance": by_level(model, chance_accuracy(train_y, test_y)),
        "rules": {0: rules_from[1]},
        "rules_from": rules_from,
    }


@torch.no_grad()
def encoder_features(
    encoder: nn.Module, images: torch.Tensor, mask_ratio: float | None, seed: int = 0,
    batch_size: int = 512,
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:  # fmt: skip
    """Every readout of `POOLS` on the visible tokens of sampler masks (or on the full
    image if `mask_ratio` is None), and the (N, tokens) masks used (1 = masked)."""
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, list[torch.Tensor]] = {pool: [] for pool in POOLS}
    masks = []
    for batch in images.split(batch_size):
        mask = None
        if mask_ratio is not None:
            mask = sample_masks(len(batch), encoder.layout, mask_ratio, gen).mask
            masks.append(mask)
        feats = encoder.encode(batch, None if mask is None else mask.to(batch.device))
        out["cls"].append(feats.cls.float().cpu())
        out["mean"].append(feats.mean.float().cpu())
        out["tokens"].append(_at_positions(feats.tokens.float().cpu(), mask))
    return {k: torch.cat(v) for k, v in out.items()}, (torch.cat(masks) if masks else None)


def pixel_features(images: torch.Tensor, mask: torch.Tensor | None, patch: int) -> torch.Tensor:
    """The (standardised) pixels as (N, C * H * W) features, zeros where `mask` (N, L),
    1 = masked, hides a patch: the floor a readout of all the tokens is set beside."""
    x = images.float().cpu()
    if mask is not None:
        seen = torch.from_numpy(visible_pixels(mask, patch, tuple(x.shape[2:])))
        x = x * seen[:, None].to(x.dtype)
    return x.flatten(1)


def _at_positions(tokens: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """(N, K, D) tokens in raster order -> (N, L * D), each at its position, zeros where
    masked (`mask` (N, L), 1 = masked; None: all L tokens given)."""
    if mask is None:
        return tokens.flatten(1)
    grid = tokens.new_zeros(len(tokens), mask.shape[1], tokens.shape[2])
    grid[~mask.bool()] = tokens.reshape(-1, tokens.shape[2])  # visible ones, row by row
    return grid.flatten(1)


def evaluate_symbols(
    encoder: nn.Module, model: RandomHierarchy,
    train_images: torch.Tensor, train_latents: Mapping[str, np.ndarray],
    test_images: torch.Tensor, test_latents: Mapping[str, np.ndarray],
    mean: Sequence[float], std: Sequence[float], ratio: float,
    untrained: nn.Module | None = None, config: ProbeConfig | None = None, seed: int = 0,
    pools: Sequence[str] = POOLS,
) -> dict[str, object]:  # fmt: skip
    """Per-level symbol accuracy of `encoder` (and `untrained`), for each readout in
    `pools` (a probe per readout: ask only for those you read), beside a linear probe and
    kNN on the view's pixels (`result[view]["pixels"]`) and the Bayes limits
    (`result[view]["bayes"]`).

    Images are standardised as the encoder was trained (`mean`, `std` undo it for belief
    propagation, which works on the model's pixels). Views: `full_image`, and
    `visible_tokens` of masks at `ratio` from the training sampler (the same masks for the
    features and for the Bayes limit; training images get their own masks).
    """
    unknown = [pool for pool in pools if pool not in POOLS]
    if unknown or not pools:
        raise ValueError(f"pools={list(pools)}: give one or more of {', '.join(POOLS)}")
    train_y, test_y = symbol_table(model, train_latents), symbol_table(model, test_latents)
    raw = (test_images.double().cpu() * torch.tensor(std, dtype=torch.float64)[:, None, None]
           + torch.tensor(mean, dtype=torch.float64)[:, None, None]).numpy()  # fmt: skip
    truth = model.symbol_grids(test_latents)
    encoders = {"trained": encoder, **({"untrained": untrained} if untrained is not None else {})}
    out: dict[str, object] = {"ratio": ratio, "train": len(train_y), "test": len(test_y)}
    patch = int(encoder.patch_size)
    for view, view_ratio in (("full_image", None), ("visible_tokens", ratio)):
        result: dict[str, object] = {}
        train_masks = test_masks = None
        for name, enc in encoders.items():
            tr, train_masks = encoder_features(enc, train_images, view_ratio, seed + 1)
            te, test_masks = encoder_features(enc, test_images, view_ratio, seed)
            result[name] = {
                pool: symbol_accuracy(model, tr[pool], train_y, te[pool], test_y, config)
                for pool in pools
            }
        result["pixels"] = symbol_accuracy(
            model, pixel_features(train_images, train_masks, patch), train_y,
            pixel_features(test_images, test_masks, patch), test_y, config,
        )  # fmt: skip
        seen = None
        if test_masks is not None:
            seen = visible_pixels(test_masks, patch, raw.shape[2:])
        post = tree_posterior(model, raw, seen)
        result["bayes"] = dict(enumerate(bayes_accuracy(post, truth)))
        out[view] = result
    return out


def _check(x: torch.Tensor, y: torch.Tensor, split: str) -> None:
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(
            f"{split} features {tuple(x.shape)} and symbols {tuple(y.shape)} must be (N, D) "
            "and (N, latents) with the same N"
        )
    if len(x) < 2:
        raise ValueError(f"{split} split has {len(x)} samples; a probe needs at least 2")


def format_symbols(result: Mapping[str, object], pool: str = "mean") -> str:
    """Plain-text table of `evaluate_symbols`: per view and level, probe and kNN of the
    trained encoder's `pool` readout and of the untrained floor's, the pixel floor's
    probe, chance and the Bayes limit."""
    lines = [f"  symbol accuracy per level ({READOUTS[pool]}; probe / kNN)"]
    for view in ("full_image", "visible_tokens"):
        res = result[view]
        lines.append(f"    {view:<16s} {'trained':>15s} {'untrained':>15s} {'pixels':>7s} "
                     f"{'chance':>7s} {'Bayes':>6s}")  # fmt: skip
        for level, bayes in res["bayes"].items():
            cells = []
            for who in ("trained", "untrained"):
                if who in res:
                    acc = res[who][pool]
                    cells.append(f"{acc['probe'][level]:.3f} / {acc['knn'][level]:.3f}")
                else:
                    cells.append("-")
            pixels = f"{res['pixels']['probe'][level]:7.3f}" if "pixels" in res else f"{'-':>7s}"
            chance = res["trained"][pool]["chance"][level]
            lines.append(f"    level {level:<10} {cells[0]:>15s} {cells[1]:>15s} {pixels} "
                         f"{chance:7.3f} {bayes:6.3f}")  # fmt: skip
        readers = [res[who][pool] for who in ("trained", "untrained") if who in res]
        readers += [res["pixels"]] if "pixels" in res else []
        for level in readers[0]["rules_from"]:  # symbol_accuracy climbs from every level
            through = [f"{r['rules_from'][level]:.3f}" for r in readers]
            lines.append(f"      class through the rules from the level-{level} probes (trained "
                         f"/ untrained / pixels): {' / '.join(through)}")  # fmt: skip
        if "untrained" in res:
            from maeid.evaluate.rules_share import rules_share

            share = rules_share(res["trained"][pool]["rules"][0],
                                res["untrained"][pool]["rules"][0], res["bayes"][0],
                                int(result["test"]))  # fmt: skip
            lines.append(f"      its share of the untrained floor's gap to Bayes: "
                         f"{share.share:.3f} (gap {share.gap_se:.1f} SE: "
                         f"{'readable' if share.readable else 'not readable'})")  # fmt: skip
    if "masked_loss" in result:
        m = result["masked_loss"]
        lines.append(f"  held-out masked loss {m['loss']:.3f}: Bayes {m['bayes']:.3f}, plateau "
                     f"{m['plateau']:.3f}, normalised excess {m['excess']:.2f}")  # fmt: skip
    return "\n".join(lines)
