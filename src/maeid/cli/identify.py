"""`maeid identify`: the formal regime (Theorem 2), measured against the theory latent by latent.

maeid identify --model qt32 --mask-ratio 0.75 --mask-unit 16 --steps 2000 --out runs/id
maeid identify --model qt32 --mask-ratio 0.75,0.25,0.9 --mask-unit 16,4,8 --seconds 100 \
    --out runs/id3        # ideal, conservative and aggressive masks in one run
maeid identify --model my_dag.yaml --masked x1,x2 --steps 1000 --out runs/dag
maeid identify --model qt32 --mask-ratio 0.75,0.25,0.9 --mask-unit 16,4,8 --masks 5 --seeds 3 \
    --steps 2000 --out runs/id-stats    # 5 masks x 3 seeds per setting, with 95 % intervals
"""

from __future__ import annotations

import argparse
import dataclasses

from maeid.cli.help_format import ShowDefaults
from maeid.evaluate.regression import METHODS, RegressorConfig
from maeid.formal.config import ARCHITECTURES, IdentifyConfig
from maeid.formal.masks import FixedMask, drawn_masks, named_mask
from maeid.formal.regime import identify_formal
from maeid.output_path import check_output_dir
from maeid.threads import add_threads_argument, resolve_threads


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "identify",
        help="train a d_c bottleneck per fixed mask and compare R² per latent with the theory",
        description="The formal regime of the theory (Theorem 2). For each fixed mask, the "
        "theory gives the shared latents S(m) and the code dimension d_c; a bottleneck "
        "autoencoder predicts the masked observed vectors from a d_c-dimensional code of "
        "the visible ones; then, on held-out samples, the code is regressed onto every "
        "true latent (kernel ridge). Predicted R² is 1 for latents in S(m) and, for the "
        "others, their exact limit R²*(z | S(m)) = 1 - E[Var(z | S(m))] / Var(z), computed "
        "from the known model by nested resampling (± 2 standard errors shown); the R² that "
        "the same regressor reaches from the true S(m) is shown beside it. Verdict per mask "
        "and seed: agrees when every latent of S(m) reaches 0.9 and no other latent exceeds "
        "its limit by more than 0.05 plus its 95% bootstrap half-width; disagrees otherwise "
        "(a NaN disagrees); untestable when S(m) is empty. Every run trains for the same "
        "--steps (or --seconds) and records where it stopped. Prints a table per run and, "
        "over masks and seeds, means with 95% intervals; writes identify.json (one object "
        "per run and latent), masks.json (per-run summaries and the aggregate) and "
        "identify.png.",
        formatter_class=ShowDefaults,
    )
    p.add_argument("--model", default="qt32", help="builder name (e.g. qt32) or a YAML path")
    p.add_argument("--model-seed", type=int, default=0, help="seed of the model's mechanisms")
    masks = p.add_argument_group("masks (drawn by ratio and unit, or named)")
    masks.add_argument(
        "--mask-ratio",
        default=None,
        help="masking ratio(s), comma-separated; paired with --mask-unit (one value of "
        "either is repeated to match the other)",
    )
    masks.add_argument(
        "--mask-unit",
        default=None,
        help="masking unit(s) in pixels for image models (multiples of the patch, the "
        "leaf block), 1 for other models; comma-separated",
    )
    masks.add_argument("--masks", type=int, default=1, help="masks drawn per (ratio, unit)")
    masks.add_argument("--mask-seed", type=int, default=0, help="seed of the mask sampler")
    masks.add_argument(
        "--masked",
        action="append",
        default=[],
        help="a mask given as comma-separated observed node names; repeat for several",
    )
    train = p.add_argument_group("training")
    train.add_argument(
        "--arch",
        choices=ARCHITECTURES,
        default="mlp",
        help="mlp: MLP encoder/decoder on observed vectors (fast); vit: the ViT "
        "BottleneckMAE on images (drawn masks only)",
    )
    train.add_argument("--steps", type=int, default=None, help="training steps per mask")
    train.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="wall-clock budget per mask (the schedule follows whichever budget ends first); "
        "default without --steps: 3000 steps",
    )
    train.add_argument("--batch-size", type=int, default=256)
    train.add_argument("--lr", type=float, default=1e-3, help="peak AdamW learning rate")
    train.add_argument("--hidden", type=int, default=512, help="MLP width")
    train.add_argument("--depth", type=int, default=3, help="MLP layers in encoder and decoder")
    train.add_argument("--train-samples", type=int, default=32000)
    train.add_argument(
        "--eval-samples",
        type=int,
        default=4000,
        help="held-out samples for R² (the regressor fits on 75%% and scores on 25%%)",
    )
    train.add_argument("--seed", type=int, default=0, help="seed of data, init and batches")
    train.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="repeat every mask with this many seeds (--seed, --seed + 1, ...), each with new "
        "data, initialisation and batches",
    )
    # One thread by default: the models are small, and on a busy machine torch's pool
    # spins waiting for cores that other processes hold.
    add_threads_argument(train, default=1)
    p.add_argument(
        "--regressor", choices=METHODS, default="kernel", help="regressor of the R² reported"
    )
    p.add_argument("--out", default=None, help="write identify.json, masks.json, identify.png")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from maeid.formal.report import (
        aggregate_settings,
        format_identify_table,
        format_settings_table,
        write_identify,
    )
    from maeid.hlvm import load_model

    if args.out:
        check_output_dir(args.out)
    if args.seeds < 1:
        raise ValueError(f"--seeds {args.seeds}: repeat at least once (1 = just --seed)")
    _check_training_options(args)
    model = load_model(args.model, seed=args.model_seed)
    masks = _masks(model.spec, args)
    steps = args.steps if (args.steps is not None or args.seconds is not None) else 3000
    config = IdentifyConfig(
        arch=args.arch, steps=steps, seconds=args.seconds, batch_size=args.batch_size,
        lr=args.lr, hidden=args.hidden, depth=args.depth, train_samples=args.train_samples,
        eval_samples=args.eval_samples, seed=args.seed, threads=resolve_threads(args.threads),
        regressor=RegressorConfig(method=args.regressor, seed=args.seed),
    )  # fmt: skip
    seeds = list(range(args.seed, args.seed + args.seeds))
    settings = {"model": args.model, "model_seed": args.model_seed, "seeds": seeds,
                **dataclasses.asdict(config)}  # fmt: skip
    done = []

    def report(result) -> None:  # print and save each mask as soon as it is measured
        done.append(result)
        print(format_identify_table(model.spec, [result]), flush=True)
        if args.out:
            write_identify(args.out, model.spec, done, settings)

    identify_formal(
        model, masks, config, progress=not args.no_progress, on_result=report, seeds=seeds
    )
    print("over masks and seeds (mean ± 95% half-width):")
    print(format_settings_table(aggregate_settings(model.spec, done)))
    if args.out:
        print(f"wrote {args.out}/identify.json, masks.json and identify.png")
    return 0


