"""The settings of the formal regime: which bottleneck, how long it trains, on how much."""

from __future__ import annotations

from dataclasses import dataclass, field

from maeid.evaluate.regression import RegressorConfig

ARCHITECTURES = ("mlp", "vit")


@dataclass(frozen=True)
class IdentifyConfig:
    """Training and measurement settings; `steps` or `seconds` (or both) bound training."""

    arch: str = "mlp"
    steps: int | None = 3000
    seconds: float | None = None
    batch_size: int = 256
    lr: float = 1e-3
    warmup_steps: int = 100
    hidden: int = 512
    depth: int = 3
    train_samples: int = 32000
    eval_samples: int = 4000
    seed: int = 0
    threads: int | None = 1  # torch intra-op threads while training; None = as they are
    regressor: RegressorConfig = field(default_factory=RegressorConfig)

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"architecture {self.arch!r} is unknown; use one of {ARCHITECTURES}")
        if self.steps is None and self.seconds is None:
            raise ValueError("give a training budget: steps, seconds, or both")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps = {self.steps}; it must be at least 1")
        if self.seconds is not None and not self.seconds > 0:
            raise ValueError(f"seconds = {self.seconds}; it must be positive")
        if self.train_samples < self.batch_size:
            raise ValueError(
                f"train_samples {self.train_samples} is below one batch ({self.batch_size})"
            )
        if self.eval_samples < 20:
            raise ValueError(f"eval_samples {self.eval_samples} is too few; use at least 20")
