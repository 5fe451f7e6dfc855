"""Floors and limits of the random-hierarchy model: what each level gives away for free.

    .venv/bin/python benchmarks/rhm_floors.py [--model rhm32] [--train 20000] [--test 5000]
        [--epochs 20] [--threads 1]

Per latent level, on held-out samples: chance (the most frequent symbol), a linear probe
on the raw pixels (standardised), a linear probe and kNN on the mean-pooled features of
an untrained qt32-sized ViT encoder (the `qt32` preset at initialisation, seed 0, full
image), and belief propagation on the full image (the Bayes limit). A benchmark is worth
having only if the pixels read the class near chance while BP reads it near 100 %.
"""

import argparse
import time

import torch

from maeid.evaluate.probe import ProbeConfig
from maeid.evaluate.symbols import (
    by_level,
    chance_accuracy,
    encoder_features,
    multi_knn_accuracy,
    multi_probe_accuracy,
    symbol_table,
)
from maeid.hlvm import load_model
from maeid.mae.presets import build_mae
from maeid.theory.belief_propagation import bayes_accuracy, tree_posterior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rhm32", help="rhm32 or rhm32:knob=value,...")
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--test", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=20, help="linear-probe epochs")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model = load_model(args.model)
    train, test = model.sample(args.train, seed=0), model.sample(args.test, seed=1)
    mean, std = float(train.images.mean()), float(train.images.std())
    train_x = torch.from_numpy((train.images - mean) / std)
    test_x = torch.from_numpy((test.images - mean) / std)
    train_y, test_y = symbol_table(model, train.latents), symbol_table(model, test.latents)
    ty, vy = torch.from_numpy(train_y), torch.from_numpy(test_y)
    classes = max(model.knobs.n_classes, model.knobs.v)
    config = ProbeConfig(epochs=args.epochs)

    rows: dict[str, dict[int, float]] = {
        "chance": by_level(model, chance_accuracy(train_y, test_y))
    }
    rows["pixels, linear probe"] = by_level(model, multi_probe_accuracy(
        train_x.flatten(1), ty, test_x.flatten(1), vy, classes, config))  # fmt: skip
    _, h, _ = model.spec.image_shape
    torch.manual_seed(0)
    encoder = build_mae("qt32", img_size=h).eval()
    feats = [encoder_features(encoder, x, None)[0]["mean"] for x in (train_x, test_x)]
    rows["untrained ViT (mean), probe"] = by_level(
        model, multi_probe_accuracy(feats[0], ty, feats[1], vy, classes, config))  # fmt: skip
    rows["untrained ViT (mean), kNN"] = by_level(
        model, multi_knn_accuracy(feats[0], ty, feats[1], vy, classes))  # fmt: skip
    post = tree_posterior(model, test.images)
    rows["belief propagation"] = dict(
        enumerate(bayes_accuracy(post, model.symbol_grids(test.latents)))
    )

    k = model.knobs
    print(f"{model.name}: n_classes {k.n_classes}, v {k.v}, m {k.rule_counts}, L {k.levels}, patch "
          f"{k.patch}, sigma {k.sigma}; {args.train} train / {args.test} test samples")  # fmt: skip
    levels = sorted(rows["chance"])
    print(f"{'accuracy per level':32s}" + "".join(f"{'level ' + str(lv):>10s}" for lv in levels))
    for name, row in rows.items():
        print(f"{name:32s}" + "".join(f"{row[lv]:10.3f}" for lv in levels))
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
