"""Pre-train a masked autoencoder: the whole loop, readable in one sitting.

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

import contextlib
import copy
import math
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
from maeid.train.checkpoint import FORMAT, read_checkpoint, restore_rng, rng_state, save_atomic
from maeid.train.compile import compiled
from maeid.train.config import TrainConfig, differences, from_dict, to_dict, to_yaml
from maeid.train.datasets import build_dataset
from maeid.train.distributed import setup_distributed
from maeid.train.init_from import load_initial_weights
from maeid.train.mask_fit import check_mask_fits
from maeid.train.optim import build_optimizer
from maeid.train.precision import (
    autocast_for,
    configure_matmul,
    grad_scaler_for,
    resolve_precision,
)
from maeid.train.quality import held_out_loss
from maeid.train.schedule import build_scheduler, restretch, scaled_lr

# Keys that may change between a run and its resumption: they do not touch the numbers
# (run.steps moves the end of the lr schedule, see the module docstring; run.target_excess
# only says when to stop; run.compile changes kernels, not the model).
RESUMABLE_KEYS = frozenset(
    {"run.steps", "run.log_every", "run.ckpt_every", "run.recon_every", "run.recon_images",
     "run.progress", "run.device", "run.eval_every", "run.eval_images", "run.target_excess",
     "run.compile", "data.num_workers", "data.on_device", "data.data_dir"}
)  # fmt: skip
MODEL_OVERRIDES = ("patch_size", "embed_dim", "depth", "num_heads", "decoder_embed_dim",
                   "decoder_depth", "decoder_num_heads", "mlp_ratio", "norm_pix_loss",
                   "boundary_exclude")  # fmt: skip
MASK_SEED_OFFSET = 0x5EED  # the mask stream is separate from the weight-init stream


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the run stopped before the update."""


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


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class _Parts:
    """What a step changes and a checkpoint saves."""

    model: MaskedAutoencoder
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    mask_gen: torch.Generator


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
    ckpt_path = out_dir / "checkpoints" / "last.pt"
    if resume and not ckpt_path.is_file():
        raise FileNotFoundError(f"cannot resume: {ckpt_path} does not exist; drop --resume")
    if not resume and ckpt_path.is_file():
        raise ValueError(
            f"{out_dir} already holds a run ({ckpt_path}); pass --resume to continue it "
            "or choose another --out"
        )

    dist = setup_distributed(cfg.run.device)
    monitor = None
    try:
        device, world, rank = dist.device, dist.world_size, dist.rank
        batch, accum = cfg.optim.batch_size, cfg.optim.accum_steps
        if batch % (world * accum):
            raise ValueError(
                f"optim.batch_size={batch} is not divisible by processes x accum_steps = "
                f"{world} x {accum}; pick a multiple of {world * accum}"
            )
        micro = batch // (world * accum)
        resolve_precision(device, cfg.run.precision, warn=True)  # refused before any write
        configure_matmul(device)

        _seed_everything(cfg.run.seed)
        training = build_dataset(cfg.data, device, "train", cfg.run.seed)
        check_mask_fits(cfg, training.image_shape)  # before the run folder exists
        if cfg.run.target_excess is not None and training.ground_truth is None:
            raise ValueError(
                f"run.target_excess={cfg.run.target_excess} needs synthetic data from a known "
                "model (the excess is over its exact Bayes loss); drop the key"
            )
        cfg.data.mean, cfg.data.std = training.mean, training.std  # resolved, saved below
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
        parts = _Parts(model, optimizer, scheduler, scaler, mask_gen)
        if cfg.data.fresh:
            stream = FreshBatches(
                training.ground_truth.model, batch, training.mean, training.std,
                cfg.data.seed, rank, world, device, epoch_size=cfg.data.n_train,
            )  # fmt: skip
        else:
            stream = EpochBatches(
                training.data, batch // world, cfg.run.seed, rank, world, cfg.data.num_workers,
                device,
            )  # fmt: skip

        step, quality = 0, None
        if resume:
            step, quality = _restore(ckpt_path, cfg, parts, stream, out_dir, device)
        reached = _reached(cfg, quality, step)
        if dist.is_main:
            cfg.warn_if_unintended()
            (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            write_text(out_dir / "config.yaml", to_yaml(cfg))
            from maeid.train.monitor import Monitor

            monitor = Monitor(out_dir, cfg.run.steps, step, batch, cfg.run.progress)

        net = DistributedDataParallel(model) if dist.enabled else model
        if cfg.run.compile:
            net = compiled(net)
        recon_batch = _fixed_batch(cfg, training, model, device) if dist.is_main else None
        held_out = None
        if dist.is_main and cfg.run.eval_every and training.ground_truth is not None:
            held_out = held_out_loss(
                training.ground_truth.model, model, cfg.mask.ratio, training.mean, training.std,
                cfg.run.eval_images, cfg.data.seed, device,
            )  # fmt: skip
        autocast = autocast_for(device, cfg.run.precision)
        last_step = cfg.run.steps if stop_after is None else min(stop_after, cfg.run.steps)
        first_loss = last_loss = None

        def checkpoint(epoch: int) -> None:
            if dist.is_main:
                save_atomic(_payload(cfg, parts, step, epoch, stream, quality), ckpt_path)
            dist.barrier()

        model.train()
        window = torch.zeros((), device=device)  # losses since the last log, on the device
        window_steps = 0
        todo = step < last_step and reached is None
        measures = training.ground_truth is not None  # a held-out loss exists to measure
        for epoch, images in _batches_from(stream, step) if todo else ():
            noise = sample_noise(batch, model.layout, mask_gen, device)[rank::world]
            loss = _forward_backward(net, images, noise, cfg, micro, accum, dist, autocast, scaler)
            window += loss
            window_steps += 1
            done = step + 1
            # The same on every rank (rank 0 alone measures, but all read the loss then).
            on_eval_step = measures and evaluate_step(cfg, done, last_step)
            evaluate = held_out is not None and on_eval_step
            log = done % cfg.run.log_every == 0 or done in (1, last_step)
            # The loss crosses to the host only where it is shown or checked, so a GPU never
            # waits on a per-step sync. A non-finite loss is caught at these steps, before
            # their update, and so always before a checkpoint is written.
            read = log or on_eval_step or done % cfg.run.ckpt_every == 0 or first_loss is None
            loss_value = loss_avg = None
            if read:
                values = dist.mean(torch.stack([loss, window / window_steps]))
                loss_value, loss_avg = (float(v) for v in values)
                if not (math.isfinite(loss_value) and math.isfinite(loss_avg)):
                    raise NonFiniteLossError(
                        f"loss is not finite by step {done} (this step {loss_value}, the mean "
                        f"since step {done - window_steps} {loss_avg}); stopped before this "
                        f"step's update. The last good checkpoint ({ckpt_path}) is untouched. "
                        "Lower optim.base_lr, add warm-up or set optim.clip_grad"
                    )
                if log or on_eval_step:  # loss_avg: the mean since the last metrics entry
                    window, window_steps = torch.zeros((), device=device), 0
                first_loss = loss_value if first_loss is None else first_loss
                last_loss = loss_value
            lr = optimizer.param_groups[0]["lr"]
            _update(parts, cfg)
            step = done

            measured = None
            if monitor is not None:
                if evaluate:
                    quality = measured = held_out.measure(model)
                monitor.step(step, epoch, loss_value, loss_avg, lr, log or evaluate, measured)
                if cfg.run.recon_every and (step % cfg.run.recon_every == 0 or step == last_step):
                    _save_recon(cfg, model, recon_batch, out_dir, step, monitor)
            if cfg.run.target_excess is not None and on_eval_step:
                reached = _agree(dist, _reached(cfg, measured, step))
            if step >= last_step or reached is not None:
                break
            if step % cfg.run.ckpt_every == 0:
                checkpoint(epoch)
        checkpoint(step // stream.steps_per_epoch)
        if held_out is not None and quality is None and step == last_step:
            # Resumed with no step left (stopped after the final checkpoint, e.g. during a
            # sweep's evaluation): measure the final model again. The held-out images and
            # masks are seeded, so this is the measure the last step logged.
            quality = held_out.measure(model)
        if monitor is not None and quality is not None:
            from maeid.train.heldout_plot import plot_heldout

            monitor.metrics.flush()
            plot_heldout(monitor.metrics_path, out_dir / "heldout.png")
        return TrainResult(model, step, first_loss, last_loss, out_dir, quality, reached)
    finally:
        if monitor is not None:
            monitor.close()
        dist.close()


def evaluate_step(cfg: TrainConfig, step: int, last_step: int) -> bool:
    """Whether the held-out loss is measured after `step` (on synthetic data)."""
    every = cfg.run.eval_every
    return bool(every) and (step % every == 0 or step == last_step)


def _forward_backward(net, images, noise, cfg, micro, accum, dist, autocast, scaler):
    """Forward and backward over `accum` micro-batches: the mean loss, left on the device."""
    loss_sum = torch.zeros((), device=images.device)
    for a in range(accum):
        part = slice(a * micro, (a + 1) * micro)
        # Only the last micro-batch all-reduces gradients.
        sync = a == accum - 1 or not dist.enabled
        with contextlib.nullcontext() if sync else net.no_sync():
            with autocast:
                loss, _, _ = net(images[part], cfg.mask.ratio, noise=noise[part])
            scaler.scale(loss / accum).backward()
        loss_sum += loss.detach().float()
    return loss_sum / accum


def _update(parts: _Parts, cfg: TrainConfig) -> None:
    """One optimiser step; with a loss scale, gradients are unscaled before clipping."""
    if cfg.optim.clip_grad is not None:
        parts.scaler.unscale_(parts.optimizer)
        nn.utils.clip_grad_norm_(parts.model.parameters(), cfg.optim.clip_grad)
    parts.scaler.step(parts.optimizer)
    parts.scaler.update()
    parts.scheduler.step()
    parts.optimizer.zero_grad(set_to_none=True)


def _reached(cfg: TrainConfig, quality: dict[str, float] | None, step: int) -> int | None:
    """`step` if the held-out measure `quality` meets run.target_excess, else None."""
    target = cfg.run.target_excess
    if target is None or quality is None:
        return None
    return step if quality["normalised_excess"] <= target else None


def _agree(dist, reached: int | None) -> int | None:
    """Rank 0 alone measures the held-out loss; every rank stops when it says so."""
    if not dist.enabled:
        return reached
    flag = torch.tensor([-1 if reached is None else reached], device=dist.device)
    torch.distributed.broadcast(flag, src=0)
    return None if int(flag) < 0 else int(flag)


def _payload(cfg, parts: _Parts, step: int, epoch: int, stream, quality) -> dict:
    """Everything a bit-exact resume needs, and the last held-out measure."""
    return {
        "format": FORMAT,
        "step": step,
        "epoch": epoch,
        "model": parts.model.state_dict(),
        "model_args": {"preset": cfg.model.preset, **parts.model.config},
        "optimizer": parts.optimizer.state_dict(),
        "scheduler": parts.scheduler.state_dict(),
        "scaler": parts.scaler.state_dict(),
        "rng": rng_state(parts.mask_gen),
        "data_order": {
            "seed": cfg.run.seed,
            "epoch": epoch,
            "batches_per_epoch": stream.steps_per_epoch,
            "world_size": getattr(stream, "world_size", 1),
        },
        "config": to_dict(cfg),
        "heldout": quality,
    }


def _restore(ckpt_path: Path, cfg, parts: _Parts, stream, out_dir: Path, device):
    """Load a checkpoint into `parts`, once it is shown to be this config's; return its
    step and its last held-out measure (None in checkpoints older than that field)."""
    ckpt = read_checkpoint(ckpt_path, map_location=device)
    saved = from_dict(ckpt["config"])
    diffs = differences(saved, cfg, ignore=RESUMABLE_KEYS)
    if diffs:
        listed = "; ".join(f"{k}: {a!r} in the checkpoint, {b!r} now" for k, a, b in diffs)
        raise ValueError(f"cannot resume {ckpt_path} under a different config: {listed}")
    saved_batches = ckpt["data_order"]["batches_per_epoch"]
    if saved_batches != stream.steps_per_epoch:
        raise ValueError(
            f"cannot resume {ckpt_path}: the data now make {stream.steps_per_epoch} "
            f"batches per epoch, the checkpoint's made {saved_batches}; point "
            "data.data_dir at the data the run started with"
        )
    saved_world = ckpt["data_order"].get("world_size", 1)
    if cfg.data.fresh and saved_world != stream.world_size:
        raise ValueError(
            f"cannot resume {ckpt_path} on {stream.world_size} process(es): its fresh data "
            f"were drawn per rank by {saved_world}; resume with {saved_world}"
        )
    saved_mask = ckpt["rng"].get("mask")
    if saved_mask is not None and saved_mask.numel() != parts.mask_gen.get_state().numel():
        raise ValueError(
            f"cannot resume {ckpt_path} on {parts.mask_gen.device.type}: its masks were drawn "
            "by a generator on another device; set run.device to the one it trained on"
        )
    step = int(ckpt["step"])
    if cfg.run.steps < step:
        raise ValueError(
            f"run.steps={cfg.run.steps} is below the {step} steps {out_dir} has done; "
            f"a run cannot be shortened, set run.steps >= {step}"
        )
    parts.model.load_state_dict(ckpt["model"])
    parts.optimizer.load_state_dict(ckpt["optimizer"])
    parts.scheduler.load_state_dict(ckpt["scheduler"])
    restretch(parts.scheduler, cfg.run.steps)  # a no-op unless run.steps changed
    parts.scaler.load_state_dict(ckpt["scaler"])
    restore_rng(ckpt["rng"], parts.mask_gen)
    return step, ckpt.get("heldout")


def _batches_from(stream: EpochBatches, step: int):
    """(epoch, per-rank batch) from global step `step` on, epoch after epoch."""
    epoch, start = divmod(step, stream.steps_per_epoch)
    while True:
        for images in stream.epoch(epoch, start):
            yield epoch, images
        epoch, start = epoch + 1, 0


def _fixed_batch(
    cfg: TrainConfig, training, model: MaskedAutoencoder, device: torch.device
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


def _save_recon(cfg, model, recon_batch, out_dir: Path, step: int, monitor) -> None:
    from maeid.train.recon import reconstruct, save_reconstruction_grid

    images, noise = recon_batch
    with autocast_for(images.device, cfg.run.precision):
        panels = reconstruct(model, images, noise, cfg.mask.ratio)
    fig = save_reconstruction_grid(
        panels,
        out_dir / "recon" / f"step_{step:07d}.png",
        cfg.data.mean,
        cfg.data.std,
        f"step {step}, mask ratio {cfg.mask.ratio}, unit {model.mask_unit}px",
        model.norm_pix_loss,
    )
    monitor.figure("reconstructions", fig, step)
