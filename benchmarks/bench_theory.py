"""How fast is a theory profile, and how much does vectorising buy?

    python benchmarks/bench_theory.py [--masks 10000] [--baseline-masks 200]

For qt32 and qt224 (224x224, 8x8 leaves), profiles 9 ratios x 3 masking units with
`--masks` masks per cell, and compares the time per mask with a straightforward per-mask
computation: networkx ancestors of the masked and of the visible observed nodes, their
intersection, its lowest layer and d_c. The baseline runs on `--baseline-masks` masks per
cell (the same masks the profile draws, checked to give the same S) and is extrapolated.
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import torch

from maeid.hlvm import load_model
from maeid.theory import cell_masks, default_patch_size, theory_profile, token_incidence

RATIOS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
MODELS = {"qt32": [4, 8, 16], "qt224": [8, 16, 32]}  # units align with the latent levels


def networkx_baseline(spec, token_masks, patch):
    """One graph search per mask: the obvious way to compute S, c and d_c."""
    g = spec.graph
    incidence = token_incidence(spec, patch)
    covers = [[spec.observed[j] for j in torch.nonzero(row).flatten()] for row in incidence]
    out = []
    for mask in token_masks.tolist():
        masked = {x for t, m in enumerate(mask) if m for x in covers[t]}
        visible = {x for t, m in enumerate(mask) if not m for x in covers[t]}
        up_masked = set().union(*(nx.ancestors(g, x) for x in masked))
        up_visible = set().union(*(nx.ancestors(g, x) for x in visible))
        shared = up_masked & up_visible
        c = {z for z in shared if not any(k in shared for k in g.successors(z))}
        out.append((shared, c, sum(spec.noise_dim(z) for z in shared)))
    return out


def bench(name: str, units: list[int], num_masks: int, baseline_masks: int) -> dict:
    spec = load_model(name).spec
    patch = default_patch_size(spec)
    start = time.perf_counter()
    profile = theory_profile(spec, RATIOS, units, num_masks=num_masks, seed=0)
    seconds = time.perf_counter() - start
    valid = [c for c in profile.cells if c.valid]

    base_seconds, base_count = 0.0, 0
    for cell in valid[:: max(1, len(valid) // 6)]:  # a spread of cells
        masks = cell_masks(spec, cell.ratio, cell.unit, baseline_masks, seed=0)
        start = time.perf_counter()
        results = networkx_baseline(spec, masks, patch)
        base_seconds += time.perf_counter() - start
        base_count += len(masks)
        # Same masks (the first of the profile's stream), so the same shared sets.
        check = theory_profile(spec, [cell.ratio], [cell.unit], baseline_masks, seed=0).cells[0]
        freq = torch.tensor([[z in s for z in profile.latents] for s, _, _ in results])
        assert torch.allclose(freq.double().mean(0), torch.from_numpy(check.p_shared))

    per_mask = seconds / (len(valid) * num_masks)
    base_per_mask = base_seconds / base_count
    return {
        "model": name,
        "latents": len(spec.latents),
        "observed": len(spec.observed),
        "cells": f"{len(valid)}/{len(profile.cells)}",
        "masks": num_masks,
        "seconds": seconds,
        "us_per_mask": 1e6 * per_mask,
        "baseline_us_per_mask": 1e6 * base_per_mask,
        "baseline_seconds_extrapolated": base_per_mask * len(valid) * num_masks,
        "speedup": base_per_mask / per_mask,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--masks", type=int, default=10_000, help="masks per cell")
    parser.add_argument("--baseline-masks", type=int, default=200, help="baseline masks per cell")
    args = parser.parse_args()
    print(f"{len(RATIOS)} ratios x 3 units per model; profiles on 1 torch thread (the default)")
    head = (
        f"{'model':>6} {'latents':>7} {'observed':>8} {'cells':>6} {'masks':>6} "
        f"{'profile s':>9} {'us/mask':>8} {'networkx us/mask':>16} {'networkx s (extrap.)':>20} "
        f"{'speedup':>8}"
    )
    print(head)
    for name, units in MODELS.items():
        r = bench(name, units, args.masks, args.baseline_masks)
        print(
            f"{r['model']:>6} {r['latents']:>7} {r['observed']:>8} {r['cells']:>6} "
            f"{r['masks']:>6} {r['seconds']:>9.2f} {r['us_per_mask']:>8.2f} "
            f"{r['baseline_us_per_mask']:>16.0f} {r['baseline_seconds_extrapolated']:>20.0f} "
            f"{r['speedup']:>7.0f}x"
        )


if __name__ == "__main__":
    main()
