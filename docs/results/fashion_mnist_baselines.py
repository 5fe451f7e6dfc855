"""Floors for the Fashion-MNIST study: what the probes get without MAE pre-training.

The same probe (BatchNorm without affine + linear, AdamW, 30 epochs) and kNN (k=20,
cosine) on the same 10,000 training and 2,000 test images as the sweeps' evaluation, fed
with (a) the normalised raw pixels and (b) the [CLS] token of the sweeps' encoder at
initialisation (seed 0, as the training runs start), at patch 4 (Sweep A) and patch 2
(Sweep B). The options widen it to the full sets and to mean-pooled features:

    .venv/bin/python docs/results/fashion_mnist_baselines.py
    .venv/bin/python docs/results/fashion_mnist_baselines.py --max-train 60000 \
        --max-test 10000 --pools cls,mean --patches 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from maeid.evaluate.knn import knn_top1
from maeid.evaluate.probe import ProbeConfig, linear_probe
from maeid.measures import EvalContext
from maeid.measures.context import frozen_features
from maeid.train.config import load_config
from maeid.train.loop import build_model

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "fashion_mnist.yaml"


def probe_and_knn(train: torch.Tensor, test: torch.Tensor, labels) -> tuple[float, float]:
    acc, _ = linear_probe(train, labels[0], test, labels[1], ProbeConfig(epochs=30))
    return acc, knn_top1(train, labels[0], test, labels[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-train", type=int, default=10000, help="probe set and kNN bank")
    parser.add_argument("--max-test", type=int, default=2000)
    parser.add_argument("--pools", default="cls", help="comma-separated: cls, mean")
    parser.add_argument("--patches", default="4,2", help="comma-separated patch sizes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for i, patch in enumerate(int(p) for p in args.patches.split(",")):
        cfg = load_config(CONFIG, [f"model.patch_size={patch}"])
        torch.manual_seed(cfg.run.seed)
        model = build_model(cfg, (1, 32, 32)).eval()
        ctx = EvalContext(model, cfg, ".", source="fashion_mnist")
        train, test = ctx.train(None, args.max_train), ctx.test(None, args.max_test)
        labels = (train.labels, test.labels)
        if i == 0:
            pixels = [split.images.flatten(1) for split in (train, test)]
            rows.append(("raw pixels (1024)", *probe_and_knn(*pixels, labels)))
        for pool in args.pools.split(","):
            feats = [frozen_features(model, split.images, pool) for split in (train, test)]
            name = f"untrained encoder, patch {patch}" + ("" if pool == "cls" else f", {pool}")
            rows.append((name, *probe_and_knn(*feats, labels)))
    print("| features | linear % | kNN % |\n|---|---|---|")
    for name, linear, knn in rows:
        print(f"| {name} | {100 * linear:.1f} | {100 * knn:.1f} |")


if __name__ == "__main__":
    main()
