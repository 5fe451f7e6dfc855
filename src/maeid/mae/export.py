"""Export a trained MAE: an HF ViTMAE directory, or a reference-format `.pth`.

The inverse of `maeid.mae.checkpoint`, through the same name tables:

- `hf`: a directory with `config.json` (architecture, mask ratio, norm-pix flag,
  LayerNorm epsilon) and `model.safetensors` in the Hub's names, which
  `transformers.ViTMAEForPreTraining.from_pretrained(path)` loads, and, given the
  training normalisation, `preprocessor_config.json`, from which
  `AutoImageProcessor.from_pretrained(path)` builds the matching `ViTImageProcessor`
  (`maeid.mae.normalisation`). HF masks single
  patches and scores every masked pixel, so a model trained with a larger masking unit or
  with boundary exclusion is refused unless the caller accepts that change.
- `reference`: one `torch.save` file with the state dict under `model` (the reference
  `models_mae.py` names, which are ours) plus `model_args`, `mask_ratio` and
  `normalisation`, plain data that `load_pretrained` reads back without being told the
  head counts.

Nothing is written until everything is checked; each export is written to a temporary
path beside the target and renamed into place, and an existing target is replaced only
with `force` (for `hf`, only a directory that holds a `config.json`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from maeid import atomic
from maeid.mae.checkpoint import HF_DECODER_FLAT, HF_FLAT, HF_LAYER_HUB
from maeid.mae.model import MaskedAutoencoder
from maeid.mae.normalisation import PixelNormalisation, preprocessor_config

FORMATS = ("hf", "reference")
_HF_ENCODER_LAYER = "vit.encoder.layer"
_HF_DECODER_LAYER = "decoder.decoder_layers"


# ------------------------------------------------------------------------ checks
def check_exportable(model: nn.Module, fmt: str, allow_masking_change: bool = False) -> None:
    """Refuse, saying why, a model that `fmt` cannot represent."""
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")
    if not isinstance(model, MaskedAutoencoder):
        raise ValueError(
            f"only a MaskedAutoencoder exports, not a {type(model).__name__}: neither HF "
            "ViTMAE nor the reference MAE has a decoder that sees only a bottleneck code"
        )
    if fmt != "hf":
        return
    h, w = model.img_size
    if h != w:
        raise ValueError(
            f"HF ViTMAE builds square position tables; this model's {h}x{w} images cannot "
            "be exported to it (use --format reference)"
        )
    changes = []
    if model.mask_unit != model.patch_size:
        changes.append(
            f"it masks {model.mask_unit // model.patch_size}x{model.mask_unit // model.patch_size}"
            f" blocks of patches (mask_unit {model.mask_unit} px, patch {model.patch_size} px), "
            "HF masks single patches"
        )
    if model.boundary_exclude:
        changes.append(
            f"its loss skips masked pixels within {model.boundary_exclude} px of a visible "
            "patch, HF's scores them all"
        )
    if changes and not allow_masking_change:
        raise ValueError(
            "HF ViTMAE cannot represent how this model was trained: "
            + "; ".join(changes)
            + ". The weights would export unchanged; accept the different masking with "
            "--allow-masking-change, or use --format reference, which records it"
        )


def check_target(out: str | os.PathLike, fmt: str, force: bool = False) -> Path:
    """`out` as a Path, if an export may be written there."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not force:
            raise ValueError(f"{out} exists; pass --force to replace it, or choose another path")
        if fmt == "hf" and not (out.is_dir() and (out / "config.json").is_file()):
            raise ValueError(
                f"{out} is not an HF model directory (no config.json); --force replaces only "
                "an earlier export, so choose another path"
            )
        if fmt == "reference" and not out.is_file():
            raise ValueError(f"{out} is not a file; a reference export is one .pth file")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"cannot write {out}: {parent} is a file, not a folder")
            break
    return out


# ------------------------------------------------------------------ conversions
def hf_state_dict(model: MaskedAutoencoder) -> dict[str, torch.Tensor]:
    """Our state dict in HF's Hub names; `qkv` is split into query, key and value."""
    to_hf = {ours: hf for hf, ours in HF_FLAT.items()}
    layer_to_hf = {ours: hf for hf, ours in HF_LAYER_HUB.items()}
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if key in to_hf:
            out[to_hf[key]] = value
            continue
        if key.split(".")[0] in HF_DECODER_FLAT:
            out[f"decoder.{key}"] = value
            continue
        stack, index, *name, w = key.split(".")
        prefix = {"blocks": _HF_ENCODER_LAYER, "decoder_blocks": _HF_DECODER_LAYER}[stack]
        name = ".".join(name)
        if name == "attn.qkv":
            for part, tensor in zip("qkv", value.chunk(3, dim=0), strict=True):
                out[f"{prefix}.{index}.{layer_to_hf[f'attn.{part}']}.{w}"] = tensor
        else:
            out[f"{prefix}.{index}.{layer_to_hf[name]}.{w}"] = value
    # safetensors stores each tensor on its own: no views into a shared buffer.
    return {k: v.contiguous().clone() for k, v in out.items()}


