"""The steps of one training invocation: forward, backward, update, and what is read.

Each step draws one (global batch, mask units) noise tensor from the mask generator and
takes this rank's rows, runs forward and backward over `optim.accum_steps` micro-batches
and updates. The loss stays on the device except at the steps where it is logged,
checked or measured against, so a GPU never waits on a per-step sync; the held-out loss
(synthetic data) is measured at `run.eval_every`, a reconstruction grid saved at
`run.recon_every`, and a checkpoint written at `run.ckpt_every` and at the end.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from maeid.theory.masking import sample_noise
from maeid.train.checkpoint import save_atomic
from maeid.train.config import TrainConfig
from maeid.train.distributed import Distributed
from maeid.train.precision import autocast_for
from maeid.train.quality import HeldOutLoss
from maeid.train.state import TrainingState, checkpoint_payload


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the run stopped before the update."""


@dataclass
class Progress:
    """Where the run stands; what a checkpoint and the result report."""

    step: int = 0  # optimiser steps done
    quality: dict[str, float] | None = None  # the last held-out measure
    reached: int | None = None  # the step that met run.target_excess
    first_loss: float | None = None  # of this invocation's first step
    last_loss: float | None = None


@dataclass
class StepLoop:
    """One invocation's steps, from `Progress.step` to `last_step` (or the target)."""

    cfg: TrainConfig
    dist: Distributed
    net: nn.Module  # the model as stepped: wrapped for DDP, compiled
    state: TrainingState
    stream: Any  # EpochBatches or FreshBatches
    micro: int  # images per micro-batch on this rank
    last_step: int
    ckpt_path: Path
    out_dir: Path
    monitor: Any | None  # maeid.train.monitor.Monitor on the main rank
    held_out: HeldOutLoss | None  # on the main rank, for synthetic data
    recon_batch: tuple[torch.Tensor, torch.Tensor] | None
    measures: bool  # a held-out loss exists (every rank reads the loss at its steps)

    def run(self, progress: Progress) -> None:
        """Train until `last_step`, the target, or a non-finite loss; then checkpoint."""
        cfg, dist, state = self.cfg, self.dist, self.state
        device, model = dist.device, state.model
        autocast = autocast_for(device, cfg.run.precision)
        model.train()
        window = torch.zeros((), device=device)  # losses since the last log, on the device
        window_steps = 0
        todo = progress.step < self.last_step and progress.reached is None
        for epoch, images in batches_from(self.stream, progress.step) if todo else ():
            noise = sample_noise(cfg.optim.batch_size, model.layout, state.mask_gen, device)
            loss = forward_backward(
                self.net, images, noise[dist.rank :: dist.world_size], cfg, self.micro,
                cfg.optim.accum_steps, dist, autocast, state.scaler,
            )  # fmt: skip
            window += loss
            window_steps += 1
            done = progress.step + 1
            # The same on every rank (rank 0 alone measures, but all read the loss then).
            on_eval_step = self.measures and evaluate_step(cfg, done, self.last_step)
            log = done % cfg.run.log_every == 0 or done in (1, self.last_step)
            # A non-finite loss is caught where the loss is read, before that step's
            # update, and so always before a checkpoint is written.
            loss_value = loss_avg = None
            if log or on_eval_step or done % cfg.run.ckpt_every == 0 or progress.first_loss is None:
                loss_value, loss_avg = self._read(loss, window / window_steps, done, window_steps)
                if log or on_eval_step:  # loss_avg: the mean since the last metrics entry
                    window, window_steps = torch.zeros((), device=device), 0
                progress.first_loss = (
                    loss_value if progress.first_loss is None else progress.first_loss
                )
                progress.last_loss = loss_value
            lr = state.optimizer.param_groups[0]["lr"]
            update(state, cfg)
            progress.step = done
            measured = self._monitor(progress, epoch, loss_value, loss_avg, lr, log, on_eval_step)
            if cfg.run.target_excess is not None and on_eval_step:
                progress.reached = agree(dist, reached_target(cfg, measured, progress.step))
            if progress.step >= self.last_step or progress.reached is not None:
                break
            if progress.step % cfg.run.ckpt_every == 0:
                self.checkpoint(epoch, progress)
        self.checkpoint(progress.step // self.stream.steps_per_epoch, progress)

    def checkpoint(self, epoch: int, progress: Progress) -> None:
        if self.dist.is_main:
            payload = checkpoint_payload(
                self.cfg, self.state, progress.step, epoch, self.stream, progress.quality
            )
            save_atomic(payload, self.ckpt_path)
        self.dist.barrier()

    def _read(
        self, loss: torch.Tensor, mean: torch.Tensor, done: int, window_steps: int
    ) -> tuple[float, float]:
        """This step's loss and the mean since the last entry, averaged over ranks and
        read on the host; NonFiniteLossError if either is not finite."""
        loss_value, loss_avg = (float(v) for v in self.dist.mean(torch.stack([loss, mean])))
        if not (math.isfinite(loss_value) and math.isfinite(loss_avg)):
            raise NonFiniteLossError(
                f"loss is not finite by step {done} (this step {loss_value}, the mean "
                f"since step {done - window_steps} {loss_avg}); stopped before this "
                f"step's update. The last good checkpoint ({self.ckpt_path}) is untouched. "
                "Lower optim.base_lr, add warm-up or set optim.clip_grad"
            )
        return loss_value, loss_avg

    def _monitor(
        self,
        progress: Progress,
        epoch: int,
        loss_value: float | None,
        loss_avg: float | None,
        lr: float,
        log: bool,
        on_eval_step: bool,
    ) -> dict[str, float] | None:
        """Measure, log and draw after a step (main rank); the held-out measure taken."""
        if self.monitor is None:
            return None
        cfg, step, measured = self.cfg, progress.step, None
        evaluate = self.held_out is not None and on_eval_step
        if evaluate:
            progress.quality = measured = self.held_out.measure(self.state.model)
        self.monitor.step(step, epoch, loss_value, loss_avg, lr, log or evaluate, measured)
        if cfg.run.recon_every and (step % cfg.run.recon_every == 0 or step == self.last_step):
            save_recon(cfg, self.state.model, self.recon_batch, self.out_dir, step, self.monitor)
        return measured

    def finish(self, progress: Progress) -> None:
        """The final held-out measure, and its curve drawn (main rank)."""
        if (
            self.held_out is not None
            and progress.quality is None
            and progress.step == self.last_step
        ):
            # Resumed with no step left (stopped after the final checkpoint, e.g. during a
            # sweep's evaluation): measure the final model again. The held-out images and
            # masks are seeded, so this is the measure the last step logged.
            progress.quality = self.held_out.measure(self.state.model)
        if self.monitor is not None and progress.quality is not None:
            from maeid.train.heldout_plot import plot_heldout

            self.monitor.metrics.flush()
            plot_heldout(self.monitor.metrics_path, self.out_dir / "heldout.png")


def evaluate_step(cfg: TrainConfig, step: int, last_step: int) -> bool:
    """Whether the held-out loss is measured after `step` (on synthetic data)."""
    every = cfg.run.eval_every
    return bool(every) and (step % every == 0 or step == last_step)


def forward_backward(net, images, noise, cfg, micro, accum, dist, autocast, scaler):
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


def update(state: TrainingState, cfg: TrainConfig) -> None:
    """One optimiser step; with a loss scale, gradients are unscaled before clipping."""
    if cfg.optim.clip_grad is not None:
        state.scaler.unscale_(state.optimizer)
        nn.utils.clip_grad_norm_(state.model.parameters(), cfg.optim.clip_grad)
    state.scaler.step(state.optimizer)
    state.scaler.update()
    state.scheduler.step()
    state.optimizer.zero_grad(set_to_none=True)


def reached_target(cfg: TrainConfig, quality: dict[str, float] | None, step: int) -> int | None:
    """`step` if the held-out measure `quality` meets run.target_excess, else None."""
    target = cfg.run.target_excess
    if target is None or quality is None:
        return None
    return step if quality["normalised_excess"] <= target else None


def agree(dist: Distributed, reached: int | None) -> int | None:
    """Rank 0 alone measures the held-out loss; every rank stops when it says so."""
    if not dist.enabled:
        return reached
    flag = torch.tensor([-1 if reached is None else reached], device=dist.device)
    torch.distributed.broadcast(flag, src=0)
    return None if int(flag) < 0 else int(flag)


def batches_from(stream: Any, step: int) -> Iterator[tuple[int, torch.Tensor]]:
    """(epoch, per-rank batch) from global step `step` on, epoch after epoch."""
    epoch, start = divmod(step, stream.steps_per_epoch)
    while True:
        for images in stream.epoch(epoch, start):
            yield epoch, images
        epoch, start = epoch + 1, 0


def save_recon(cfg, model, recon_batch, out_dir: Path, step: int, monitor) -> None:
    """The reconstructions of the fixed batch at `step`, as a PNG and in TensorBoard."""
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
