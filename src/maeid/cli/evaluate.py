"""`maeid evaluate`: measure a checkpoint with any measure of the registry.

maeid evaluate runs/fmnist --data fashion_mnist --out runs/fmnist/eval
maeid evaluate runs/rhm32/train --measure symbols,information --pool tokens
maeid evaluate exports/vit-hf --data photos/ --out photos-eval   # an HF folder, a folder
maeid evaluate --list-measures
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from maeid.cli.help_format import ShowDefaults
from maeid.cli.model_source import add_model_arguments, load_model
from maeid.evaluate.symbols import POOLS
from maeid.threads import add_threads_argument

# flags that set, in every measure named, the options whose `flag` is the flag's name
OPTION_FLAGS = (
    "pool",
    "max_train",
    "max_test",
    "recon_images",
    "robust_images",
    "probe_epochs",
    "class_budgets",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="measure a trained MAE: probes, kNN, t-SNE, reconstruction, attention, "
        "robustness, R² per latent level, rhm32 symbols and information",
        description="Evaluate a model (a run of `maeid train`, a reference .pth or an HF "
        "ViTMAE folder) on held-out data and write "
        "eval.json (every number) plus figures. The measures are those a sweep's `evaluate` "
        "section names, with the same options and defaults, so a sweep's numbers reproduce "
        "here; `--list-measures` prints each with the data it needs and its options. Without "
        "--measure: probe, knn, tsne, reconstruction, attention and robustness on labelled "
        "data (Fashion-MNIST); reconstruction, attention, symbols and masked_loss on rhm32; "
        "reconstruction, attention and identifiability on other synthetic data; on an image "
        "folder, those of labelled data when its images sit in class subfolders, else "
        "reconstruction and attention. A folder is split once, seeded by the data's seed, "
        "into a test fifth and a part the readouts are fitted on. An imported model's "
        "training data is unknown: name it with --data.",
        formatter_class=ShowDefaults,
    )
    add_model_arguments(p, optional=True)
    p.add_argument(
        "--list-measures",
        action="store_true",
        help="print every measure, the data it needs and its options, then exit",
    )
    p.add_argument(
        "--data",
        default=None,
        help="fashion_mnist, synthetic (held-out samples of the checkpoint's model), a .npz "
        "from `maeid synth`, a folder of images (labelled when in class subfolders), or a "
        "folder of Fashion-MNIST IDX files; default: the run's own source",
    )
    p.add_argument(
        "--measure",
        default=None,
        help="comma-separated measures (see --list-measures); without it, the measures "
        "listed above for the data",
    )
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default: RUN_DIR/eval; for an imported model, MODEL-eval beside it)",
    )
    own = " (default: each measure's own; see --list-measures)"
    p.add_argument(
        "--pool",
        choices=POOLS,
        default=None,
        help="features to read: [CLS], mean of the patch tokens, or all tokens side by side" + own,
    )
    p.add_argument("--max-train", type=int, default=None, help="training images of probes" + own)
    p.add_argument("--max-test", type=int, default=None, help="test images (or samples)" + own)
    p.add_argument("--recon-images", type=int, default=None, help="images scored for recon" + own)
    p.add_argument(
        "--robust-images",
        type=int,
        default=None,
        help="test images per corruption and severity" + own,
    )
    p.add_argument("--probe-epochs", type=int, default=None, help="linear-probe epochs" + own)
    p.add_argument(
        "--class-budgets",
        default=None,
        help="labelled images of the class-only probe, comma-separated" + own,
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="MEASURE.NAME=VALUE",
        help="any option of one measure, e.g. class_probe.hidden=128 (YAML value; "
        "repeatable; wins over the flags above)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of masks, probe splits and initialisations, t-SNE and the untrained floor; "
        "default: the checkpoint's run.seed, so the floor is the run's own starting point, "
        "as in a sweep (a synthetic test split follows the data's seed; the Fashion-MNIST "
        "subsets follow this seed)",
    )
    add_threads_argument(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from maeid.measures import EvalContext, default_measures, run_measures
    from maeid.output_path import check_output_dir
    from maeid.threads import resolve_threads, torch_threads

    if args.list_measures:
        print(list_measures())
        return 0
    if not args.checkpoint:
        raise ValueError("name a checkpoint file or run directory (or pass --list-measures)")
    threads = resolve_threads(args.threads)
    flags = flag_values(args)
    per_measure = option_values(args.option)
    if args.out:
        check_output_dir(args.out)
    loaded = load_model(args)
    model, cfg = loaded.model, loaded.config
    out = Path(args.out) if args.out else default_out(loaded)
    check_output_dir(out, "--out" if args.out else "the default --out")  # before hours of work
    ctx = EvalContext(
        model,
        cfg,
        out,
        source=args.data,
        seed=args.seed,
        progress=not args.no_progress,
        model_path=loaded.path,
        origin=loaded.origin,
    )
    names = [m.strip() for m in args.measure.split(",") if m.strip()] if args.measure else None
    names = names or default_measures(ctx.kind())
    requested = requested_options(names, flags, per_measure)
    with torch_threads(threads):
        evaluation = run_measures(ctx, requested, {"checkpoint": str(args.checkpoint)})
    print(
        f"{args.checkpoint} on {ctx.source} (mask ratio {ctx.ratio}, unit "
        f"{model.mask_unit}px, seed {ctx.seed})"
    )
    print("\n".join(evaluation.summary()))
    print(f"wrote {out / 'eval.json'}" + "".join(f", {f}" for f in evaluation.figures.values()))
    return 0


def default_out(loaded) -> Path:
    """RUN_DIR/eval for a run (its folder or its checkpoints/*.pt); MODEL-eval beside any
    other model file or folder (an import, a shipped model.pt)."""
    path = loaded.path
    if path.is_dir() and loaded.origin == "run":
        return path / "eval"
    run_dir = path.parent.parent
    if (
        loaded.origin == "run"
        and path.parent.name == "checkpoints"
        and (run_dir / "config.yaml").is_file()
    ):
        return run_dir / "eval"
    return path.with_name(f"{path.stem if path.is_file() else path.name}-eval")


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The option flags the user gave, checked (each at least 1; budgets as a list)."""
    given = {flag: getattr(args, flag) for flag in OPTION_FLAGS if getattr(args, flag) is not None}
    for flag, value in given.items():
        if flag not in ("pool", "class_budgets") and value < 1:
            raise ValueError(f"--{flag.replace('_', '-')} {value}: must be at least 1")
    if "class_budgets" in given:
        given["class_budgets"] = class_budgets(given["class_budgets"])
    return given


def option_values(items: list[str]) -> dict[str, dict[str, Any]]:
    """`--option MEASURE.NAME=VALUE` items as {measure: {name: value}} (values as YAML)."""
    import yaml

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        measure, dot, name = key.partition(".")
        if not sep or not dot or not measure or not name:
            raise ValueError(
                f"--option {item!r}: write MEASURE.NAME=VALUE, e.g. class_probe.hidden=128"
            )
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as err:
            reason = str(getattr(err, "problem", "") or err).strip()
            raise ValueError(f"--option {item!r}: the value is not YAML ({reason}); e.g. "
                             "class_probe.budgets=[1000,4000]") from None  # fmt: skip
        out.setdefault(measure.strip(), {})[name.strip()] = value
    return out


def requested_options(
    names: list[str], flags: dict[str, Any], per_measure: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """{measure: options} from the flags (each sets the options bound to it) and the
    `--option` values; an `--option` for a measure not named is refused."""
    from maeid.measures import get_measure

    canonical = [get_measure(name).name for name in names]
    stray = sorted({get_measure(m).name for m in per_measure} - set(canonical))
    if stray:
        raise ValueError(f"--option for {', '.join(stray)}, which --measure does not name")
    requested: dict[str, dict[str, Any]] = {}
    for name in canonical:
        options = get_measure(name).Options
        chosen = {field: value for flag, value in flags.items() for field in options.flagged(flag)}
        requested[name] = chosen
    for measure, opts in per_measure.items():
        requested[get_measure(measure).name].update(opts)
    return requested


def list_measures() -> str:
    from maeid.measures import get_measure, measure_names

    lines = []
    for name in measure_names():
        m = get_measure(name)
        aka = f" (also: {', '.join(m.aliases)})" if m.aliases else ""
        lines.append(f"{name}{aka}: needs {m.needs.value}")
        doc = sys.modules[type(m).__module__].__doc__ or ""
        lines.append("  " + " ".join(doc.split()))
        for field, default, text in m.Options.describe():
            flag = m.Options.__dataclass_fields__[field].metadata.get("flag")
            via = f" [--{flag.replace('_', '-')}]" if flag else ""
            lines.append(f"    {field} = {default!r}: {text}{via}")
    return "\n".join(lines)


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
