"""Every per-run figure names its run and whether its model is trained; the report links a
run's figures where they lie (no duplicate PNG) and shows its held-out curve."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.text import Text
from PIL import Image

from maeid.experiments.config_hash import config_hash
from maeid.experiments.results_db import ResultsDB
from maeid.measures import EvalContext, run_measures
from maeid.report.registry import Page, get_section
from maeid.train.config import load_config
from maeid.train.heldout_plot import plot_heldout
from maeid.train.loop import build_model
from maeid.train.quality import TRAINED_EXCESS
from maeid.train.run_label import model_label, run_label

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
SWEEP_POINT = "0123456789abcdef"  # a sweep point's folder: 16 hex digits of its config hash


def training_log(folder: Path, excesses: list[float | None]) -> Path:
    """A run folder whose metrics.jsonl logs one step per excess (None: no held-out measure)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for step, excess in enumerate(excesses, start=1):
        entry = {"step": 10 * step, "loss": 1.0, "loss_avg": 1.0}
        if excess is not None:
            held = 0.5 + 0.5 * excess  # Bayes 0.5, plateau 1.0
            entry |= {"heldout_loss": held, "bayes_loss": 0.5, "plateau_loss": 1.0,
                      "normalised_excess": excess}  # fmt: skip
        lines.append(json.dumps(entry))
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def texts(fig) -> list[str]:
    """Every text a figure draws (titles, suptitle, labels)."""
    return [t.get_text() for t in fig.findobj(Text)]


# ------------------------------------------------------------------------ the label
def test_the_label_says_trained_under_trained_or_nothing_by_the_last_excess(tmp_path):
    # the last logged excess decides, not an earlier one
    trained = training_log(tmp_path / "good", [0.9, 0.21])
    assert run_label(trained) == "good · trained (excess 0.21)"
    under = training_log(tmp_path / "bad", [0.1, 1.02, None])
    assert run_label(under) == "bad · under-trained (excess 1.02)"
    at_threshold = training_log(tmp_path / "edge", [TRAINED_EXCESS])
    assert "· trained" in run_label(at_threshold)
    assert run_label(training_log(tmp_path / "real", [None, None])) == "real"
    assert run_label(tmp_path / "no-log") == "no-log"


def test_a_sweep_point_is_named_by_its_folder_and_an_import_is_unknown(tmp_path):
    train_dir = training_log(tmp_path / SWEEP_POINT / "train", [0.5])
    assert run_label(train_dir) == f"{SWEEP_POINT} · under-trained (excess 0.50)"
    plain = training_log(tmp_path / "experiments" / "train", [0.1])  # not a sweep point
    assert run_label(plain) == "train · trained (excess 0.10)"
    checkpoint = train_dir / "checkpoints" / "last.pt"
    assert model_label(checkpoint, "run") == run_label(train_dir)
    assert model_label(tmp_path / "copied.pt", "run") == "copied.pt"  # outside a run folder
    assert model_label(tmp_path / "mae_base.pth", "reference") == "mae_base.pth · training unknown"
    assert model_label(tmp_path / "hf-folder", "hf") == "hf-folder · training unknown"


# ----------------------------------------------------------------------- the figures
@pytest.fixture(scope="module")
def tiny():
    cfg = load_config(TINY, ["run.seed=1"])
    return build_model(cfg, (1, 32, 32)), cfg


def capture_titles(monkeypatch, *modules) -> dict[str, list[str]]:
    """The texts of each figure the modules save, by file name (the figure still saved)."""
    seen: dict[str, list[str]] = {}
    for module in modules:
        original = module.save_figure

        def save(fig, path, *args, _original=original, **kwargs):
            seen[Path(path).name] = texts(fig)
            return _original(fig, path, *args, **kwargs)

        monkeypatch.setattr(module, "save_figure", save)
    return seen


def test_reconstruction_and_attention_figures_open_with_the_run_label(tiny, tmp_path, monkeypatch):
    from maeid.evaluate import attention
    from maeid.train import recon

    model, cfg = tiny
    train_dir = training_log(tmp_path / SWEEP_POINT / "train", [0.8, 0.21])
    ctx = EvalContext(model, cfg, tmp_path / "eval", model_path=train_dir)
    label = f"{SWEEP_POINT} · trained (excess 0.21)"
    assert ctx.run_label == label
    seen = capture_titles(monkeypatch, recon, attention)
    requested = {"reconstruction": {"recon_images": 4, "max_test": 4},
                 "attention": {"images": 4, "max_test": 4}}  # fmt: skip
    evaluation = run_measures(ctx, requested)
    names = {Path(p).name for p in evaluation.figures.values()}
    assert names == {"reconstructions.png", "cls_attention.png", "attention_distance.png"}
    for name in names:
        titles = [t for t in seen[name] if t.startswith(label + "\n")]
        assert titles, (name, seen[name])  # the label is the first line of its title
        assert (tmp_path / "eval" / name).is_file()
    recon_title = next(t for t in seen["reconstructions.png"] if t.startswith(label))
    assert recon_title.splitlines()[1].endswith(f"mask ratio {ctx.ratio}, unit 4px")