def _check_training_options(args: argparse.Namespace) -> None:
    """Sizes and rates that cannot train, named before a model diverges on them."""
    for option in ("batch_size", "hidden", "depth", "train_samples", "eval_samples", "masks"):
        value = getattr(args, option)
        if value < 1:
            raise ValueError(f"--{option.replace('_', '-')} {value}: give at least 1")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps {args.steps}: train for at least 1 step")
    if args.seconds is not None and not args.seconds > 0:
        raise ValueError(f"--seconds {args.seconds}: give a positive time budget, e.g. 100")
    if not args.lr > 0:  # NaN too
        raise ValueError(f"--lr {args.lr}: give a positive learning rate, e.g. 1e-3")
    resolve_threads(args.threads)  # a negative count is refused here, before any work


def _masks(spec, args: argparse.Namespace) -> list[FixedMask]:
    out: list[FixedMask] = []
    for text in args.masked:
        names = [n.strip() for n in text.split(",") if n.strip()]
        out.append(named_mask(spec, names, mask_id=len(out)))
    if args.mask_ratio is not None or args.mask_unit is not None:
        if args.mask_ratio is None or args.mask_unit is None:
            raise ValueError("--mask-ratio and --mask-unit go together; give both")
        ratios = _list(args.mask_ratio, float, "--mask-ratio")
        units = _list(args.mask_unit, int, "--mask-unit")
        if len(ratios) != len(units) and 1 not in (len(ratios), len(units)):
            raise ValueError(
                f"{len(ratios)} ratios and {len(units)} units: give as many of each, or one "
                "of either"
            )
        n = max(len(ratios), len(units))
        ratios, units = ratios * (n // len(ratios)), units * (n // len(units))
        for ratio, unit in zip(ratios, units, strict=True):
            for m in drawn_masks(spec, ratio, unit, args.masks, args.mask_seed):
                out.append(dataclasses.replace(m, id=len(out)))
    if not out:
        raise ValueError("no mask: give --mask-ratio with --mask-unit, or --masked NAMES")
    return out


def _list(text: str, kind: type, flag: str) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{flag} {text!r}: expected comma-separated numbers") from None
    if not values:
        raise ValueError(f"{flag} is empty")
    return values
