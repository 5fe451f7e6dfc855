"""`reconstruction`: MSE, PSNR, SSIM and FSIM of reconstructions at the checkpoint's
masking ratio, on the masked patches and on the composed image, beside the plateau of
predicting the mean; and a grid of examples (`reconstructions.png`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maeid.measures.context import EvalContext
from maeid.measures.keys import MetricKey
from maeid.measures.options import Options, option
from maeid.measures.registry import Measure, Outcome, register

PARTS = ("masked", "composed")


@dataclass(frozen=True)
class ReconstructionOptions(Options):
    recon_images: int = option(256, "test images scored", minimum=1, flag="recon_images")
    max_test: int = option(
        2000, "size of the test split the images open", minimum=1, flag="max_test"
    )
    data: str | None = option(None, "data to read; default: the evaluation's")


@register
class Reconstruction(Measure):
    name = "reconstruction"
    aliases = ("recon",)
    Options = ReconstructionOptions
    keys = (MetricKey("recon", "*", "*"),)  # recon.<part>.<mse|psnr|ssim|fsim|...>
    default_for = frozenset({"labels", "rhm", "latents", "any"})

    def run(self, ctx: EvalContext, opts: ReconstructionOptions) -> Outcome:
        from maeid.evaluate.reconstruction import reconstruction_panels, reconstruction_quality
        from maeid.figures import plt
        from maeid.train.recon import save_reconstruction_grid

        model, test = ctx.model, ctx.test(opts.data, opts.max_test)
        imgs = test.images[: opts.recon_images]
        quality = reconstruction_quality(
            model, imgs, test.mean, test.std, ctx.ratio, test.data_range, ctx.seed
        )
        quality["masked"]["mean_predictor_mse"] = mean_predictor_mse(imgs, test.std)
        panels, _ = reconstruction_panels(model, imgs[:8], ctx.ratio, ctx.seed)
        path = ctx.out / "reconstructions.png"
        title = ctx.figure_title(f"{test.name}, mask ratio {ctx.ratio}, unit {model.mask_unit}px")
        plt.close(
            save_reconstruction_grid(panels, path, test.mean, test.std, title, model.norm_pix_loss)
        )
        metrics = {
            MetricKey("recon", part, score): float(value)
            for part in PARTS
            for score, value in quality[part].items()
        }
        return Outcome(metrics, quality, {"reconstructions": str(path)})

    def summary(self, outcome: Outcome, opts: ReconstructionOptions) -> list[str]:
        lines = []
        for part in PARTS:
            q = outcome.details[part]
            lines.append(
                f"  reconstruction, {part:>8}: MSE {q['mse']:.4f}  PSNR "
                f"{q['psnr']:.2f} dB  SSIM {q['ssim']:.3f}  FSIM {q['fsim']:.3f}"
            )
        return lines


def mean_predictor_mse(images: torch.Tensor, std: tuple[float, ...]) -> float:
    """MSE, in the data's own units (those of `recon.*.mse`), of predicting every pixel by
    the training set's per-channel mean: the plateau a reconstruction must get below.

    `images` are normalised by the training set's mean and std, so the mean is 0 there
    and a pixel's error is its normalised value times its channel's std. Masks are
    uniform over the image, so all pixels estimate the masked ones without bias.
    """
    scale = torch.tensor(std, dtype=torch.float64).view(1, -1, 1, 1)
    return float(((images.double() * scale) ** 2).mean())
