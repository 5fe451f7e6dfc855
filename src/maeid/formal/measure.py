"""A bottleneck's code held against the theory, latent by latent: measured R² (kernel and
linear), the exact limit, the regressor's own reference, and the MCC with c(m)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from maeid.evaluate.identifiability import predicted_r2
from maeid.evaluate.mcc import mcc
from maeid.evaluate.regression import RegressorConfig, latent_r2, latent_r2_interval
from maeid.formal.config import IdentifyConfig
from maeid.formal.masks import FixedMask
from maeid.formal.result import MaskResult
from maeid.hlvm.model import Sample
from maeid.hlvm.spec import GraphSpec
from maeid.theory.identification import Identification


def measure_code(
    spec: GraphSpec,
    fixed: FixedMask,
    theory: Identification,
    code: np.ndarray,
    held_out: Sample,
    cfg: IdentifyConfig,
    training: tuple[int, float, float | None],
    limits: dict,
) -> MaskResult:
    """The result of `code` (N, d) of the `held_out` samples, from a bottleneck trained on
    `fixed` as `training` = (steps, seconds, final loss); `limits` are the exact limits
    of S(m) by latent."""
    reg = cfg.regressor
    measured = latent_r2_interval(code, held_out.latents, reg)
    linear = latent_r2(
        code, held_out.latents, RegressorConfig(**{**asdict(reg), "method": "linear"})
    )
    reference = predicted_r2(spec, theory.shared, held_out.latents, reg)
    rows = []
    for z in spec.latents:
        in_s = z in theory.shared
        limit = 1.0 if in_s else limits[z].value
        rows.append(
            {
                "mask": fixed.id,
                "seed": cfg.seed,
                "latent": z,
                "level": int(spec[z].level),
                "in_S": in_s,
                "in_c": z in theory.identified,
                "predicted": limit,
                "limit": limit,
                "limit_se": 0.0 if in_s else limits[z].se,
                "regressor_ref": reference[z],
                "measured": measured[z][0],
                "measured_halfwidth": measured[z][1],
                "measured_linear": linear[z],
            }
        )
    c_true = [held_out.latents[z] for z in spec.latents if z in theory.identified]
    score = None
    if c_true and sum(v.shape[1] for v in c_true) == code.shape[1]:
        score = mcc(code, np.concatenate(c_true, axis=1))
    steps, seconds, loss = training
    return MaskResult(fixed, theory, steps, seconds, loss, rows, score, cfg.seed)
