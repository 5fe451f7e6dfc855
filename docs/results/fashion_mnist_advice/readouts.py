"""The pre-registered gate and readouts of the Fashion-MNIST advisor study, per run.

For every finished run of the `fashion_mnist_advice_study` sweep, writes
`RUN/readouts.json` once (a run already read is skipped):

- the gate: the masked loss on the 10,000 test images under masks of the training
  sampler (seeded by the run's seed), beside the cell's Gaussian Bayes loss L_G and plateau
  from `profile.json`, and e_G = (loss - L_G) / (plateau - L_G); trained when e_G <= 0.25;
- the readouts: a linear probe (30 epochs) and kNN (k = 20) on the [CLS] token of the full
  image, fitted on 10,000 training images drawn by the run's seed, tested on all 10,000
  test images.

The floors (the encoder at initialisation, seeded by the study seed, and the raw pixels,
on the same images) are computed once per seed into `FLOORS/seed<N>.json`.
`docs/results/fashion_mnist_advice/preregistration.md` fixes all of it.

    .venv/bin/python docs/results/fashion_mnist_advice/readouts.py --db runs/fm_advice.db
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SWEEP = "fashion_mnist_advice_study"
TRAINED_E_G = 0.25
PROBE_TRAIN, TEST = 10000, 10000
EPOCHS, K = 30, 20


def cell_bound(profile: dict, ratio: float, unit: int) -> tuple[float, float]:
    """(L_G, plateau) of a cell in the MAE's loss units."""
    to_mae = profile["to_mae_units"]
    for c in profile["cells"]:
        if c["possible"] and c["ratio"] == ratio and c["unit"] == unit:
            return c["bayes"]["mean"] * to_mae, c["plateau"]["mean"] * to_mae
    raise KeyError(f"profile.json has no cell ({ratio}, {unit}); rerun theory_profile.py")


def accuracies(ctx, features) -> dict[str, float]:
    """Linear-probe and kNN top-1 of `features(split)` on the study's images."""
    from maeid.evaluate.knn import knn_top1
    from maeid.evaluate.probe import ProbeConfig, linear_probe

    train, test = ctx.train(None, PROBE_TRAIN), ctx.test(None, TEST)
    f_train, f_test = features(train), features(test)
    linear, _ = linear_probe(f_train, train.labels, f_test, test.labels,
                             ProbeConfig(EPOCHS, seed=ctx.seed))  # fmt: skip
    return {"linear": linear, "knn": knn_top1(f_train, train.labels, f_test, test.labels, k=K)}


def context(train_dir: Path):
    """The run's model and config in an evaluation context seeded by the run's seed (the
    probe's training images and the untrained floor follow it)."""
    from maeid.measures import EvalContext
    from maeid.train.load_any import load_any

    loaded = load_any(train_dir)
    cfg = loaded.config
    return EvalContext(loaded.model, cfg, train_dir, source="fashion_mnist", seed=int(cfg.run.seed))


def read_run(ctx, train_dir: Path, profile: dict) -> dict:
    from maeid.evaluate.excess import sampler_masked_loss
    from maeid.train.checkpoint import read_checkpoint

    cfg = ctx.cfg
    step = int(read_checkpoint(train_dir / "checkpoints" / "last.pt")["step"])
    ratio, unit = float(cfg.mask.ratio), int(cfg.mask.unit)
    loss = sampler_masked_loss(ctx.model, ctx.test(None, TEST).images, ratio, ctx.seed)
    bound, plateau = cell_bound(profile, ratio, unit)
    e_g = (loss - bound) / (plateau - bound)
    return {
        "ratio": ratio, "unit": unit, "seed": ctx.seed, "step": step,
        "test_loss": loss, "gaussian_bayes": bound, "plateau": plateau, "e_G": e_g,
        "trained": e_g <= TRAINED_E_G,
        **accuracies(ctx, lambda split: ctx.features(split, "cls")),
    }  # fmt: skip


def read_floors(ctx) -> dict:
    """The untrained encoder (seeded by the run's seed) and the raw pixels."""
    from maeid.measures.context import frozen_features

    untrained = ctx.untrained()
    return {
        "seed": ctx.seed,
        "untrained": accuracies(ctx, lambda s: frozen_features(untrained, s.images, "cls")),
        "pixels": accuracies(ctx, lambda s: s.images.flatten(1)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=ROOT / "runs" / "fm_advice.db")
    parser.add_argument("--floors", type=Path, default=ROOT / "runs" / "fm_advice_floors")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from maeid.atomic import write_json
    from maeid.experiments.results_db import ResultsDB

    torch.set_num_threads(args.threads)
    profile = json.loads((HERE / "profile.json").read_text())
    with ResultsDB(args.db, read_only=True) as results:
        runs = results.runs(SWEEP, status="done")
    for run in sorted(runs, key=lambda r: (r.seed, r.mask_unit, r.mask_ratio)):
        train_dir = Path(run.run_dir) / "train"
        out = train_dir.parent / "readouts.json"
        floors = args.floors / f"seed{run.seed}.json"
        if out.is_file() and floors.is_file():
            continue
        ctx = context(train_dir)  # one context: the splits are read once for both
        if not out.is_file():
            start = time.perf_counter()
            result = read_run(ctx, train_dir, profile)
            write_json(out, {**result, "seconds": time.perf_counter() - start})
            print(f"({result['ratio']}, {result['unit']}) seed {result['seed']}: e_G "
                  f"{result['e_G']:.3f}, linear {result['linear']:.4f}, kNN {result['knn']:.4f}",
                  flush=True)  # fmt: skip
        if not floors.is_file():
            write_json(floors, read_floors(ctx))
            print(f"floors of seed {run.seed} written", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
