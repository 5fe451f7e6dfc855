"""`maeid advise --data SOURCE`: the second-order information profile of a user's images.

maeid advise --data fashion_mnist
maeid advise --data path/to/images --resolution 32 --target-scale 8 --out runs/advice
maeid advise --data images.npz --json
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from maeid.theory.gaussian_information import (
    BOUND_NOTE,
    DEFAULT_BOOTSTRAP,
    DEFAULT_BOOTSTRAP_MASKS,
    DEFAULT_MASKS,
    RANKING_RULE,
    GaussianProfile,
)

DEFAULT_MAX_IMAGES = 10_000
DEFAULT_MAX_SIDE = 32  # the default working side caps the native one
FILES = ("advice_data.png", "advice_data.json")

HELP = (
    "With --data SOURCE (fashion_mnist, a folder of images searched recursively, or an .npz "
    "holding an (N, H, W) or (N, C, H, W) array under 'images'), advise from the images "
    "instead of a model: " + BOUND_NOTE + ". Per cell, L_s is the Gaussian loss (the mean "
    "conditional variance of a masked value, in shares of its channel's variance) when "
    "each masked value may use only the visible values inside its own s x s block; the "
    "block sides s run from the image side (L = the Gaussian Bayes loss), halved down to "
    "the unit (L = the plateau of predicting each masked value by its own mean: 1 less the "
    "share of the variance in the pixel means). V_s = L_s - L_(next larger s) is the value "
    "of the evidence beyond the s-block; the V add up to plateau - Bayes, and the table's "
    "'>s' columns are their shares of it. "
    f"Ranking with --data: {RANKING_RULE}. Held against MAEs trained on Fashion-MNIST (6 "
    "cells x 3 seeds, 2000 steps each), this ranking ran opposite to the encoders' linear-"
    "probe accuracy (Spearman rho -0.89): it describes the images' linear structure, and "
    "is not, on that evidence, a way to choose cells for better features."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the --data path (--data itself sits with --model and --quadtree)."""
    group = parser.add_argument_group("with --data")
    group.add_argument(
        "--target-scale",
        type=int,
        default=None,
        metavar="PX",
        help="rank by the value from beyond this block side (px of the working resolution, "
        "a side that tiles the image); default a quarter of the image side (7 at 28)",
    )
    group.add_argument(
        "--resolution",
        type=int,
        default=None,
        metavar="PX",
        help="working side: the centre square of each image, area-downsampled to this side; "
        f"default the native side when it is at most {DEFAULT_MAX_SIDE}, else {DEFAULT_MAX_SIDE}",
    )
    group.add_argument(
        "--max-images",
        type=int,
        default=DEFAULT_MAX_IMAGES,
        help="estimate the covariance from at most this many images, a seeded random subset",
    )
    group.add_argument(
        "--bootstrap",
        type=int,
        default=DEFAULT_BOOTSTRAP,
        help="bootstrap resamples of the images (covariance re-estimated on each, on "
        f"{DEFAULT_BOOTSTRAP_MASKS} of each cell's masks) for the standard error over "
        "images; 0 = none",
    )


def run_data(args: argparse.Namespace, masks: int | None) -> int:
    """Check everything, compute the profile, then print and write it."""
    from threadpoolctl import threadpool_limits

    from maeid.cli.number_list import number_list
    from maeid.output_path import check_output_dir
    from maeid.theory.gaussian_information import gaussian_profile
    from maeid.threads import resolve_threads, torch_threads

    if args.model is not None or args.quadtree is not None:
        raise ValueError("give --data or --model/--quadtree, not both")
    if args.target_level is not None:
        raise ValueError(
            "--target-level is for --model; with --data give --target-scale PX (a block side)"
        )
    num_masks = DEFAULT_MASKS if masks is None else masks
    if args.top < 1:
        raise ValueError(f"--top {args.top}: print at least one cell, e.g. --top 5")
    threads = resolve_threads(args.threads)
    if args.max_images < 2:
        raise ValueError(f"--max-images {args.max_images}: use at least 2 (hundreds or more)")
    if args.out is not None:
        check_output_dir(args.out)
        taken = [n for n in FILES if os.path.isdir(os.path.join(args.out, n))]
        if taken:
            raise ValueError(f"--out {args.out}: {taken[0]} is a folder; pick another --out")
    ratios = number_list(args.ratios, float, "--ratios", "0.5,0.75")
    units = None if args.units is None else number_list(args.units, int, "--units", "2,4,7")
    with threadpool_limits(threads), torch_threads(threads):
        images, source = _images(args)
        profile = gaussian_profile(
            images,
            ratios=ratios,
            units=units,
            target_scale=args.target_scale,
            num_masks=num_masks,
            bootstrap=args.bootstrap,
            bootstrap_masks=DEFAULT_BOOTSTRAP_MASKS,
            seed=args.seed,
            source=source,
        )
    if args.json:
        print(json.dumps(profile.to_dict()))
    else:
        print(format_profile(profile, args.top))
    if args.out is not None:
        _write(profile, args.out)
        if not args.json:
            print(f"wrote {args.out}/{FILES[0]} and {args.out}/{FILES[1]}")
    return 0


