"""`maeid theory`: what the identification theory predicts for a model and a masking scheme.

maeid theory --model qt32 --ratios 0.1,0.25,0.5,0.75,0.9 --units 4,8,16 --out runs/theory
maeid theory --model qt32 --masked x_0_0,x_0_1 --json
"""

from __future__ import annotations

import argparse
import json
import os

from maeid.cli.help_format import ShowDefaults
from maeid.hlvm.spec import GraphSpec
from maeid.output_path import check_output_dir
from maeid.theory.identification import identify
from maeid.theory.profile import theory_profile
from maeid.theory.profile_table import format_profile_table
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
    p.add_argument("--masks", type=int, default=2000, help="masks drawn per (ratio, unit)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mask generator")
    p.add_argument("--out", default=None, help="write theory.json and theory_levels.png here")
    p.add_argument(
        "--masked",
        default=None,
        help="analyse this one mask instead: comma-separated observed node names",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out:
        check_output_dir(args.out)
    if args.masks < 1:
        raise ValueError(f"--masks {args.masks}: draw at least 1 mask per cell")
    spec = load_spec(args.model)
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
    if args.json:
        print(json.dumps(profile.to_dict()))
    else:
        print(format_profile_table(profile))
    if args.out:
        from maeid.theory.plot import plot_level_composition  # matplotlib only when needed

        os.makedirs(args.out, exist_ok=True)
        profile.save(os.path.join(args.out, "theory.json"))
        plot_level_composition(profile, os.path.join(args.out, "theory_levels.png"))
        if not args.json:
            print(f"wrote {args.out}/theory.json and {args.out}/theory_levels.png")
    return 0


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
