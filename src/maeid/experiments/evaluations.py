"""The measurements a sweep point runs after training, by name, as report metrics.

A sweep's `evaluate` names any of:

- `identifiability` (synthetic data): the practical regime (docs/theory.md)
  (`maeid.evaluate.practical`): R² per latent level from the mean-pooled encoder output
  and region-pooled encoder output on the visible tokens of masks from the training
  sampler, and on the full image, on held-out samples; beside the same encoder at
  initialisation (the floor), the theory's exact prediction and the exact limit given
  the visible side, for the same sampler. Options: `samples` (held-out samples, 2000),
  `landmarks` and `max_train` (the kernel ridge's size), `untrained_baseline` (measure
  the floor; true), `region_readout` (the per-latent region readout; true).
- `symbols` (rhm32 data only): per level (0 = the class .. L = the leaf symbols), linear
  probe and kNN accuracy of the encoder's features on the full image and on the visible
  tokens of masks from the training sampler (`maeid.evaluate.symbols`), beside the same
  encoder at initialisation and a probe on the view's pixels (the floors), chance and
  the Bayes limit of each view (belief propagation on the whole image, or on the same
  masks' visible pixels); with the
  theory's profile of the run's (ratio, unit): d_c in bits, the share of c at each level
  and P(a level's latent is in S). Options: `samples` (held-out test samples, 2000),
  `max_train` (the probes' training samples, 4000), `probe_epochs` (30), `pool` (the
  readout the metrics hold, `mean`, `cls` or `tokens`; all three land in
  `RUN_DIR/eval/symbols.json`).
- `shape_bias`, `rendition` (rhm32): cue-conflict shape bias and rendition-shift accuracy
  beside their references (`maeid.experiments.texture_evaluations`).
- `probe`, `knn`, `tsne`, `reconstruction`, `attention`, `robustness` (the paper's
  real-image measurements, `maeid.evaluate.suite`). Options are `EvalOptions` fields
  (`max_train`, `max_test`, `probe_epochs`, `pool`, ...), shared by these measures.

`run_evaluations` returns `(metrics, artefacts)` under the names the report reads
(see `maeid.experiments.report` and `maeid.experiments.report_symbols`); everything the
suite's measures compute also lands in `RUN_DIR/eval/eval.json`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from maeid.evaluate.symbols import POOLS
from maeid.evaluate.texture_measures import MEASURES as TEXTURE_MEASURES
from maeid.experiments.texture_evaluations import texture_evaluation
from maeid.mae.model import untrained_copy
from maeid.train.config import TrainConfig

Metrics = dict[str, Any]
Artefacts = dict[str, str]

# Our names -> maeid.evaluate.suite's measure names.
SUITE_MEASURES = {
    "probe": "probe",
    "knn": "knn",
    "tsne": "tsne",
    "reconstruction": "recon",
    "attention": "attention",
    "robustness": "robustness",
}
HELD_OUT_SEED_OFFSET = 1_000_003  # held-out synthetic samples never overlap training ones
PROBE_TRAIN_SEED_OFFSET = 2_000_003  # the probes' own training split, apart from both
THEORY_MASKS = 2000  # masks the theory's profile of a run's cell averages over
# Figures of the suite that the report shows per run, by artefact name.
FIGURES = {
    "tsne.png": "tsne",
    "cls_attention.png": "attention",
    "reconstructions.png": "reconstructions",
}


def run_evaluations(
    requested: Mapping[str, Mapping[str, Any]], model: nn.Module, cfg: TrainConfig, run_dir: Path
) -> tuple[Metrics, Artefacts]:
    """Run the requested evaluations on the trained `model`; merged metrics and artefacts."""
    unknown = sorted(set(requested) - set(EVALUATIONS))
    if unknown:
        raise ValueError(f"unknown evaluation(s) {unknown}; available: {list(EVALUATIONS)}")
    model.eval()
    metrics: Metrics = {}
    artefacts: Artefacts = {}
    with torch.no_grad():
        for name, evaluation in KNOWN_LATENT_EVALUATIONS.items():
            if name in requested:
                metrics[name], found = evaluation(model, cfg, requested[name] or {}, run_dir)
                artefacts.update(found)
        suite = {k: v for k, v in requested.items() if k in SUITE_MEASURES}
        if suite:
            m, a = _suite(model, cfg, run_dir / "eval", suite)
            metrics.update(m)
            artefacts.update(a)
    return metrics, artefacts


IDENTIFIABILITY_OPTIONS = (
    "samples", "landmarks", "max_train", "untrained_baseline", "region_readout",
)  # fmt: skip
# read the rhm32 model's symbols
RHM_EVALUATIONS = ("symbols", "information", "class_probe", *TEXTURE_MEASURES)


def check_evaluations(requested: Mapping[str, Mapping[str, Any]], data: Mapping[str, Any]) -> None:
    """Refuse before training what would fail after it: an unknown evaluation or option, or
    a measure that the run's data (its training config's `data` section) cannot support."""
    from maeid.evaluate.suite import EvalOptions
    from maeid.experiments.texture_evaluations import OPTIONS as TEXTURE_OPTIONS
    from maeid.hlvm.random_hierarchy import is_rhm_name

    unknown = sorted(set(requested) - set(EVALUATIONS))
    if unknown:
        raise ValueError(f"unknown evaluation(s) {unknown}; available: {list(EVALUATIONS)}")
    known = {
        "identifiability": IDENTIFIABILITY_OPTIONS,
        "symbols": SYMBOL_OPTIONS,
        "information": INFORMATION_OPTIONS,
        "class_probe": CLASS_PROBE_OPTIONS,
        **dict.fromkeys(TEXTURE_MEASURES, tuple(sorted(TEXTURE_OPTIONS))),
        **dict.fromkeys(SUITE_MEASURES, (*EvalOptions.__dataclass_fields__, "data")),
    }
    synthetic = data.get("source") == "synthetic"
    rhm = synthetic and is_rhm_name(str(data.get("model", "")))
    for name, options in requested.items():
        wrong = sorted(set(options or {}) - set(known[name]))
        if wrong:
            raise ValueError(f"unknown {name} option(s) {wrong}; known: {list(known[name])}")
        if name == "identifiability" and not synthetic:
            raise ValueError(
                f"identifiability needs synthetic data with known latents, not data.source="
                f"{data.get('source')!r}; drop it from `evaluate` or use probe/knn/robustness"
            )
        if name in RHM_EVALUATIONS and not rhm:
            raise ValueError(
                f"{name} needs the rhm32 model's symbols, not data.model="
                f"{data.get('model')!r}; train on rhm32 (or rhm32:knob=value,...) or drop it"
            )
        pool = (options or {}).get("pool", "mean")
        if name in RHM_EVALUATIONS and pool not in POOLS:
            raise ValueError(f"{name} pool {pool!r}: use one of {', '.join(POOLS)}")
        if name == "class_probe" and "budgets" in (options or {}):
            _budgets(options["budgets"])


def identifiability(
    model: nn.Module, cfg: TrainConfig, options: Mapping[str, Any], run_dir: Path | None = None
) -> tuple[Metrics, Artefacts]:
    """Predicted and measured R² per latent level, P(level in S) and P(level in c)."""
    from maeid.data import load_synthetic
    from maeid.evaluate.practical import practical_identifiability
    from maeid.evaluate.regression import RegressorConfig

    if cfg.data.source != "synthetic":
        raise ValueError(
            f"identifiability needs synthetic data with known latents, not data.source="
            f"{cfg.data.source!r}; drop it from `evaluate` or use probe/knn/robustness"
        )
    n = int(options.get("samples", 2000))
    held_out = load_synthetic(
        cfg.data.model,
        n,
        cfg.data.seed + HELD_OUT_SEED_OFFSET,
        cfg.data.model_seed,
        tuple(cfg.data.mean) or None,
        tuple(cfg.data.std) or None,
    )
    regressor = RegressorConfig(
        n_landmarks=int(options.get("landmarks", 1000)),
        max_train=int(options.get("max_train", 8000)),
        seed=cfg.run.seed,
    )
    untrained = None
    if options.get("untrained_baseline", True):
        untrained = untrained_copy(model, cfg.run.seed)  # the run's initialisation
    result = practical_identifiability(
        model,
        held_out.model,
        held_out.images.batch(torch.arange(n)),
        held_out.latents,
        cfg.mask.ratio,
        regressor,
        seed=cfg.run.seed,
        untrained=untrained,
        region=bool(options.get("region_readout", True)),
    )
    names = {
        "predicted": "predicted",
        "limit_visible": "limit_visible",
        "measured": "measured_visible_tokens",
        "measured_full": "measured_full_image",
        "measured_region": "measured_visible_tokens_region",
        "measured_region_full": "measured_full_image_region",
        "untrained": "measured_untrained_visible_tokens",
        "untrained_full": "measured_untrained_full_image",
        "p_shared": "p_in_S",
        "p_identified": "p_in_c",
    }
    per_level = result["per_level"]
    return {
        ours: {f"level_{lv}": per_level[lv][theirs] for lv in sorted(per_level)}
        for ours, theirs in names.items()
        if theirs in per_level[min(per_level)]
    }, {}


SYMBOL_OPTIONS = ("samples", "max_train", "probe_epochs", "pool")
# evaluate_symbols' views -> the suffix of their metric names
SYMBOL_VIEWS = {"full_image": "full", "visible_tokens": "visible"}


def symbols(
    model: nn.Module, cfg: TrainConfig, options: Mapping[str, Any], run_dir: Path
) -> tuple[Metrics, Artefacts]:
    """Per-level symbol accuracy of an rhm32 run beside its floor, chance, Bayes limits and
    the theory's profile of its (ratio, unit); names in `symbol_metrics`."""
    from maeid.data import load_synthetic
    from maeid.evaluate.artifacts import write_json
    from maeid.evaluate.probe import ProbeConfig
    from maeid.evaluate.symbols import evaluate_symbols
    from maeid.hlvm.random_hierarchy import is_rhm_name

    if cfg.data.source != "synthetic" or not is_rhm_name(str(cfg.data.model)):
        what = cfg.data.source if cfg.data.source != "synthetic" else cfg.data.model
        raise ValueError(
            f"symbols needs the rhm32 model's symbols, not data {what!r}; train on "
            "data.model: rhm32 (or rhm32:knob=value,...), or drop `symbols` from `evaluate`"
        )
    unknown = sorted(set(options) - set(SYMBOL_OPTIONS))
    if unknown:
        raise ValueError(f"unknown symbols option(s) {unknown}; known: {list(SYMBOL_OPTIONS)}")
    pool = str(options.get("pool", "mean"))
    if pool not in POOLS:
        raise ValueError(f"symbols pool {pool!r}: use one of {', '.join(POOLS)}")
    n_test, n_train = int(options.get("samples", 2000)), int(options.get("max_train", 4000))
    if n_test < 2 or n_train < 2:
        raise ValueError(
            f"symbols samples={n_test}, max_train={n_train}: a probe needs at least 2 of each"
        )
    mean, std = tuple(cfg.data.mean) or None, tuple(cfg.data.std) or None
    splits = [
        load_synthetic(cfg.data.model, n, cfg.data.seed + offset, cfg.data.model_seed, mean, std)
        for n, offset in ((n_train, PROBE_TRAIN_SEED_OFFSET), (n_test, HELD_OUT_SEED_OFFSET))
    ]
    train, test = splits
    untrained = untrained_copy(model, cfg.run.seed)  # the floor: the run's initialisation
    result = evaluate_symbols(
        model, test.model,
        train.images.batch(torch.arange(n_train)), train.latents,
        test.images.batch(torch.arange(n_test)), test.latents,
        test.images.mean, test.images.std, cfg.mask.ratio, untrained=untrained,
        config=ProbeConfig(int(options.get("probe_epochs", 30)), seed=cfg.run.seed),
        seed=cfg.run.seed, pools=(pool,),
    )  # fmt: skip
    theory = cell_theory(test.model, cfg.mask.ratio, int(model.mask_unit), int(model.patch_size))
    path = Path(run_dir) / "eval" / "symbols.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"pool": pool, **result, "theory": theory})
    return symbol_metrics(result, theory, pool), {"symbols_json": str(path)}


