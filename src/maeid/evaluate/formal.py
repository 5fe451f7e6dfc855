"""The formal regime (Theorem 2): one fixed mask, a bottleneck of dimension d_c, R² per latent.

For each fixed mask `m` of a synthetic model:

1. the theory gives S(m), c(m) and d_c (`maeid.theory.identify`);
2. a bottleneck autoencoder is trained to predict the masked observed vectors from a
   `d_c`-dimensional code of the visible ones (`maeid.mae.MLPBottleneck` by default, or
   the ViT `maeid.mae.BottleneckMAE` on images);
3. on held-out samples, the code is regressed onto every true latent (kernel ridge,
   `maeid.evaluate.regression`): the *measured* R²;
4. the *predicted* R² is 1 for latents in S(m) and, for the others, their exact limit
   R²*(z | S(m)) (`maeid.theory.exact_limits`), with its Monte Carlo standard error.
   Beside it stands the regressor's own reference: what the same regressor reaches from
   the true values of S(m) (`maeid.evaluate.identifiability`).

The verdict (`verdict`) is per mask and per seed:

- *untestable* when S(m) is empty (nothing crosses the mask: there is nothing to recover);
- *agrees* when every latent in S(m) reaches R² >= 0.9 and no latent outside S(m)
  exceeds its exact limit by more than 0.05 plus the 95 % bootstrap half-width of its
  measured R²;
- *disagrees* otherwise, and whenever an R² is NaN. One latent is enough: a good mean
  over S(m) does not hide a latent that was not recovered.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from maeid.evaluate.identifiability import predicted_r2, summarise_r2
from maeid.evaluate.mcc import mcc
from maeid.evaluate.regression import RegressorConfig, latent_r2, latent_r2_interval
from maeid.hlvm.model import HierarchicalModel, Sample
from maeid.hlvm.spec import GraphSpec
from maeid.progress import tqdm
from maeid.theory.exact_limits import r2_limits
from maeid.theory.identification import Identification, identify
from maeid.theory.profile import cell_masks
from maeid.theory.token_masks import default_patch_size, masked_nodes
from maeid.threads import torch_threads

ARCHITECTURES = ("mlp", "vit")
MIN_R2_IN_S = 0.9  # every latent of S(m), not their mean
MAX_EXCESS_OUTSIDE_S = 0.05  # over the exact limit, beyond the bootstrap half-width
LIMIT_OUTER, LIMIT_INNER = 512, 32  # exact limits to a standard error of ~0.01


@dataclass(frozen=True)
class FixedMask:
    """One mask of the formal regime: the observed nodes it hides, and how it was drawn."""

    id: int
    masked: frozenset[str]
    token_mask: torch.Tensor | None = None  # (tokens,) 1 = masked, for image models
    ratio: float | None = None
    unit: int | None = None  # pixels for image models

    def describe(self) -> str:
        how = f"ratio {self.ratio:g}, unit {self.unit}" if self.ratio is not None else "named"
        return f"mask {self.id} ({how})"


@dataclass(frozen=True)
class IdentifyConfig:
    """Training and measurement settings; `steps` or `seconds` (or both) bound training."""

    arch: str = "mlp"
    steps: int | None = 3000
    seconds: float | None = None
    batch_size: int = 256
    lr: float = 1e-3
    warmup_steps: int = 100
    hidden: int = 512
    depth: int = 3
    train_samples: int = 32000
    eval_samples: int = 4000
    seed: int = 0
    threads: int | None = 1  # torch intra-op threads while training; None = as they are
    regressor: RegressorConfig = field(default_factory=RegressorConfig)

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"architecture {self.arch!r} is unknown; use one of {ARCHITECTURES}")
        if self.steps is None and self.seconds is None:
            raise ValueError("give a training budget: steps, seconds, or both")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps = {self.steps}; it must be at least 1")
        if self.seconds is not None and not self.seconds > 0:
            raise ValueError(f"seconds = {self.seconds}; it must be positive")
        if self.train_samples < self.batch_size:
            raise ValueError(
                f"train_samples {self.train_samples} is below one batch ({self.batch_size})"
            )
        if self.eval_samples < 20:
            raise ValueError(f"eval_samples {self.eval_samples} is too few; use at least 20")


@dataclass
class MaskResult:
    """What one fixed mask gave: the theory, the training, and one row per latent."""

    mask: FixedMask
    theory: Identification
    steps: int
    seconds: float
    final_loss: float | None
    rows: list[dict[str, object]]
    mcc: float | None = None  # code vs c(m), when their dimensions agree
    seed: int = 0

    def summary(self, spec: GraphSpec) -> dict[str, object]:
        measured = {r["latent"]: r["measured"] for r in self.rows}
        summary = summarise_r2(spec, measured, self.theory.shared)
        inside = [r["measured"] for r in self.rows if r["in_S"]]
        outside = [r for r in self.rows if not r["in_S"]]
        excess = max((r["measured"] - r["limit"] for r in outside), default=None)
        ref_excess = max((r["measured"] - r["regressor_ref"] for r in outside), default=None)
        outcome, reasons = verdict(self.rows)
        return {
            "mask": self.mask.id,
            "seed": self.seed,
            "masked": sorted(self.mask.masked),
            "ratio": self.mask.ratio,
            "unit": self.mask.unit,
            "shared": sorted(self.theory.shared),
            "identified": sorted(self.theory.identified),
            "code_dim": self.theory.code_dim,
            "steps": self.steps,
            "seconds": round(self.seconds, 2),
            "final_loss": self.final_loss,
            "mcc_code_vs_c": self.mcc,
            "measured": summary,
            "worst_in_S": min(inside) if inside else None,
            "predicted_outside_S": _mean([r["limit"] for r in outside]),
            "regressor_ref_outside_S": _mean([r["regressor_ref"] for r in outside]),
            "max_excess_outside_S": excess,
            "max_excess_over_regressor_ref": ref_excess,
            "check": {
                "every_in_S_at_least": MIN_R2_IN_S,
                "max_excess_at_most": f"{MAX_EXCESS_OUTSIDE_S} + 95% half-width",
                "verdict": outcome,
                "reasons": reasons,
                "passed": outcome == "agrees",
            },
        }


def verdict(rows: Sequence[dict[str, object]]) -> tuple[str, list[str]]:
    """("agrees" | "disagrees" | "untestable", reasons) for one mask's rows (module doc)."""
    if not any(r["in_S"] for r in rows):
        return "untestable", ["S(m) is empty: nothing crosses the mask, nothing to recover"]
    reasons = []
    for r in rows:
        measured = r["measured"]
        if not isinstance(measured, (int, float)) or not math.isfinite(measured):
            reasons.append(f"{r['latent']}: R² is {measured}, not a number")
        elif r["in_S"] and measured < MIN_R2_IN_S:
            reasons.append(f"{r['latent']} in S(m): R² {measured:.3f} < {MIN_R2_IN_S}")
        elif not r["in_S"]:
            bound = r["limit"] + MAX_EXCESS_OUTSIDE_S + (r.get("measured_halfwidth") or 0.0)
            if not measured <= bound:
                reasons.append(
                    f"{r['latent']} outside S(m): R² {measured:.3f} above its exact limit "
                    f"{r['limit']:.3f} by more than {bound - r['limit']:.3f}"
                )
    return ("disagrees" if reasons else "agrees"), reasons


