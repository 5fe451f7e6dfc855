"""`maeid evaluate`: probe, kNN, t-SNE, reconstructions, attention, robustness, identifiability.

maeid evaluate runs/fmnist --data fashion_mnist --out runs/fmnist/eval
maeid evaluate runs/qt32/checkpoints/last.pt --data synthetic --measure recon,attention,identify
"""

from __future__ import annotations

import argparse
from pathlib import Path

from maeid.cli.help_format import ShowDefaults
from maeid.cli.threads import add_threads_argument
from maeid.evaluate.suite import MEASURES
from maeid.evaluate.symbols import POOLS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="measure a trained MAE: probe, kNN, t-SNE, reconstruction, attention, robustness, "
        "R² per latent level",
        description="Evaluate a checkpoint written by `maeid train` on held-out data and write "
        "eval.json (every number) plus figures. Labelled data (Fashion-MNIST) supports "
        "probe, knn, tsne and robustness; synthetic data (true latents) supports identify "
        "(the practical regime: R² per latent level of the masked and the full-image "
        "representation, beside the theory's profile for the checkpoint's ratio and unit), "
        "or for rhm32 symbols (probe and kNN accuracy per level, and the class read through "
        "the grammar's rules from the level-1 probes, and climbed to from each deeper "
        "level's probes, beside the untrained encoder, the "
        "pixels and the Bayes limit), shape_bias (cue-conflict shape bias of a linear class "
        "probe and of the class read through the rules, beside the untrained, pixel and "
        "Bayes references), rendition (the same two readouts under shifted patch "
        "dictionaries, beside the pixels and the ideal observer), information (per level, "
        "the linear probes' cross-entropy beside the exact H_Bayes, and G, the share of the "
        "untrained floor's gap to it that the encoder closes) and class_probe (a one-hidden-"
        "layer probe trained on class labels alone at each --class-budgets, beside the "
        "untrained encoder, the pixels and the Bayes classifier); "
        "recon and attention work on any data.",
        formatter_class=ShowDefaults,
    )
    p.add_argument("checkpoint", help="a checkpoint file or a run directory (checkpoints/last.pt)")
    p.add_argument(
        "--data",
        default=None,
        help="fashion_mnist, synthetic (held-out samples of the checkpoint's model), a .npz "
        "from `maeid synth`, or a folder of Fashion-MNIST IDX files; default: the "
        "checkpoint's own source",
    )
    p.add_argument(
        "--measure",
        default=None,
        help=f"comma-separated subset of {','.join(MEASURES)}; default: all the data supports",
    )
    p.add_argument("--out", default=None, help="output folder (default: RUN_DIR/eval)")
    p.add_argument(
        "--pool", choices=POOLS, default="cls",
        help="features to probe: [CLS], mean of the patch tokens, or all tokens side by "
        "side (tokens x width features: meant for small models such as rhm32's)",
    )  # fmt: skip
    p.add_argument("--max-train", type=int, default=10000, help="training images for probe/kNN")
    p.add_argument("--max-test", type=int, default=2000, help="test images (or samples)")
    p.add_argument("--recon-images", type=int, default=256, help="images scored for recon")
    p.add_argument(
        "--robust-images", type=int, default=1000, help="test images per corruption/severity"
    )
    p.add_argument("--probe-epochs", type=int, default=30)
    p.add_argument(
        "--class-budgets", default="1000,8000",
        help="labelled images of the class-only probe (class_probe), comma-separated",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=int, default=None,
        help="seed of masks, subsets, probe, t-SNE and the untrained floor's initialisation; "
        "default: the checkpoint's run.seed, so the floor is the run's own starting point, "
        "as in a sweep",
    )  # fmt: skip
    add_threads_argument(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from maeid.cli.threads import free_cores
    from maeid.evaluate.suite import EvalOptions, evaluate_checkpoint, load_eval_data
    from maeid.output_path import check_output_dir
    from maeid.train.checkpoint import load_checkpoint

    if args.threads < 0:
        raise ValueError(f"--threads {args.threads}: use a positive count, or 0 for the free cores")
    for flag in ("max_train", "max_test", "recon_images", "robust_images", "probe_epochs"):
        if getattr(args, flag) < 1:
            value = getattr(args, flag)
            raise ValueError(f"--{flag.replace('_', '-')} {value}: must be at least 1")
    budgets = class_budgets(args.class_budgets)
    if args.out:
        check_output_dir(args.out)
    model, cfg = load_checkpoint(args.checkpoint)
    ckpt = Path(args.checkpoint)
    out = Path(args.out) if args.out else (ckpt if ckpt.is_dir() else ckpt.parent.parent) / "eval"
    check_output_dir(out, "--out" if args.out else "the default --out")  # before hours of work
    opts = EvalOptions(
        pool=args.pool,
        max_train=args.max_train,
        max_test=args.max_test,
        recon_images=args.recon_images,
        robust_images=args.robust_images,
        probe_epochs=args.probe_epochs,
        class_budgets=budgets,
        seed=cfg.run.seed if args.seed is None else args.seed,
        progress=not args.no_progress,
        threads=args.threads or free_cores(),
    )
    source = args.data or cfg.data.source
    if source == "image_folder":
        raise ValueError("image folders have no held-out split here; pass --data explicitly")
    measures = [m.strip() for m in args.measure.split(",") if m.strip()] if args.measure else None
    with torch.no_grad():
        data = load_eval_data(source, cfg, model, opts)
    result = evaluate_checkpoint(model, cfg, data, measures, out, opts, str(args.checkpoint))
    print(format_summary(result, opts.pool))
    print(f"wrote {out / 'eval.json'}" + "".join(f", {f}" for f in result["figures"]))
    return 0


def class_budgets(text: str) -> tuple[int, ...]:
    """`--class-budgets 1000,8000` as checked label counts."""
    from maeid.evaluate.class_probe import check_budgets

    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"--class-budgets {text!r}: give whole numbers of labelled images, e.g. 1000,8000"
        ) from None
    try:
        return check_budgets(values)
    except ValueError as err:
        raise ValueError(f"--class-budgets {text!r}: {err}") from None


