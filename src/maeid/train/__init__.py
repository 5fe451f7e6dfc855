"""MAE pre-training: the config, the recipe, checkpoints, and the loop.

    from maeid.train import load_config, train, load_checkpoint
    result = train(load_config("configs/qt32.yaml", ["mask.unit=16"]), "runs/qt32-u16")
    model, config = load_checkpoint("runs/qt32-u16")

config       the dataclass tree (data, model, mask, optim, run), YAML + overrides
schedule     lr = base_lr x batch / 256, linear warm-up, half-cycle cosine, per step
optim        AdamW (0.9, 0.95), no weight decay on biases, norms, tokens
checkpoint   atomic writes, RNG states, `load_checkpoint`
datasets     a DataConfig -> the images a run trains on
loop         `train`: one process or DDP under torchrun, set up and run
state        what a step changes, and what of it a checkpoint holds
restore      resuming a run: the checks that it continues the same run, then its state
steps        the step loop: forward, backward, update, logging and checkpoints
monitor      progress bar, metrics.jsonl, TensorBoard
recon        reconstruction grids of a fixed batch
"""

from maeid.train.checkpoint import load_checkpoint, read_checkpoint, save_atomic
from maeid.train.config import ConfigError, TrainConfig, apply_overrides, load_config
from maeid.train.datasets import TrainingData, build_dataset
from maeid.train.loop import NonFiniteLossError, TrainResult, build_model, train
from maeid.train.schedule import lr_at, scaled_lr

__all__ = [
    "ConfigError",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "TrainingData",
    "apply_overrides",
    "build_dataset",
    "build_model",
    "load_checkpoint",
    "load_config",
    "lr_at",
    "read_checkpoint",
    "save_atomic",
    "scaled_lr",
    "train",
]