# ------------------------------------------------------------------------------ masks
def named_mask(spec: GraphSpec, names: Collection[str], mask_id: int = 0) -> FixedMask:
    """A mask hiding the observed nodes `names` (validated by the theory)."""
    theory = identify(spec, names)
    return FixedMask(id=mask_id, masked=theory.masked)


def drawn_masks(
    spec: GraphSpec, ratio: float, unit: int, count: int = 1, seed: int = 0
) -> list[FixedMask]:
    """`count` masks from the MAE's own sampler at (ratio, unit); unit in pixels for images."""
    if count < 1:
        raise ValueError(f"--masks {count}: draw at least one mask")
    tokens = cell_masks(spec, ratio, unit, count, seed)
    out = []
    for i, row in enumerate(tokens):
        if spec.image_shape is not None:
            names = masked_nodes(spec, row, default_patch_size(spec))
        else:
            names = frozenset(x for x, m in zip(spec.observed, row.tolist(), strict=True) if m)
        out.append(FixedMask(i, frozenset(names), row.clone(), float(ratio), int(unit)))
    return out


# --------------------------------------------------------------------------- the regime
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
                code, steps, seconds, loss = _train_and_encode(spec, fixed, theory, train,
                                                               held_out, cfg, progress)  # fmt: skip
            results.append(_measure(spec, fixed, theory, code, held_out, cfg, steps, seconds,
                                    loss, limits[theory.shared]))  # fmt: skip
            if on_result is not None:
                on_result(results[-1])
    return results


def _measure(
    spec, fixed, theory, code, held_out: Sample, cfg, steps, seconds, loss, limits
) -> MaskResult:
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
    return MaskResult(fixed, theory, steps, seconds, loss, rows, score, cfg.seed)


def _train_and_encode(spec, fixed, theory, train: Sample, held_out: Sample, cfg, progress):
    """Train the bottleneck on `train`; return (code of `held_out`, steps, seconds, loss)."""
    # One thread is the default: the MLP is small, and on a busy machine torch's pool
    # spins waiting for cores that other processes hold (1500 steps did not finish in
    # 600 s on two threads on our shared 2-core machine; 2000 take ~90 s on one).
    with torch_threads(cfg.threads):
        return _train(spec, fixed, theory, train, held_out, cfg, progress)


