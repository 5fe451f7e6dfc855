"""`maeid reconstruct`: a model's reconstructions of the user's own images, one panel each.

maeid reconstruct runs/fmnist shoe.png --out recon
maeid reconstruct exports/vit-hf cat.jpg dog.jpg --out recon --mask-ratio 0.9 --seed 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

from maeid.cli.help_format import ShowDefaults
from maeid.cli.model_source import add_model_arguments, load_model


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reconstruct",
        help="draw a model's reconstruction of your images: masked, prediction, "
        "prediction + visible, original",
        description="Mask each image, let the model fill it in, and write OUT/NAME.png: the "
        "masked input (blank patches in blue), the prediction for every patch, the "
        "prediction with the visible patches pasted back, and the original, in the image's "
        "own pixel units. A PNG or JPEG is converted to the model's channels, its short side "
        "resized to the model's side and its centre square taken; a .npy is taken as it is "
        "((H, W) or (C, H, W) at the model's size, in its training pixel units). Images are "
        "normalised with the model's training statistics. Every image gets the same mask, "
        "drawn from --seed at the mask ratio. All images are read and checked before "
        "anything is written; each panel is written to a temporary file and renamed into "
        "place.",
        formatter_class=ShowDefaults,
    )
    add_model_arguments(p)
    p.add_argument("images", metavar="IMAGE", nargs="+", help="PNG, JPEG (any PIL format) or .npy")
    p.add_argument("--out", required=True, help="folder for the panels (created)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mask")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from maeid.data.image_file import read_image_file
    from maeid.data.transforms import normalize
    from maeid.evaluate.reconstruction import reconstruction_panels
    from maeid.figures import plt
    from maeid.output_path import check_output_dir
    from maeid.train.recon import save_reconstruction_grid

    out = check_output_dir(args.out)
    targets = panel_paths(args.images, out)  # refuses two images that would share a name
    loaded = load_model(args)
    model, norm = loaded.model, loaded.normalisation
    if norm is None:
        raise ValueError(
            f"{args.checkpoint} records no pixel normalisation and is not a 3-channel (ImageNet) "
            "model; export it from its maeid run, or add a preprocessor_config.json"
        )
    h, w = model.img_size
    if h != w:
        raise ValueError(f"the model takes {h}x{w} images; reconstruct reads square ones")
    pixels = torch.stack([read_image_file(p, h, model.in_chans) for p in args.images])
    ratio = loaded.config.mask.ratio
    inputs = normalize(pixels, norm.mean, norm.std)
    for row, (image, target) in enumerate(zip(args.images, targets, strict=True)):
        # one image at a time, so that each gets the mask the seed draws first
        panels, _ = reconstruction_panels(model, inputs[row : row + 1], ratio, args.seed)
        title = (
            f"{Path(image).name}: mask ratio {ratio:g}, unit {model.mask_unit} px, seed {args.seed}"
        )
        fig = save_reconstruction_grid(
            panels, target, norm.mean, norm.std, title, model.norm_pix_loss
        )
        plt.close(fig)
    print(f"wrote {len(targets)} panel(s) to {out}: " + ", ".join(t.name for t in targets))
    return 0


def panel_paths(images: list[str], out: Path) -> list[Path]:
    """OUT/NAME.png per image; two images with one name are refused before any work."""
    targets: dict[Path, str] = {}
    for image in images:
        target = out / f"{Path(image).stem}.png"
        if target in targets:
            raise ValueError(
                f"{targets[target]} and {image} would both write {target}; rename one, or "
                "reconstruct them into different --out folders"
            )
        targets[target] = image
    return list(targets)
