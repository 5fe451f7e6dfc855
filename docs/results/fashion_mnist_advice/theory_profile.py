"""The second-order (Gaussian) profile of Fashion-MNIST as the MAE sees it: the training
images padded to 32 x 32 with the background value, over the study's ratio x unit cells.

Writes profile.json: per cell the Gaussian Bayes loss, the plateau and the share of
(plateau - Bayes) from beyond the target scale, each with its standard errors, plus the
factor that turns the profile's loss units (the padded image's pooled pixel variance)
into the MAE's (the variance of the unpadded pixels, which `maeid.data` standardises by).

    python docs/results/fashion_mnist_advice/theory_profile.py \
        --out docs/results/fashion_mnist_advice --masks 256
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from maeid.atomic import write_json
from maeid.data.fashion_mnist import MEAN, STD, load_fashion_mnist
from maeid.theory.gaussian_information import gaussian_profile
from maeid.threads import torch_threads

RATIOS = (0.1, 0.25, 0.5, 0.75, 0.9)
UNITS = (4, 8, 16)
TARGET_SCALE = 16  # px: the evidence from another quadrant of the 32 x 32 image
IMAGES = 10000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--masks", type=int, default=64)
    parser.add_argument("--bootstrap", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    images, _ = load_fashion_mnist("train", pad_to=32)
    chosen = np.sort(np.random.default_rng([0, 0x1A6E]).choice(len(images), IMAGES, replace=False))
    x = images[chosen].astype(np.float64) / 255.0
    start = time.perf_counter()
    with torch_threads(args.threads):
        profile = gaussian_profile(
            x,
            ratios=RATIOS,
            units=UNITS,
            target_scale=TARGET_SCALE,
            num_masks=args.masks,
            bootstrap=args.bootstrap,
            seed=0,
            source=f"Fashion-MNIST train: {IMAGES} of {len(images)} images, padded to 32x32",
        )
    seconds = time.perf_counter() - start
    # The profile's unit is the padded images' pooled variance; the MAE's loss is in units
    # of the unpadded pixels' variance (maeid.data.fashion_mnist.STD).
    to_mae_units = float(x.var()) / float(STD) ** 2
    result = {**profile.to_dict(), "seconds": seconds, "to_mae_units": to_mae_units,
              "mae_mean": MEAN, "mae_std": STD}  # fmt: skip
    write_json(args.out / "profile.json", result, indent=1)
    print(f"{seconds:.0f} s; to MAE units x{to_mae_units:.4f}")
    for c in profile.ranked:
        print(
            c.ratio,
            c.unit,
            round(c.beyond_target_share.mean, 3),
            round(c.bayes.mean, 3),
            round(c.plateau.mean, 3),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
