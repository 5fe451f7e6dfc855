"""One config for a pre-training run: data, model, mask, optim, run.

Plain dataclasses. A YAML file under `configs/` sets any subset of the fields; command-line
overrides (`--set mask.ratio=0.9`) go on top. Unknown keys and values of the wrong type are
refused with the key named. The resolved config is saved beside every run as `config.yaml`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config key that does not exist, or a value of the wrong type."""


@dataclass
class DataConfig:
    source: str = "synthetic"  # synthetic | fashion_mnist | image_folder
    # synthetic: an hlvm model name (qt32) or YAML path, or a `.npz` written by `maeid synth`
    model: str = "qt32"
    model_seed: int = 0  # the model's mechanisms
    n_train: int = 20000  # synthetic: samples drawn (or taken from the .npz)
    seed: int = 0  # synthetic: the sampling seed
    data_dir: str = (
        ""  # fashion_mnist: the IDX folder (default: the Debian package's); image_folder: root
    )
    pad_to: int = 32  # fashion_mnist: pad 28x28 to this size (0 = no padding)
    img_size: int = 224  # image_folder: crop size
    channels: int = 3  # image_folder: 3 (RGB) or 1 (grey)
    crop_scale: tuple[float, float] = (0.2, 1.0)  # image_folder: random resized crop area
    hflip: bool = True  # image_folder: random horizontal flip
    # Per-channel normalisation; empty = the source's default (ImageNet's, Fashion-MNIST's,
    # or for synthetic data the training set's own). The resolved run config holds the values.
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    on_device: bool = True  # keep in-memory data sets on the training device
    # synthetic: draw new images at every step instead of cycling over n_train (which then
    # only sets the normalisation's sample and a nominal epoch); no image is seen twice
    fresh: bool = False
    num_workers: int = 0  # image_folder: DataLoader worker processes


@dataclass
class ModelConfig:
    preset: str = "qt32"  # a maeid.mae preset: tiny, qt32, vit_b16, ...
    # Overrides of the preset; null keeps the preset's value.
    patch_size: int | None = None
    embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    decoder_embed_dim: int | None = None
    decoder_depth: int | None = None
    decoder_num_heads: int | None = None
    mlp_ratio: float | None = None
    norm_pix_loss: bool | None = None
    boundary_exclude: int | None = None  # drop masked pixels this close to a visible patch


@dataclass
class MaskConfig:
    ratio: float = 0.75  # fraction of masking units removed
    unit: int | None = (
        None  # masking unit side in pixels (a multiple of the patch); null = one patch
    )


@dataclass
class OptimConfig:
    batch_size: int = 256  # images per optimiser step, over all processes and accumulation
    accum_steps: int = 1  # micro-batches per optimiser step (per process)
    base_lr: float = 1.5e-4  # lr = base_lr * batch_size / 256 ...
    lr: float | None = None  # ... unless an absolute lr is given here
    min_lr: float = 0.0  # floor of the cosine
    warmup_steps: int = 0  # linear warm-up from 0, then half-cycle cosine
    weight_decay: float = 0.05  # not applied to biases, norms, tokens, position embeddings
    betas: tuple[float, float] = (0.9, 0.95)
    clip_grad: float | None = None  # max global gradient norm; null = no clipping


