"""Load published MAE weights: reference `.pth` checkpoints and HF ViTMAE directories.

Both are converted by name into our parameter names (those of the reference
`models_mae.py`). Anything that does not fit is an error that lists the offending keys;
an encoder-only checkpoint (how the reference MAE publishes its pre-trained weights)
loads with a freshly initialised decoder and says so in the returned `LoadReport` and a
warning.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from maeid.mae.model import MaskedAutoencoder
from maeid.mae.presets import build_mae
from maeid.mae.safe_load import load_torch_file

ENCODER_PREFIXES = ("cls_token", "pos_embed", "patch_embed.", "blocks.", "norm.")


@dataclass
class LoadReport:
    """What a load did. `fresh` lists our parameters the checkpoint did not provide."""

    source: str
    fresh: list[str] = field(default_factory=list)

    @property
    def note(self) -> str:
        if not self.fresh:
            return f"loaded every parameter from {self.source}"
        return (
            f"{self.source} holds no decoder ({len(self.fresh)} tensors, e.g. "
            f"{self.fresh[0]}); the decoder is freshly initialised and needs training "
            "before reconstructions mean anything"
        )


# ------------------------------------------------------------- HF ViTMAE names
# Old-format HF checkpoints (those on the Hub) and transformers>=5 name layers apart;
# both come here. `{i}` is a layer index, `{w}` weight or bias. The Hub names are the
# ones every release loads, so `maeid.mae.export` writes those (HF_LAYER_HUB inverted).
HF_LAYER_HUB = {
    "attention.attention.query": "attn.q",
    "attention.attention.key": "attn.k",
    "attention.attention.value": "attn.v",
    "attention.output.dense": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
}
_HF_LAYER = {
    **HF_LAYER_HUB,
    "attention.q_proj": "attn.q",
    "attention.k_proj": "attn.k",
    "attention.v_proj": "attn.v",
    "attention.o_proj": "attn.proj",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}
HF_FLAT = {
    "vit.embeddings.cls_token": "cls_token",
    "vit.embeddings.position_embeddings": "pos_embed",
    "vit.embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "vit.embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "vit.layernorm.weight": "norm.weight",
    "vit.layernorm.bias": "norm.bias",
    "decoder.mask_token": "mask_token",
    "decoder.decoder_pos_embed": "decoder_pos_embed",
}
# transformers 5.x writes decoder layers as `decoder.decoder_encoder.layer.{i}` (its
# renaming of `encoder.layer` -> `layers`, undone on save, also hits `decoder_layers`).
_HF_LAYER_KEY = re.compile(
    r"^(?:vit\.encoder\.layer|vit\.layers|"
    r"(?P<dec>decoder\.decoder_layers|decoder\.decoder_encoder\.layer))\.(?P<i>\d+)\."
    r"(?P<name>.+)\.(?P<w>weight|bias)$"
)
HF_DECODER_FLAT = ("decoder_embed", "decoder_norm", "decoder_pred")  # under `decoder.`
_HF_DECODER_FLAT = re.compile(rf"^decoder\.({'|'.join(HF_DECODER_FLAT)})\.(weight|bias)$")


def convert_hf_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HF `ViTMAEForPreTraining` state dict -> ours; q, k, v are fused into `qkv`."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    unknown: list[str] = []
    for key, value in state.items():
        if key in HF_FLAT:
            out[HF_FLAT[key]] = value
            continue
        if m := _HF_DECODER_FLAT.match(key):
            out[f"{m[1]}.{m[2]}"] = value
            continue
        m = _HF_LAYER_KEY.match(key)
        if m is None or m["name"] not in _HF_LAYER:
            unknown.append(key)
            continue
        prefix = f"{'decoder_blocks' if m['dec'] else 'blocks'}.{m['i']}."
        name = _HF_LAYER[m["name"]]
        if name in ("attn.q", "attn.k", "attn.v"):
            qkv.setdefault(f"{prefix}attn.qkv.{m['w']}", {})[name[-1]] = value
        else:
            out[f"{prefix}{name}.{m['w']}"] = value
    if unknown:
        raise ValueError(f"not ViTMAE pre-training weights; unknown keys: {sorted(unknown)}")
    for key, parts in qkv.items():
        if key.endswith("bias") and not parts:
            continue
        if set(parts) != {"q", "k", "v"}:
            raise ValueError(f"{key}: found only {sorted(parts)} of q, k, v")
        out[key] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    # `qkv_bias=False` checkpoints: a zero bias is the same map.
    for key in [k for k in out if k.endswith("attn.qkv.weight")]:
        bias = key[: -len("weight")] + "bias"
        if bias not in out:
            out[bias] = torch.zeros(out[key].shape[0], dtype=out[key].dtype)
    return out


def hf_config_to_kwargs(config: dict) -> dict:
    """HF `ViTMAEConfig` (as a dict) -> `MaskedAutoencoder` keyword arguments."""
    if config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"hidden_act {config['hidden_act']!r} is not supported; only 'gelu'")
    hidden, dec_hidden = config["hidden_size"], config["decoder_hidden_size"]
    ratio = config["intermediate_size"] / hidden
    if config["decoder_intermediate_size"] / dec_hidden != ratio:
        raise ValueError(
            "encoder and decoder MLP ratios differ "
            f"({config['intermediate_size']}/{hidden} vs "
            f"{config['decoder_intermediate_size']}/{dec_hidden}); this model uses one mlp_ratio"
        )
    size = config["image_size"]
    patch = config["patch_size"]
    if not isinstance(patch, int):
        if patch[0] != patch[1]:
            raise ValueError(f"non-square patches {patch} are not supported")
        patch = patch[0]
    return dict(
        img_size=size if isinstance(size, int) else tuple(size), patch_size=patch,
        in_chans=config["num_channels"], embed_dim=hidden,
        depth=config["num_hidden_layers"], num_heads=config["num_attention_heads"],
        decoder_embed_dim=dec_hidden, decoder_depth=config["decoder_num_hidden_layers"],
        decoder_num_heads=config["decoder_num_attention_heads"], mlp_ratio=ratio,
        norm_pix_loss=bool(config.get("norm_pix_loss", False)),
        norm_eps=config.get("layer_norm_eps", 1e-12),
    )  # fmt: skip


def load_state(model: MaskedAutoencoder, state: dict[str, torch.Tensor], source: str) -> LoadReport:
    """Copy `state` (our names) into `model`, strictly but for a missing decoder."""
    own = model.state_dict()
    unknown = sorted(set(state) - set(own))
    mismatched = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(state) & set(own)
        if state[k].shape != own[k].shape
    )
    missing = sorted(set(own) - set(state))
    missing_encoder = [k for k in missing if k.startswith(ENCODER_PREFIXES)]
    problems = []
    if unknown:
        problems.append(f"unknown keys {unknown}")
    if mismatched:
        problems.append(f"shape mismatches {mismatched}")
    if missing_encoder:
        problems.append(f"missing encoder keys {missing_encoder}")
    if problems:
        raise ValueError(f"{source} does not fit the model: " + "; ".join(problems))
    model.load_state_dict(state, strict=False)
    report = LoadReport(source=source, fresh=missing)
    if missing:
        warnings.warn(report.note, stacklevel=2)
    return report


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from `.safetensors`, or from a torch file (under `model` if present)."""
    return read_weights_file(path)[0]


