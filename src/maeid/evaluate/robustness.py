"""The linear probe on corrupted test images: accuracy per corruption and severity.

The probe is trained once on clean features; the test images are corrupted in pixel
space ([0, 1], `maeid.evaluate.corruptions`), re-normalised as the model expects and
re-encoded. This mirrors the paper's use of shifted test sets (IN-v2, -R, -A, -S): the
representation is frozen and so is the classifier; only the inputs move.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from maeid.data.transforms import normalize
from maeid.evaluate.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from maeid.evaluate.probe import top1
from maeid.progress import tqdm


def corruption_accuracy(
    encode: Callable[[torch.Tensor], torch.Tensor],
    head: nn.Module,
    images01: torch.Tensor,
    labels: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    corruptions: Sequence[str] | None = None,
    severities: Sequence[int] = SEVERITIES,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, object]:
    """{corruption: {severity: top-1}, "mean": mean over all, "clean": top-1 on clean}.

    `images01` are (N, C, H, W) in [0, 1]; `encode` maps normalised images to features.
    """
    names = list(corruptions or CORRUPTIONS)
    clean = top1(head, encode(normalize(images01, mean, std)), labels)
    out: dict[str, object] = {"clean": clean}
    accs = []
    bar = tqdm(total=len(names) * len(severities), disable=not progress, desc="robustness")
    for i, name in enumerate(names):
        per = {}
        for s in severities:
            shifted = corrupt(images01, name, s, seed=seed + 1000 * i + s)
            per[str(s)] = top1(head, encode(normalize(shifted, mean, std)), labels)
            accs.append(per[str(s)])
            bar.update(1)
        per["mean"] = float(np.mean([per[str(s)] for s in severities]))
        out[name] = per
    bar.close()
    out["mean"] = float(np.mean(accs)) if accs else None
    return out
