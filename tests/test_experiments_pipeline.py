"""A real sweep end to end, kept tiny: train a small MAE on qt32, measure it, report it."""

from __future__ import annotations

from pathlib import Path

import pytest

from maeid.experiments.pipeline import evaluation_options
from maeid.experiments.results_db import ResultsDB
from maeid.experiments.runner import run_sweep
from maeid.experiments.sweep_spec import SweepSpec
from maeid.report import build_report

TINY = {
    "name": "tiny",
    "config": {
        "data": {"source": "synthetic", "model": "qt32", "n_train": 128},
        "model": {"preset": "qt32", "embed_dim": 16, "depth": 1, "num_heads": 2,
                  "decoder_embed_dim": 16, "decoder_depth": 1, "decoder_num_heads": 2},
        "optim": {"batch_size": 32, "base_lr": 1e-3},
        "run": {"steps": 3, "log_every": 1, "ckpt_every": 2, "recon_every": 0,
                "progress": False},
    },
    "grid": {"mask_ratio": [0.75], "mask_unit": [4, 16]},
    "evaluate": {
        "identifiability": {"samples": 120, "landmarks": 20, "max_train": 90},
        "reconstruction": {"recon_images": 8, "max_test": 16},
        "attention": {},
    },
}  # fmt: skip


@pytest.mark.slow
def test_a_tiny_sweep_trains_measures_and_reports(tmp_path):
    spec = SweepSpec.from_dict(TINY)
    summary = run_sweep(spec, tmp_path / "r.db", out_dir=tmp_path / "runs", progress=False)
    assert summary.counts["done"] == 2, summary
    with ResultsDB(tmp_path / "r.db") as db:
        runs = db.runs("tiny")
        rows = db.metric_table("tiny")
    for run in runs:
        assert Path(run.artefacts["checkpoint"]).is_file()
        assert Path(run.artefacts["attention"]).is_file()
        assert run.metrics["train"]["steps"] == 3
        assert run.metrics["run"]["patch_size"] == 4
    for row in rows:
        for level in (0, 1, 2):
            predicted = row[f"identifiability.predicted.level_{level}"]
            assert 0.0 <= predicted <= 1.0
            # S(m) is among the visible side's ancestors: its limit can only be higher.
            assert row[f"identifiability.limit_visible.level_{level}"] >= predicted - 0.03
            for source in ("measured", "measured_region", "untrained"):
                assert row[f"identifiability.{source}.level_{level}"] <= 1.0
        # Three steps: the run is logged against the exact Bayes loss, and far from it.
        assert row["train.bayes_loss"] < row["train.plateau_loss"]
        assert row["train.normalised_excess"] > 0.25
        assert row["identifiability.p_shared.level_0"] == 1.0  # the root is always shared
        assert row["recon.masked.mse"] > 0 and row["recon.masked.mean_predictor_mse"] > 0
    # With unit 16 at ratio 0.75 only the root is shared: no level-2 latent is ever in S.
    by_unit = {row["mask_unit"]: row for row in rows}
    assert by_unit[16]["identifiability.p_shared.level_2"] == 0.0
    assert by_unit[4]["identifiability.p_shared.level_2"] > 0.5

    report = build_report(tmp_path / "r.db", tmp_path / "report")
    text = report.path.read_text()
    assert "r2_heatmaps.png" in text and "reconstruction_vs_ratio.png" not in text  # 1 ratio
    assert text.count("![CLS attention maps]") == text.count("![held-out loss]") == 2
    assert "## The theory: which latents a mask makes the MAE recover (qt32)" in text
    assert len(report.headline.splitlines()) == 4
    assert "## Training quality: distance to the Bayes loss" in text
    assert text.count("| under-trained |") == 2
    assert "untestable: 0 trained run(s), 2 under-trained" in text


def test_evaluation_options_accepts_lists_and_mappings():
    assert evaluation_options(["probe", "knn"]) == {"probe": {}, "knn": {}}
    assert evaluation_options({"probe": None, "knn": {"k": 5}}) == {"probe": {}, "knn": {"k": 5}}
    assert evaluation_options(None) == {}


def test_launch_spreads_a_run_over_torchrun_processes(tmp_path):
    from maeid.experiments.pipeline import torchrun_command

    raw = {**TINY, "launch": {"nproc_per_node": 4}}
    point = SweepSpec.from_dict(raw).points()[0]
    assert point.config["launch"] == {"nproc_per_node": 4}
    assert point.config_hash != SweepSpec.from_dict(TINY).points()[0].config_hash
    cmd = torchrun_command(tmp_path / "c.yaml", tmp_path / "train", True, 4)
    assert cmd[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4",
                       "-m", "maeid", "train", "--config", str(tmp_path / "c.yaml"),
                       "--out", str(tmp_path / "train"), "--resume"]  # fmt: skip
    with pytest.raises(ValueError, match="launch"):
        SweepSpec.from_dict({**TINY, "launch": {"gpus": 2}})


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="Fashion-MNIST is not installed"
)
def test_real_image_measures_run_inside_the_sweep_pipeline(tmp_path):
    """The sweep evaluates under no_grad; the probe must still train its head."""
    import torch

    from maeid.experiments.evaluations import run_evaluations
    from maeid.mae import MaskedAutoencoder
    from maeid.train.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "fashion_mnist.yaml")
    torch.manual_seed(0)
    model = MaskedAutoencoder(img_size=32, patch_size=4, in_chans=1, embed_dim=16, depth=1,
                              num_heads=2, decoder_embed_dim=16, decoder_depth=1,
                              decoder_num_heads=2)  # fmt: skip
    sizes = {"max_train": 300, "max_test": 100}
    requested = {"probe": {**sizes, "probe_epochs": 3}, "knn": sizes}
    metrics, _ = run_evaluations(requested, model, cfg, tmp_path)
    assert 0.1 < metrics["probe"]["linear_top1"] <= 1.0  # random features beat 10-way chance
    assert 0.1 < metrics["probe"]["knn_top1"] <= 1.0
