"""`maeid theory`: what the identification theory predicts for a model and a masking scheme.

maeid theory --model qt32 --ratios 0.1,0.25,0.5,0.75,0.9 --units 4,8,16 --out runs/theory
maeid theory --model qt32 --masked x_0_0,x_0_1 --json
maeid theory --model rhm32:m=32/4/2 --information --images 2048
"""

from __future__ import annotations

import argparse
import json
import os

from maeid.atomic import write_json
from maeid.cli.counts import count
from maeid.cli.help_format import ShowDefaults
from maeid.hlvm.spec import GraphSpec
from maeid.output_path import check_output_dir
from maeid.theory.identification import identify
from maeid.theory.profile import theory_profile
from maeid.theory.profile_table import format_information_table, format_profile_table
from maeid.theory.token_masks import default_patch_size


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "theory",
        help="predict which latents a masked autoencoder must recover (S, c, d_c)",
        description="Profile the identification theory of a hierarchical model: for every "
        "masking ratio x masking unit, draw masks with the MAE's own sampler and report how "
        "often each latent level is shared by the two sides (S) and in the minimal code c, "
        "and the code dimension d_c. With --masked, analyse one mask given by node names.",
        formatter_class=ShowDefaults,
    )
    p.add_argument("--model", default="qt32", help="builder name (e.g. qt32) or a YAML path")
    p.add_argument(
        "--ratios", default="0.1,0.25,0.5,0.75,0.9", help="masking ratios, comma-separated"
    )
    p.add_argument(
        "--units",
        default=None,
        help="masking units, comma-separated: pixels (multiples of the patch) for image "
        "models, 1 for others; default: 1, 2 and 4 patches for image models",
    )
    p.add_argument(
        "--patch", type=int, default=None, help="ViT patch in pixels (default: the leaf block)"
    )
    p.add_argument("--masks", type=count, default=2000, help="masks drawn per (ratio, unit)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mask generator")
    p.add_argument("--out", default=None, help="write theory.json and theory_levels.png here")
    p.add_argument(
        "--masked",
        default=None,
        help="analyse this one mask instead: comma-separated observed node names",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--information",
        action="store_true",
        help="also give, per cell, the value of each latent level's information to the "
        "masked loss: V_l, the rise of the Bayes masked MSE when the visible evidence may "
        "reach a masked patch only from inside its own level-(l+1) block rather than its "
        "level-l block, and its share of plateau - Bayes, each with its standard error "
        "(rhm32: exact belief propagation; trees of invertible mechanisms such as qt32: "
        "nested resampling). --json puts it in each cell, --out in information.json",
    )
    p.add_argument(
        "--images",
        type=int,
        default=None,
        help="images per cell for --information, each under its own mask (default: 2048 "
        "for rhm32, 256 for models that need resampling)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out:
        check_output_dir(args.out)
    if args.masks < 1:
        raise ValueError(f"--masks {args.masks}: draw at least 1 mask per cell")
    model = _information_model(args)
    spec = model.spec if model is not None else load_spec(args.model)
    if args.masked is not None:
        return _one_mask(spec, args)
    patch = args.patch
    if args.units is None:
        base = (patch or default_patch_size(spec)) if spec.image_shape else None
        units = [base, 2 * base, 4 * base] if base else [1]
    else:
        units = _ints(args.units, "--units")
    ratios = _floats(args.ratios, "--ratios")
    if bad := [r for r in ratios if not 0 < r < 1]:
        raise ValueError(f"--ratios {args.ratios!r}: {bad[0]:g} is outside (0, 1); use e.g. 0.75")
    profile = theory_profile(spec, ratios, units, args.masks, args.seed, patch, progress=True)
    information = None
    if model is not None:
        from maeid.theory.information import profile_information

        information = profile_information(model, profile, args.images, progress=True)
    if args.json:
        out = profile.to_dict()
        if information is not None:
            for cell, info in zip(out["cells"], information, strict=True):
                cell["information"] = None if info is None else info.to_dict()
        print(json.dumps(out))
    else:
        print(format_profile_table(profile))
        if information is not None:
            print(format_information_table(profile, information))
    if args.out:
        from maeid.theory.plot import plot_level_composition  # matplotlib only when needed

        os.makedirs(args.out, exist_ok=True)
        profile.save(os.path.join(args.out, "theory.json"))
        plot_level_composition(profile, os.path.join(args.out, "theory_levels.png"))
        written = ["theory.json", "theory_levels.png"]
        if information is not None:
            write_json(os.path.join(args.out, "information.json"),
                       _information_json(profile, information))  # fmt: skip
            written.append("information.json")
        if not args.json:
            print("wrote " + " and ".join(f"{args.out}/{name}" for name in written))
    return 0


def _information_model(args: argparse.Namespace):
    """The model --information needs (with its mechanisms), checked before any work; None
    without the flag."""
    if not args.information:
        if args.images is not None:
            raise ValueError(
                f"--images {args.images} sets --information's images; add --information"
            )
        return None
    if args.masked is not None:
        raise ValueError("--information profiles ratio x unit cells; drop --masked to use it")
    if args.images is not None and args.images < 2:
        raise ValueError(
            f"--images {args.images}: use at least 2 images per cell (a standard error needs 2)"
        )
    from maeid.hlvm import load_model
    from maeid.theory.information import default_images

    model = load_model(args.model)
    default_images(model)  # refuses, with the reason, a model it cannot value
    return model


def _information_json(profile, information) -> dict[str, object]:
    valid = [info for info in information if info is not None]
    return {
        "model": profile.model,
        "patch_size": profile.patch_size,
        "seed": profile.seed,
        "images": valid[0].num_images if valid else None,
        "cells": [
            {"ratio": c.ratio, "unit": c.unit, "information": None if i is None else i.to_dict()}
            for c, i in zip(profile.cells, information, strict=True)
        ],
    }


def load_spec(model: str) -> GraphSpec:
    from maeid.hlvm import load_model

    return load_model(model).spec


def _one_mask(spec: GraphSpec, args: argparse.Namespace) -> int:
    masked = [n.strip() for n in args.masked.split(",") if n.strip()]
    ident = identify(spec, masked)
    if args.json:
        print(json.dumps(ident.to_dict()))
        return 0
    for label, names in [
        ("masked", ident.masked),
        ("shared S(m)", ident.shared),
        ("identified c(m)", ident.identified),
        ("masked-private", ident.masked_private),
        ("visible-private", ident.visible_private),
    ]:
        print(f"{label:>16}: {', '.join(sorted(names)) or '-'}")
    print(f"{'code dim d_c':>16}: {ident.code_dim}")
    return 0


def _floats(text: str, flag: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(
            f"{flag} {text!r} must be comma-separated numbers, e.g. 0.5,0.75"
        ) from None


def _ints(text: str, flag: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{flag} {text!r} must be comma-separated integers, e.g. 4,8,16") from None