@dataclass
class RunConfig:
    steps: int = 1000  # optimiser steps in all
    seed: int = 0  # weights, masks and data order
    device: str = "auto"  # auto (cuda if present) | cpu | cuda
    # auto (cuda: bf16, or fp16 where bf16 is missing; cpu: fp32) | fp32 | bf16 | fp16 (cuda)
    precision: str = "auto"
    compile: bool = False  # torch.compile the model (cached across runs; maeid.train.compile)
    log_every: int = 10  # steps between metrics.jsonl / TensorBoard entries
    ckpt_every: int = 500  # steps between checkpoints (one is always written at the end)
    recon_every: int = 500  # steps between reconstruction PNGs (0 = never)
    recon_images: int = 8  # images in the reconstruction grid
    progress: bool = True  # tqdm progress bar on stderr
    # synthetic data: steps between held-out losses against the exact Bayes loss (0 = never)
    eval_every: int = 200
    eval_images: int = 1024  # held-out images for that measure
    # stop at the first held-out normalised excess at or below this (null: run all steps,
    # which are then the cap); needs synthetic data and eval_every > 0
    target_excess: float | None = None
    init_from: str = ""  # a checkpoint or run folder whose weights start this run (not --resume)


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def validate(self) -> TrainConfig:
        """Check values that are well-typed but meaningless; return self."""
        checks = [
            ("data.source", self.data.source in SOURCES, f"one of {sorted(SOURCES)}"),
            ("data.n_train", self.data.n_train >= 1, ">= 1"),
            ("data.num_workers", self.data.num_workers >= 0, ">= 0"),
            ("mask.ratio", 0 < self.mask.ratio < 1, "in (0, 1)"),
            ("mask.unit", self.mask.unit is None or self.mask.unit >= 1,
             "null (one patch) or a positive number of pixels, a multiple of the patch"),
            *[(f"model.{key}", getattr(self.model, key) is None or getattr(self.model, key) >= 1,
               "null (the preset's) or >= 1") for key in POSITIVE_MODEL_KEYS],
            ("optim.base_lr", self.optim.base_lr > 0, "> 0 (the lr is base_lr x batch_size / 256)"),
            ("optim.lr", self.optim.lr is None or self.optim.lr > 0, "null (from base_lr) or > 0"),
            ("optim.min_lr", self.optim.min_lr >= 0, ">= 0"),
            ("optim.batch_size", self.optim.batch_size >= 1, ">= 1"),
            ("optim.accum_steps", self.optim.accum_steps >= 1, ">= 1"),
            ("optim.warmup_steps", self.optim.warmup_steps >= 0, ">= 0"),
            ("run.steps", self.run.steps >= 1, ">= 1"),
            ("run.device", self.run.device in ("auto", "cpu", "cuda"), "auto, cpu or cuda"),
            ("run.precision", self.run.precision in ("auto", "fp32", "bf16", "fp16"),
             "auto, fp32, bf16 or fp16"),
            ("run.target_excess",
             self.run.target_excess is None or 0 < self.run.target_excess < 1,
             "null or in (0, 1): the normalised excess is 0 at the Bayes loss, 1 at the plateau"),
            ("run.eval_every", self.run.target_excess is None or self.run.eval_every > 0,
             "> 0 when run.target_excess is set (the stop is checked at held-out measures)"),
            ("run.log_every", self.run.log_every >= 1, ">= 1"),
            ("run.ckpt_every", self.run.ckpt_every >= 1, ">= 1"),
            ("run.recon_every", self.run.recon_every >= 0, ">= 0"),
            ("run.eval_every", self.run.eval_every >= 0, ">= 0"),
            ("run.eval_images", self.run.eval_images >= 1, ">= 1"),
            ("data.fresh", not self.data.fresh or self.data.source == "synthetic",
             "false unless data.source is synthetic (only a generating model draws new images)"),
        ]  # fmt: skip
        for key, ok, want in checks:
            if not ok:
                raise ConfigError(f"{key}={get_key(self, key)!r} is invalid; it must be {want}")
        return self

    def warn_if_unintended(self) -> None:
        """Warn of valid settings that are likely mistakes. Called once, when training
        starts (after every refusal, so a warning never precedes an error)."""
        if self.optim.warmup_steps > self.run.steps:
            warnings.warn(
                f"optim.warmup_steps={self.optim.warmup_steps} is more than run.steps="
                f"{self.run.steps}: the lr never reaches its peak; lower the warm-up or train "
                "longer",
                stacklevel=2,
            )


SOURCES = frozenset({"synthetic", "fashion_mnist", "image_folder"})
# Model sizes that must be at least 1 when set (a ViT of depth 0 has no encoder).
POSITIVE_MODEL_KEYS = ("patch_size", "embed_dim", "depth", "num_heads", "decoder_embed_dim",
                       "decoder_num_heads")  # fmt: skip

# Keys added after sweeps began to key runs by their resolved config. At these defaults
# they change nothing a run does, so `identity` leaves them out, and a sweep written
# before them still finds its finished runs.
LATER_DEFAULTS: dict[str, Any] = {
    "run.compile": False,
    "run.target_excess": None,
    "run.init_from": "",
}


