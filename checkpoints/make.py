"""Ship trained runs as the small models in this folder (see README.md here).

Each name below is a recipe of the project: a config under `configs/` and its overrides.
Train it with the command recorded, then ship the finished run (this also rewrites the
table in README.md from what is shipped):

    .venv/bin/python checkpoints/make.py qt32-r0.75-u4=runs/ship/qt32-u4 ...
    .venv/bin/python checkpoints/make.py --readme      # the table only

`tests/test_shipped.py` checks that every shipped model's config is its recipe's, that its
checksum holds and that README.md lists it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The ratio study's settings (configs/sweeps/rhm32_ratio_study.yaml) with study seed 0.
RHM32_STUDY = ["run.steps=12000", "run.target_excess=0.25", "run.eval_every=250",
               "run.recon_every=0", "run.ckpt_every=250", "run.seed=0", "data.seed=0"]  # fmt: skip
RECIPES = {
    "rhm32-r0.25-u4": ("configs/rhm32.yaml", [*RHM32_STUDY, "mask.ratio=0.25", "mask.unit=4"]),
    "rhm32-r0.75-u4": ("configs/rhm32.yaml", [*RHM32_STUDY, "mask.ratio=0.75", "mask.unit=4"]),
    "qt32-r0.75-u4": ("configs/qt32.yaml", ["run.target_excess=0.25"]),
    "qt32-r0.75-u16": ("configs/qt32.yaml", ["mask.unit=16", "run.target_excess=0.2"]),
}


def command(config: str, sets: list[str]) -> str:
    return " ".join(["maeid train", "--config", config, "--out", "RUN", "--threads", "1",
                     *(f"--set {item}" for item in sets)])  # fmt: skip


TABLE_START = "<!-- table: written by make.py -->"


def readme_table() -> str:
    from maeid.shipped import SUMS, shipped_models

    rows = ["| model | data | ratio | unit | steps | held-out excess | sha256 (model.pt) |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for model in shipped_models(ROOT / "checkpoints"):
        cfg = model.shipped_config()
        digest = (model.folder / SUMS).read_text().split()[0]
        rows.append(f"| [`{model.name}`]({model.name}/) | `{cfg.data.model}` | {cfg.mask.ratio} "
                    f"| {cfg.mask.unit} | {model.recipe['step']} | {model.excess:.3f} "
                    f"| `{digest[:16]}` |")  # fmt: skip
    return "\n".join(rows)


def write_readme() -> None:
    from maeid.atomic import write_text

    path = ROOT / "checkpoints" / "README.md"
    head = path.read_text().split(TABLE_START)[0]
    write_text(path, f"{head}{TABLE_START}\n\n{readme_table()}\n")


def main(argv: list[str]) -> int:
    from maeid.shipped import write_shipped

    if argv == ["--readme"]:
        write_readme()
        return 0
    if not argv or any("=" not in arg or arg.split("=")[0] not in RECIPES for arg in argv):
        print(f"usage: make.py NAME=RUN_DIR ...; NAME is one of {', '.join(RECIPES)}")
        return 2
    for arg in argv:
        name, run = arg.split("=", 1)
        config, sets = RECIPES[name]
        train_dir = Path(run) / "train" if (Path(run) / "train").is_dir() else Path(run)
        shipped = write_shipped(train_dir, ROOT / "checkpoints" / name, config, sets,
                                command(config, sets))  # fmt: skip
        print(f"{name}: step {shipped.recipe['step']}, excess {shipped.excess:.3f}")
    write_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
