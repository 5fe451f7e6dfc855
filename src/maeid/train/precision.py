"""`run.precision`: which number format a training step computes in, and what it needs.

- fp32: plain float32. On CUDA, matmuls may use TF32 tensor cores (10-bit mantissa
  inputs, fp32 accumulation), the usual trade for a 2-8x faster GEMM.
- bf16: autocast to bfloat16. Same exponent range as fp32, so no loss scaling. On CPU
  the attention kernel stays in fp32 (see `maeid.mae.attention`): its bf16 backward at
  our head sizes is slower than fp32. Without native bf16 instructions (AVX512-BF16 or
  AMX) a CPU emulates bf16 and is several times slower than fp32; it is refused for
  `auto` and warned about when asked for.
- fp16: autocast to float16 with a dynamic loss scale (`GradScaler`): CUDA only.
- auto: bf16 on a CUDA card that supports it, else fp16 on CUDA; fp32 on CPU. A CPU with
  native bf16 gets fp32 too until bf16 has passed the recipes' convergence check there
  (`benchmarks/precision_convergence.py`); `run.precision=bf16` opts in.
"""

from __future__ import annotations

import contextlib
import warnings

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 GEMMs in hardware (AVX512-BF16 or AMX) on this CPU."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(device: torch.device, precision: str, warn: bool = False) -> str:
    """The concrete format (fp32, bf16 or fp16) that `precision` means on `device`;
    `warn` says so when the choice will be slow (bf16 emulated on this CPU)."""
    if precision not in PRECISIONS:
        raise ValueError(f"run.precision={precision!r} is not one of {', '.join(PRECISIONS)}")
    if device.type == "cuda":
        bf16_ok = torch.cuda.is_bf16_supported(including_emulation=False)
        if precision == "auto":
            return "bf16" if bf16_ok else "fp16"
        if precision == "bf16" and not bf16_ok:
            raise ValueError(
                f"run.precision=bf16: {torch.cuda.get_device_name(device)} has no bf16 "
                "support; use run.precision=fp16 (with loss scaling) or fp32"
            )
        return precision
    if precision == "fp16":
        raise ValueError(
            "run.precision=fp16 needs a CUDA device (CPU autocast has no loss-scaled fp16 "
            "path); on CPU use fp32, or bf16 on a CPU with native bf16"
        )
    if warn and precision == "bf16" and not cpu_has_native_bf16():
        warnings.warn(
            "run.precision=bf16: this CPU has no native bf16 instructions, so bf16 is "
            "emulated and several times slower than fp32; use run.precision=fp32 here",
            stacklevel=3,
        )
    return "fp32" if precision == "auto" else precision


def autocast_for(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context of a forward pass at `precision` (resolved on `device`)."""
    resolved = resolve_precision(device, precision)
    if resolved == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[resolved])


def grad_scaler_for(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A loss scaler, enabled only for fp16 (bf16 and fp32 have fp32's exponent range)."""
    return torch.amp.GradScaler(device.type, enabled=resolve_precision(device, precision) == "fp16")


def configure_matmul(device: torch.device) -> None:
    """On CUDA, let fp32 matmuls and convolutions use TF32 tensor cores."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
