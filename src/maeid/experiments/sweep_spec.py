"""A sweep, as a researcher writes it: a base training config, a grid, the evaluations.

```yaml
name: demo                       # names the sweep in the database and its output folder
base: ../qt32.yaml               # training config (relative to this file), or inline:
# config: {model: {...}, ...}
set:                             # overrides for every point (dotted keys)
  run.steps: 300
grid:                            # the cartesian product of these is the sweep
  mask_ratio: [0.25, 0.5, 0.75]  # shorthands: mask_ratio, mask_unit, seed, study_seed
  mask_unit: [4, 16]
  seed: [0]
  model.depth: [2, 4]            # ... or any dotted config key
evaluate:                        # measurements after training, with options
  identifiability: {samples: 2000}   # measures and options (maeid evaluate --list-measures)
run: maeid.experiments.pipeline:train_and_evaluate   # optional: the function run per point
launch: {nproc_per_node: 4}      # optional: train each point with torchrun on 4 GPUs
```

`seed` sets `run.seed` (the weights, masks and data order); `study_seed` sets `run.seed`
and `data.seed` together, so that seeds vary the training stream and the evaluations'
probe and test images as well (`STUDY_SEED`).

Each point's *run config* is `{"train": <resolved training config>, "evaluate": {...}}`;
its sha256 (`config_hash`) is the run's identity in the results database and names its
folder under the sweep's output directory.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from maeid.experiments.config_hash import config_hash

DEFAULT_RUN = "maeid.experiments.pipeline:train_and_evaluate"

# Grid shorthands for the sweep axes the paper varies, and where they live in a training
# config. The report reads these three names from every run's `params`.
AXIS_KEYS: dict[str, str] = {
    "mask_ratio": "mask.ratio",
    "mask_unit": "mask.unit",
    "seed": "run.seed",
}
# A study seed varies every random stream of a run but the grammar: `run.seed` (weights,
# masks, data order, and the evaluations' probes, masks and floor) and `data.seed` (the
# fresh training stream, the normalisation sample, the held-out loss and the
# evaluations' probe and test images). `seed` alone keeps setting only `run.seed`, so the
# hashes of specs written before stay those of their runs. The model's own seed
# (`data.model_seed`, the grammar) is left fixed. A point records its study seed under
# `seed` too, which the database and the report read as every sweep's seed.
STUDY_SEED = "study_seed"
STUDY_SEED_KEYS = ("run.seed", "data.seed")

_SPEC_KEYS = {
    "name",
    "base",
    "config",
    "set",
    "grid",
    "evaluate",
    "run",
    "out",
    "description",
    "launch",
}


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep."""

    params: dict[str, Any]  # the grid values of this point, by the names the spec used
    config: dict[str, Any]  # {"train": resolved training config, "evaluate": {name: options}}
    config_hash: str

    def run_dir(self, out_dir: Path) -> Path:
        return out_dir / self.config_hash[:16]


@dataclass(frozen=True)
class SkippedPoint:
    """A grid cell that cannot run (e.g. a ratio that leaves no masking unit visible)."""

    params: dict[str, Any]
    reason: str

    def describe(self) -> str:
        axes = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{axes}: {self.reason}"