def read_weights_file(path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """(state dict, model arguments or None). A `.pth` written by `maeid export` records
    the `MaskedAutoencoder` arguments under `model_args`; published ones do not."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:  # safetensors holds no code; only a damaged file fails here
            return load_file(str(path)), None
        except Exception as err:
            reason = (str(err).splitlines() or [type(err).__name__])[0]
            raise ValueError(
                f"truncated or corrupt checkpoint {path} ({reason}); restore it from a copy"
            ) from None
    return weights_in(load_torch_file(path), path)


def weights_in(obj: object, path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """(state dict, model arguments or None) of a torch file's content `obj`: a plain
    state dict, or one under `model` (beside `model_args` in a `maeid export`)."""
    args = None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        args = obj.get("model_args") if isinstance(obj.get("model_args"), dict) else None
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path} holds no state dict (expected tensors, or a 'model' key)")
    return obj, args


def load_hf_pretrained(directory: str | Path, **overrides) -> tuple[MaskedAutoencoder, LoadReport]:
    """A model from an HF ViTMAE directory (`config.json` + `model.safetensors` or
    `pytorch_model.bin`), architecture from the config."""
    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found; an HF model directory holds config.json")
    config = json.loads(config_path.read_text())
    if config.get("model_type", "vit_mae") != "vit_mae":
        raise ValueError(f"{config_path}: model_type {config['model_type']!r} is not 'vit_mae'")
    weights = [directory / n for n in ("model.safetensors", "pytorch_model.bin")]
    found = [w for w in weights if w.is_file()]
    if not found:
        raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {directory}")
    model = MaskedAutoencoder(**{**hf_config_to_kwargs(config), **overrides})
    state = convert_hf_state_dict(read_tensors(found[0]))
    return model, load_state(model, state, str(found[0]))


def infer_kwargs(state: dict[str, torch.Tensor]) -> dict:
    """Architecture of a reference state dict, from its shapes (but the head counts)."""
    try:
        embed_dim = state["cls_token"].shape[-1]
        proj = state["patch_embed.proj.weight"]
        num_patches = state["pos_embed"].shape[1] - 1
        fc1 = state["blocks.0.mlp.fc1.weight"]
    except KeyError as err:
        raise ValueError(f"not an MAE state dict: no {err.args[0]!r}") from None
    side = round(num_patches**0.5)
    kwargs = dict(
        embed_dim=embed_dim, in_chans=proj.shape[1], patch_size=proj.shape[-1],
        depth=len({k.split(".")[1] for k in state if k.startswith("blocks.")}),
        mlp_ratio=fc1.shape[0] / embed_dim,
    )  # fmt: skip
    if side * side == num_patches:
        kwargs["img_size"] = side * proj.shape[-1]
    if "decoder_embed.weight" in state:
        kwargs["decoder_embed_dim"] = state["decoder_embed.weight"].shape[0]
        kwargs["decoder_depth"] = len(
            {k.split(".")[1] for k in state if k.startswith("decoder_blocks.")}
        )
    return kwargs


def load_pretrained(
    path: str | Path, preset: str | None = None, **overrides
) -> tuple[MaskedAutoencoder, LoadReport]:
    """A model with published weights, from an HF directory or a reference `.pth`.

    For a `.pth` the architecture is read off the tensor shapes, except the head counts,
    which no published checkpoint records: give `preset=` (e.g. "vit_b16") or
    `num_heads=` (and `decoder_num_heads=` for a decoder). A `.pth` from `maeid export`
    records every argument and needs neither.
    """
    path = Path(path)
    if path.is_dir():
        return load_hf_pretrained(path, **overrides)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    state, saved_args = read_weights_file(path)
    return pretrained_from_state(state, saved_args, path, preset, **overrides)


def pretrained_from_state(
    state: dict[str, torch.Tensor],
    saved_args: dict | None,
    path: Path,
    preset: str | None = None,
    **overrides,
) -> tuple[MaskedAutoencoder, LoadReport]:
    """`load_pretrained` on a state dict already read from `path` (which names it)."""
    if any(k.startswith(("vit.", "decoder.")) for k in state):
        state = convert_hf_state_dict(state)
    if preset is not None:
        model = build_mae(preset, **overrides)
    elif saved_args is not None:
        model = MaskedAutoencoder(**{**saved_args, **overrides})
    else:
        kwargs = {**infer_kwargs(state), **overrides}
        need = ["num_heads"] + (["decoder_num_heads"] if "decoder_embed_dim" in kwargs else [])
        if missing := [k for k in need if k not in kwargs]:
            raise ValueError(
                f"{path} does not record {', '.join(missing)}; pass preset= (--preset on the "
                "command line, e.g. vit_b16) "
                f"or {', '.join(f'{k}=...' for k in missing)}"
            )
        model = MaskedAutoencoder(**kwargs)
    return model, load_state(model, state, str(path))
