"""How much a random hierarchy tells a masked leaf through its siblings: a learnability gauge.

    .venv/bin/python benchmarks/rhm_sibling_signal.py [MODEL ...] [--samples 200000]

An MAE at the start of training is close to a linear map of the visible pixels, and the
first thing it can pick up about a masked leaf of rhm32 is what its visible siblings say.
For each model this prints the share of a leaf's rendering variance (pixel noise
excluded) explained by the symbol of one sibling (the pairwise signal a near-linear model
sees first) and by the symbols of all three (what the leaf level's rules give once
learnt). Few rules per symbol relative to the vocabulary make the pairwise signal strong,
and also let the pixels give the class away (`rhm_floors.py`): the two move together.
"""

import argparse
import time

import numpy as np

from maeid.hlvm import load_model


def explained_share(target: np.ndarray, given: list[np.ndarray], patches: np.ndarray, v: int):
    """1 - E[Var(rendering of target | given symbols)] / Var(rendering of target)."""
    renders = patches[target]  # (N, pixels)
    key = np.zeros(len(target), dtype=np.int64)
    for symbols in given:
        key = key * v + symbols
    _, group = np.unique(key, return_inverse=True)
    counts = np.bincount(group).astype(np.float64)
    sums = np.stack([np.bincount(group, weights=col) for col in renders.T], 1)
    # within-group sum of squares = total sum of squares - sum over groups of n * mean^2
    within = (renders.astype(np.float64) ** 2).sum() - ((sums**2).sum(1) / counts).sum()
    total = ((renders - renders.mean(0)) ** 2).sum()
    return 1.0 - within / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["rhm32"])
    parser.add_argument("--samples", type=int, default=200_000)
    args = parser.parse_args()
    print(f"{'model':34s} {'1 sibling':>10s} {'3 siblings':>11s}")
    start = time.perf_counter()
    for name in args.models:
        model = load_model(name)
        symbols, _, _ = model.sample_symbols(args.samples, seed=1)
        leaf = symbols[-1]  # the top-left leaf of every sibling block is the target
        target = leaf[:, 0::2, 0::2].ravel()
        siblings = [leaf[:, 0::2, 1::2].ravel(), leaf[:, 1::2, 0::2].ravel()]
        siblings.append(leaf[:, 1::2, 1::2].ravel())
        patches = model.patches.reshape(model.knobs.v, -1).astype(np.float64)
        one = explained_share(target, siblings[:1], patches, model.knobs.v)
        three = explained_share(target, siblings, patches, model.knobs.v)
        print(f"{name:34s} {one:10.3f} {three:11.3f}")
    print(f"({time.perf_counter() - start:.0f} s, {args.samples} samples a model)")


if __name__ == "__main__":
    main()
