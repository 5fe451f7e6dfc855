"""What each cell of the masking study lets the loss certify on a random-hierarchy model.

    .venv/bin/python benchmarks/rhm_loss_limits.py [MODEL ...] [--masks 1024] [--threads 1]

For the masking units and ratios of `configs/sweeps/rhm32_ratio_unit.yaml` this prints the
exact Bayes masked loss and the predict-the-mean plateau of the MAE's mask sampler
(`maeid.theory.belief_propagation.cell_loss_limits`, shares of the pixel variance), and
their gap. The normalised excess divides by that gap: where it is a few hundredths, the
loss cannot tell a model that learnt the hierarchy from one that did not.
"""

import argparse
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from maeid.experiments.sweep_spec import SweepSpec
from maeid.hlvm import load_model
from maeid.theory.belief_propagation import cell_loss_limits

STUDY = Path(__file__).resolve().parents[1] / "configs" / "sweeps" / "rhm32_ratio_unit.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["rhm32:m=32/4/2"])
    parser.add_argument("--masks", type=int, default=1024, help="masked images per cell")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    args = parser.parse_args()
    if args.masks < 8:
        parser.error(f"--masks {args.masks}: use at least 8 (the standard errors need 8 chunks)")
    torch.set_num_threads(args.threads)
    grid = SweepSpec.from_yaml(STUDY).grid
    ratios, units = grid["mask_ratio"], grid["mask_unit"]
    start = time.perf_counter()
    with threadpool_limits(args.threads):
        for name in args.models:
            model = load_model(name)
            print(f"{model.name}: Bayes / plateau (gap), {args.masks} masked images a cell")
            print("unit  " + "".join(f"{f'ratio {r:g}':>24s}" for r in ratios))
            for unit in units:
                cells = []
                for ratio in ratios:
                    try:
                        lim = cell_loss_limits(model, ratio, unit, num_masks=args.masks)
                    except ValueError:  # the one way left: no unit of the cell stays visible
                        cells.append(f"{'impossible':>24s}")
                        continue
                    gap = lim.plateau.value - lim.bayes.value
                    text = f"{lim.bayes.value:.3f} / {lim.plateau.value:.3f} ({gap:.3f})"
                    cells.append(text.rjust(24))
                print(f"{unit:>4d}  " + "".join(cells), flush=True)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
