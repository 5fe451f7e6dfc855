"""Pre-train a masked autoencoder: the entry point that builds, restores and runs the loop
(the steps in `maeid.train.steps`, resuming in `restore`, the checkpoint in `state`).

One process (CPU or one GPU):

    maeid train --config configs/qt32.yaml --out runs/qt32
    maeid train --config configs/qt32.yaml --out runs/qt32 --resume     # continue it

Several GPUs (or CPU processes, with gloo), one process each:

    torchrun --nproc_per_node=4 -m maeid train --config configs/qt32.yaml --out runs/qt32

`optim.batch_size` is the global batch per optimiser step, split over the processes and
`optim.accum_steps` micro-batches, so on a fixed data set a config trains the same model
on 1 or K devices. With fresh synthetic data (`data.fresh`) each rank draws its own share
of every batch, so the stream depends on K: such a run resumes on the same K. Each step
draws one (global batch, mask units) noise tensor, on the training device, from a
generator seeded identically on every rank; a rank takes the rows of its own samples.
Data order, masks, augmentation and weights are all functions of `run.seed`, so a
resumed run continues bit for bit on the device it trained on.

A finished run is continued to more steps by resuming it with a larger `run.steps`
(`maeid train --out RUN --resume --set run.steps=N`): the warm-up + cosine schedule is
recomputed for the new end, as if the run had been planned that long, so the lr goes
back up to that schedule's value at the current step and decays to `optim.min_lr` at N.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from maeid.atomic import write_text
from maeid.data import EpochBatches
from maeid.data.fresh import FreshBatches
from maeid.mae import MaskedAutoencoder, build_mae
from maeid.output_path import check_output_dir
from maeid.theory.masking import sample_noise
from maeid.train.compile import compiled
from maeid.train.config import TrainConfig, from_dict, to_dict, to_yaml
from maeid.train.datasets import TrainingData, build_dataset
from maeid.train.distributed import Distributed, setup_distributed
from maeid.train.init_from import load_initial_weights
from maeid.train.mask_fit import check_mask_fits
from maeid.train.monitor import Monitor
from maeid.train.optim import build_optimizer
from maeid.train.precision import configure_matmul, grad_scaler_for, resolve_precision
from maeid.train.quality import held_out_loss
from maeid.train.restore import checkpoint_path, restore
from maeid.train.schedule import build_scheduler, scaled_lr
from maeid.train.state import TrainingState
from maeid.train.steps import NonFiniteLossError, Progress, StepLoop, reached_target

__all__ = ["NonFiniteLossError", "TrainResult", "build_model", "train"]

MODEL_OVERRIDES = ("patch_size", "embed_dim", "depth", "num_heads", "decoder_embed_dim",
                   "decoder_depth", "decoder_num_heads", "mlp_ratio", "norm_pix_loss",
                   "boundary_exclude")  # fmt: skip
MASK_SEED_OFFSET = 0x5EED  # the mask stream is separate from the weight-init stream


@dataclass
class TrainResult:
    model: nn.Module  # the trained model (unwrapped), on the training device
    step: int  # optimiser steps done
    first_loss: float | None  # loss of the first step of this invocation
    last_loss: float | None
    out_dir: Path
    # The last held-out measure against the Bayes loss (synthetic data; see train.quality).
    quality: dict[str, float] | None = None
    # The step whose held-out excess first met run.target_excess (None: not met, or unset).
    reached_target: int | None = None


def build_model(cfg: TrainConfig, image_shape: tuple[int, int, int]) -> MaskedAutoencoder:
    """The preset, sized to the data, with the config's overrides and masking unit."""
    c, h, w = image_shape
    args = {k: v for k in MODEL_OVERRIDES if (v := getattr(cfg.model, k, None)) is not None}
    return build_mae(
        cfg.model.preset,
        img_size=h if h == w else (h, w),
        in_chans=c,
        mask_unit=cfg.mask.unit,
        **args,
    )


