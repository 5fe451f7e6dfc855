"""`identify_formal`: one bottleneck per fixed mask and seed, held against the theory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from maeid.formal.config import IdentifyConfig
from maeid.formal.fit import train_and_encode
from maeid.formal.masks import FixedMask
from maeid.formal.measure import measure_code
from maeid.formal.result import MaskResult
from maeid.hlvm.model import HierarchicalModel
from maeid.theory.exact_limits import r2_limits
from maeid.theory.identification import identify

LIMIT_OUTER, LIMIT_INNER = 512, 32  # exact limits to a standard error of ~0.01


def identify_formal(
    model: HierarchicalModel,
    masks: Sequence[FixedMask],
    config: IdentifyConfig | None = None,
    progress: bool = True,
    on_result: Callable[[MaskResult], None] | None = None,
    seeds: Sequence[int] | None = None,
) -> list[MaskResult]:
    """Train one bottleneck per mask and seed, and hold its code against the theory,
    latent by latent.

    Each seed (default: `config.seed` alone) draws its own training and held-out data,
    initialisation and batches; every run trains for the same budget. `on_result` is
    called with each result as soon as it is measured.
    """
    base = config or IdentifyConfig()
    spec = model.spec
    if base.arch == "vit" and spec.image_shape is None:
        raise ValueError(f"--arch vit needs an image model; {model.name!r} has no image")
    limits: dict[frozenset[str], dict] = {}  # exact limits depend on S(m) alone
    results = []
    for seed in [base.seed] if seeds is None else list(seeds):
        cfg = replace(base, seed=int(seed), regressor=replace(base.regressor, seed=int(seed)))
        train = model.sample(cfg.train_samples, seed=cfg.seed)
        held_out = model.sample(cfg.eval_samples, seed=cfg.seed + 7919)  # disjoint stream
        for fixed in masks:
            theory = identify(spec, fixed.masked)
            if theory.shared not in limits:
                limits[theory.shared] = r2_limits(
                    model, theory.shared, outer=LIMIT_OUTER, inner=LIMIT_INNER, seed=0
                )
            if theory.code_dim == 0:  # nothing crosses the mask: the code is empty
                code = np.zeros((cfg.eval_samples, 1))
                steps, seconds, loss = 0, 0.0, None
            else:
                code, steps, seconds, loss = train_and_encode(spec, fixed, theory, train,
                                                              held_out, cfg, progress)  # fmt: skip
            results.append(measure_code(spec, fixed, theory, code, held_out, cfg,
                                        (steps, seconds, loss), limits[theory.shared]))  # fmt: skip
            if on_result is not None:
                on_result(results[-1])
    return results
