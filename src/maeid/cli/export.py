"""`maeid export`: a trained MAE as an HF ViTMAE directory or a reference-format `.pth`.

maeid export runs/qt32 --format hf --out exports/qt32-hf
maeid export runs/qt32/checkpoints/last.pt --format reference --out exports/qt32.pth
"""

from __future__ import annotations

import argparse

from maeid.cli.help_format import ShowDefaults
from maeid.mae.export import FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a trained MAE as an HF ViTMAE directory or a reference-format .pth",
        description="Export a checkpoint written by `maeid train`. hf: a directory with "
        "config.json (sizes, the run's mask ratio, norm_pix_loss, layer_norm_eps) and "
        "model.safetensors, which transformers.ViTMAEForPreTraining.from_pretrained loads. "
        "reference: one .pth with the state dict under 'model' in the reference "
        "models_mae.py names, plus plain 'model_args' and 'mask_ratio', which "
        "maeid.mae.load_pretrained reads back without head counts. HF masks single patches "
        "and has no boundary exclusion, so a model trained otherwise is refused for hf "
        "unless --allow-masking-change. Files are written to a temporary path and renamed "
        "into place; an existing --out is replaced only with --force.",
        formatter_class=ShowDefaults,
    )
    p.add_argument(
        "checkpoint",
        metavar="RUN_OR_CHECKPOINT",
        help="a run directory (its checkpoints/last.pt) or a checkpoint file",
    )
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
    from maeid.train.checkpoint import load_checkpoint

    check_target(args.out, args.format, args.force)  # an existing --out first: --force?
    check_output_sibling(args.out)  # the export is made beside it, then renamed into place
    model, config = load_checkpoint(args.checkpoint)  # after the checks: it may be large
    out = export_model(
        model, args.format, args.out, config.mask.ratio, args.force, args.allow_masking_change
    )
    what = "HF ViTMAE directory" if args.format == "hf" else "reference .pth"
    print(f"wrote {what} {out}")
    return 0
