"""`maeid advise`: which masking ratio and unit make c(m) sit at a target latent level.

maeid advise --model qt32 --target-level 0
maeid advise --quadtree 64,4,4 --target-level 1 --out runs/advice
maeid advise --model configs/models/diamond.yaml --target-level 0 --json
"""

from __future__ import annotations

import argparse
import json
import os

from maeid.cli import advise_data
from maeid.cli.counts import count
from maeid.cli.help_format import ShowDefaults
from maeid.cli.number_list import number_list
from maeid.hlvm.spec import GraphSpec
from maeid.output_path import check_output_dir
from maeid.theory.advice import INFORMATION_RULE, PAPER_RATIOS, RANKING_RULE, Advice, advise
from maeid.threads import add_threads_argument, resolve_threads


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "advise",
        help="rank masking ratio x unit by how high c(m) sits for a target latent level",
        description="Which masking ratio and unit should I use? For a model and a target "
        "latent level (0 = the roots, the most semantic), profile the theory over ratio x "
        "unit with the MAE's own mask sampler and rank the cells by how much of c(m), what "
        "the encoder provably recovers, lies at or above the target. Ranking: "
        + RANKING_RULE
        + ". Cells that leave nothing visible or nothing masked are listed as impossible. "
        "Prints the top cells; --out writes advice.png (heat map) and advice.json; --json "
        "prints the full table. " + advise_data.HELP,
        formatter_class=ShowDefaults,
    )
    model = p.add_argument_group("model or data (one of)")
    model.add_argument(
        "--model",
        default=None,
        help="builder name (qt32, qt64, qt224) or a YAML path; default qt32",
    )
    model.add_argument(
        "--quadtree",
        default=None,
        metavar="SIZE,LEAF,LEVELS",
        help="a square one-channel quadtree: image side and leaf block in pixels, number of "
        "latent levels, e.g. 32,4,3 (the structure of qt32)",
    )
    model.add_argument(
        "--data",
        default=None,
        metavar="SOURCE",
        help="advise from images instead: fashion_mnist, a folder of images or an .npz "
        "(the second-order profile; see the description and the 'with --data' options)",
    )
    p.add_argument(
        "--target-level",
        type=int,
        default=None,
        help="the latent level c(m) should reach: 0 = the roots, larger = closer to the "
        "pixels (required with --model or --quadtree)",
    )
    p.add_argument(
        "--ratios",
        default=",".join(f"{r:g}" for r in PAPER_RATIOS),
        help="masking ratios, comma-separated (the paper's)",
    )
    p.add_argument(
        "--units",
        default=None,
        help="masking units in pixels (multiples of the leaf block), comma-separated; "
        "default: every unit that tiles the image into at least two units (1 for models "
        "without an image)",
    )
    p.add_argument(
        "--masks",
        type=count,
        default=None,
        help="masks drawn per (ratio, unit); default 2000 (with --data: "
        f"{advise_data.DEFAULT_MASKS})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the mask generator")
    p.add_argument("--top", type=int, default=5, help="ranked cells to print")
    p.add_argument(
        "--out",
        default=None,
        help="write advice.png and advice.json here (with --data: advice_data.png and .json)",
    )
    p.add_argument("--json", action="store_true", help="print the full table as JSON")
    add_threads_argument(p, default=1)  # one: a profile is many mid-sized ops
    p.add_argument(
        "--information",
        action="store_true",
        help="also show each cell's exact information per level (as maeid theory "
        "--information): the share and value of the masked loss's information at or "
        "above the target level; rhm32, or trees of invertible mechanisms such as qt32",
    )
    p.add_argument(
        "--rank-by",
        choices=("structure", "information"),
        default="structure",
        help="structure: the ranking above; information (implies --information): "
        + INFORMATION_RULE,
    )
    p.add_argument(
        "--images",
        type=int,
        default=None,
        help="images per cell for --information (default: 2048 for rhm32, 256 for models "
        "that need resampling)",
    )
    advise_data.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    valued = args.information or args.rank_by == "information"
    if args.data is not None and (valued or args.images is not None):
        raise ValueError("--information, --rank-by information and --images are for --model "
                         "or --quadtree; --data ranks by its own information profile")  # fmt: skip
    if args.data is not None:
        return advise_data.run_data(args, args.masks)
    for option in ("target_scale", "resolution"):
        if getattr(args, option) is not None:
            raise ValueError(f"--{option.replace('_', '-')} is for --data; drop it or give --data")
    if args.target_level is None:
        raise ValueError("give --target-level (0 = the roots) with --model or --quadtree")
    if args.masks is None:
        args.masks = 2000
    # Everything is checked and computed before anything is written.
    spec = _spec(args.model, args.quadtree)
    if args.top < 1:
        raise ValueError(f"--top {args.top}: print at least one cell, e.g. --top 5")
    threads = resolve_threads(args.threads)
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out {args.out} is a file; give a folder to write advice.png into")
    if args.out is not None:
        check_output_dir(args.out)  # writable, before the profile is computed
    units = None if args.units is None else number_list(args.units, int, "--units", "4,8,16")
    if args.images is not None and (not valued or args.images < 2):
        raise ValueError(f"--images {args.images}: give at least 2 images per cell, with "
                         "--information or --rank-by information")  # fmt: skip
    advice = advise(
        _model(args.model, args.quadtree) if valued else spec,
        args.target_level,
        ratios=number_list(args.ratios, float, "--ratios", "0.5,0.75"),
        units=units,
        num_masks=args.masks,
        seed=args.seed,
        num_threads=threads,
        information=valued,
        rank_by=args.rank_by,
        num_images=args.images,
        progress=True,  # a large tree or --masks runs for minutes: show its rate and time left
    )
    if args.json:
        print(json.dumps(advice.to_dict()))
    else:
        print(format_advice(advice, args.top))
    if args.out is not None:
        _write(advice, args.out)
        if not args.json:
            print(f"wrote {args.out}/advice.png and {args.out}/advice.json")
    return 0


