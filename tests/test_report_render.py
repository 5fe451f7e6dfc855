"""`maeid report` renders from a small database, and says so where data is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from maeid.cli import main
from maeid.experiments.config_hash import config_hash
from maeid.experiments.results_db import ResultsDB
from maeid.report import build_report
from maeid.report.build import report_order
from maeid.report.identifiability import identifiability_table
from maeid.report.registry import SECTIONS, Page, Section, undeclared_reads


def fill(db_path, tmp_path, real: bool, synthetic: bool, ratios=(0.25, 0.5, 0.75), units=(4, 16)):
    """A DB with one done run per cell; metrics follow a simple known pattern."""
    art = tmp_path / "attn.png"
    Image.new("RGB", (8, 8)).save(art)
    with ResultsDB(db_path) as db:
        for ratio in ratios:
            for unit in units:
                params = {"mask_ratio": ratio, "mask_unit": unit, "seed": 0}
                cfg = {"train": params, "evaluate": []}
                db.add_run(
                    sweep="t",
                    config_hash=config_hash(cfg),
                    config=cfg,
                    params=params,
                    run_dir=tmp_path / f"r{ratio}{unit}",
                )
                claim = db.claim_next("t")
                metrics: dict = {"run": {"patch_size": 4}}
                if synthetic:
                    metrics["identifiability"] = {
                        "predicted": {"level_0": ratio, "level_1": unit / 16},
                        "measured": {"level_0": ratio / 2, "level_1": unit / 32},
                    }
                if real:
                    metrics["probe"] = {"linear_top1": 0.5 + ratio / 4, "knn_top1": 0.4 + ratio / 5}
                    metrics["robustness"] = {"mean_top1": 0.3 + ratio / 5}
                    metrics["recon"] = {
                        "masked": {"mse": 1 - ratio, "psnr": 20 + ratio, "ssim": ratio}
                    }
                db.finish(claim, metrics, {"attention": str(art)} if real else {})
        cfg = {"train": {"mask_ratio": 0.9}, "evaluate": []}
        db.add_run(
            sweep="t",
            config_hash=config_hash(cfg),
            config=cfg,
            params={"mask_ratio": 0.9, "mask_unit": 4, "seed": 0},
            run_dir=tmp_path / "f",
        )
        db.fail(db.claim_next("t"), "Traceback ...\nRuntimeError: loss is nan at step 7")


def test_report_from_a_synthetic_sweep(tmp_path):
    db = tmp_path / "r.db"
    fill(db, tmp_path, real=False, synthetic=True)
    report = build_report(db, tmp_path / "out")
    text = report.path.read_text()
    assert "![R² heatmaps](r2_heatmaps.png)" in text
    assert "loss is nan at step 7" in text  # the failed run is named with its error
    assert "No probe results" in text and "No reconstruction metrics" in text
    assert [p.name for p in report.figures] == ["r2_heatmaps.png"]
    with Image.open(report.figures[0]) as img:
        assert img.size[0] > 300 and img.size[1] > 200
    # The headline table: one line per cell, values as put in (means over one seed).
    lines = report.headline.splitlines()
    assert lines[0].startswith("| ratio | unit | level 0 pred | level 0 meas | level 1 pred")
    assert len(lines) == 2 + 6
    assert "| 0.75 | 16 | 0.75 | 0.38 | 1.00 | 0.50 |" in lines


def test_report_from_a_real_image_sweep(tmp_path):
    db = tmp_path / "r.db"
    fill(db, tmp_path, real=True, synthetic=False)
    report = build_report(db, tmp_path / "out")
    names = sorted(p.name for p in report.figures)
    assert names == ["accuracy_vs_ratio.png", "accuracy_vs_unit.png", "reconstruction_vs_ratio.png"]
    text = report.path.read_text()
    assert "ImageNet-1K, ViT-B" in text and "No identifiability results" in text
    # Per-run images are copied beside the report, so the folder stands on its own.
    assert "![CLS attention maps](runs/1_attention.png)" in text
    assert (tmp_path / "out" / "runs" / "1_attention.png").is_file()
    # The headline of a real-image sweep is its accuracy table, one line per cell.
    lines = report.headline.splitlines()
    assert lines[0] == (
        "| ratio | unit | linear % | kNN % | corrupted % | masked MSE | PSNR | SSIM |"
    )
    assert len(lines) == 2 + 6
    assert "| 0.5 | 16 | 62.5 | 50.0 | 40.0 | 0.500 | 20.5 | 0.500 |" in lines
    assert report.headline in text


def test_report_of_an_empty_database_says_so(tmp_path, capsys):
    ResultsDB(tmp_path / "r.db").close()
    assert main(["report", str(tmp_path / "r.db"), "--out", str(tmp_path / "o")]) == 0
    text = (tmp_path / "o" / "report.md").read_text()
    assert "holds no runs yet" in text and "No identifiability results" in text
    assert "report: " in capsys.readouterr().out


def test_unknown_sweep_and_missing_db_are_clear_errors(tmp_path, capsys):
    ResultsDB(tmp_path / "r.db").close()
    with pytest.raises(ValueError, match="no sweep 'x'"):
        build_report(tmp_path / "r.db", sweep="x")
    assert main(["report", str(tmp_path / "none.db")]) == 2
    assert "not found" in capsys.readouterr().err


def test_table_averages_seeds():
    rows = [
        {"mask_ratio": 0.5, "mask_unit": 8, "seed": s, "identifiability.predicted.level_1": v}
        for s, v in ((0, 0.2), (1, 0.4))
    ]
    assert "| 0.5 | 8 | 0.30 |" in identifiability_table(rows)


@pytest.mark.parametrize("real", [False, True])
def test_every_metric_a_section_reads_is_declared(tmp_path, real):
    fill(tmp_path / "r.db", tmp_path, real=real, synthetic=not real)
    with ResultsDB(tmp_path / "r.db", read_only=True) as db:
        page = Page(db.metric_table(), db.runs(), tmp_path / "out", skipped=db.skipped())
    page.out.mkdir()
    for name in ("runs", "identifiability", "agreement", "probe", "reconstruction",
                 "per_run_figures"):  # fmt: skip
        assert undeclared_reads(name, page) == [], name


def test_a_read_the_section_does_not_declare_is_found(monkeypatch):
    def render(page: Page) -> list[str]:
        return [f"{row.get('probe.linear_top1')} {row.get('probe.knn_top1')}" for row in page.rows]

    monkeypatch.setitem(SECTIONS, "declares_one", Section("declares_one", render, ("probe.lin*",)))
    page = Page([{"id": 1, "mask_ratio": 0.5, "probe.linear_top1": 0.5}], [], Path("unused"))
    assert undeclared_reads("declares_one", page) == ["probe.knn_top1"]  # read, though absent


def test_the_report_orders_sections_as_the_catalog_and_refuses_one_it_does_not_name(monkeypatch):
    order = report_order()
    assert order[:3] == ["theory", "runs", "training"] and order[-1] == "per_run_figures"
    assert order.index("symbols") < order.index("identifiability")  # registered later
    monkeypatch.setitem(SECTIONS, "stray", Section("stray", lambda page: [], ()))
    with pytest.raises(ValueError, match=r"\['stray'\] are in no module of catalog.MODULES"):
        report_order()
