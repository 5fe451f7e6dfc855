"""The flags of commands that read a model (evaluate, export, reconstruct): the model
itself (a run, a reference .pth or an HF folder) and what an import does not record."""

from __future__ import annotations

import argparse

MODEL_HELP = (
    "the model: a maeid run folder or checkpoint .pt, a reference-format .pth (published or "
    "from `maeid export`), or an HF ViTMAE folder (config.json + weights)"
)


def add_model_arguments(p: argparse.ArgumentParser, optional: bool = False) -> None:
    """The positional model and --mask-ratio, --mask-unit, --preset."""
    p.add_argument("checkpoint", metavar="MODEL", nargs="?" if optional else None, help=MODEL_HELP)
    group = p.add_argument_group("what an imported model does not record")
    group.add_argument(
        "--mask-ratio",
        type=float,
        default=None,
        help="masking ratio (default: the run's, or the one an HF config.json or a maeid "
        "export records; a published .pth records none)",
    )
    group.add_argument(
        "--mask-unit",
        type=int,
        default=None,
        help="masking unit in pixels, a multiple of the patch (default: the recorded one, "
        "or one patch)",
    )
    group.add_argument(
        "--preset",
        default=None,
        help="architecture of a published .pth, which records no head counts (e.g. vit_b16)",
    )


def load_model(args: argparse.Namespace):
    """The `LoadedModel` the flags name (see `maeid.train.load_any`)."""
    from maeid.train.load_any import load_any

    return load_any(
        args.checkpoint, mask_ratio=args.mask_ratio, mask_unit=args.mask_unit, preset=args.preset
    )
