"""MAE pre-training: the config, the recipe, checkpoints, and the loop."""

from maeid.train.checkpoint import load_checkpoint, read_checkpoint, save_atomic
from maeid.train.config import ConfigError, TrainConfig, apply_overrides, load_config
from maeid.train.schedule import lr_at, scaled_lr

__all__ = [
    "ConfigError",
    "TrainConfig",
    "apply_overrides",
    "load_checkpoint",
    "load_config",
    "lr_at",
    "read_checkpoint",
    "save_atomic",
    "scaled_lr",
]
