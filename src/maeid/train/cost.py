"""What a training run will cost, from its config alone: parameters, memory, FLOPs.

Counted as `torch.utils.flop_counter` counts (a multiply-add is 2 FLOPs; matrix products
only, so LayerNorm, softmax and GELU are left out): per image, the patch embedding and
the encoder on the visible tokens plus [CLS], the decoder on every token plus [CLS], and
the pixel prediction. A transformer block on n tokens of width d with an MLP of width h
does 4d² + 2dh multiply-adds per token in its linear maps and 2nd in attention (QKᵀ and
the weighted sum of V). A training step is taken as 3 forward passes (the backward pass
costs about twice the forward), the usual rule; the optimiser's own work is
negligible beside it. Memory is that of the fp32 weights, their gradients and AdamW's
two moments (16 bytes a parameter), before activations, which grow with the batch.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maeid.train.config import TrainConfig
from maeid.train.mask_fit import check_mask_fits, data_image_shape

BYTES_PER_PARAMETER = 16  # fp32 weight, gradient, AdamW first and second moment


@dataclass(frozen=True)
class TrainingCost:
    image_shape: tuple[int, int, int]
    encoder_parameters: int
    decoder_parameters: int
    tokens: int  # patches per image
    visible_tokens: int
    forward_flops_per_image: float
    steps: int
    batch_size: int
    n_train: int | None  # None: fresh images every step

    @property
    def parameters(self) -> int:
        return self.encoder_parameters + self.decoder_parameters

    @property
    def step_flops(self) -> float:
        return 3 * self.forward_flops_per_image * self.batch_size

    @property
    def total_flops(self) -> float:
        return self.step_flops * self.steps

    def lines(self) -> list[str]:
        """The estimate as short lines for a terminal."""
        c, h, w = self.image_shape
        seen = self.steps * self.batch_size
        epochs = "fresh images every step" if self.n_train is None else (
            f"{seen / self.n_train:.3g} epochs of {self.n_train:,}"
        )  # fmt: skip
        return [
            f"images: {c}x{h}x{w}, {self.tokens} patches, {self.visible_tokens} visible",
            f"parameters: {self.parameters:,} (encoder {self.encoder_parameters:,}, decoder "
            f"{self.decoder_parameters:,}); weights, gradients and AdamW: "
            f"{_bytes(self.parameters * BYTES_PER_PARAMETER)} before activations",
            f"forward: {_flops(self.forward_flops_per_image)} per image; a step of "
            f"{self.batch_size} images: {_flops(self.step_flops)} (3 x forward)",
            f"run: {self.steps:,} steps, {seen:,} images ({epochs}), {_flops(self.total_flops)}",
        ]


def block_macs(tokens: int, width: int, mlp_width: int) -> int:
    """Multiply-adds of one transformer block on `tokens` tokens (see the module doc)."""
    return tokens * (4 * width * width + 2 * width * mlp_width) + 2 * tokens * tokens * width


def estimate_training_cost(cfg: TrainConfig) -> TrainingCost:
    """The cost of training `cfg` (checked as `train` checks it: the mask must fit)."""
    from maeid.train.loop import build_model

    shape = data_image_shape(cfg) or npz_image_shape(cfg.data.model)
    check_mask_fits(cfg, shape)
    model = build_model(cfg, shape)
    c, p = model.in_chans, model.patch_size
    tokens = model.patch_embed.num_patches
    visible = model.layout.num_kept_units(cfg.mask.ratio) * model.layout.unit**2
    width, dec_width = model.cls_token.shape[-1], model.mask_token.shape[-1]
    enc_mlp = model.blocks[0].mlp.fc1.out_features if len(model.blocks) else 0
    dec_mlp = model.decoder_blocks[0].mlp.fc1.out_features if len(model.decoder_blocks) else 0
    macs = (
        visible * p * p * c * width  # patch embedding of the visible patches
        + len(model.blocks) * block_macs(visible + 1, width, enc_mlp)
        + (visible + 1) * width * dec_width  # decoder embedding
        + len(model.decoder_blocks) * block_macs(tokens + 1, dec_width, dec_mlp)
        + (tokens + 1) * dec_width * p * p * c  # pixel prediction ([CLS] dropped after it)
    )
    encoder = sum(
        t.numel()
        for name, t in model.named_parameters()
        if name.startswith(("cls_token", "pos_embed", "patch_embed.", "blocks.", "norm."))
    )
    total = sum(t.numel() for t in model.parameters())
    return TrainingCost(
        tuple(shape), encoder, total - encoder, tokens, visible, 2.0 * macs, cfg.run.steps,
        cfg.optim.batch_size, None if cfg.data.fresh else cfg.data.n_train,
    )  # fmt: skip


def npz_image_shape(path: str | Path) -> tuple[int, int, int]:
    """(C, H, W) of the images in a `.npz` written by `maeid synth`, from its header only."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data.model={str(path)!r}: no such .npz file")
    try:
        with zipfile.ZipFile(path) as archive, archive.open("images.npy") as member:
            fmt = np.lib.format
            major, _ = fmt.read_magic(member)
            read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, _, _ = read(member)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
        raise ValueError(
            f"data.model={str(path)!r} is not a .npz with an images array ({err}); write one "
            "with `maeid synth`"
        ) from None
    return tuple(shape[1:]) if len(shape) == 4 else (1, *shape[1:])


def _flops(n: float) -> str:
    for unit, size in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.3g} FLOP"


def _bytes(n: float) -> str:
    from maeid.memory_budget import human_bytes

    return human_bytes(n)