@dataclass(frozen=True)
class SweepSpec:
    name: str
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    overrides: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, dict[str, Any]] = field(default_factory=dict)
    run: str = DEFAULT_RUN
    launch: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None
    description: str = ""

    @classmethod
    def from_yaml(cls, path: str | Path) -> SweepSpec:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"sweep spec {path} not found; configs/sweeps/ holds examples (demo.yaml)"
            )
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            from maeid.train.config import yaml_problem

            raise ValueError(
                f"sweep spec {path} is not valid YAML ({yaml_problem(err)}); fix it"
            ) from None
        return cls.from_dict(raw, where=path)

    @classmethod
    def from_dict(cls, raw: Any, where: Path | None = None) -> SweepSpec:
        src = f"sweep spec {where}" if where else "sweep spec"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{src} must be a YAML mapping with at least `name` and `grid`")
        unknown = set(raw) - _SPEC_KEYS
        if unknown:
            raise ValueError(
                f"{src}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_SPEC_KEYS)}"
            )
        name = raw.get("name") or (where.stem if where else None)
        if not name or not str(name).replace("-", "_").replace(".", "_").isidentifier():
            raise ValueError(f"{src}: `name` {name!r} must be a simple word (letters, digits, _-.)")
        base = _load_base(raw, where, src)
        grid = raw.get("grid")
        if not isinstance(grid, Mapping) or not grid:
            raise ValueError(f"{src}: `grid` must map config keys to non-empty lists of values")
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(
                    f"{src}: grid axis {key!r} must be a non-empty list, got {values!r}"
                )
            if len(set(map(repr, values))) != len(values):
                raise ValueError(f"{src}: grid axis {key!r} repeats a value: {values}")
        overrides = raw.get("set") or {}
        if not isinstance(overrides, Mapping):
            raise ValueError(f"{src}: `set` must map dotted config keys to values")
        evaluate = raw.get("evaluate") or {}
        if isinstance(evaluate, str):
            evaluate = [evaluate]
        if isinstance(evaluate, list):
            evaluate = {str(name): {} for name in evaluate}
        if not isinstance(evaluate, Mapping) or not all(
            isinstance(v, Mapping | None) for v in evaluate.values()
        ):
            raise ValueError(
                f"{src}: `evaluate` must list evaluation names, or map names to options"
            )
        run = raw.get("run", DEFAULT_RUN)
        if not isinstance(run, str) or ":" not in run:
            raise ValueError(
                f"{src}: `run` {run!r} must be an import path 'package.module:function'"
            )
        launch = raw.get("launch") or {}
        if not isinstance(launch, Mapping) or set(launch) - {"nproc_per_node"}:
            raise ValueError(f"{src}: `launch` takes only nproc_per_node (GPUs per run)")
        out = raw.get("out")
        if out is not None and where is not None and not Path(out).is_absolute():
            out = Path(out)  # relative to the working directory, like --out
        return cls(
            name=str(name),
            base=base,
            grid={str(k): list(v) for k, v in grid.items()},
            overrides=dict(overrides),
            evaluate={str(k): dict(v or {}) for k, v in evaluate.items()},
            run=run,
            launch=dict(launch),
            out=None if out is None else Path(out),
            description=str(raw.get("description", "")),
        )

    @property
    def size(self) -> int:
        size = 1
        for values in self.grid.values():
            size *= len(values)
        return size

    def points(
        self, resolve: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    ) -> list[SweepPoint]:
        """Every grid point, in grid order (last axis fastest).

        `resolve` turns a plain config dict into the fully resolved training config
        (defaults filled in, types checked); by default `maeid.train`'s loader.
        """
        resolve = resolve or resolve_train_config
        keys = list(self.grid)
        shorthands = (*AXIS_KEYS, STUDY_SEED)
        for key in keys:
            if key not in shorthands and "." not in key:
                raise ValueError(
                    f"grid axis {key!r} is neither a shorthand ({', '.join(shorthands)}) nor a "
                    "dotted config key (e.g. model.depth); fix its name"
                )
        _check_study_seed(self.grid, self.overrides)
        points = []
        for values in itertools.product(*(self.grid[k] for k in keys)):
            params = dict(zip(keys, values, strict=True))
            config = copy.deepcopy(self.base)
            for key, value in self.overrides.items():
                _set_axis(config, key, value)
            for key, value in params.items():
                _set_axis(config, key, value)
            if STUDY_SEED in params:
                params["seed"] = params[STUDY_SEED]
            run_config = {"train": resolve(config), "evaluate": copy.deepcopy(self.evaluate)}
            if self.launch:
                run_config["launch"] = dict(self.launch)
            points.append(SweepPoint(params, run_config, config_hash(run_config)))
        return points

    def plan(
        self, resolve: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    ) -> tuple[list[SweepPoint], list[SkippedPoint]]:
        """The points that can run, and the cells that cannot, with the reason.

        Resolving every point checks every key and value, and the evaluations' names,
        options and data (for the default run function); a cell whose mask leaves no
        unit visible (or masks none, or does not tile the image) is skipped rather than
        left to fail after the cells before it have trained. Nothing is written.
        """
        runnable, skipped = [], []
        for point in self.points(resolve):
            if self.run == DEFAULT_RUN:  # the pipeline's evaluations, refused before training
                from maeid.experiments.evaluations import check_evaluations

                check_evaluations(self.evaluate, (point.config.get("train") or {}).get("data", {}))
            reason = mask_problem(point.config.get("train"))
            if reason is None:
                runnable.append(point)
            else:
                skipped.append(SkippedPoint(point.params, reason))
        return runnable, skipped