def format_summary(result: dict, pool: str = "cls") -> str:
    """A few lines a researcher reads first (the `pool` readout where there are several);
    eval.json holds everything."""
    lines = [
        f"{result['checkpoint']} on {result['data']} (mask ratio {result['mask_ratio']}, "
        f"unit {result['mask_unit']}px)"
    ]
    if "probe" in result:
        lines.append(
            f"  linear probe top-1 ({result['probe']['pool']}): "
            f"{100 * result['probe']['top1']:.2f}%"
        )
    if "knn" in result:
        lines.append(f"  kNN (k=20, cosine) top-1: {100 * result['knn']['top1']:.2f}%")
    if "recon" in result:
        for part in ("masked", "composed"):
            q = result["recon"][part]
            lines.append(
                f"  reconstruction, {part:>8}: MSE {q['mse']:.4f}  PSNR {q['psnr']:.2f} dB"
                f"  SSIM {q['ssim']:.3f}  FSIM {q['fsim']:.3f}"
            )
    if "attention" in result:
        d = result["attention"]["mean_distance_per_layer"]
        lines.append(
            "  mean attention distance per layer (px): " + ", ".join(f"{v:.1f}" for v in d)
        )
        if "cls_attention_on_object" in result["attention"]:
            a = result["attention"]
            lines.append(
                f"  last-layer [CLS] attention on the object: "
                f"{100 * a['cls_attention_on_object']:.1f}% (the object covers "
                f"{100 * a['object_area']:.1f}% of the patches)"
            )
    if "robustness" in result:
        r = result["robustness"]
        lines.append(
            f"  probe under corruptions: clean {100 * r['clean']:.2f}%, mean over "
            f"corruptions x severities {100 * r['mean']:.2f}%"
        )
    if "identify" in result:
        lines.append(
            "  R² per level   P(in S)  predicted  limit(vis)  floor(vis)  visible  region  "
            "full-image"
        )
        for level, v in result["identify"]["per_level"].items():
            lines.append(
                f"    level {level:<6} {v['p_in_S']:>7.2f}  {v['predicted']:>9.3f}  "
                f"{v['limit_visible']:>10.3f}  "
                f"{v.get('measured_untrained_visible_tokens', float('nan')):>10.3f}  "
                f"{v['measured_visible_tokens']:>7.3f}  "
                f"{v.get('measured_visible_tokens_region', float('nan')):>6.3f}  "
                f"{v['measured_full_image']:>10.3f}"
            )
        lines.append(
            "    (predicted and limit(vis) are exact; floor = the encoder at initialisation; "
            "region = each latent from the tokens over its own region)"
        )
    if "symbols" in result:
        from maeid.evaluate.symbols import format_symbols

        lines.append(format_symbols(result["symbols"], pool))
    if "information" in result:
        from maeid.evaluate.information_probes import format_information

        lines.append(format_information(result["information"]))
    if "class_probe" in result:
        from maeid.evaluate.class_probe import format_class_probe

        lines.append(format_class_probe(result["class_probe"]))
    for measure in ("shape_bias", "rendition"):
        if measure in result:
            pairs = ", ".join(f"{k} {v:.3f}" for k, v in result[measure].items())
            lines.append(f"  {measure.replace('_', ' ')}: {pairs}")
    return "\n".join(lines)
