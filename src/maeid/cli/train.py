"""`maeid train`: pre-train an MAE from a YAML config.

    maeid train --config configs/qt32.yaml --out runs/qt32 --set mask.ratio=0.9
    maeid train --out runs/qt32 --resume                       # continue where it stopped
    maeid train --out runs/qt32 --resume --set run.steps=2000  # extend a finished run
    maeid train --config configs/qt32.yaml --out runs/qt32 --dry-run  # config and cost only
    torchrun --nproc_per_node=4 -m maeid train --config configs/qt32.yaml --out runs/qt32

The run directory holds config.yaml (resolved), metrics.jsonl, TensorBoard events,
recon/step_*.png and checkpoints/last.pt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from shlex import quote

from maeid.threads import add_threads_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="pre-train an MAE on synthetic data, Fashion-MNIST or an image folder",
        description="Pre-train a masked autoencoder with the reference recipe (AdamW\n"
        "0.9/0.95, weight decay 0.05, lr = base_lr x batch / 256, warm-up then cosine).\n"
        "Runs on one process, or one per device under torchrun (DDP). configs/*.yaml\n"
        "show the common keys; the run directory gets config.yaml (every key, resolved),\n"
        "metrics.jsonl, TensorBoard events, recon/step_*.png and checkpoints/last.pt.\n"
        "run.precision: auto (CUDA: bf16, or fp16 with a loss scale where bf16 is missing;\n"
        "CPU: fp32), fp32, bf16 (on CPU: GEMMs in bf16, attention in fp32; pays only with\n"
        "native bf16, AVX512-BF16 or AMX) or fp16 (CUDA). run.compile=true: torch.compile\n"
        "with a persistent cache.\n\n"
        "Training to a criterion: --set run.target_excess=0.25 stops at the first held-out\n"
        "measure whose normalised excess over the exact Bayes loss is at or below 0.25\n"
        "(synthetic data); run.steps is then the cap. Warm start: --set run.init_from=RUN\n"
        "copies RUN's weights into a new run (its own optimiser, schedule and steps).\n\n"
        "Extending a run: --resume --set run.steps=N continues a run (finished or not) to N\n"
        "steps. The warm-up + cosine schedule is recomputed for the new end, as if the run\n"
        "had been planned for N steps: the lr goes back up to that schedule's value at the\n"
        "current step, then decays to optim.min_lr at step N. The same command gives the\n"
        "same numbers every time.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  maeid train --config configs/qt32.yaml --out runs/qt32\n"
        "  maeid train --config configs/qt32.yaml --out runs/u16 --set mask.unit=16\n"
        "  maeid train --out runs/qt32 --resume\n"
        "  maeid train --out runs/qt32 --resume --set run.steps=2000   # extend it\n"
        "  maeid train --config configs/qt32.yaml --out runs/x --dry-run  # what it would do\n"
        "  torchrun --nproc_per_node=4 -m maeid train --config configs/qt32.yaml --out runs/x",
    )
    p.add_argument(
        "--config",
        type=Path,
        help="YAML config (sections data, model, mask, optim, run); with --resume, "
        "defaults to the run's own config.yaml",
    )
    p.add_argument("--out", type=Path, required=True, help="run directory to write")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set mask.ratio=0.9 --set optim.batch_size=128 "
        "(values are YAML: 1e-3, true, null, [0.2, 1.0]); repeatable",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from checkpoints/last.pt; refused if the config differs, "
        "but for logging keys and run.steps (a larger one extends the run)",
    )
    p.add_argument(
        "--stop-after",
        type=int,
        metavar="STEP",
        help="end this invocation after STEP steps in all, with a checkpoint (for jobs with a "
        "time limit; continue with --resume)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved config (YAML) and the estimated cost (parameters, memory, "
        "FLOPs per image, per step and in all), check that the mask fits, and write nothing",
    )
    add_threads_argument(p)
    p.set_defaults(func=run, on_interrupt=resume_hint)


def run(args: argparse.Namespace) -> int:
    from maeid.output_path import check_output_dir
    from maeid.threads import resolve_threads, torch_threads
    from maeid.train.config import load_config
    from maeid.train.loop import NonFiniteLossError, train

    check_output_dir(args.out)
    if args.stop_after is not None and args.stop_after < 1:
        raise ValueError(f"--stop-after {args.stop_after}: give a step count of at least 1")
    threads = resolve_threads(args.threads)
    config_path = args.config
    if config_path is None:
        if not args.resume:
            raise ValueError("--config is required (unless --resume reuses the run's own)")
        config_path = args.out / "config.yaml"
    config = load_config(config_path, args.overrides)
    if args.dry_run:
        print(dry_run_text(config))
        return 0
    try:
        with torch_threads(threads):
            result = train(config, args.out, resume=args.resume, stop_after=args.stop_after)
    except NonFiniteLossError as err:
        print(f"maeid train: {err}", file=sys.stderr)
        return 1
    if not _is_main():
        return 0
    if result.first_loss is None and result.reached_target is not None:
        excess = (result.quality or {}).get("normalised_excess", float("nan"))
        print(
            f"{result.out_dir} met run.target_excess at step {result.reached_target} "
            f"(held-out excess {excess:.3f}); to train on, lower the target"
        )
    elif result.first_loss is None and result.step < config.run.steps:
        print(  # stopped short by --stop-after, as an earlier invocation was
            f"{result.out_dir} is at step {result.step} of {config.run.steps} already, at or "
            f"past --stop-after {args.stop_after}; to train on, raise --stop-after above "
            f"{result.step} or drop it"
        )
    elif result.first_loss is None:
        print(
            f"{result.out_dir} has already done its {result.step} steps; to train on, "
            f"extend it: --resume --set run.steps=N (N > {result.step})"
        )
    else:
        met = ""
        if result.reached_target is not None:
            excess = result.quality["normalised_excess"]
            met = f" (met run.target_excess: held-out excess {excess:.3f})"
        print(
            f"trained to step {result.step}{met}: loss {result.first_loss:.4f} -> "
            f"{result.last_loss:.4f}; checkpoint {result.out_dir / 'checkpoints' / 'last.pt'}"
        )
    return 0


def dry_run_text(config) -> str:
    """The resolved config as YAML, then the cost estimate as YAML comments (so the
    whole stays a config file `--config` reads back)."""
    from maeid.train.config import to_yaml
    from maeid.train.cost import estimate_training_cost

    cost = estimate_training_cost(config)
    notes = [*cost.lines()]
    if not config.data.mean or not config.data.std:
        notes.insert(0, "data.mean and data.std [] are the data's own, resolved at the start")
    return (
        to_yaml(config)
        + "# estimate (nothing was written):\n"
        + "".join(f"#   {line}\n" for line in notes)
    )


def resume_hint(args: argparse.Namespace) -> str:
    """What to run after Ctrl-C: resume from the last checkpoint, or start again."""
    if (args.out / "checkpoints" / "last.pt").is_file():
        return f"resume from the last checkpoint: maeid train --out {quote(str(args.out))} --resume"
    return "no checkpoint was written yet; run the same command again to start over"


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"