def mask_problem(train_config: Any) -> str | None:
    """Why a resolved training config's mask cannot work on its images, or None.

    Configs that are not `maeid.train` configs (a custom run function's) are not judged.
    """
    from maeid.train.config import ConfigError, from_dict
    from maeid.train.mask_fit import check_mask_fits, data_image_shape

    try:
        cfg = from_dict(train_config).validate()
    except (ConfigError, TypeError, AttributeError):
        return None
    shape = data_image_shape(cfg)  # an unknown model is an error of the spec, not of a cell
    try:
        check_mask_fits(cfg, shape)
    except ValueError as err:
        return str(err)
    return None


def _set_axis(config: dict[str, Any], key: str, value: Any) -> None:
    """Set a grid or `set` key: a shorthand's config key(s), or a dotted key itself."""
    for target in STUDY_SEED_KEYS if key == STUDY_SEED else (AXIS_KEYS.get(key, key),):
        set_dotted(config, target, value)


def _check_study_seed(grid: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
    """Refuse a spec that sets a study seed's streams twice, one way or another."""
    if STUDY_SEED not in grid and STUDY_SEED not in overrides:
        return
    clashes = [k for k in (*grid, *overrides) if k == "seed" or k in STUDY_SEED_KEYS]
    if clashes:
        raise ValueError(
            f"{STUDY_SEED} sets {' and '.join(STUDY_SEED_KEYS)} together; drop "
            f"{sorted(set(clashes))} from the spec (or drop {STUDY_SEED})"
        )


def set_dotted(config: dict[str, Any], key: str, value: Any) -> None:
    """`config["a"]["b"] = value` for key "a.b", creating the intermediate mappings."""
    parts = key.split(".")
    node = config
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"config key {key!r}: {part!r} holds {child!r}, not a section")
        node = child
    node[parts[-1]] = value


def resolve_train_config(config: dict[str, Any]) -> dict[str, Any]:
    """The resolved training config as plain data, through `maeid.train`'s config loader.

    Resolving fills in every default, so two specs that spell the same run differently
    get the same hash, and a typo in a grid key fails here, before any training.
    """
    from maeid.train.config import from_dict, identity

    return identity(from_dict(config).validate())


def _load_base(raw: Mapping[str, Any], where: Path | None, src: str) -> dict[str, Any]:
    if ("base" in raw) == ("config" in raw):
        raise ValueError(f"{src}: give exactly one of `base` (a config file) or `config` (inline)")
    if "config" in raw:
        if not isinstance(raw["config"], Mapping):
            raise ValueError(f"{src}: inline `config` must be a mapping")
        return copy.deepcopy(dict(raw["config"]))
    base = Path(raw["base"])
    if not base.is_absolute() and where is not None:
        base = where.parent / base
    if not base.is_file():
        raise FileNotFoundError(f"{src}: base config {base} not found")
    loaded = yaml.safe_load(base.read_text()) or {}
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{src}: base config {base} is not a YAML mapping")
    return dict(loaded)
