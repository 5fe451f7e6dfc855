"""What a run reports while it trains: a progress bar, metrics.jsonl, TensorBoard events.

Only rank 0 builds a `Monitor`. On resume, metrics logged after the checkpoint being
resumed are dropped (from metrics.jsonl and from TensorBoard, via `purge_step`), so that
the logs read as one uninterrupted run.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from maeid.atomic import write_text
from maeid.progress import tqdm


def truncate_metrics(path: Path, last_step: int) -> None:
    """Keep only the entries of metrics.jsonl up to `last_step` (rewritten atomically)."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip()]
    keep = [line for line in keep if json.loads(line).get("step", 0) <= last_step]
    write_text(path, "".join(line + "\n" for line in keep))


class Monitor:
    def __init__(
        self, out_dir: Path, total_steps: int, start_step: int, images_per_step: int, progress: bool
    ) -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow import: only on rank 0

        self.metrics_path = out_dir / "metrics.jsonl"
        truncate_metrics(self.metrics_path, start_step)
        self.metrics = self.metrics_path.open("a")
        self.writer = SummaryWriter(str(out_dir), purge_step=start_step + 1 if start_step else None)
        self.bar = tqdm(
            total=total_steps,
            initial=start_step,
            desc="train",
            unit="step",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=not progress,
        )
        self.images_per_step = images_per_step
        self.start = self.window_start = time.perf_counter()
        self.window_steps = 0
        self.shown: dict[str, str] = {}  # what the progress bar shows until the next read
        self.excess: float | None = None  # the last normalised excess, for the progress bar

    def step(
        self,
        step: int,
        epoch: int,
        loss: float | None,
        loss_avg: float | None,
        lr: float,
        log: bool,
        quality: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        """Record the step just finished; write a metrics entry if `log`.

        `loss` is this step's loss and `loss_avg` the mean since the last one read; the
        loop reads them (a device-to-host sync) only at logging, evaluation and checkpoint
        steps, and passes None in between. `quality` is a held-out measure taken at this
        step (`maeid.train.quality`): it joins the entry, TensorBoard's `heldout/*` and,
        as the normalised excess over the Bayes loss, the progress bar.
        """
        self.window_steps += 1
        if quality is not None:
            self.excess = quality["normalised_excess"]
        self.bar.update(1)
        if loss is not None:
            self.shown = {"loss": f"{loss:.4f}", "lr": f"{lr:.2e}"}
        if not log or loss is None:
            self.bar.set_postfix(self._postfix(None), refresh=False)
            return {}
        now = time.perf_counter()
        rate = self.window_steps * self.images_per_step / max(now - self.window_start, 1e-9)
        self.bar.set_postfix(self._postfix(rate), refresh=False)
        entry = {
            "step": step,
            "epoch": epoch,
            "loss": loss,
            "loss_avg": loss_avg,
            "lr": lr,
            "img_per_s": rate,
            "elapsed_s": now - self.start,
        }
        entry.update(quality or {})
        self.metrics.write(json.dumps(entry) + "\n")
        self.metrics.flush()
        for key in ("loss", "loss_avg", "lr", "img_per_s"):
            self.writer.add_scalar(f"train/{key}", entry[key], step)
        for key, value in (quality or {}).items():
            self.writer.add_scalar(f"heldout/{key}", value, step)
        self.window_start, self.window_steps = now, 0
        return entry

    def _postfix(self, rate: float | None) -> dict[str, str]:
        shown = dict(self.shown)
        if rate is not None:
            self.shown["img_s"] = shown["img_s"] = f"{rate:.0f}"
        elif "img_s" in self.shown:
            shown["img_s"] = self.shown["img_s"]
        if self.excess is not None:
            shown["excess"] = f"{self.excess:.3f}"
        return shown

    def figure(self, tag: str, fig: Any, step: int) -> None:
        self.writer.add_figure(tag, fig, step, close=True)

    def close(self) -> None:
        self.bar.close()
        self.metrics.close()
        self.writer.close()