INFORMATION_OPTIONS = ("samples", "max_train", "probe_epochs", "pool")
CLASS_PROBE_OPTIONS = ("samples", "budgets", "hidden", "max_epochs", "patience", "pool")
READOUT_POOL = "tokens"  # information and class_probe read every token at its position


def _rhm_splits(cfg: TrainConfig, name: str, n_train: int, n_test: int):
    """The probes' training split and the held-out test split of an rhm32 run, drawn from
    the run's `data.seed` (so a study seed that sets it varies them), as `symbols` draws
    them: (train, test) samples of `load_synthetic`."""
    from maeid.data import load_synthetic
    from maeid.hlvm.random_hierarchy import is_rhm_name

    if cfg.data.source != "synthetic" or not is_rhm_name(str(cfg.data.model)):
        what = cfg.data.source if cfg.data.source != "synthetic" else cfg.data.model
        raise ValueError(
            f"{name} needs the rhm32 model's symbols, not data {what!r}; train on "
            f"data.model: rhm32 (or rhm32:knob=value,...), or drop `{name}` from `evaluate`"
        )
    if n_test < 2 or n_train < 2:
        raise ValueError(f"{name} samples={n_test}, training images={n_train}: a probe needs "
                         "at least 2 of each")  # fmt: skip
    mean, std = tuple(cfg.data.mean) or None, tuple(cfg.data.std) or None
    return [
        load_synthetic(cfg.data.model, n, cfg.data.seed + offset, cfg.data.model_seed, mean, std)
        for n, offset in ((n_train, PROBE_TRAIN_SEED_OFFSET), (n_test, HELD_OUT_SEED_OFFSET))
    ]


