"""The theory's predicted R² for every latent, and per-level / in-S summaries of R².

For a mask `m`, Theorem 2 says the code recovers `c(m)` up to an invertible map, hence
every latent of `S(m)` (c determines its ancestors), and nothing else but what `S(m)`
itself carries. So the prediction for latent z is

- 1 if z is in S(m);
- otherwise its *ceiling*: the R² that the true values of S(m) reach for z, estimated
  with the very regressor and split used for the measurement, so that the comparison is
  not biased by the regressor. A measured R² well above the ceiling would mean the code
  holds information that the theory says it cannot.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from maeid.evaluate.regression import RegressorConfig, latent_r2
from maeid.hlvm.spec import GraphSpec


def predicted_r2(
    spec: GraphSpec,
    shared: Collection[str],
    latents: Mapping[str, np.ndarray],
    config: RegressorConfig | None = None,
) -> dict[str, float]:
    """{latent: predicted R²}: 1 in `shared` (S(m)), else the ceiling from S's true values.

    `latents` holds held-out true values of every latent of `spec`. With S(m) empty, no
    information crosses the mask and every ceiling is 0.
    """
    missing = sorted(set(spec.latents) - set(latents))
    if missing:
        raise ValueError(f"true values missing for latents {missing[:8]}")
    shared = frozenset(shared)
    others = {z: latents[z] for z in spec.latents if z not in shared}
    pred = {z: 1.0 for z in spec.latents if z in shared}
    if others and shared:
        truth = np.concatenate([np.asarray(latents[z]).reshape(len(latents[z]), -1)
                                for z in spec.latents if z in shared], axis=1)  # fmt: skip
        pred.update(latent_r2(truth, others, config))
    else:
        pred.update({z: 0.0 for z in others})
    return {z: pred[z] for z in spec.latents}


def summarise_r2(
    spec: GraphSpec, r2: Mapping[str, float], shared: Collection[str] | None = None
) -> dict[str, object]:
    """Mean R² per level and, given S(m), over S and outside it (None when a side is empty)."""
    out: dict[str, object] = {
        "per_level": {
            int(level): _mean([r2[z] for z in names if z in r2])
            for level, names in spec.levels.items()
        },
        "mean": _mean(list(r2.values())),
    }
    if shared is not None:
        shared = frozenset(shared)
        out["in_S"] = _mean([v for z, v in r2.items() if z in shared])
        out["outside_S"] = _mean([v for z, v in r2.items() if z not in shared])
    return out


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None
