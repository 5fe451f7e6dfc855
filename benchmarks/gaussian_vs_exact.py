"""The second-order (Gaussian) profile against the exact one, where the truth is known.

    .venv/bin/python benchmarks/gaussian_vs_exact.py [MODEL ...] [--images 20000]
        [--masks 64] [--bootstrap 4] [--exact-images N] [--threads 1]

For each model (default rhm32:m=32/4/2 and qt32) this samples images, computes
`maeid.theory.gaussian_information.gaussian_profile` from them over the paper's ratios x
units 4, 8, 16, and beside it the exact numbers of the same cells: the information per
level of `maeid.theory.information.cell_information` (belief propagation on rhm32,
nested resampling on qt32) where that module is present, else only the exact Bayes loss
and plateau (`maeid.theory.belief_propagation.cell_loss_limits`,
`maeid.theory.exact_limits.cell_loss_limits`).

The block sides of the Gaussian profile are the levels' blocks (32 = level 0's, the
whole image; 16 = level 1's; 8 = level 2's; 4 = the leaf patches), so the Gaussian value
beyond the 16-px block is the exact level-0 value, beyond 8 and within 16 level 1's,
beyond 4 and within 8 level 2's. Per cell it prints both Bayes losses (and how far the
Gaussian one lies above), the share of plateau - Bayes beyond 8 px (levels 0 and 1) and
beyond 16 px (level 0) from both, and over the cells Spearman's rho between the two
views with a 95% bootstrap interval over cells (for the shares, over the cells whose unit
is smaller than the block: a unit at least as large puts all the value beyond the block
in both views, by construction).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.stats import spearmanr
from threadpoolctl import threadpool_limits

from maeid.hlvm import load_model
from maeid.theory.gaussian_information import PAPER_RATIOS, gaussian_profile

UNITS = (4, 8, 16)


def exact_cell(model, ratio: float, unit: int, images: int | None) -> dict[str, float]:
    """Bayes, plateau and (with the information module) the shares beyond 8 and 16 px."""
    try:
        from maeid.theory.information import cell_information
    except ImportError:  # only the Bayes loss and the plateau
        from maeid.theory import belief_propagation, exact_limits

        is_rhm = type(model).__name__ == "RandomHierarchy"
        limits = (belief_propagation if is_rhm else exact_limits).cell_loss_limits
        lim = limits(model, ratio, unit, num_masks=images or 256)
        return {"bayes": lim.bayes.value, "bayes_se": lim.bayes.se,
                "plateau": lim.plateau.value}  # fmt: skip
    info = cell_information(model, ratio, unit, num_images=images)
    return {
        "bayes": info.bayes.value,
        "bayes_se": info.bayes.se,
        "plateau": info.plateau.value,
        "beyond_8": info.share_at_or_above(1),
        "beyond_16": info.share_at_or_above(0),
    }


def rho_with_interval(a: list[float], b: list[float], seed: int = 0) -> str:
    a, b = np.asarray(a), np.asarray(b)
    rho = spearmanr(a, b).statistic
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(2000):
        idx = rng.integers(0, len(a), len(a))
        if np.ptp(a[idx]) > 0 and np.ptp(b[idx]) > 0:
            draws.append(spearmanr(a[idx], b[idx]).statistic)
    lo, hi = np.nanpercentile(draws, [2.5, 97.5])
    return f"{rho:.3f} [{lo:.3f}, {hi:.3f}] over {len(a)} cells"


def compare(name: str, args: argparse.Namespace) -> None:
    start = time.perf_counter()
    model = load_model(name)
    images = model.sample(args.images, seed=np.random.SeedSequence([args.seed, 0x6A55])).images
    profile = gaussian_profile(
        np.asarray(images, dtype=np.float32),
        ratios=PAPER_RATIOS,
        units=UNITS,
        target_scale=8,
        num_masks=args.masks,
        bootstrap=args.bootstrap,
        seed=args.seed,
        source=name,
    )
    gauss_s = time.perf_counter() - start
    print(f"\n{model.name}: Gaussian profile from {args.images} sampled images "
          f"({gauss_s:.0f} s; Ledoit-Wolf shrinkage {profile.shrinkage:.4f})")  # fmt: skip
    head = (
        f"{'ratio':>5} {'unit':>4} | {'Bayes G':>7} {'exact':>13} {'G-exact':>7} | "
        f"{'plateau G':>9} {'exact':>5} | {'>8px G':>6} {'exact':>5} | {'>16px G':>7} {'exact':>5}"
    )
    print(head)
    rows = []
    for cell in profile.cells:
        if not cell.possible:
            print(f"{cell.ratio:>5g} {cell.unit:>4d} | impossible: {cell.reason}")
            continue
        truth = exact_cell(model, cell.ratio, cell.unit, args.exact_images)
        g16 = cell.value_share[16].mean
        row = {
            "g_bayes": cell.bayes.mean, "g_se": cell.bayes.se, "g_plateau": cell.plateau.mean,
            "g_beyond_8": cell.beyond_target_share.mean, "g_beyond_16": g16, **truth,
        }  # fmt: skip
        rows.append(row)
        exact_bayes = f"{truth['bayes']:.3f}±{truth['bayes_se']:.3f}"
        shares = (
            f"{row['g_beyond_8']:>6.3f} {truth['beyond_8']:>5.3f} | "
            f"{g16:>7.3f} {truth['beyond_16']:>5.3f}"
            if "beyond_8" in truth
            else "(no information module)"
        )
        print(
            f"{cell.ratio:>5g} {cell.unit:>4d} | {cell.bayes.mean:>7.3f} {exact_bayes:>13} "
            f"{cell.bayes.mean - truth['bayes']:>+7.3f} | {cell.plateau.mean:>9.3f} "
            f"{truth['plateau']:>5.3f} | {shares}",
            flush=True,
        )
    above = sum(r["g_bayes"] >= r["bayes"] - 2 * np.hypot(r["g_se"], r["bayes_se"]) for r in rows)
    print(f"Gaussian Bayes loss at or above the exact one (within 2 se) in {above} of {len(rows)} "
          "cells")  # fmt: skip

    def normalised(r: dict[str, float], prefix: str = "") -> float:
        return r[f"{prefix}bayes"] / r[f"{prefix}plateau"]

    gb = [normalised(r, "g_") for r in rows]
    eb = [normalised(r) for r in rows]
    print("Spearman rho, Bayes / plateau (Gaussian vs exact):", rho_with_interval(gb, eb))
    if rows and "beyond_8" in rows[0]:
        for key in ("beyond_8", "beyond_16"):
            # A cell whose unit is at least the block has all its value beyond it in both
            # views, by construction: left out, so that it does not inflate rho.
            kept = [r for r in rows if min(r[f"g_{key}"], r[key]) < 1 - 1e-9]
            g, e = [r[f"g_{key}"] for r in kept], [r[key] for r in kept]
            print(f"Spearman rho, share {key.replace('_', ' ')} px:", rho_with_interval(g, e))
    print(f"({time.perf_counter() - start:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["rhm32:m=32/4/2", "qt32"])
    parser.add_argument("--images", type=int, default=20000, help="images for the covariance")
    parser.add_argument("--masks", type=int, default=64, help="masks per cell, Gaussian view")
    parser.add_argument("--bootstrap", type=int, default=4, help="bootstrap resamples of images")
    parser.add_argument(
        "--exact-images", type=int, default=None, help="images per cell, exact view"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        for name in args.models:
            compare(name, args)


if __name__ == "__main__":
    main()