def train(
    config: TrainConfig, out_dir: str | Path, resume: bool = False, stop_after: int | None = None
) -> TrainResult:
    """Train per `config`, writing the run to `out_dir`; return the model and losses.

    `resume` continues the run in `out_dir` from `checkpoints/last.pt` (its config must
    match, bar logging keys and `run.steps`: a larger one extends the run, with the lr
    schedule recomputed for the new end). `stop_after` ends this invocation after that
    many steps in all, with a checkpoint, as a pre-emption would; `resume` then picks it
    up. With `run.target_excess`, training ends at the first held-out measure at or
    below it (`run.steps` is then the cap). Paths and the mask's fit to the images are
    checked before anything is written.
    """
    cfg = from_dict(to_dict(config)).validate()  # a private, checked copy
    out_dir = check_output_dir(out_dir)
    ckpt_path = checkpoint_path(out_dir, resume)
    dist = setup_distributed(cfg.run.device)
    monitor = None
    try:
        micro = _micro_batch(cfg, dist)
        resolve_precision(dist.device, cfg.run.precision, warn=True)  # refused before any write
        configure_matmul(dist.device)
        training, state, stream = _set_up(cfg, dist, resume)
        progress = Progress()
        if resume:
            progress.step, progress.quality = restore(
                ckpt_path, cfg, state, stream, out_dir, dist.device
            )
        progress.reached = reached_target(cfg, progress.quality, progress.step)
        monitor = _open_run_folder(cfg, out_dir, progress.step) if dist.is_main else None
        last_step = cfg.run.steps if stop_after is None else min(stop_after, cfg.run.steps)
        loop = _step_loop(cfg, dist, training, state, stream, monitor, micro=micro,
                          last_step=last_step, ckpt_path=ckpt_path, out_dir=out_dir)  # fmt: skip
        loop.run(progress)
        loop.finish(progress)
        p = progress
        return TrainResult(
            state.model, p.step, p.first_loss, p.last_loss, out_dir, p.quality, p.reached
        )
    finally:
        if monitor is not None:
            monitor.close()
        dist.close()


def _micro_batch(cfg: TrainConfig, dist: Distributed) -> int:
    """Images per micro-batch on one rank: the global batch over processes x accum_steps."""
    batch, world, accum = cfg.optim.batch_size, dist.world_size, cfg.optim.accum_steps
    if batch % (world * accum):
        raise ValueError(
            f"optim.batch_size={batch} is not divisible by processes x accum_steps = "
            f"{world} x {accum}; pick a multiple of {world * accum}"
        )
    return batch // (world * accum)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _set_up(
    cfg: TrainConfig, dist: Distributed, resume: bool
) -> tuple[TrainingData, TrainingState, EpochBatches | FreshBatches]:
    """The data, the model and its optimiser, and the batch stream, each seeded by
    `run.seed`; the data's mean and std resolved into `cfg`. Writes nothing."""
    device, world, batch = dist.device, dist.world_size, cfg.optim.batch_size
    _seed_everything(cfg.run.seed)
    training = build_dataset(cfg.data, device, "train", cfg.run.seed)
    check_mask_fits(cfg, training.image_shape)  # before the run folder exists
    if cfg.run.target_excess is not None and training.ground_truth is None:
        raise ValueError(
            f"run.target_excess={cfg.run.target_excess} needs synthetic data from a known "
            "model (the excess is over its exact Bayes loss); drop the key"
        )
    cfg.data.mean, cfg.data.std = training.mean, training.std  # resolved, saved with the run
    torch.manual_seed(cfg.run.seed)  # weights do not depend on how the data was made
    model = build_model(cfg, training.image_shape).to(device)
    if cfg.run.target_excess is not None and (model.norm_pix_loss or model.boundary_exclude):
        raise ValueError(
            f"run.target_excess={cfg.run.target_excess}: the exact Bayes loss is for "
            "plain pixels, not norm_pix_loss or boundary_exclude targets, so no excess "
            "is measured; drop the target or those model options"
        )
    if cfg.run.init_from and not resume:  # a resumed run has its own weights
        load_initial_weights(model, cfg.run.init_from, device)
    peak_lr = cfg.optim.lr if cfg.optim.lr is not None else scaled_lr(cfg.optim.base_lr, batch)
    optimizer = build_optimizer(
        model, peak_lr, cfg.optim.weight_decay, cfg.optim.betas, fused=device.type == "cuda"
    )
    scheduler = build_scheduler(
        optimizer, peak_lr, cfg.run.steps, cfg.optim.warmup_steps, cfg.optim.min_lr
    )
    scaler = grad_scaler_for(device, cfg.run.precision)
    # Masks are drawn where they are used: no host-to-device copy per step on a GPU.
    mask_gen = torch.Generator(device).manual_seed(cfg.run.seed + MASK_SEED_OFFSET)
    state = TrainingState(model, optimizer, scheduler, scaler, mask_gen)
    if cfg.data.fresh:
        stream = FreshBatches(
            training.ground_truth.model, batch, training.mean, training.std,
            cfg.data.seed, dist.rank, world, device, epoch_size=cfg.data.n_train,
        )  # fmt: skip
    else:
        stream = EpochBatches(
            training.data, batch // world, cfg.run.seed, dist.rank, world, cfg.data.num_workers,
            device,
        )  # fmt: skip
    return training, state, stream


