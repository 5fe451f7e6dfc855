"""The theory section of a report on a synthetic sweep.

The sweep's own runs say which model generated their data and which (ratio, unit) cells
they trained on; the section profiles exactly those cells with the theory (`maeid.theory`,
masks from the MAE's own sampler) and shows the table and the level-composition heat
map, as the demo's report does. Runs on other data (Fashion-MNIST, image folders) have no
generating model, so they get no theory section.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maeid.report.registry import Page, section

NUM_MASKS = 2000  # per cell, as in the demo; a profile of qt32's grid takes about a second


@section("theory", reads=())  # reads the runs' configs, no metric
def theory_sections(page: Page) -> list[str]:
    """One Markdown section per generating model among the page's runs (usually one);
    files go to `out/theory` (`out/theory_2`, ... for further models)."""
    runs, out = page.runs, page.out
    cells: dict[tuple[str, int, int], tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for run in runs:
        found = _synthetic_cell(run.config or {})
        if found is not None:
            key, ratio, unit = found
            cells[key][0].add(ratio)
            cells[key][1].add(unit)
    sections = []
    for i, ((model, model_seed, patch), (ratios, units)) in enumerate(sorted(cells.items())):
        folder = out / ("theory" if i == 0 else f"theory_{i + 1}")
        try:
            sections.append(
                theory_section(model, model_seed, patch, sorted(ratios), sorted(units), folder, out)
            )
        except (ValueError, OSError) as err:  # e.g. the model's YAML moved since the sweep
            sections.append(
                f"## The theory ({model_label(model)})\n\n_Not computed: {err}. The measured "
                "sections below stand on their own._"
            )
    return sections


def model_label(model: str) -> str:
    """How a heading names a generating model: a YAML file by its file name, a builder
    name with its knobs (`rhm32:m=32/4/2`, slashes and all) as it is."""
    return Path(model).name if model.endswith((".yaml", ".yml")) else model


def theory_section(
    model: str,
    model_seed: int,
    patch: int,
    ratios: Sequence[float],
    units: Sequence[int],
    folder: Path,
    report_dir: Path,
) -> str:
    """Profile `model` over `ratios` x `units`; write theory.json and theory_levels.png
    into `folder`; return the section's Markdown (links relative to `report_dir`)."""
    from maeid.theory import theory_profile
    from maeid.theory.plot import plot_level_composition
    from maeid.theory.profile_table import format_profile_table as format_table

    spec = _load_model(model, model_seed).spec
    profile = theory_profile(spec, ratios, units, NUM_MASKS, seed=0, patch_size=patch)
    folder.mkdir(parents=True, exist_ok=True)
    profile.save(folder / "theory.json")
    plot_level_composition(profile, folder / "theory_levels.png")
    figure = (folder / "theory_levels.png").relative_to(report_dir)
    return (
        f"## The theory: which latents a mask makes the MAE recover ({model_label(model)})\n\n"
        f"For every masking ratio x unit of this sweep, {NUM_MASKS} masks from the MAE's own "
        "sampler: how many units are masked, the code dimension d_c, the probability that c "
        "holds only top-level latents (P(c⊆L0)), and the share of c's members at each "
        "latent level. The measured sections below hold the trained encoders against it.\n\n"
        f"```\n{format_table(profile)}\n```\n\n![level composition of c]({figure})"
    )


def _synthetic_cell(config: dict[str, Any]) -> tuple[tuple[str, int, int], float, int] | None:
    """((model, model seed, patch), ratio, unit) of a synthetic run's resolved config."""
    from maeid.mae.presets import PRESETS

    train = config.get("train") or {}
    data, model, mask = (train.get(k) or {} for k in ("data", "model", "mask"))
    if data.get("source") != "synthetic" or mask.get("ratio") is None:
        return None
    preset = PRESETS.get(model.get("preset"), {})
    patch = model.get("patch_size") or preset.get("patch_size")
    if patch is None:
        return None
    unit = mask.get("unit") or patch
    return (
        (str(data.get("model")), int(data.get("model_seed") or 0), int(patch)),
        float(mask["ratio"]),
        int(unit),
    )


def _load_model(name: str, model_seed: int):
    if name.endswith(".npz"):
        from maeid.hlvm import load_dataset

        return load_dataset(name)[0]
    from maeid.data.synthetic import cached_model

    named = Path(name).suffix not in (".yaml", ".yml")
    return (cached_model if named else cached_model.__wrapped__)(name, model_seed)
