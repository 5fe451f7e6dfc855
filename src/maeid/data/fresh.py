"""A new sample of a synthetic model at every step, instead of epochs over a fixed set.

A known generating model can draw as many images as training wants, so the MAE never
sees an image twice and its training loss is an unbiased held-out loss. The batch of
global step t is drawn with the seed `(seed, FRESH_TAG, t)`: the stream is a pure
function of the step, so a resumed run continues bit for bit. Under DDP, rank r of K
draws only its own share, with the seed `(seed, FRESH_TAG, t, r, K)`: no rank spends time
on images it throws away, and a K-process run sees a stream as fresh as one process's
(though not the same images: the stream depends on K, so resume on the same K).

For a GPU, the next batch is drawn in a background thread while the current one trains,
so data generation stays off the step's critical path.

It keeps `EpochBatches`' interface (`steps_per_epoch`, `epoch(e, start)`), with a
nominal epoch of `epoch_size` images, so the training loop and its checkpoints treat both
streams alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from maeid.data.transforms import normalize

FRESH_TAG = 0xF2E5  # separates this stream from `maeid synth` and held-out draws


class FreshBatches:
    """Per-rank batches of newly sampled images from `model`, normalised by `mean`/`std`."""

    def __init__(
        self,
        model,
        global_batch: int,
        mean: Sequence[float],
        std: Sequence[float],
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str = "cpu",
        epoch_size: int = 20000,
    ) -> None:
        if global_batch % world_size:
            raise ValueError(f"batch {global_batch} does not split over {world_size} processes")
        self.model, self.global_batch, self.seed = model, global_batch, seed
        self.mean, self.std = tuple(mean), tuple(std)
        self.rank, self.world_size, self.device = rank, world_size, torch.device(device)
        self.steps_per_epoch = max(1, epoch_size // global_batch)

    def at(self, step: int) -> torch.Tensor:
        """This rank's share of the global batch of `step`."""
        if self.world_size == 1:
            seed = np.random.SeedSequence([self.seed, FRESH_TAG, step])
        else:
            seed = np.random.SeedSequence([self.seed, FRESH_TAG, step, self.rank, self.world_size])
        share = self.global_batch // self.world_size
        mine = normalize(torch.from_numpy(self.model.sample(share, seed=seed).images),
                         self.mean, self.std)  # fmt: skip
        if self.device.type == "cuda":
            return mine.pin_memory().to(self.device, non_blocking=True)
        return mine.to(self.device)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[torch.Tensor]:
        """The batches of nominal epoch `epoch` from batch number `start` on; for a GPU,
        each drawn while the one before it trains. On a CPU they are drawn in turn: the
        cores that would draw ahead are the ones training, and some samplers set
        process-wide thread limits that a second thread must not race."""
        first = epoch * self.steps_per_epoch
        steps = range(first + start, first + self.steps_per_epoch)
        if self.device.type != "cuda":
            for step in steps:
                yield self.at(step)
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fresh-batches") as pool:
            pending = pool.submit(self.at, steps[0]) if steps else None
            for i in range(len(steps)):
                images = pending.result()
                if i + 1 < len(steps):
                    pending = pool.submit(self.at, steps[i + 1])
                yield images