def format_advice(advice: Advice, top: int) -> str:
    p = advice.profile
    t = advice.target_level
    unit = "unit px" if p.patch_size else "unit"
    lines = [
        f"model {p.model}, target level {t}, {p.num_masks} masks per cell, seed {p.seed}",
        f"{'rank':>4} {'ratio':>5} {unit:>7} {f'share≤L{t}':>9} {f'P(none<L{t})':>12} "
        f"{'d_c mean':>8} {'[5%, 95%]':>10} {'masked':>7}",
    ]
    if advice.with_information:
        lines[1] += f" {f'info≤L{t}':>9} {f'V≤L{t}':>7}"
    for c in advice.ranked[:top]:
        spread = f"[{c.code_dim_q05:.0f}, {c.code_dim_q95:.0f}]"
        lines.append(
            f"{c.rank:>4} {c.ratio:>5g} {c.unit:>7d} {c.share:>9.3f} {c.p_none_below:>12.3f} "
            f"{c.code_dim:>8.1f} {spread:>10} {f'{c.masked_units}/{c.num_units}':>7}"
        )
        if advice.with_information:
            lines[-1] += f" {c.information_share:>9.3f} {c.information_value:>7.3f}"
    if len(advice.ranked) > top:
        lines.append(f"({len(advice.ranked) - top} more ranked cells: --top or --json)")
    if advice.impossible:
        lines.append("impossible, not ranked:")
        lines += [f"  ratio {c.ratio:g} x unit {c.unit}: {c.reason}" for c in advice.impossible]
    if advice.ranked:
        best = advice.best
        lines.append(
            f"best: ratio {best.ratio:g}, unit {best.unit}"
            + (" px" if p.patch_size else "")
            + " (ranking rule: maeid advise --help)"
        )
    return "\n".join(lines)


def _model(model: str | None, quadtree: str | None):
    """The model with its mechanisms, which the information per level needs."""
    from maeid.hlvm import load_model
    from maeid.hlvm.model import HierarchicalModel

    if quadtree is not None:
        return HierarchicalModel(_spec(None, quadtree))
    return load_model(model or "qt32")


def _spec(model: str | None, quadtree: str | None) -> GraphSpec:
    from maeid.hlvm import load_spec
    from maeid.hlvm.quadtree import quadtree_of_depth

    if model is not None and quadtree is not None:
        raise ValueError("give --model or --quadtree, not both")
    if quadtree is None:
        return load_spec(model or "qt32")
    sizes = number_list(quadtree, int, "--quadtree", "32,4,3")
    if len(sizes) != 3:
        raise ValueError(
            f"--quadtree {quadtree!r} needs three numbers, image size, leaf size and levels, "
            "e.g. 32,4,3"
        )
    return quadtree_of_depth(*sizes)


def _write(advice: Advice, out: str) -> None:
    from maeid.output_path import write_files_into
    from maeid.theory.plot import plot_advice  # matplotlib only when needed

    write_files_into(
        out, {"advice.png": lambda p: plot_advice(advice, p), "advice.json": advice.save}
    )