def hf_config(model: MaskedAutoencoder, mask_ratio: float) -> dict[str, object]:
    """The `ViTMAEConfig` of `model` as a dict (the inverse of `hf_config_to_kwargs`)."""
    enc, dec = model.blocks, model.decoder_blocks
    if not enc or not dec:
        raise ValueError("HF ViTMAE needs at least one encoder and one decoder block")
    return {
        "architectures": ["ViTMAEForPreTraining"],
        "model_type": "vit_mae",
        "image_size": model.img_size[0],
        "patch_size": model.patch_size,
        "num_channels": model.in_chans,
        "hidden_size": model.cls_token.shape[-1],
        "num_hidden_layers": len(enc),
        "num_attention_heads": enc[0].attn.num_heads,
        "intermediate_size": enc[0].mlp.fc1.out_features,
        "decoder_hidden_size": model.mask_token.shape[-1],
        "decoder_num_hidden_layers": len(dec),
        "decoder_num_attention_heads": dec[0].attn.num_heads,
        "decoder_intermediate_size": dec[0].mlp.fc1.out_features,
        "hidden_act": "gelu",  # exact (erf) GELU, as ours
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.02,
        "layer_norm_eps": model.norm.eps,
        "qkv_bias": True,
        "mask_ratio": float(mask_ratio),
        "norm_pix_loss": bool(model.norm_pix_loss),
    }


# ---------------------------------------------------------------------- exports
def export_hf(
    model: nn.Module,
    out: str | os.PathLike,
    mask_ratio: float,
    force: bool = False,
    allow_masking_change: bool = False,
    normalisation: PixelNormalisation | None = None,
) -> Path:
    """Write `model` as an HF ViTMAE directory at `out`; returns its path. With the
    training `normalisation`, also its `preprocessor_config.json`."""
    check_exportable(model, "hf", allow_masking_change)
    _check_ratio(mask_ratio)
    out = check_target(out, "hf", force)
    config, state = hf_config(model, mask_ratio), hf_state_dict(model)

    def write(directory: Path) -> None:
        from safetensors.torch import save_file

        atomic.write_json(directory / "config.json", config)
        if normalisation is not None:
            processor = preprocessor_config(normalisation, model.img_size[0])
            atomic.write_json(directory / "preprocessor_config.json", processor)
        # safetensors makes its file owner-only; atomic_path gives it the umask's mode.
        with atomic.atomic_path(directory / "model.safetensors", suffix=".safetensors") as tmp:
            save_file(state, str(tmp), metadata={"format": "pt"})

    _replace_dir(out, write)
    return out


def export_reference(
    model: nn.Module,
    out: str | os.PathLike,
    mask_ratio: float | None = None,
    force: bool = False,
    normalisation: PixelNormalisation | None = None,
) -> Path:
    """Write `model` as a reference-format `.pth` at `out`; returns its path."""
    check_exportable(model, "reference")
    if mask_ratio is not None:
        _check_ratio(mask_ratio)
    out = check_target(out, "reference", force)
    payload = {
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "model_args": dict(model.config),
        "mask_ratio": mask_ratio,
        "normalisation": normalisation.to_dict() if normalisation is not None else None,
    }
    atomic.torch_save(payload, out)
    return out


def export_model(
    model: nn.Module,
    fmt: str,
    out: str | os.PathLike,
    mask_ratio: float,
    force: bool = False,
    allow_masking_change: bool = False,
    normalisation: PixelNormalisation | None = None,
) -> Path:
    """Export `model` in format `fmt` with the masking ratio and pixel normalisation it
    was trained with (`maeid.train.load_any` reads both from a run or an import)."""
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")
    if fmt == "hf":
        return export_hf(model, out, mask_ratio, force, allow_masking_change, normalisation)
    return export_reference(model, out, mask_ratio, force, normalisation)


# ---------------------------------------------------------------------- helpers
def _check_ratio(ratio: float) -> None:
    if not 0.0 < float(ratio) < 1.0:
        raise ValueError(f"mask ratio {ratio} must lie in (0, 1)")


def _replace_dir(out: Path, write: Callable[[Path], None]) -> None:
    """Fill a fresh temporary directory beside `out`, then rename it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    old = None
    try:
        write(tmp)
        os.chmod(tmp, atomic.dir_mode())  # mkdtemp makes it private; the export is not
        if out.exists():  # check_target allowed the replacement
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "export")
        os.replace(tmp, out)
    except BaseException:
        if old is not None and not out.exists():
            os.replace(old / "export", out)  # put the previous export back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
