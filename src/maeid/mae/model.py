"""The masked autoencoder: a ViT encoder on visible tokens and a light decoder.

Numerically the model of He et al.'s reference `models_mae.py` and of HF's
`ViTMAEForPreTraining`: same parameters (names included), same masking by argsort of
noise, same loss. Two things are added, both off by default:

- `mask_unit`: masks k x k blocks of patches together (k = mask_unit / patch_size), as
  long-sequence MAE does; `noise` then has one value per block.
- `boundary_exclude`: drops from the loss the pixels of masked patches within that many
  pixels of a visible one (the paper's first suggested improvement).

Masks come from `maeid.theory.masking`, the sampler the theory predicts for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from maeid.mae.block import Block
from maeid.mae.patch_embed import PatchEmbed
from maeid.mae.patches import (
    far_from_visible,
    masked_patch_loss,
    normalize_patches,
    patchify,
    unpatchify,
)
from maeid.mae.pos_embed import sincos_2d
from maeid.theory.masking import MaskBatch, MaskLayout, masks_from_noise, sample_noise


@dataclass(frozen=True)
class Features:
    """Encoder output after the final norm.

    `cls` (N, D) is the [CLS] token, `mean` (N, D) the mean of the patch tokens (not
    [CLS]) and `tokens` (N, T, D) the patch tokens: all L of them in raster order, or the
    visible ones of a mask, in raster order.
    """

    cls: torch.Tensor
    mean: torch.Tensor
    tokens: torch.Tensor


def image_size_pair(img_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(img_size, int):
        return (img_size, img_size)
    h, w = img_size
    return (int(h), int(w))


def check_geometry(img_size: tuple[int, int], patch_size: int, mask_unit: int) -> None:
    h, w = img_size
    if patch_size < 1 or h % patch_size or w % patch_size:
        raise ValueError(
            f"patch_size {patch_size} does not tile a {h}x{w} image; pick a patch size "
            "that divides both sides"
        )
    if mask_unit < patch_size or mask_unit % patch_size:
        raise ValueError(
            f"mask_unit {mask_unit} is not a multiple of patch_size {patch_size}; a "
            "masking unit is a block of whole patches"
        )
    if h % mask_unit or w % mask_unit:
        raise ValueError(
            f"mask_unit {mask_unit} does not tile a {h}x{w} image; pick a unit that "
            "divides both sides"
        )


def init_linear_and_norm(module: nn.Module) -> None:
    """The reference initialisation: xavier-uniform linear weights, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def gather_tokens(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """x[n, ids[n]] for every row n: (N, T, D), (N, K) -> (N, K, D)."""
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class MaskedAutoencoder(nn.Module):
    """MAE with a ViT backbone; keyword names follow the reference `MaskedAutoencoderViT`.

    `mask_unit` is in pixels (default: one patch). `norm_eps` is the LayerNorm epsilon
    (the reference uses 1e-6; HF configs often say 1e-12).
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 1024,
        depth: int = 24,
        num_heads: int = 16,
        decoder_embed_dim: int = 512,
        decoder_depth: int = 8,
        decoder_num_heads: int = 16,
        mlp_ratio: float = 4.0,
        norm_pix_loss: bool = False,
        mask_unit: int | None = None,
        boundary_exclude: int = 0,
        norm_eps: float = 1e-6,
    ):
        super().__init__()
        img_size = image_size_pair(img_size)
        mask_unit = patch_size if mask_unit is None else int(mask_unit)
        check_geometry(img_size, patch_size, mask_unit)
        if boundary_exclude < 0 or 2 * boundary_exclude >= mask_unit:
            raise ValueError(
                f"boundary_exclude {boundary_exclude} must be in [0, mask_unit/2) = "
                f"[0, {mask_unit / 2:g}); wider, an isolated masked unit would have no pixel "
                "left in the loss"
            )
        self.img_size = img_size
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.mask_unit = mask_unit
        self.boundary_exclude = int(boundary_exclude)
        self.norm_pix_loss = norm_pix_loss
        self.config = dict(
            img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim,
            depth=depth, num_heads=num_heads, decoder_embed_dim=decoder_embed_dim,
            decoder_depth=decoder_depth, decoder_num_heads=decoder_num_heads,
            mlp_ratio=mlp_ratio, norm_pix_loss=norm_pix_loss, mask_unit=mask_unit,
            boundary_exclude=self.boundary_exclude, norm_eps=norm_eps,
        )  # fmt: skip

        # Encoder.
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.grid_size = self.patch_embed.grid_size
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        # Fixed sin-cos positions, kept as (frozen) parameters so that state_dict names and
        # contents match the reference checkpoints.
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim), False)
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, norm_eps) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)

        # Decoder.
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(
            torch.zeros(1, num_patches + 1, decoder_embed_dim), False
        )
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, norm_eps)
            for _ in range(decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=norm_eps)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size**2 * in_chans)

        self.layout = MaskLayout(*self.grid_size, unit=mask_unit // patch_size)
        # The layout's token indices, kept on the model's device (not saved in checkpoints).
        self.register_buffer("unit_tokens", self.layout.unit_tokens, persistent=False)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        gh, gw = self.grid_size
        with torch.no_grad():
            self.pos_embed.copy_(sincos_2d(gh, gw, self.pos_embed.shape[-1]))
            self.decoder_pos_embed.copy_(sincos_2d(gh, gw, self.decoder_pos_embed.shape[-1]))
        # The patch projection is a linear map of the flattened patch; init it as one.
        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        self.apply(init_linear_and_norm)

    # ----------------------------------------------------------------- inputs
    def check_images(self, imgs: torch.Tensor) -> None:
        expected = (self.in_chans, *self.img_size)
        if imgs.ndim != 4 or tuple(imgs.shape[1:]) != expected:
            raise ValueError(
                f"images of shape {tuple(imgs.shape)} do not fit this model; expected "
                f"(N, {expected[0]}, {expected[1]}, {expected[2]})"
            )

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, L, p*p*C)."""
        return patchify(imgs, self.patch_size)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, L, p*p*C) -> (N, C, H, W)."""
        return unpatchify(patches, self.patch_size, self.grid_size)

    def masks(
        self,
        batch: int,
        mask_ratio: float,
        noise: torch.Tensor | None = None,
        device: torch.device | None = None,
    ) -> MaskBatch:
        """The masks `forward` uses; without `noise`, drawn from torch's global RNG."""
        if noise is None:
            noise = sample_noise(batch, self.layout, generator=None, device=device)
        return masks_from_noise(noise, self.layout, mask_ratio, self.unit_tokens)

    # ---------------------------------------------------------------- encoder
    def forward_encoder(self, imgs: torch.Tensor, ids_keep: torch.Tensor | None) -> torch.Tensor:
        """(N, 1 + K, D): [CLS] then the tokens `ids_keep` (all, if None), after the norm."""
        patches = self.patchify(imgs)
        pos = self.pos_embed[:, 1:].expand(imgs.shape[0], -1, -1)
        if ids_keep is not None:  # embed only what the encoder will see
            patches, pos = gather_tokens(patches, ids_keep), gather_tokens(pos, ids_keep)
        x = self.patch_embed.embed_patches(patches) + pos
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    # ---------------------------------------------------------------- decoder
    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """(N, 1 + K, D) encoder output -> (N, L, p*p*C) pixel predictions for every patch."""
        x = self.decoder_embed(latent)
        n, length = ids_restore.shape
        mask_tokens = self.mask_token.expand(n, length + 1 - x.shape[1], -1)
        # Visible tokens first, then mask tokens: `ids_restore` puts each back in place.
        patches = gather_tokens(torch.cat([x[:, 1:], mask_tokens], dim=1), ids_restore)
        x = torch.cat([x[:, :1], patches], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

    # ------------------------------------------------------------------- loss
    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor):
        """MSE on masked patches (norm-pix targets if `norm_pix_loss`)."""
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            target = normalize_patches(target)
        keep = None
        if self.boundary_exclude:
            keep = far_from_visible(mask, self.grid_size, self.patch_size, self.boundary_exclude)
        return masked_patch_loss(pred, target, mask, keep)

    def forward(
        self, imgs: torch.Tensor, mask_ratio: float = 0.75, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (loss, pred (N, L, p*p*C), mask (N, L), 1 = masked).

        `noise` (N, num mask units) fixes the mask by argsort: the units with the smallest
        noise stay visible. Without it, noise is drawn from torch's global RNG.
        """
        self.check_images(imgs)
        masks = self.masks(imgs.shape[0], mask_ratio, noise, imgs.device)
        latent = self.forward_encoder(imgs, masks.ids_keep)
        pred = self.forward_decoder(latent, masks.ids_restore)
        return self.forward_loss(imgs, pred, masks.mask), pred, masks.mask

    # ------------------------------------------------------------- evaluation
    def prediction_to_image(self, pred: torch.Tensor, imgs: torch.Tensor) -> torch.Tensor:
        """(N, L, p*p*C) predictions -> (N, C, H, W) in pixel units.

        Under `norm_pix_loss` the model predicts per-patch standardised pixels; they are
        mapped back with each true patch's mean and spread (as the reference's
        visualisation does), so reconstructions are comparable to the images. Note that
        this borrows each masked patch's true mean and variance.
        """
        if self.norm_pix_loss:
            target = self.patchify(imgs)
            mean = target.mean(dim=-1, keepdim=True)
            std = (target.var(dim=-1, keepdim=True) + 1e-6) ** 0.5
            pred = pred * std + mean
        return self.unpatchify(pred)

    def encode(self, imgs: torch.Tensor, mask: torch.Tensor | None = None) -> Features:
        """Encoder features of all tokens, or of the visible tokens of `mask` (N, L), 1 =
        masked, e.g. `sample_masks(...).mask`. Every row must keep the same number of
        tokens (the encoder runs on a dense batch)."""
        self.check_images(imgs)
        ids_keep = None
        if mask is not None:
            ids_keep = visible_ids(mask, self.layout.num_tokens)
        x = self.forward_encoder(imgs, ids_keep)
        tokens = x[:, 1:]
        return Features(cls=x[:, 0], mean=tokens.mean(dim=1), tokens=tokens)

    def last_attention(self, imgs: torch.Tensor) -> torch.Tensor:
        """(N, heads, 1 + L, 1 + L) attention probabilities of the last encoder block on
        the unmasked image; row 0 is where [CLS] attends."""
        self.check_images(imgs)
        if not self.blocks:
            raise ValueError("the encoder has no block to take attention from (depth 0)")
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:]
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for block in self.blocks[:-1]:
            x = block(x)
        return self.blocks[-1].attention_probabilities(x)


def untrained_copy(model: nn.Module, seed: int) -> nn.Module:
    """The same architecture at the initialisation `seed` gives, in eval mode: the floor a
    trained encoder is held against. Seeds torch's global generator, as training does, so
    the copy is the run's own starting point when `seed` is its `run.seed`."""
    torch.manual_seed(seed)
    return type(model)(**model.config).eval()


def visible_ids(mask: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """(N, L) token mask (1 = masked) -> (N, K) visible token indices in raster order."""
    if mask.ndim != 2 or mask.shape[1] != num_tokens:
        raise ValueError(
            f"mask has shape {tuple(mask.shape)}; expected (N, {num_tokens}), one entry per "
            "token, 1 = masked"
        )
    visible = mask == 0
    counts = visible.sum(dim=1)
    if (counts != counts[0]).any() or counts[0] == 0:
        raise ValueError(
            f"mask rows keep {sorted(set(counts.tolist()))} visible tokens; every row must "
            "keep the same, non-zero number (masks from one ratio and unit do)"
        )
    # A stable sort puts visible tokens (key 0) first, each group in raster order.
    order = torch.sort((~visible).to(torch.int8), dim=1, stable=True).indices
    return order[:, : int(counts[0])]