def test_an_imported_models_tsne_says_its_training_is_unknown(tiny, tmp_path, monkeypatch):
    from maeid.evaluate import tsne

    model, cfg = tiny
    folder = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for c, name in enumerate(["a", "b"]):  # 2 x 15 images: a test fifth of 6
        (folder / name).mkdir(parents=True)
        for i in range(15):
            pixels = rng.integers(0, 60, (20, 20, 3)) + 190 * np.eye(3)[c]
            Image.fromarray(pixels.astype(np.uint8)).save(folder / name / f"{i}.png")
    seen = capture_titles(monkeypatch, tsne)
    ctx = EvalContext(model, cfg, tmp_path / "eval", source=str(folder),
                      model_path=tmp_path / "mae.pth", origin="reference")  # fmt: skip
    run_measures(ctx, {"tsne": {"max_test": 6}})
    assert "mae.pth · training unknown\nt-SNE of cls features" in "\n".join(seen["tsne.png"])


def test_a_context_without_a_model_path_keeps_the_plain_title(tiny, tmp_path):
    model, cfg = tiny
    ctx = EvalContext(model, cfg, tmp_path)
    assert ctx.run_label == "" and ctx.figure_title("a title") == "a title"


def test_the_heldout_curve_names_its_run_and_whether_it_is_trained(tmp_path, monkeypatch):
    from maeid.train import heldout_plot

    seen = capture_titles(monkeypatch, heldout_plot)
    under = training_log(tmp_path / SWEEP_POINT / "train", [1.1, 1.02])
    assert plot_heldout(under / "metrics.jsonl", under / "heldout.png") is not None
    title = next(t for t in seen["heldout.png"] if t.startswith(SWEEP_POINT))
    assert (
        title == f"{SWEEP_POINT} · under-trained (excess 1.02)\nnormalised excess at step 20: 1.020"
    )
    good = training_log(tmp_path / "mine", [0.2])
    plot_heldout(good / "metrics.jsonl", good / "heldout.png", name="renamed")
    assert "renamed · trained (excess 0.20)" in "\n".join(seen["heldout.png"])


# ------------------------------------------------------------------------ the report
def run_folder(root: Path, index: int) -> dict[str, str]:
    """A sweep run's folder with its held-out curve and evaluation figures, each image
    distinct (a duplicate would then be a copy); its artefacts as the database holds them."""
    run = root / f"{index:016x}"
    files = {"heldout": run / "train" / "heldout.png",
             "attention": run / "eval" / "cls_attention.png",
             "attention_distance": run / "eval" / "attention_distance.png",
             "reconstructions": run / "eval" / "reconstructions.png"}  # fmt: skip
    for k, path in enumerate(files.values()):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (index * 40, k * 50, 7)).save(path)
    return {name: str(p) for name, p in files.items() if name != "heldout"}


def per_run_page(db_path: Path, runs_root: Path, out: Path) -> tuple[Page, str]:
    with ResultsDB(db_path) as db:
        for index in (1, 2):
            params = {"mask_ratio": 0.25 * index, "mask_unit": 4, "seed": 0}
            cfg = {"train": params, "evaluate": []}
            db.add_run(sweep="s", config_hash=config_hash(cfg), config=cfg, params=params,
                       run_dir=runs_root / f"{index:016x}")  # fmt: skip
            db.finish(db.claim_next("s"), {}, run_folder(runs_root, index))
        page = Page(db.metric_table(), db.runs(), out)
    out.mkdir(parents=True, exist_ok=True)
    return page, "\n".join(get_section("per_run_figures").render(page))


def pngs(folder: Path) -> dict[str, Path]:
    return {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in folder.rglob("*.png")}


def test_runs_inside_the_report_folder_are_linked_not_copied(tmp_path):
    out = tmp_path / "report"
    page, text = per_run_page(tmp_path / "r.db", out / "runs", out)
    files = list(out.rglob("*.png"))
    assert len(pngs(out)) == len(files) == 8  # 2 runs x 4 figures, none duplicated
    for index in (1, 2):
        run = f"runs/{index:016x}"
        assert f"![held-out loss]({run}/train/heldout.png)" in text
        assert f"![CLS attention maps]({run}/eval/cls_attention.png)" in text
        assert f"![reconstructions]({run}/eval/reconstructions.png)" in text
    assert text.startswith("## Per run: held-out loss, [CLS] attention maps, reconstructions")


def test_runs_outside_the_report_folder_are_copied_beside_it(tmp_path):
    out = tmp_path / "report"
    page, text = per_run_page(tmp_path / "r.db", tmp_path / "elsewhere", out)
    targets = [out / chunk.split(")")[0] for chunk in text.split("](")[1:]]
    assert len(targets) == 6 and all(t.is_file() for t in targets)  # 2 runs x 3 shown
    assert "![held-out loss](runs/1_heldout.png)" in text
    copies = pngs(out)
    originals = pngs(tmp_path / "elsewhere")
    assert len(copies) == 6 and set(copies) <= set(originals)  # the same bytes, once each


def test_a_shipped_model_is_named_by_its_folder_and_recorded_excess():
    from maeid.train.run_label import model_label

    shipped = Path(__file__).resolve().parents[1] / "checkpoints" / "rhm32-r0.75-u4" / "model.pt"
    assert model_label(shipped, "run") == "rhm32-r0.75-u4 · trained (excess 0.24)"