def _images(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """The images at the working side, after every check on the set and the side."""
    from maeid.data.image_set import open_image_set, read_images
    from maeid.theory.gaussian_information import covariance_bytes, largest_side_within

    image_set = open_image_set(args.data)
    native = image_set.native_side
    side = min(native, DEFAULT_MAX_SIDE) if args.resolution is None else args.resolution
    if not 1 <= side <= native:
        raise ValueError(
            f"--resolution {side}: the images are {image_set.height}x{image_set.width}, so "
            f"use 2..{native} (images are only ever downsampled)"
        )
    count = min(image_set.count, args.max_images)
    budget = _memory_budget()
    if covariance_bytes(image_set.channels, side, count) > budget:
        fits = largest_side_within(image_set.channels, count, budget)
        need = covariance_bytes(image_set.channels, side, count)
        raise ValueError(
            f"--resolution {side} needs about {need / 2**30:.0f} GiB for the covariance of "
            f"{image_set.channels} x {side} x {side} values, more than the "
            f"{budget / 2**30:.1f} GiB allowed (half this machine's memory); use "
            f"--resolution {fits} or less"
        )
    if not [u for u in range(2, side // 2 + 1) if side % u == 0]:
        raise ValueError(
            f"--resolution {side} has no masking unit that tiles it (it needs a divisor "
            f"between 2 and {side // 2}); use e.g. {side - side % 4 or 4}"
        )
    rng = np.random.default_rng([args.seed, 0x1A6E])
    chosen = np.sort(rng.choice(image_set.count, count, replace=False))
    source = f"{image_set.name}: {count} of {image_set.count} images"
    if image_set.skipped:
        source += f" ({image_set.skipped} non-image file(s) skipped)"
    shape = f"{image_set.channels}x{image_set.height}x{image_set.width}"
    source += f", {shape}, at {side}x{side}"
    return read_images(image_set, chosen, side), source


def _memory_budget() -> int:
    """Half the machine's physical memory: the covariance must fit beside everything else."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError):  # not available on this platform
        return 8 * 2**30


def format_profile(profile: GaussianProfile, top: int) -> str:
    t = profile.target_scale
    boot = (
        f", {profile.bootstrap} bootstrap resamples of the images"
        if profile.bootstrap
        else ", no bootstrap"
    )
    lines = [
        f"data {profile.source}",
        f"Ledoit-Wolf shrinkage {profile.shrinkage:.4f}; {profile.num_masks} masks per cell"
        f"{boot}; seed {profile.seed}; target scale {t} px",
        f"note: {BOUND_NOTE}.",
        "Losses are shares of the channel's pooled pixel variance, as the MAE's loss on "
        "standardised images; '>s' is the share of plateau - Bayes that the evidence beyond "
        "the s x s block and within the next block adds.",
    ]
    scales = sorted({s for c in profile.ranked for s in c.scales[1:]})
    head = (
        f"{'rank':>4} {'ratio':>5} {'unit px':>7} {f'beyond {t} px':>11} {'± se':>6} "
        f"{'value':>6} {'Bayes':>6} {'plateau':>7} " + " ".join(f"{f'>{s}':>5}" for s in scales)
    )
    lines.append(head)
    for c in profile.ranked[:top]:
        share, value = c.beyond_target_share, c.beyond_target
        per_scale = " ".join(
            f"{c.value_share[s].mean:>5.2f}" if s in c.value_share else f"{'-':>5}" for s in scales
        )
        lines.append(
            f"{c.rank:>4} {c.ratio:>5g} {c.unit:>7d} {share.mean:>11.3f} "  # type: ignore[union-attr]
            f"{share.se:>6.3f} {value.mean:>6.3f} {c.bayes.mean:>6.3f} "  # type: ignore[union-attr]
            f"{c.plateau.mean:>7.3f} {per_scale}"
        )
    if len(profile.ranked) > top:
        lines.append(f"({len(profile.ranked) - top} more ranked cells: --top or --json)")
    shifts = [c.half_sample_shift for c in profile.ranked]
    if shifts and all(np.isfinite(list(s.values())).all() for s in shifts):
        bayes = max(abs(s["bayes"]) for s in shifts)
        share = max(abs(s["beyond_target_share"]) for s in shifts)
        lines.append(
            f"finite sample: from half the images the Bayes loss moves by up to {bayes:.3f} "
            f"and the share beyond {t} px by up to {share:.3f}; the in-sample estimates are "
            "still off by about that much (the bias falls as 1/N: raise --max-images)"
        )
    if profile.impossible:
        lines.append("impossible, not ranked:")
        lines += [f"  ratio {c.ratio:g} x unit {c.unit}: {c.reason}" for c in profile.impossible]
    if profile.ranked:
        best = profile.ranked[0]
        lines.append(
            f"best: ratio {best.ratio:g}, unit {best.unit} px for the value beyond {t} px "
            "(ranking rule: maeid advise --help)"
        )
    return "\n".join(lines)


def _write(profile: GaussianProfile, out: str) -> None:
    from maeid.evaluate.artifacts import write_json
    from maeid.output_path import write_files_into
    from maeid.theory.gaussian_plot import plot_gaussian_profile

    write_files_into(
        out,
        {
            FILES[0]: lambda p: plot_gaussian_profile(profile, p),
            FILES[1]: lambda p: write_json(p, profile.to_dict()),
        },
    )
