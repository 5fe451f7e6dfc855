"""Report figures that do not mislead: axes from their origin, the predict-the-mean and
Bayes levels beside the reconstruction error, colour bars on attention maps, the theory
in a synthetic sweep's own report, and no promise of figures the runs do not have."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from maeid.experiments.config_hash import config_hash
from maeid.experiments.results_db import ResultsDB
from maeid.experiments.sweep_spec import resolve_train_config
from maeid.measures.reconstruction import mean_predictor_mse
from maeid.report import build_report
from maeid.report.figures import reconstruction_figure


def recon_rows(bayes: bool) -> list[dict]:
    rows = []
    for ratio in (0.25, 0.5, 0.75):
        for unit in (4, 16):
            row = {"mask_ratio": ratio, "mask_unit": unit, "seed": 0,
                   "recon.masked.mse": 0.6 + 0.2 * ratio, "recon.masked.psnr": 20.0 - ratio,
                   "recon.masked.ssim": 0.8 - ratio / 4,
                   "recon.masked.mean_predictor_mse": 2.0}  # fmt: skip
            if bayes:
                row["train.bayes_loss"] = 0.1 * ratio + 0.01 * unit
                row["train.plateau_loss"] = 0.5
            rows.append(row)
    return rows


def lines_by_label(ax) -> dict:
    return {line.get_label(): line for line in ax.get_lines()}


def test_reconstruction_axes_start_at_their_origin_with_the_mean_and_bayes_levels():
    fig = reconstruction_figure(recon_rows(bayes=True))
    mse, psnr, ssim = fig.axes[:3]
    for ax in (mse, psnr, ssim):
        assert ax.get_xlim() == (0, 1) and ax.get_ylim()[0] == 0
    assert ssim.get_ylim() == (0, 1)
    lines = lines_by_label(mse)
    assert set(lines[("predict the mean")].get_ydata()) == {2.0}
    # Bayes is in loss units: scaled by predict-the-mean MSE / plateau loss = 2.0 / 0.5.
    bayes = lines["Bayes, unit 16px"]
    assert list(bayes.get_xdata()) == [0.25, 0.5, 0.75]
    assert np.allclose(bayes.get_ydata(), [4 * (0.1 * r + 0.16) for r in (0.25, 0.5, 0.75)])
    assert mse.get_ylim()[1] >= 2.0  # the plateau is in view


def test_without_a_bayes_metric_no_bayes_level_is_drawn():
    fig = reconstruction_figure(recon_rows(bayes=False))
    labels = set(lines_by_label(fig.axes[0]))
    assert "predict the mean" in labels and not any(k.startswith("Bayes") for k in labels)


def test_mean_predictor_mse_is_in_the_data_units():
    normalised = torch.randn(64, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    expected = float((normalised.double() ** 2).mean()) * 9.0  # std 3: errors scale by 3
    assert mean_predictor_mse(normalised, (3.0,)) == pytest.approx(expected)


def test_attention_maps_have_a_colour_bar(tmp_path, monkeypatch):
    from maeid.evaluate import attention

    shown = {}
    monkeypatch.setattr(attention, "save_figure", lambda fig, path: shown.setdefault("fig", fig))
    images = np.random.default_rng(0).random((3, 1, 16, 16))
    maps = np.random.default_rng(1).random((3, 4, 4))
    attention.plot_cls_attention(images, maps, tmp_path / "a.png")
    fig = shown["fig"]
    assert len(fig.axes) == 2 * 3 + 1  # the image and map panels, and the colour bar
    assert fig.axes[-1].get_ylabel() == "attention / image's peak"


def test_a_synthetic_sweeps_own_report_has_the_theory_and_promises_no_tsne(tmp_path):
    art = tmp_path / "attn.png"
    Image.new("RGB", (8, 8)).save(art)
    db_path = tmp_path / "r.db"
    with ResultsDB(db_path) as db:
        for ratio, unit in ((0.5, 4), (0.75, 16)):
            data = {"source": "synthetic", "model": "qt32", "n_train": 64}
            mask = {"ratio": ratio, "unit": unit}
            base = {"data": data, "model": {"preset": "tiny"}, "mask": mask}
            cfg = {"train": resolve_train_config(base), "evaluate": {}}
            params = {"mask_ratio": ratio, "mask_unit": unit, "seed": 0}
            run_id = db.add_run(sweep="s", config_hash=config_hash(cfg), config=cfg,
                                params=params, run_dir=tmp_path / str(unit))  # fmt: skip
            metrics = {"identifiability": {"predicted": {"level_0": 0.9}}}
            db.finish(db.claim_one(run_id), metrics, {"attention": str(art)})
    text = build_report(db_path, tmp_path / "report").path.read_text()
    assert "## The theory: which latents a mask makes the MAE recover (qt32)" in text
    assert "![level composition of c](theory/theory_levels.png)" in text
    assert (tmp_path / "report" / "theory" / "theory_levels.png").is_file()
    table = text.split("## The theory")[1].split("```")[1]
    cells = [line.split()[:2] for line in table.strip().splitlines()[2:]]
    assert cells == [["0.5", "4"], ["0.5", "16"], ["0.75", "4"], ["0.75", "16"]]
    assert "## Per run: [CLS] attention maps\n" in text and "t-SNE" not in text


def test_a_missing_model_file_does_not_sink_the_report(tmp_path):
    from maeid.report.registry import Page
    from maeid.report.theory import theory_sections

    class Run:
        config = {"train": resolve_train_config({"data": {"model": "qt32"}})}

    Run.config["train"]["data"]["model"] = str(tmp_path / "moved.yaml")
    (section,) = theory_sections(Page([], [Run()], tmp_path))
    assert section.startswith("## The theory (moved.yaml)") and "Not computed" in section


def test_a_builder_name_with_slashes_heads_its_theory_section_whole():
    from maeid.report.theory import model_label

    assert model_label("rhm32:m=32/4/2,p_texture=0.5") == "rhm32:m=32/4/2,p_texture=0.5"
    assert model_label("configs/models/tree.yaml") == "tree.yaml"