def _options(name: str, options: Mapping[str, Any], known: tuple[str, ...]) -> str:
    """The readout's pool, after refusing unknown options."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown {name} option(s) {unknown}; known: {list(known)}")
    pool = str(options.get("pool", READOUT_POOL))
    if pool not in POOLS:
        raise ValueError(f"{name} pool {pool!r}: use one of {', '.join(POOLS)}")
    return pool


def information(
    model: nn.Module, cfg: TrainConfig, options: Mapping[str, Any], run_dir: Path
) -> tuple[Metrics, Artefacts]:
    """Per level and view, linear probes' cross-entropy beside H_Bayes and G
    (`maeid.evaluate.information_probes`); names in `information_metrics`."""
    from maeid.evaluate.artifacts import write_json
    from maeid.evaluate.information_probes import evaluate_information
    from maeid.evaluate.probe import ProbeConfig

    pool = _options("information", options, INFORMATION_OPTIONS)
    n_test, n_train = int(options.get("samples", 2000)), int(options.get("max_train", 4000))
    train, test = _rhm_splits(cfg, "information", n_train, n_test)
    result = evaluate_information(
        model, test.model, train.images.batch(torch.arange(n_train)), train.latents,
        test.images.batch(torch.arange(n_test)), test.latents, test.images.mean,
        test.images.std, cfg.mask.ratio, untrained_copy(model, cfg.run.seed),
        ProbeConfig(int(options.get("probe_epochs", 30)), seed=cfg.run.seed),
        seed=cfg.run.seed, pool=pool,
    )  # fmt: skip
    path = Path(run_dir) / "eval" / "information.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, result)
    return information_metrics(result), {"information_json": str(path)}


def information_metrics(result: Mapping[str, Any]) -> Metrics:
    """`evaluate_information`'s result as report metrics, per view (`full`, `visible`) and
    level k: `ce_<view>.level_k` (the trained encoder's probes), `untrained_ce_<view>`,
    `pixels_ce_<view>`, `bayes_ce_<view>` (H_Bayes), `gain_share_<view>` (G of the trained
    encoder), `pixels_gain_share_<view>` and `gap_se_<view>` (the floor-to-Bayes gap in
    standard errors)."""
    metrics: Metrics = {}
    for view, short in SYMBOL_VIEWS.items():
        if view not in result:
            continue
        res = result[view]
        for who, prefix in (("trained", ""), ("untrained", "untrained_"), ("pixels", "pixels_")):
            metrics[f"{prefix}ce_{short}"] = _levels(res["ce"][who])
        metrics[f"bayes_ce_{short}"] = _levels(res["bayes_ce"])
        for who, prefix in (("trained", ""), ("pixels", "pixels_")):
            metrics[f"{prefix}gain_share_{short}"] = _levels(res["gain_share"][who])
        metrics[f"gap_se_{short}"] = _levels(res["gap_se"])
    return metrics


def class_probe(
    model: nn.Module, cfg: TrainConfig, options: Mapping[str, Any], run_dir: Path
) -> tuple[Metrics, Artefacts]:
    """The class-only MLP probe at each label budget (`maeid.evaluate.class_probe`);
    names in `class_probe_metrics`."""
    from maeid.evaluate.artifacts import write_json
    from maeid.evaluate.class_probe import BUDGETS, MLPProbeConfig
    from maeid.evaluate.class_probe import evaluate_class_probe as run_probe

    pool = _options("class_probe", options, CLASS_PROBE_OPTIONS)
    budgets = _budgets(options.get("budgets", BUDGETS))
    n_test = int(options.get("samples", 2000))
    train, test = _rhm_splits(cfg, "class_probe", max(budgets), n_test)
    defaults = MLPProbeConfig()
    config = MLPProbeConfig(
        hidden=int(options.get("hidden", defaults.hidden)),
        max_epochs=int(options.get("max_epochs", defaults.max_epochs)),
        patience=int(options.get("patience", defaults.patience)),
        seed=cfg.run.seed,
    )
    result = run_probe(
        model, test.model, train.images.batch(torch.arange(max(budgets))), train.latents,
        test.images.batch(torch.arange(n_test)), test.latents, test.images.mean,
        test.images.std, cfg.mask.ratio, untrained_copy(model, cfg.run.seed), budgets,
        config, seed=cfg.run.seed, pool=pool,
    )  # fmt: skip
    path = Path(run_dir) / "eval" / "class_probe.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, result)
    return class_probe_metrics(result), {"class_probe_json": str(path)}


def _budgets(value: Any) -> tuple[int, ...]:
    """A `class_probe` option `budgets` (a list of label counts, or one) as checked ints."""
    from maeid.evaluate.class_probe import check_budgets

    return check_budgets(value if isinstance(value, list | tuple) else [value])


def class_probe_metrics(result: Mapping[str, Any]) -> Metrics:
    """`evaluate_class_probe`'s result as report metrics, per view (`full`, `visible`) and
    budget n: `accuracy_<view>.budget_n` and `ce_<view>.budget_n` (the trained encoder),
    the same under `untrained_` and `pixels_`; `bayes_accuracy_<view>`, `bayes_ce_<view>`
    and `chance_<view>`."""
    metrics: Metrics = {}
    for view, short in SYMBOL_VIEWS.items():
        if view not in result:
            continue
        res = result[view]
        for who, prefix in (("trained", ""), ("untrained", "untrained_"), ("pixels", "pixels_")):
            for score in ("accuracy", "ce"):
                metrics[f"{prefix}{score}_{short}"] = {
                    f"budget_{int(n)}": float(s[score]) for n, s in sorted(
                        res[who].items(), key=lambda item: int(item[0]))
                }  # fmt: skip
        metrics[f"bayes_accuracy_{short}"] = float(res["bayes"]["accuracy"])
        metrics[f"bayes_ce_{short}"] = float(res["bayes"]["ce"])
        metrics[f"chance_{short}"] = float(res["chance"])
    return metrics


# The per-reader readouts of `evaluate_symbols` that become report metrics.
SYMBOL_MEASURES = ("probe", "knn", "rules", "rules_from")


def symbol_metrics(
    result: Mapping[str, Any], theory: Mapping[str, Any], pool: str = "mean"
) -> Metrics:
    """`evaluate_symbols`' result for one pool, and the cell's theory, as report metrics.

    Per view (`full`, `visible`) and level k: `probe_<view>.level_k` and
    `knn_<view>.level_k` (the trained encoder), `untrained_probe_<view>` and
    `untrained_knn_<view>` (the floor), `pixels_probe_<view>` and `pixels_knn_<view>` (the
    view's pixels), `bayes_<view>`; `rules_<view>.level_0`, `untrained_rules_<view>` and
    `pixels_rules_<view>` (the class through the root's rules from the level-1 probes);
    `rules_from_<view>.level_k` and its floors (the class climbed through the rules from
    the level-k probes, k >= 1);
    `chance.level_k`; the theory's `d_c_bits`, `c_share.level_k` and `p_in_S.level_k`.
    """
    metrics: Metrics = {}
    for view, short in SYMBOL_VIEWS.items():
        res = result[view]
        for who, prefix in (("trained", ""), ("untrained", "untrained_")):
            if who not in res:
                continue
            for measure in SYMBOL_MEASURES:
                if measure in res[who][pool]:
                    metrics[f"{prefix}{measure}_{short}"] = _levels(res[who][pool][measure])
        if "pixels" in res:
            for measure in SYMBOL_MEASURES:
                if measure in res["pixels"]:
                    metrics[f"pixels_{measure}_{short}"] = _levels(res["pixels"][measure])
        metrics[f"bayes_{short}"] = _levels(res["bayes"])
    metrics["chance"] = _levels(result["full_image"]["trained"][pool]["chance"])
    metrics.update(rules_share_metrics(result, pool))
    metrics["d_c_bits"] = theory["d_c_bits"]
    metrics["c_share"] = _levels(theory["c_share"])
    metrics["p_in_S"] = _levels(theory["p_in_S"])
    return metrics


def rules_share_metrics(result: Mapping[str, Any], pool: str = "mean") -> Metrics:
    """Per view, the share of the floor-to-Bayes gap that the trained encoder's class
    through the rules from the level-1 probes closes (`rules_share`), the gap in binomial
    standard errors at the floor (`rules_gap_se`) and whether it is readable
    (`rules_readable`, 1 or 0; `maeid.evaluate.rules_share`). Empty without the floor."""
    from maeid.evaluate.rules_share import rules_share

    out: Metrics = {"rules_share": {}, "rules_gap_se": {}, "rules_readable": {}}
    for view, short in SYMBOL_VIEWS.items():
        res = result[view]
        if "untrained" not in res:
            return {}
        share = rules_share(res["trained"][pool]["rules"][0], res["untrained"][pool]["rules"][0],
                            res["bayes"][0], int(result["test"]))  # fmt: skip
        out["rules_share"][short] = share.share
        out["rules_gap_se"][short] = share.gap_se
        out["rules_readable"][short] = float(share.readable)
    return out


def cell_theory(model, ratio: float, unit: int, patch: int) -> dict[str, Any]:
    """The theory's profile of one (ratio, unit) on an rhm32 model, over `THEORY_MASKS`
    masks of the training sampler: the mean d_c in bits (`model.code_bits` of S(m)), the
    mean share of c's members at each level, and P(a level-k latent is in S(m)).

    d_c in bits is linear in S's membership, so its mean is the per-latent P(in S)
    weighted by each latent's bits.
    """
    import numpy as np

    from maeid.theory import theory_profile

    profile = theory_profile(model.spec, [ratio], [unit], THEORY_MASKS, seed=0, patch_size=patch)
    cell = profile.cells[0]
    if not cell.valid:
        raise ValueError(f"ratio {ratio} at unit {unit} px cannot be profiled: {cell.reason}")
    p_shared = np.asarray(cell.p_shared, dtype=float)
    bits = np.array([model.latent_bits(z) for z in profile.latents])
    levels = np.asarray(profile.latent_levels)
    return {
        "d_c_bits": float(p_shared @ bits),
        "c_share": {int(lv): float(cell.c_level_share[i]) for i, lv in enumerate(profile.levels)},
        "p_in_S": {int(lv): float(p_shared[levels == lv].mean()) for lv in profile.levels},
    }


def _levels(per_level: Mapping[Any, float]) -> dict[str, float]:
    return {
        f"level_{int(lv)}": float(v) for lv, v in sorted(per_level.items(), key=lambda i: int(i[0]))
    }


def _texture(name: str):
    def evaluation(model, cfg, options, run_dir) -> tuple[Metrics, Artefacts]:
        return texture_evaluation(name, model, cfg, options), {}

    return evaluation


# Evaluations that read a synthetic run's known latents, by name: (model, cfg, options,
# run folder) -> (metrics, artefacts). The report reads `metrics[name]`.
KNOWN_LATENT_EVALUATIONS: dict[
    str, Callable[[nn.Module, TrainConfig, Mapping[str, Any], Path], tuple[Metrics, Artefacts]]
] = {
    "identifiability": identifiability,
    "symbols": symbols,
    "information": information,
    "class_probe": class_probe,
    **{name: _texture(name) for name in TEXTURE_MEASURES},
}
EVALUATIONS = (*KNOWN_LATENT_EVALUATIONS, *SUITE_MEASURES)


def _suite(
    model: nn.Module, cfg: TrainConfig, out: Path, requested: Mapping[str, Mapping[str, Any]]
) -> tuple[Metrics, Artefacts]:
    from maeid.evaluate.suite import EvalOptions, evaluate_checkpoint, load_eval_data

    merged: dict[str, Any] = {}
    for options in requested.values():
        merged.update(options or {})
    source = merged.pop("data", cfg.data.source)
    fields = set(EvalOptions.__dataclass_fields__)
    unknown = sorted(set(merged) - fields)
    if unknown:
        raise ValueError(f"unknown evaluation option(s) {unknown}; known: {sorted(fields)}")
    opts = EvalOptions(**{"progress": False, "seed": cfg.run.seed, **merged})
    data = load_eval_data(source, cfg, model, opts)
    measures = [SUITE_MEASURES[name] for name in requested]
    result = evaluate_checkpoint(model, cfg, data, measures, out, opts)
    metrics: Metrics = {}
    if "probe" in result:
        metrics.setdefault("probe", {})["linear_top1"] = result["probe"]["top1"]
    if "knn" in result:
        metrics.setdefault("probe", {})["knn_top1"] = result["knn"]["top1"]
    if "robustness" in result:
        metrics["robustness"] = {
            "mean_top1": result["robustness"]["mean"],
            "clean_top1": result["robustness"]["clean"],
        }
    if "recon" in result:
        # {"masked": {mse, psnr, ssim, fsim}, "composed": ...}, and the plateau below
        metrics["recon"] = copy.deepcopy(result["recon"])
        metrics["recon"]["masked"]["mean_predictor_mse"] = mean_predictor_mse(
            data.test_images[: opts.recon_images], data.std
        )
    if "attention" in result:
        distances = result["attention"]["mean_distance_per_layer"]
        metrics["attention"] = {"mean_distance_last_layer": distances[-1]}
        for key in ("cls_attention_on_object", "object_area"):
            if key in result["attention"]:
                metrics["attention"][key] = result["attention"][key]
    artefacts = {"eval_json": str(out / "eval.json")}
    for figure in result["figures"]:
        name = FIGURES.get(Path(figure).name)
        if name:
            artefacts[name] = figure
    return metrics, artefacts


def mean_predictor_mse(images: torch.Tensor, std: tuple[float, ...]) -> float:
    """MSE, in the data's own units (those of `recon.*.mse`), of predicting every pixel by
    the training set's per-channel mean: the plateau a reconstruction must get below.

    `images` are normalised by the training set's mean and std, so the mean is 0 there
    and a pixel's error is its normalised value times its channel's std. Masks are
    uniform over the image, so all pixels estimate the masked ones without bias.
    """
    scale = torch.tensor(std, dtype=torch.float64).view(1, -1, 1, 1)
    return float(((images.double() * scale) ** 2).mean())