def identity(cfg: TrainConfig) -> dict[str, Any]:
    """The config as plain data for a run's identity: `to_dict` without the later keys
    that sit at their defaults."""
    data = to_dict(cfg)
    for key, default in LATER_DEFAULTS.items():
        section, name = key.split(".")
        if data[section].get(name) == default:
            del data[section][name]
    return data


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """`value` as type `hint`, or a ConfigError naming `key`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0])
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key} must have {len(args)} items, got {value!r}")
        return tuple(
            _coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:  # PyYAML reads 1e-3 (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # e.g. `--set data.model=2` meant the name "2"
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(
            f"{key} must be {getattr(hint, '__name__', hint)}, got {value!r} "
            f"({type(value).__name__})"
        )
    return value


def _field_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_dict(raw: dict[str, Any] | None, base: TrainConfig | None = None) -> TrainConfig:
    """A config from nested dicts (as YAML gives), on top of `base` (default: the defaults)."""
    cfg = base if base is not None else TrainConfig()
    if raw is None:
        return cfg
    if not isinstance(raw, dict):
        raise ConfigError(f"a config is a mapping of sections, got {type(raw).__name__}")
    sections = _field_hints(TrainConfig)
    for name, values in raw.items():
        if name not in sections:
            raise ConfigError(f"unknown config section {name!r}; known: {sorted(sections)}")
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"config section {name!r} must be a mapping, got {values!r}")
        for key, value in values.items():
            set_key(cfg, f"{name}.{key}", value)
    return cfg


def set_key(cfg: TrainConfig, key: str, value: Any) -> None:
    """Set `section.field` to `value`, checking that the key exists and the type fits."""
    parts = key.split(".")
    if len(parts) != 2:
        raise ConfigError(f"config key {key!r} must have the form section.field (e.g. mask.ratio)")
    section_name, name = parts
    if section_name not in _field_hints(TrainConfig):
        raise ConfigError(
            f"unknown config section {section_name!r} in {key!r}; "
            f"known: {sorted(_field_hints(TrainConfig))}"
        )
    section = getattr(cfg, section_name)
    hints = _field_hints(type(section))
    if name not in hints:
        raise ConfigError(f"unknown config key {key!r}; {section_name} has: {sorted(hints)}")
    setattr(section, name, _coerce(value, hints[name], key))


def get_key(cfg: TrainConfig, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(cfg, section), name)


def apply_overrides(cfg: TrainConfig, overrides: list[str]) -> TrainConfig:
    """Apply `key=value` strings; values are parsed as YAML (0.9, true, null, [0.2, 1.0])."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not key=value (e.g. mask.ratio=0.9)")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(
                f"override {item!r}: cannot parse {text!r} ({yaml_problem(err)}); quote it"
            ) from None
        set_key(cfg, key.strip(), value)
    return cfg


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """The defaults, updated by the YAML file at `path`, then by `overrides`; validated."""
    cfg = TrainConfig()
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(
                f"config {path} is a folder; pass a YAML file, e.g. {path / 'qt32.yaml'}"
            )
        if not path.is_file():
            raise FileNotFoundError(
                f"config file {path} does not exist; configs/ holds examples (configs/qt32.yaml)"
            )
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML ({yaml_problem(err)}); fix it") from None
        if raw is None:  # an empty file would silently train every default
            raise ConfigError(
                f"config {path} is empty; give at least the keys to change, e.g. "
                "`run: {steps: 1000}` (configs/qt32.yaml is a full example)"
            )
        try:
            from_dict(raw, cfg)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from err
    apply_overrides(cfg, overrides or [])
    return cfg.validate()


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML parse error in one line: what is wrong and where (PyYAML's runs over five)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def to_dict(cfg: TrainConfig) -> dict[str, dict[str, Any]]:
    """Nested plain dicts (tuples as lists), ready for YAML or a checkpoint."""

    def plain(v: Any) -> Any:
        return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v

    return {
        f.name: {k: plain(v) for k, v in dataclasses.asdict(getattr(cfg, f.name)).items()}
        for f in dataclasses.fields(cfg)
    }


def to_yaml(cfg: TrainConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None)


def differences(
    a: TrainConfig, b: TrainConfig, ignore: frozenset[str] = frozenset()
) -> list[tuple[str, Any, Any]]:
    """(key, value in a, value in b) for every field where a and b differ."""
    da, db = to_dict(a), to_dict(b)
    return [
        (f"{s}.{k}", da[s][k], db[s][k])
        for s in da
        for k in da[s]
        if f"{s}.{k}" not in ignore and da[s][k] != db[s][k]
    ]
