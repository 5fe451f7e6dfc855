"""Benchmark: sample rhm32 images, and run belief propagation on them under a mask.

    .venv/bin/python benchmarks/bench_rhm.py [--model rhm32] [--samples 100000]
        [--bp-images 10000] [--ratio 0.75] [--unit 4] [--threads 1]

Prints the time of sampling `--samples` images (every symbol and rule choice kept), and
of exact inference on `--bp-images` of them with masks from the MAE's sampler (ViT patch
4, masking unit `--unit` pixels): the posterior of every symbol given the visible
pixels, the Bayes accuracy per level and the Bayes masked-patch MSE. Target: both under
30 s on 2 cores.
"""

import argparse
import time

import torch
from threadpoolctl import threadpool_limits

from maeid.hlvm import load_model
from maeid.theory.belief_propagation import (
    bayes_accuracy,
    masked_mse,
    tree_posterior,
    visible_pixels,
)
from maeid.theory.masking import MaskLayout, sample_masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rhm32", help="rhm32 or rhm32:knob=value,...")
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--bp-images", type=int, default=10_000)
    parser.add_argument("--ratio", type=float, default=0.75)
    parser.add_argument("--unit", type=int, default=4, help="masking unit in pixels")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    _, h, w = model.spec.image_shape
    patch = 4
    with threadpool_limits(args.threads):
        t0 = time.perf_counter()
        sample = model.sample(args.samples, seed=0)
        t1 = time.perf_counter()
        print(f"{model.name}: sampled {args.samples} images {sample.images.shape[1:]} with "
              f"{len(sample.latents)} symbols each in {t1 - t0:.1f} s (target < 30 s)")  # fmt: skip

        n = min(args.bp_images, args.samples)
        layout = MaskLayout(h // patch, w // patch, args.unit // patch)
        masks = sample_masks(n, layout, args.ratio, torch.Generator().manual_seed(0)).mask
        seen = visible_pixels(masks, patch, (h, w))
        images = sample.images[:n]
        t2 = time.perf_counter()
        post = tree_posterior(model, images, seen)
        t3 = time.perf_counter()
        truth = model.symbol_grids({k: v[:n] for k, v in sample.latents.items()})
        acc = bayes_accuracy(post, truth)
        mse = masked_mse(model, images, seen, posterior=post)
        t4 = time.perf_counter()
    print(
        f"belief propagation on {n} images, ratio {args.ratio}, unit {args.unit} px: "
        f"{t3 - t2:.1f} s (target < 30 s); with accuracy and Bayes MSE {t4 - t2:.1f} s"
    )
    print("Bayes accuracy given the visible pixels, per level: "
          + ", ".join(f"{a:.3f}" for a in acc))  # fmt: skip
    print(f"masked-pixel MSE as a share of pixel variance: Bayes {mse.bayes:.3f}, "
          f"predict-the-mean plateau {mse.plateau:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
