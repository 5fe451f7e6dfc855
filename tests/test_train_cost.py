"""`maeid train --dry-run` and its cost estimate: FLOPs as torch's counter counts them,
parameters as the model has them, the config printed so that it reads back, nothing written."""

from pathlib import Path

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from maeid.cli import main
from maeid.train.config import load_config, to_dict
from maeid.train.cost import estimate_training_cost, npz_image_shape
from maeid.train.loop import build_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("tiny.yaml", []),
        ("qt32.yaml", ["mask.unit=16", "mask.ratio=0.5"]),  # blocks of 4x4 patches
        ("tiny.yaml", ["model.decoder_depth=0", "mask.ratio=0.9"]),
    ],
)
def test_forward_flops_and_parameters_match_the_model(name, overrides):
    cfg = load_config(CONFIGS / name, overrides)
    cost = estimate_training_cost(cfg)
    torch.manual_seed(0)
    model = build_model(cfg, cost.image_shape)
    images = torch.randn(3, *cost.image_shape)
    # the math kernel spells attention out as matrix products, which the counter sees
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(images, cfg.mask.ratio)
    assert counter.get_total_flops() == 3 * cost.forward_flops_per_image
    assert cost.parameters == sum(p.numel() for p in model.parameters())
    assert cost.encoder_parameters == sum(p.numel() for p in model.blocks.parameters()) + sum(
        p.numel() for p in (model.cls_token, model.pos_embed, *model.patch_embed.parameters(),
                            *model.norm.parameters())
    )  # fmt: skip
    assert cost.total_flops == 3 * cost.forward_flops_per_image * cfg.optim.batch_size * (
        cfg.run.steps
    )


def test_a_synthesised_npz_is_sized_from_its_header(tmp_path):
    from maeid.hlvm import load_model, save_dataset

    qt32 = load_model("qt32")
    save_dataset(tmp_path / "d.npz", qt32, qt32.sample(3, seed=0))
    assert npz_image_shape(tmp_path / "d.npz") == (1, 32, 32)
    (tmp_path / "t.npz").write_text("text")
    with pytest.raises(ValueError, match="not a .npz with an images array"):
        npz_image_shape(tmp_path / "t.npz")


def test_dry_run_prints_a_config_that_reads_back_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--config", str(CONFIGS / "tiny.yaml"), "--out", str(out),
            "--set", "mask.ratio=0.5", "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert "run: 20 steps, 640 images (2.5 epochs of 256)" in printed
    (tmp_path / "printed.yaml").write_text(printed)
    again = load_config(tmp_path / "printed.yaml")
    assert to_dict(again) == to_dict(load_config(CONFIGS / "tiny.yaml", ["mask.ratio=0.5"]))
