"""How long does the information per level take, and how precise is it at the default?

    python benchmarks/bench_information.py [--model rhm32:m=32/4/2] [--images 2048]

Values every (ratio, unit) cell of ratios 0.1, 0.25, 0.5, 0.75, 0.9 x units 4, 8, 16 px
(`maeid.theory.information.profile_information`, exact belief propagation with the
evidence confined to each level's blocks) on one thread, prints the table (V_l and its
share per level, Bayes and plateau, each with its standard error), the largest standard
error of a value and of a share, and the wall time. The target: the whole grid within 5
minutes on one core, every value's standard error <= 0.005.
"""

from __future__ import annotations

import argparse
import time

import torch
from threadpoolctl import threadpool_limits

from maeid.hlvm import load_model
from maeid.theory.information import default_images, profile_information
from maeid.theory.profile import theory_profile
from maeid.theory.profile_table import format_information_table

RATIOS = [0.1, 0.25, 0.5, 0.75, 0.9]
UNITS = [4, 8, 16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="rhm32:m=32/4/2")
    parser.add_argument("--images", type=int, default=None, help="per cell; default: the library's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model)
    images = args.images or default_images(model)
    # The profile only says which cells are possible; the information is what is timed.
    profile = theory_profile(model, RATIOS, UNITS, num_masks=100, seed=args.seed)
    with threadpool_limits(limits=1):
        start = time.perf_counter()
        information = profile_information(model, profile, images)
        seconds = time.perf_counter() - start
    print(format_information_table(profile, information))
    valued = [info for info in information if info is not None]
    value_se = max(max(info.se.values()) for info in valued)
    share_se = max(max(info.share_se.values()) for info in valued)
    ends_se = max(max(info.bayes.se, info.plateau.se) for info in valued)
    print(
        f"{len(valued)} cells valued ({len(information) - len(valued)} impossible), {images} "
        f"images each, one thread: {seconds:.1f} s ({seconds / len(valued):.2f} s per cell)"
    )
    print(f"largest se: value {value_se:.4f}, share {share_se:.4f}, Bayes/plateau {ends_se:.4f}")


if __name__ == "__main__":
    main()
