"""Seeded, resumable, shardable batches.

The order of an epoch is a permutation drawn from (seed, epoch) by `DistributedSampler`;
rank r of K takes every K-th index, so the K ranks' batches of one step together are
exactly the single-process batch of that step. Resuming mid-epoch skips the batches
already seen. In-memory data are indexed directly; other data sets go through a
DataLoader whose workers are seeded from a generator.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from maeid.data.tensor_images import TensorImages


def seed_worker(worker_id: int) -> None:
    """Seed numpy and `random` in a loader worker from the torch seed the loader gave it."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


class EpochBatches:
    """Per-rank batches of `batch_size` images, epoch by epoch, in a seeded order."""

    def __init__(
        self,
        data: TensorImages | Dataset,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.num_workers, self.device = num_workers, torch.device(device)
        # drop_last: every rank gets the same number of samples, none padded twice.
        self.sampler = DistributedSampler(
            data, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.steps_per_epoch = len(self.sampler) // batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"{len(data)} samples make no full batch of {batch_size * world_size} "
                "(the global batch); use more data or a smaller optim.batch_size"
            )

    def epoch(self, epoch: int, start: int = 0) -> Iterator[torch.Tensor]:
        """The batches of `epoch` from batch number `start` on (to resume mid-epoch)."""
        self.sampler.set_epoch(epoch)
        order = list(self.sampler)
        b = self.batch_size
        batches = [order[i * b : (i + 1) * b] for i in range(start, self.steps_per_epoch)]
        if isinstance(self.data, TensorImages):
            for indices in batches:
                yield self.data.batch(torch.tensor(indices, device=self.data.device)).to(
                    self.device
                )
            return
        if hasattr(self.data, "set_epoch"):
            self.data.set_epoch(epoch)
        loader = DataLoader(
            self.data,
            batch_sampler=batches,
            num_workers=self.num_workers,
            worker_init_fn=seed_worker,
            generator=torch.Generator().manual_seed(self.seed + epoch),
            pin_memory=self.device.type == "cuda",
        )
        for images, _ in loader:
            yield images.to(self.device, non_blocking=True)