def _open_run_folder(cfg: TrainConfig, out_dir: Path, step: int) -> Monitor:
    """The run folder with its config written, and the monitor that logs into it."""
    cfg.warn_if_unintended()
    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "config.yaml", to_yaml(cfg))
    return Monitor(out_dir, cfg.run.steps, step, cfg.optim.batch_size, cfg.run.progress)


def _step_loop(
    cfg: TrainConfig,
    dist: Distributed,
    training: TrainingData,
    state: TrainingState,
    stream: EpochBatches | FreshBatches,
    monitor: Monitor | None,
    *,
    micro: int,
    last_step: int,
    ckpt_path: Path,
    out_dir: Path,
) -> StepLoop:
    """The steps up to `last_step`: the model as stepped (DDP, compiled) and, on the
    main rank, the fixed reconstruction batch and the held-out measure."""
    model = state.model
    net = DistributedDataParallel(model) if dist.enabled else model
    if cfg.run.compile:
        net = compiled(net)
    recon_batch = _fixed_batch(cfg, training, model, dist.device) if dist.is_main else None
    held_out = None
    if dist.is_main and cfg.run.eval_every and training.ground_truth is not None:
        held_out = held_out_loss(
            training.ground_truth.model, model, cfg.mask.ratio, training.mean, training.std,
            cfg.run.eval_images, cfg.data.seed, dist.device,
        )  # fmt: skip
    return StepLoop(
        cfg, dist, net, state, stream, micro, last_step, ckpt_path, out_dir, monitor, held_out,
        recon_batch, measures=training.ground_truth is not None,
    )  # fmt: skip


def _fixed_batch(
    cfg: TrainConfig, training: TrainingData, model: MaskedAutoencoder, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The first images of the data set and fixed masks, shown at every reconstruction."""
    if not cfg.run.recon_every:
        return None
    k = min(cfg.run.recon_images, len(training.data))
    data = training.data
    if hasattr(data, "batch"):
        images = data.batch(torch.arange(k, device=data.device)).to(device)
    else:
        evaluation = copy.copy(data)
        evaluation.train = False  # centre crops: the same pixels every time
        images = torch.stack([evaluation[i][0] for i in range(k)]).to(device)
    noise = sample_noise(k, model.layout, torch.Generator().manual_seed(cfg.run.seed + 1))
    return images, noise.to(device)
