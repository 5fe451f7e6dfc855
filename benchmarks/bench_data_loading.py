"""Is data loading the bottleneck of MAE pre-training on Fashion-MNIST? (CPU)

Prints images per second for: the in-memory batches that training uses, a classic
per-item DataLoader over the same data (0 and 2 workers), and a training step (forward,
backward, AdamW) of the model in configs/fashion_mnist.yaml. Loading should be many
times faster than training.

    python benchmarks/bench_data_loading.py [--batch 128] [--train-steps 10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from maeid.data import EpochBatches, seed_worker
from maeid.train.config import load_config
from maeid.train.datasets import build_dataset
from maeid.train.loop import build_model
from maeid.train.optim import build_optimizer

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "fashion_mnist.yaml"


def rate(images: int, seconds: float) -> float:
    return images / max(seconds, 1e-9)


def in_memory(data, batch: int, batches: int) -> float:
    stream = EpochBatches(data, batch, seed=0)
    start, seen = time.perf_counter(), 0
    for i, x in enumerate(stream.epoch(0)):
        seen += x.shape[0]
        if i + 1 == batches:
            break
    return rate(seen, time.perf_counter() - start)


def per_item_loader(data, batch: int, batches: int, workers: int) -> float:
    g = torch.Generator().manual_seed(0)
    loader = DataLoader(
        data, batch, shuffle=True, num_workers=workers, worker_init_fn=seed_worker, generator=g
    )
    start, seen = time.perf_counter(), 0
    for i, (x, _) in enumerate(loader):
        seen += x.shape[0]
        if i + 1 == batches:
            break
    return rate(seen, time.perf_counter() - start)


def training(cfg, data, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = build_model(cfg, data.image_shape)
    opt = build_optimizer(model, 1e-3, 0.05, (0.9, 0.95))
    stream = EpochBatches(data, batch, seed=0)
    batches = stream.epoch(0)
    for _ in range(2):  # allocator and kernels warm up
        model(next(batches), cfg.mask.ratio)[0].backward()
    start = time.perf_counter()
    for _ in range(steps):
        loss = model(next(batches), cfg.mask.ratio)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return rate(steps * batch, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--train-steps", type=int, default=10)
    args = parser.parse_args()
    cfg = load_config(CONFIG, [f"optim.batch_size={args.batch}"])
    start = time.perf_counter()
    data = build_dataset(cfg.data).data
    print(f"Fashion-MNIST train split read and padded in {time.perf_counter() - start:.2f} s "
          f"({len(data)} images, {tuple(data.images.shape[1:])}); torch threads: "
          f"{torch.get_num_threads()}")  # fmt: skip
    step_rate = training(cfg, data, args.batch, args.train_steps)
    rows = [
        ("in-memory batches (what training uses)", in_memory(data, args.batch, 200)),
        ("per-item DataLoader, 0 workers", per_item_loader(data, args.batch, 20, 0)),
        ("per-item DataLoader, 2 workers", per_item_loader(data, args.batch, 20, 2)),
        (f"training step, {cfg.model.preset} preset", step_rate),
    ]
    train_rate = rows[-1][1]
    print(f"\n{'pipeline':<44}{'images/s':>12}{'x training':>12}")
    for name, value in rows:
        print(f"{name:<44}{value:>12,.0f}{value / train_rate:>12.1f}")
    verdict = "not the bottleneck" if rows[0][1] > 10 * train_rate else "A BOTTLENECK"
    print(f"\nloading is {verdict}: {rows[0][1] / train_rate:.0f}x the training throughput")


if __name__ == "__main__":
    main()
