"""`maeid synth`: sample a synthetic dataset from a hierarchical model.

    maeid synth --model qt32 --n 10000 --seed 0 --out data/qt32.npz

writes the dataset (observations, every latent and noise, and the model itself; read
it back with `maeid.hlvm.load_dataset`), prints how much of the observed variance
each latent level explains, and for image models saves a grid of samples next to it
(`data/qt32.png`). For the discrete random-hierarchy model (`--model rhm32[:knobs]`) it
prints instead, per level, the Bayes-optimal accuracy of belief propagation on the full
image beside chance (`benchmarks/rhm_floors.py` adds the pixel and untrained floors).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from maeid.atomic import save_figure
from maeid.cli.counts import count
from maeid.hlvm import (
    format_variance_table,
    load_model,
    model_names,
    save_dataset,
    variance_by_level,
)
from maeid.hlvm.model import HierarchicalModel
from maeid.hlvm.random_hierarchy import RandomHierarchy, is_rhm
from maeid.memory_budget import check_fits, free_disk, free_memory
from maeid.output_path import check_output_file

# Peak memory of sampling over the bytes the sample holds: measured 2.3 (qt32, 200,000
# samples), 1.5 (rhm32) and 2.3 (qt64), from the intermediate arrays of each level.
PEAK_PER_HELD = 2.5


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth",
        help="sample a synthetic dataset (images, true latents and noises) from a model",
        description="Sample N draws from a hierarchical latent-variable model and write them, "
        "with the model, to one .npz. Prints the share of the observed variance carried by "
        "each latent level (pick-freeze estimate; see maeid.hlvm.variance).",
    )
    p.add_argument(
        "--model",
        default="qt32",
        help=f"a named model ({', '.join(model_names())}; rhm32 takes knobs, e.g. "
        "rhm32:v=4,m=8,sigma=0.1) or a YAML file (default: qt32)",
    )
    p.add_argument(
        "--n", type=count, default=10000, help="samples to draw (e.g. 10000 or 1e4; default: 10000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the noise draws (default: 0)")
    p.add_argument(
        "--model-seed",
        type=int,
        default=0,
        help="seed of the random mechanisms: another seed is another model (default: 0)",
    )
    p.add_argument("--out", required=True, type=Path, help="output file, FILE.npz")
    p.add_argument(
        "--variance-samples",
        type=int,
        default=2048,
        help="samples for the variance-by-level table (rhm32: the Bayes accuracy table); "
        "0 skips it (default: 2048)",
    )
    p.add_argument("--no-png", action="store_true", help="do not write the sample grid PNG")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ValueError(f"--n must be positive, got {args.n}")
    if args.out.suffix != ".npz":
        raise ValueError(f"--out {args.out} must end in .npz")
    check_output_file(args.out)
    if args.variance_samples < 0:
        raise ValueError(f"--variance-samples {args.variance_samples}: use 0 (skip) or more")
    model = load_model(args.model, seed=args.model_seed)
    check_sample_fits(model, args.n, args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sample = model.sample(args.n, seed=args.seed, progress=True)
    save_dataset(args.out, model, sample)
    print(f"wrote {args.n} samples of {model.name} (model seed {model.seed}) to {args.out}")
    if is_rhm(model):
        if args.variance_samples > 0:
            print(bayes_table(model, args.variance_samples, args.seed))
    elif args.variance_samples > 0:
        rows = variance_by_level(model, n=args.variance_samples, seed=args.seed)
        print("share of observed variance by latent level:")
        print(format_variance_table(rows))
    if sample.images is not None and not args.no_png:
        png = args.out.with_suffix(".png")
        save_image_grid(sample.images[:64], png)
        print(f"wrote {png}")
    return 0


def check_sample_fits(model: HierarchicalModel | RandomHierarchy, n: int, out: Path) -> None:
    """Refuse `n` samples that cannot be held in memory, or written to `out`'s disk."""
    pilot = model.sample(2, seed=0)
    stored = sum(a.nbytes for group in (pilot.latents, pilot.noises) for a in group.values())
    if pilot.images is not None:
        stored += pilot.images.nbytes  # image models store their pixels, not the leaves
        held = stored + sum(a.nbytes for a in pilot.observed.values())
    else:
        stored += sum(a.nbytes for a in pilot.observed.values())
        held = stored
    asked = f"--n {n}"
    check_fits(n, PEAK_PER_HELD * held / 2, asked, "use --n", free_memory())
    check_fits(n, stored / 2, asked, "use --n", free_disk(out), where="disk")


def bayes_table(model: RandomHierarchy, n: int, seed: int) -> str:
    """Per level: latents, symbols, chance and belief propagation's full-image accuracy,
    on `n` fresh samples (a seed apart from the written ones)."""
    from maeid.theory.belief_propagation import bayes_accuracy, tree_posterior

    sample = model.sample(n, seed=seed + 1)
    bayes = bayes_accuracy(tree_posterior(model, sample.images), model.symbol_grids(sample.latents))
    lines = [f"Bayes-optimal accuracy (belief propagation, full image, {n} samples):",
             f"{'':10s} {'latents':>8s} {'symbols':>8s} {'chance':>7s} {'BP':>7s}"]  # fmt: skip
    for level, acc in enumerate(bayes):
        k = model.num_symbols(level)
        lines.append(f"{'level ' + str(level):10s} {4**level:8d} {k:8d} {1 / k:7.1%} {acc:7.1%}")
    return "\n".join(lines)


def save_image_grid(images: np.ndarray, path: Path, columns: int = 8) -> None:
    """Save (N, C, H, W) images as one grid PNG, contrast-stretched over the batch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, c, h, w = images.shape
    rows = -(-n // columns)
    lo, hi = np.percentile(images, [1, 99])
    scaled = np.clip((images - lo) / max(hi - lo, 1e-8), 0, 1)
    grid = np.ones((rows * (h + 1) - 1, columns * (w + 1) - 1, c), dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, columns)
        grid[r * (h + 1) : r * (h + 1) + h, col * (w + 1) : col * (w + 1) + w] = scaled[
            i
        ].transpose(1, 2, 0)
    fig, ax = plt.subplots(figsize=(columns, rows))
    ax.imshow(grid[..., 0] if c == 1 else grid, cmap="gray" if c == 1 else None)
    ax.set_axis_off()
    save_figure(fig, path, dpi=100, bbox_inches="tight")