def _train(spec, fixed, theory, train: Sample, held_out: Sample, cfg, progress):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if cfg.arch == "vit":
            net, inputs, encode_inputs = _vit_setup(spec, fixed, theory, train, held_out)
        else:
            net, inputs, targets, encode_inputs = _mlp_setup(spec, fixed, theory, train,
                                                             held_out, cfg)  # fmt: skip
    start = time.perf_counter()
    if cfg.arch == "vit":
        step, loss = _train_vit(net, inputs, cfg, progress)
    else:
        step, loss = _train_mlp(net, inputs, targets, cfg, fixed, progress)
    seconds = time.perf_counter() - start
    net.eval()
    device = next(net.parameters()).device
    with torch.no_grad():
        code = torch.cat([net.encode(x.to(device)).cpu() for x in encode_inputs.split(1024)])
    return code.double().numpy(), step, seconds, loss


def _train_vit(net, images: torch.Tensor, cfg, progress) -> tuple[int, float]:
    """The ViT bottleneck goes through maeid.train's own trainer (GPU when there is one)."""
    from maeid.train.bottleneck import train_bottleneck

    if cfg.steps is None:
        raise ValueError("--arch vit trains for a number of --steps; it has no time budget")
    history: list[float] = []
    train_bottleneck(net, images, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                     seed=cfg.seed, weight_decay=0.0,
                     warmup_steps=min(cfg.warmup_steps, cfg.steps), progress=progress,
                     history=history)  # fmt: skip
    return cfg.steps, float(np.mean(history[-50:]))


def _train_mlp(net, inputs, targets, cfg, fixed, progress) -> tuple[int, float | None]:
    """AdamW, linear warm-up, then cosine decay over whichever budget (steps, seconds) ends
    first."""
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = len(inputs)
    total = cfg.steps if cfg.steps is not None else 10**9
    bar = tqdm(total=cfg.steps, disable=not progress, desc=fixed.describe(), unit="step",
               leave=False)  # fmt: skip
    start = time.perf_counter()
    order, cursor, step, ema = torch.randperm(n, generator=gen), 0, 0, None
    net.train()
    while step < total:
        elapsed = time.perf_counter() - start
        done = step / total if cfg.seconds is None else max(step / total, elapsed / cfg.seconds)
        if done >= 1.0:
            break
        warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
        for group in opt.param_groups:
            group["lr"] = cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * done))
        if cursor + cfg.batch_size > n:
            order, cursor = torch.randperm(n, generator=gen), 0
        idx = order[cursor : cursor + cfg.batch_size]
        cursor += cfg.batch_size
        loss = net(inputs[idx], targets[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = loss.item()
        if not math.isfinite(value):
            raise ValueError(f"bottleneck loss is {value} at step {step + 1}; lower --lr")
        ema = value if ema is None else 0.98 * ema + 0.02 * value
        step += 1
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{ema:.4f}")
    bar.close()
    return step, ema


def _mlp_setup(spec, fixed, theory, train: Sample, held_out: Sample, cfg):
    from maeid.mae.mlp_bottleneck import MLPBottleneck

    visible = [x for x in spec.observed if x not in fixed.masked]
    masked = [x for x in spec.observed if x in fixed.masked]

    def stack(sample: Sample, names: list[str]) -> np.ndarray:
        return np.concatenate([sample.observed[x] for x in names], axis=1)

    vis_tr, vis_ev, tgt_tr = stack(train, visible), stack(held_out, visible), stack(train, masked)
    # Standardise with training statistics, so one learning rate fits every model.
    mu_v, sd_v = vis_tr.mean(0), vis_tr.std(0) + 1e-6
    mu_t, sd_t = tgt_tr.mean(0), tgt_tr.std(0) + 1e-6
    net = MLPBottleneck(vis_tr.shape[1], theory.code_dim, tgt_tr.shape[1], cfg.hidden, cfg.depth)
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    return (
        net,
        as_t((vis_tr - mu_v) / sd_v),
        as_t((tgt_tr - mu_t) / sd_t),
        as_t((vis_ev - mu_v) / sd_v),
    )


def _vit_setup(spec, fixed, theory, train: Sample, held_out: Sample):
    from maeid.mae.bottleneck import BottleneckMAE

    if fixed.token_mask is None:
        raise ValueError("--arch vit needs masks drawn by ratio and unit (token masks)")
    c, h, w = spec.image_shape
    net = BottleneckMAE(fixed.token_mask, theory.code_dim, img_size=(h, w),
                        patch_size=default_patch_size(spec), in_chans=c)  # fmt: skip
    return net, torch.from_numpy(train.images), torch.from_numpy(held_out.images)


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None
