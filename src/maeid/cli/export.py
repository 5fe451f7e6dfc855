"""`maeid export`: a trained MAE as an HF ViTMAE directory or a reference-format `.pth`.

maeid export runs/qt32 --format hf --out exports/qt32-hf
maeid export runs/qt32/checkpoints/last.pt --format reference --out exports/qt32.pth
maeid export mae_pretrain_vit_base.pth --preset vit_b16 --mask-ratio 0.75 --format hf \
    --out exports/vit-b16-hf
"""

from __future__ import annotations

import argparse

from maeid.cli.help_format import ShowDefaults
from maeid.cli.model_source import add_model_arguments, load_model
from maeid.mae.export import FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a trained MAE as an HF ViTMAE directory or a reference-format .pth",
        description="Export a model: a run of `maeid train`, a reference .pth or an HF "
        "ViTMAE folder. hf: a directory with "
        "config.json (sizes, the run's mask ratio, norm_pix_loss, layer_norm_eps), "
        "model.safetensors, which transformers.ViTMAEForPreTraining.from_pretrained loads, "
        "and preprocessor_config.json (the training normalisation, for "
        "transformers.AutoImageProcessor; written when the normalisation is known). "
        "reference: one .pth with the state dict under 'model' in the reference "
        "models_mae.py names, plus plain 'model_args', 'mask_ratio' and 'normalisation', "
        "which "
        "maeid.mae.load_pretrained reads back without head counts. HF masks single patches "
        "and has no boundary exclusion, so a model trained otherwise is refused for hf "
        "unless --allow-masking-change. Files are written to a temporary path and renamed "
        "into place; an existing --out is replaced only with --force.",
        formatter_class=ShowDefaults,
    )
    add_model_arguments(p)
    p.add_argument("--format", choices=FORMATS, required=True, help="what to write")
    p.add_argument(
        "--out", required=True, help="the directory (hf) or the .pth file (reference) to write"
    )
    p.add_argument("--force", action="store_true", help="replace an earlier export at --out")
    p.add_argument(
        "--allow-masking-change",
        action="store_true",
        help="hf only: export a model trained with a masking unit larger than its patch, or "
        "with boundary exclusion; the weights are unchanged, HF will mask single patches "
        "and score every masked pixel",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from maeid.mae.export import check_target, export_model
    from maeid.output_path import check_output_sibling

    check_target(args.out, args.format, args.force)  # an existing --out first: --force?
    check_output_sibling(args.out)  # the export is made beside it, then renamed into place
    loaded = load_model(args)  # after the checks: it may be large
    out = export_model(
        loaded.model, args.format, args.out, loaded.config.mask.ratio, args.force,
        args.allow_masking_change, loaded.normalisation,
    )  # fmt: skip
    what = "HF ViTMAE directory" if args.format == "hf" else "reference .pth"
    print(f"wrote {what} {out}")
    return 0
