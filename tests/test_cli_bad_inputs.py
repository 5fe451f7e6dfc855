"""The catalogue of bad inputs: every command, run as a new user would get it wrong.

Each case must end with exit status 2 and exactly one line on stderr that names the bad
value and says what to do instead; it prints no traceback, leaves no new file or folder
behind, and leaves every existing result byte for byte as it was.

All cases share one `world` folder (a finished run, a results database, spec files, ...)
and run in it as the working directory, so a default output folder would land there
too; the folder is fingerprinted before and after each case. To cover a new command,
append its cases to CASES (placeholders: {w} the world folder, {tiny} configs/tiny.yaml).
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
from dataclasses import dataclass

import pytest
import torch
import yaml

from maeid.cli import main

TINY = pathlib.Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
QUICK = ["--set", "data.n_train=32", "--set", "optim.batch_size=16", "--set", "run.steps=2",
         "--set", "run.progress=false", "--set", "run.recon_every=0", "--threads", "1"]  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    says: tuple[str, ...]  # every one of these appears in the error line

    def expand(self, world: pathlib.Path) -> list[str]:
        return [a.format(w=world, tiny=TINY) for a in self.argv]


def case(name: str, argv: str | list[str], *says: str) -> Case:
    args = argv.split() if isinstance(argv, str) else argv
    return Case(name, tuple(args), says)


TRAIN = ["train", "--config", "{tiny}", *QUICK]

CASES = [
    # ---- theory
    case("theory-ratios-not-numbers", "theory --ratios abc", "--ratios 'abc'", "e.g. 0.5,0.75"),
    case("theory-units-not-integers", "theory --units 4,x", "--units '4,x'", "e.g. 4,8,16"),
    case("theory-ratio-above-one", "theory --ratios 1.5 --masks 10", "1.5", "(0, 1)"),
    case("theory-unknown-model", "theory --model qt33", "qt33", "qt32"),
    case("theory-missing-yaml", "theory --model {w}/nope.yaml", "nope.yaml"),
    case("theory-unknown-node", "theory --masked x_9_9", "x_9_9"),
    case("theory-zero-masks", "theory --masks 0", "--masks 0", "at least 1"),
    case("theory-masks-not-int", "theory --masks many", "'many'", "--help"),
    case("theory-out-is-file", "theory --masks 10 --out {w}/notes.txt", "notes.txt", "folder"),
    case("theory-unknown-option", "theory --mask-ratio 0.5", "--mask-ratio", "--help"),
    case("theory-rhm-negative-sigma", "theory --model rhm32:sigma=-1", "sigma=-1", ">= 0"),
    # ---- synth
    case("synth-zero-samples", "synth --n 0 --out {w}/s.npz", "--n", "0", "positive"),
    case("synth-not-npz", "synth --n 4 --out {w}/s.txt", "s.txt", ".npz"),
    case("synth-unknown-model", "synth --model qt33 --n 4 --out {w}/s.npz", "qt33", "qt32"),
    case("synth-out-under-file", "synth --n 4 --out {w}/notes.txt/s.npz", "notes.txt", "folder"),
    case("synth-out-is-folder", "synth --n 4 --out {w}/run.npz", "run.npz", "file path"),
    case(
        "synth-negative-variance",
        "synth --n 4 --variance-samples -1 --out {w}/s.npz",
        "-1",
        "0 (skip)",
    ),
    case("synth-no-out", "synth --n 4", "--out", "--help"),
    case(
        "synth-rhm-rules-cannot-be-unambiguous",
        "synth --model rhm32:m=1000 --n 4 --out {w}/s.npz",
        "m=1000",
        "at most 512",
    ),
    case(
        "synth-rhm-patch-does-not-tile",
        "synth --model rhm32:patch=5 --n 4 --out {w}/s.npz",
        "patch=5",
        "divides 32",
    ),
    case(
        "synth-rhm-unknown-knob", "synth --model rhm32:foo=2 --n 4 --out {w}/s.npz", "foo", "known:"
    ),
    # ---- train
    case("train-out-is-file", [*TRAIN, "--out", "{w}/notes.txt"], "notes.txt", "folder"),
    case("train-out-under-file", [*TRAIN, "--out", "{w}/notes.txt/run"], "notes.txt", "folder"),
    case("train-missing-config", "train --config {w}/nope.yaml --out {w}/r", "nope.yaml"),
    case(
        "train-config-not-yaml", "train --config {w}/broken.yaml --out {w}/r", "broken.yaml", "YAML"
    ),
    case("train-config-not-mapping", "train --config {w}/list.yaml --out {w}/r", "list", "mapping"),
    case(
        "train-unknown-key",
        [*TRAIN, "--set", "optim.lrr=1", "--out", "{w}/r"],
        "optim.lrr",
        "optim has",
    ),
    case(
        "train-override-not-key-value",
        [*TRAIN, "--set", "mask.ratio", "--out", "{w}/r"],
        "mask.ratio",
        "key=value",
    ),
    case(
        "train-ratio-out-of-range",
        [*TRAIN, "--set", "mask.ratio=1.5", "--out", "{w}/r"],
        "mask.ratio=1.5",
        "(0, 1)",
    ),
    case(
        "train-wrong-type",
        [*TRAIN, "--set", "optim.batch_size=big", "--out", "{w}/r"],
        "optim.batch_size",
        "int",
    ),
    case(
        "train-nothing-visible",
        [*TRAIN, "--set", "mask.ratio=0.9", "--set", "mask.unit=16", "--out", "{w}/r"],
        "mask.ratio=0.9",
        "mask.unit=16",
        "smaller",
    ),
    case(
        "train-unit-not-multiple-of-patch",
        [*TRAIN, "--set", "mask.unit=6", "--out", "{w}/r"],
        "mask_unit 6",
        "patch",
    ),
    case(
        "train-unit-does-not-tile",
        [*TRAIN, "--set", "mask.unit=12", "--out", "{w}/r"],
        "mask_unit 12",
        "divides",
    ),
    case(
        "train-unknown-source",
        [*TRAIN, "--set", "data.source=web", "--out", "{w}/r"],
        "data.source='web'",
        "synthetic",
    ),
    case(
        "train-unknown-preset",
        [*TRAIN, "--set", "model.preset=vit_z", "--out", "{w}/r"],
        "vit_z",
        "tiny",
    ),
    case(
        "train-unknown-synthetic-model",
        [*TRAIN, "--set", "data.model=qt33", "--out", "{w}/r"],
        "qt33",
        "qt32",
    ),
    case(
        "train-batch-larger-than-data",
        [*TRAIN, "--set", "optim.batch_size=64", "--out", "{w}/r"],
        "64",
        "optim.batch_size",
    ),
    case(
        "train-batch-not-divisible",
        [*TRAIN, "--set", "optim.accum_steps=3", "--out", "{w}/r"],
        "batch_size=16",
        "multiple",
    ),
    case(
        "train-non-image-file",
        [
            *TRAIN,
            "--set",
            "data.source=image_folder",
            "--set",
            "data.data_dir={w}/images",
            "--set",
            "data.img_size=16",
            "--out",
            "{w}/r",
        ],
        "x.png",
        "real images",
    ),
    case(
        "train-image-folder-missing",
        [
            *TRAIN,
            "--set",
            "data.source=image_folder",
            "--set",
            "data.data_dir={w}/nope",
            "--out",
            "{w}/r",
        ],
        "nope",
        "does not exist",
    ),
    case(
        "train-image-folder-no-dir",
        [*TRAIN, "--set", "data.source=image_folder", "--out", "{w}/r"],
        "data.data_dir",
        "image_folder",
    ),
    case("train-no-config", "train --out {w}/r", "--config", "--resume"),
    case(
        "train-resume-nothing", [*TRAIN, "--resume", "--out", "{w}/r"], "last.pt", "drop --resume"
    ),
    case("train-over-finished-run", [*TRAIN, "--out", "{w}/run"], "--resume", "another --out"),
    case(
        "train-resume-other-config",
        "train --out {w}/run --resume --set mask.ratio=0.5",
        "mask.ratio: 0.75 in the checkpoint, 0.5 now",
    ),
    case(
        "train-shorten-finished-run",
        "train --out {w}/run --resume --set run.steps=1",
        "run.steps=1",
        "run.steps >= 2",
    ),
    case(
        "train-resume-truncated",
        "train --out {w}/truncated --resume --threads 1",
        "truncated or corrupt checkpoint",
        "truncated",
    ),
    case(
        "train-resume-crafted-pickle",
        "train --out {w}/crafted --resume --threads 1",
        "refused checkpoint",
        "crafted",
    ),
    case("train-negative-threads", [*TRAIN, "--threads", "-1", "--out", "{w}/r"], "-1", "positive"),
    case(
        "train-stop-after-zero",
        [*TRAIN, "--stop-after", "0", "--out", "{w}/r"],
        "--stop-after 0",
        "at least 1",
    ),
    case("train-threads-not-int", "train --out {w}/r --threads x", "'x'", "--help"),
    case(
        "train-dry-run-unit-does-not-tile",
        [*TRAIN, "--set", "mask.unit=12", "--dry-run", "--out", "{w}/r"],
        "mask_unit 12",
        "divides",
    ),
    case(
        "train-dry-run-missing-npz",
        [*TRAIN, "--set", "data.model={w}/nope.npz", "--dry-run", "--out", "{w}/r"],
        "nope.npz",
    ),
    case("train-no-out", "train --config {tiny}", "--out", "--help"),
    # ---- sweep
    case("sweep-missing-spec", "sweep {w}/nope.yaml --db {w}/new.db", "nope.yaml"),
    case("sweep-spec-unknown-key", "sweep {w}/spec_key.yaml --db {w}/new.db", "gird", "allowed"),
    case("sweep-grid-typo", "sweep {w}/spec_typo.yaml --db {w}/new.db", "mask_ratoi", "mask_ratio"),
    case(
        "sweep-grid-bad-value", "sweep {w}/spec_value.yaml --db {w}/new.db", "mask.ratio", "'abc'"
    ),
    case("sweep-spec-not-yaml", "sweep {w}/broken.yaml --db {w}/new.db", "broken.yaml", "YAML"),
    case("sweep-spec-not-mapping", "sweep {w}/list.yaml --db {w}/new.db", "list.yaml", "mapping"),
    case(
        "sweep-unknown-run-function",
        "sweep {w}/spec_run.yaml --db {w}/new.db",
        "nosuch_module:go",
        "cannot be imported",
    ),
    case("sweep-db-dir-missing", "sweep {w}/spec_ok.yaml --db {w}/nope/r.db", "nope", "create it"),
    case(
        "sweep-db-not-sqlite",
        "sweep {w}/spec_ok.yaml --db {w}/notes.txt",
        "notes.txt",
        "not a SQLite",
    ),
    case("sweep-db-is-folder", "sweep {w}/spec_ok.yaml --db {w}/run", "run", "folder"),
    case(
        "sweep-zero-workers",
        "sweep {w}/spec_ok.yaml --db {w}/new.db --workers 0",
        "--workers 0",
        "at least 1",
    ),
    case(
        "sweep-negative-threads",
        "sweep {w}/spec_ok.yaml --db {w}/new.db --threads -2",
        "--threads -2",
        "positive",
    ),
    case(
        "sweep-out-is-file",
        "sweep {w}/spec_ok.yaml --db {w}/new.db --out {w}/notes.txt",
        "notes.txt",
        "folder",
    ),
    case(
        "sweep-dry-run-grid-typo",
        "sweep {w}/spec_typo.yaml --db {w}/new.db --dry-run",
        "mask_ratoi",
    ),
    case(
        "sweep-slurm-grid-typo",
        "sweep {w}/spec_typo.yaml --db {w}/new.db --launcher slurm --dry-run",
        "mask_ratoi",
    ),
    case("sweep-unknown-model", "sweep {w}/spec_model.yaml --db {w}/new.db", "qt33", "qt32"),
    case("sweep-no-db", "sweep {w}/spec_ok.yaml", "--db", "--help"),
    # ---- report
    case("report-missing-db", "report {w}/nope.db", "nope.db", "maeid sweep"),
    case("report-not-sqlite", "report {w}/notes.txt", "notes.txt", "not a SQLite"),
    case("report-db-is-folder", "report {w}/run", "run", "folder"),
    case("report-unknown-sweep", "report {w}/results.db --sweep nope", "'nope'", "--sweep"),
    case("report-out-is-file", "report {w}/results.db --out {w}/notes.txt", "notes.txt", "folder"),
    # ---- identify
    case("identify-no-mask", "identify --steps 1", "no mask", "--mask-ratio"),
    case("identify-ratio-without-unit", "identify --mask-ratio 0.5", "--mask-unit", "both"),
    case(
        "identify-ratio-not-number", "identify --mask-ratio abc --mask-unit 4", "'abc'", "numbers"
    ),
    case(
        "identify-nothing-visible",
        "identify --mask-ratio 0.9 --mask-unit 16 --steps 1",
        "0.9",
        "smaller",
    ),
    case("identify-unit-not-multiple", "identify --mask-ratio 0.5 --mask-unit 6 --steps 1", "6"),
    case("identify-unknown-node", "identify --masked x_9_9 --steps 1", "x_9_9"),
    case("identify-unknown-model", "identify --model qt33 --masked x --steps 1", "qt33", "qt32"),
    case(
        "identify-out-is-file",
        "identify --mask-ratio 0.5 --mask-unit 4 --steps 1 --out {w}/notes.txt",
        "notes.txt",
        "folder",
    ),
    case(
        "identify-counts-mismatch",
        "identify --mask-ratio 0.5,0.6 --mask-unit 4,8,16",
        "2 ratios and 3 units",
        "as many",
    ),
    case(
        "identify-zero-seeds",
        "identify --mask-ratio 0.5 --mask-unit 4 --seeds 0",
        "--seeds 0",
        "at least once",
    ),
    # ---- evaluate
    case("evaluate-missing-checkpoint", "evaluate {w}/nope", "nope", "does not exist"),
    case("evaluate-not-a-checkpoint", "evaluate {w}/notes.txt", "notes.txt", "corrupt"),
    case(
        "evaluate-truncated",
        "evaluate {w}/truncated --threads 1",
        "truncated or corrupt checkpoint",
    ),
    case("evaluate-crafted-pickle", "evaluate {w}/crafted --threads 1", "refused checkpoint"),
    case(
        "evaluate-unknown-measure",
        "evaluate {w}/run --measure probe,nope --threads 1",
        "nope",
        "choose from",
    ),
    case("evaluate-zero-max-test", "evaluate {w}/run --max-test 0", "--max-test", "at least 1"),
    case(
        "evaluate-option-not-yaml",
        ["evaluate", "{w}/run", "--measure", "symbols", "--option", "symbols.pool=[cls"],
        "symbols.pool",
        "not YAML",
    ),
    case("evaluate-option-no-dot", "evaluate {w}/run --option pool=cls", "MEASURE.NAME=VALUE"),
    case(
        "evaluate-option-bad-value",
        "evaluate {w}/run --measure recon --option recon.max_test=-1",
        "max_test=-1",
        "at least 1",
    ),
    case("evaluate-unknown-data", "evaluate {w}/run --data nope --threads 1", "nope", "synthetic"),
    case("evaluate-out-is-file", "evaluate {w}/run --out {w}/notes.txt", "notes.txt", "folder"),
    case("evaluate-pool-choice", "evaluate {w}/run --pool max", "'max'", "--help"),
    case("evaluate-import-without-data", "evaluate {w}/hf --threads 1", "unknown", "pass --data"),
    case("evaluate-pth-without-heads", "evaluate {w}/published.pth", "num_heads", "--preset"),
    case(
        "evaluate-pth-without-ratio",
        "evaluate {w}/noratio.pth --data {w}/data.npz",
        "noratio.pth",
        "--mask-ratio",
    ),
    case("evaluate-neither-run-nor-hf", "evaluate {w}/images", "images", "neither"),
    case(
        "evaluate-folder-without-images",
        "evaluate {w}/run --data {w}/images --threads 1",
        "x.png",
        "no readable image",
    ),
    case("evaluate-ratio-out-of-range", "evaluate {w}/run --mask-ratio 1.5", "1.5", "(0, 1)"),
    # ---- reconstruct
    case(
        "reconstruct-missing-model",
        "reconstruct {w}/nope {w}/x.png --out {w}/rc",
        "nope",
        "does not exist",
    ),
    case(
        "reconstruct-missing-image",
        "reconstruct {w}/run {w}/nope.png --out {w}/rc",
        "nope.png",
        "does not exist",
    ),
    case(
        "reconstruct-not-an-image",
        "reconstruct {w}/run {w}/images/a/x.png --out {w}/rc",
        "x.png",
        "cannot be read",
    ),
    case(
        "reconstruct-two-images-one-name",
        "reconstruct {w}/run {w}/images/a/x.png {w}/x.png --out {w}/rc",
        "x.png",
        "would both write",
    ),
    case(
        "reconstruct-out-is-file",
        "reconstruct {w}/run {w}/x.png --out {w}/notes.txt",
        "notes.txt",
        "folder",
    ),
    case(
        "reconstruct-ratio-out-of-range",
        "reconstruct {w}/run {w}/x.png --out {w}/rc --mask-ratio 1.5",
        "--mask-ratio 1.5",
        "(0, 1)",
    ),
    case("reconstruct-no-out", "reconstruct {w}/run {w}/x.png", "--out", "--help"),
    # ---- demo
    case("demo-out-is-file", "demo --out {w}/notes.txt", "notes.txt", "folder"),
    case("demo-out-under-file", "demo --out {w}/notes.txt/demo", "notes.txt", "folder"),
    case("demo-missing-spec", "demo --out {w}/d --spec {w}/nope.yaml", "nope.yaml"),
    case("demo-spec-typo", "demo --out {w}/d --spec {w}/spec_typo.yaml", "mask_ratoi"),
    case("demo-zero-workers", "demo --out {w}/d --workers 0", "--workers 0", "at least 1"),
    # ---- advise
    case("advise-unknown-model", "advise --model nope --target-level 0", "'nope'", "qt32"),
    case("advise-level-too-deep", "advise --target-level 3", "target level 3", "0, 1, 2"),
    case("advise-negative-level", "advise --target-level -1", "target level -1"),
    case("advise-unit-does-not-tile", "advise --target-level 0 --units 12", "12", "4, 8, 16"),
    case("advise-ratio-above-one", "advise --target-level 0 --ratios 0.5,1.2", "(0, 1)"),
    case("advise-quadtree-two-numbers", "advise --quadtree 32,4 --target-level 0", "three"),
    case(
        "advise-quadtree-and-model",
        "advise --quadtree 32,4,3 --model qt32 --target-level 0",
        "not both",
    ),
    case("advise-zero-masks", "advise --target-level 0 --masks 0", "0"),
    case(
        "advise-out-is-file", "advise --target-level 0 --masks 10 --out {w}/notes.txt", "notes.txt"
    ),
    # ---- export
    case("export-missing-run", "export {w}/nope --format hf --out {w}/e", "nope", "does not exist"),
    case(
        "export-not-a-checkpoint",
        "export {w}/notes.txt --format reference --out {w}/e.pth",
        "notes.txt",
    ),
    case(
        "export-truncated", "export {w}/truncated --format hf --out {w}/e", "truncated or corrupt"
    ),
    case("export-crafted-pickle", "export {w}/crafted --format hf --out {w}/e", "refused"),
    case("export-unknown-format", "export {w}/run --format onnx --out {w}/e", "onnx", "--help"),
    case(
        "export-out-exists",
        "export {w}/run --format reference --out {w}/notes.txt",
        "notes.txt",
        "--force",
    ),
    case(
        "export-pth-without-ratio",
        "export {w}/noratio.pth --format hf --out {w}/e",
        "does not record the mask ratio",
        "--mask-ratio",
    ),
    case("export-neither-run-nor-hf", "export {w}/images --format hf --out {w}/e", "neither"),
]


class _TouchOnLoad:
    def __init__(self, target: pathlib.Path) -> None:
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (self.target,))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> pathlib.Path:
    """Existing results and malformed inputs that the cases point at."""
    from maeid.experiments.results_db import ResultsDB
    from maeid.train.config import load_config
    from maeid.train.loop import train

    torch.set_num_threads(1)
    w = tmp_path_factory.mktemp("world")
    overrides = [a for a in QUICK if a.startswith(("data.", "optim.", "run."))]
    train(load_config(TINY, overrides), w / "run")  # a finished 2-step run
    for name in ("truncated", "crafted"):
        shutil.copytree(w / "run", w / name)
    ckpt = w / "truncated" / "checkpoints" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:4096])
    torch.save({"payload": _TouchOnLoad(w / "code-ran")}, w / "crafted" / "checkpoints" / "last.pt")
    with ResultsDB(w / "results.db") as db:
        run_id = db.add_run(sweep="grid", config_hash="0" * 64, config={"train": {}},
                            params={"mask_ratio": 0.75}, run_dir=w / "run")  # fmt: skip
        db.finish(db.claim_one(run_id), {"score": 1.0}, {})
    (w / "notes.txt").write_text("not a database, not a checkpoint, not a folder\n")
    (w / "run.npz").mkdir()
    (w / "broken.yaml").write_text("grid: [1, 2\n")
    (w / "list.yaml").write_text("- 1\n- 2\n")
    (w / "images" / "a").mkdir(parents=True)
    (w / "images" / "a" / "x.png").write_text("a text file with an image's name")
    _imports(w)
    ok = {"name": "ok", "base": str(TINY), "grid": {"mask_ratio": [0.5]}}
    specs = {
        "spec_ok": ok,
        "spec_key": {**ok, "gird": {"mask_ratio": [0.5]}},
        "spec_typo": {**ok, "grid": {"mask_ratoi": [0.5]}},
        "spec_value": {**ok, "grid": {"mask_ratio": ["abc"]}},
        "spec_run": {**ok, "run": "nosuch_module:go"},
        "spec_model": {**ok, "set": {"data.model": "qt33"}},
    }
    for name, spec in specs.items():
        (w / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    return w


def _imports(w: pathlib.Path) -> None:
    """The finished run as imports: an HF export, a published-style .pth (weights only),
    one that records its sizes but no mask ratio; and a grey picture to reconstruct."""
    from PIL import Image

    from maeid.mae.export import export_hf
    from maeid.train.checkpoint import load_checkpoint

    model, _ = load_checkpoint(w / "run")
    export_hf(model, w / "hf", 0.75)
    torch.save({"model": model.state_dict()}, w / "published.pth")
    torch.save({"model": model.state_dict(), "model_args": model.config}, w / "noratio.pth")
    Image.new("L", (32, 32)).save(w / "x.png")


def fingerprint(root: pathlib.Path) -> dict[str, str]:
    """Every path under `root`: folders as "dir", files by the sha256 of their bytes."""
    return {
        str(p.relative_to(root)): "dir"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def test_the_catalogue_is_large_and_covers_every_command():
    from maeid.cli import COMMANDS

    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)
    assert {c.argv[0] for c in CASES} == set(COMMANDS)


@pytest.mark.parametrize("bad", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_clear_line_and_changes_nothing(bad, world, capsys, monkeypatch):
    monkeypatch.chdir(world)
    before = fingerprint(world)
    capsys.readouterr()
    try:
        status = main(bad.expand(world))
    except SystemExit as stop:  # argparse's usage errors
        status = stop.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    for text in bad.says:
        assert text.format(w=world) in err, f"{text!r} not in {err!r}"
    assert fingerprint(world) == before  # nothing new, nothing changed


# ---- advise --data: image sets that cannot be analysed, in a folder of their own
D = "advise --data {w}/data"
ADVISE_DATA_CASES = [
    case("advise-data-empty-folder", f"{D}/empty", "data/empty", "holds no images"),
    case("advise-data-single-image", f"{D}/one", "1 image(s)", "at least 2"),
    case("advise-data-mixed-sizes", f"{D}/sizes", "mixes image sizes", "16x16", "resize"),
    case("advise-data-mixed-channels", f"{D}/channels", "grey and colour", "RGB", "convert"),
    case("advise-data-not-an-image", "advise --data {w}/images", "x.png", "not an image"),
    case("advise-data-nan-in-npz", f"{D}/nan.npz", "nan.npz", "NaN", "image 1", "repair"),
    case(
        "advise-data-resolution-too-large-for-memory",
        f"{D}/big.npz --resolution 512",
        "--resolution 512",
        "GiB",
        "use --resolution",
    ),
    case("advise-data-resolution-above-native", f"{D}/small.npz --resolution 64", "2..16"),
    case("advise-data-missing", "advise --data {w}/nope", "nope", "fashion_mnist"),
    case("advise-data-not-a-set", "advise --data {w}/notes.txt", "notes.txt", ".npz"),
    case("advise-data-unit-does-not-tile", f"{D}/small.npz --units 3", "unit 3", "2, 4, 8"),
    case("advise-data-target-scale", f"{D}/small.npz --target-scale 5", "5 px", "1, 2, 4, 8"),
    case("advise-data-and-model", f"{D}/small.npz --model qt32", "not both"),
    case("advise-data-target-level", f"{D}/small.npz --target-level 0", "--target-scale"),
    case("advise-data-out-is-file", f"{D}/small.npz --out {{w}}/notes.txt", "notes.txt"),
    case("advise-data-one-bootstrap", f"{D}/small.npz --bootstrap 1", "--bootstrap 1", "0"),
    case("advise-target-scale-without-data", "advise --target-level 0 --target-scale 4", "--data"),
]


@pytest.fixture(scope="module")
def data_world(world) -> pathlib.Path:
    """Image sets beside the shared world's results: each broken in one way."""
    import numpy as np
    from PIL import Image

    d = world / "data"
    rng = np.random.default_rng(0)
    for name in ("empty", "one", "sizes", "channels"):
        (d / name).mkdir(parents=True)

    def png(path: pathlib.Path, size: int, mode: str = "L") -> None:
        pixels = rng.integers(0, 256, (size, size, 3) if mode == "RGB" else (size, size))
        Image.fromarray(pixels.astype(np.uint8), mode=mode).save(path)

    png(d / "one" / "a.png", 16)
    png(d / "sizes" / "a.png", 16)
    png(d / "sizes" / "b.png", 12)
    png(d / "channels" / "a.png", 16)
    png(d / "channels" / "b.png", 16, "RGB")
    images = rng.standard_normal((8, 1, 16, 16)).astype(np.float32)
    np.savez(d / "small.npz", images=images)
    images[1, 0, 3, 3] = np.nan
    np.savez(d / "nan.npz", images=images)
    np.savez_compressed(d / "big.npz", images=np.zeros((2, 512, 512), dtype=np.uint8))
    return world


@pytest.mark.parametrize("bad", ADVISE_DATA_CASES, ids=[c.name for c in ADVISE_DATA_CASES])
def test_bad_image_sets_are_one_clear_line_and_change_nothing(bad, data_world, capsys, monkeypatch):
    test_bad_input_is_one_clear_line_and_changes_nothing(bad, data_world, capsys, monkeypatch)


# ---- what a new user met: unwritable folders, empty or wrong files, work too large to
# finish, a foreign database, misleading messages. The locked folder really refuses
# writes: `chattr +i` (root included) or, for other users, mode 0555.
L = "{w}/locked"
USER_CASES = [
    case("theory-out-not-writable", f"theory --masks 10 --out {L}/t", "locked", "not writable"),
    case("synth-out-not-writable", f"synth --n 4 --out {L}/s.npz", "locked", "not writable"),
    case("train-out-not-writable", [*TRAIN, "--out", f"{L}/r"], "locked", "not writable"),
    case("export-out-not-writable", f"export {{w}}/run --format hf --out {L}/e", "not writable"),
    case("report-out-not-writable", f"report {{w}}/results.db --out {L}/r", "not writable"),
    case("demo-out-not-writable", f"demo --out {L}/d", "locked", "not writable"),
    case(
        "sweep-db-not-writable",
        f"sweep {{w}}/spec_ok.yaml --db {L}/r.db --out {{w}}/sw",
        "--db",
        "not writable",
    ),
    case(
        "sweep-out-not-writable",
        f"sweep {{w}}/spec_ok.yaml --db {{w}}/new.db --out {L}/s",
        "--out",
        "not writable",
    ),
    case("advise-out-not-writable", f"advise --target-level 0 --out {L}/a", "not writable"),
    case(
        "identify-out-not-writable",
        f"identify --mask-ratio 0.5 --mask-unit 4 --steps 1 --out {L}/i",
        "not writable",
    ),
    case("evaluate-out-not-writable", f"evaluate {{w}}/run --out {L}/e", "not writable"),
    case("train-empty-config", "train --config {w}/empty.yaml --out {w}/r", "empty.yaml", "empty"),
    case("train-config-is-folder", "train --config {w}/images --out {w}/r", "folder", "YAML"),
    case("train-depth-zero", [*TRAIN, "--set", "model.depth=0", "--out", "{w}/r"], "model.depth=0"),
    case(
        "train-negative-base-lr",
        [*TRAIN, "--set", "optim.base_lr=-1", "--out", "{w}/r"],
        "optim.base_lr=-1.0",
        "> 0",
    ),
    case("train-unit-zero", [*TRAIN, "--set", "mask.unit=0", "--out", "{w}/r"], "mask.unit=0"),
    case(
        "train-empty-npz",
        [*TRAIN, "--set", "data.model={w}/zero.npz", "--out", "{w}/r"],
        "zero.npz",
        "0 bytes",
    ),
    case("evaluate-empty-npz", "evaluate {w}/run --data {w}/zero.npz", "zero.npz", "0 bytes"),
    case("evaluate-text-npz", "evaluate {w}/run --data {w}/text.npz", "text.npz", "not a .npz"),
    case("synth-beyond-memory", "synth --n 1e12 --out {w}/s.npz", "1000000000000", "or fewer"),
    case("theory-beyond-memory", "theory --masks 1e11", "100000000000 masks", "or fewer"),
    case(
        "advise-quadtree-too-large",
        "advise --quadtree 1048576,4,9 --target-level 0",
        "1048576,4,9",
        "1048576,8192,8",
    ),
    case("sweep-foreign-db", "sweep {w}/spec_ok.yaml --db {w}/foreign.db", "not a maeid"),
    case(
        "sweep-dry-run-foreign-db", "sweep {w}/spec_ok.yaml --db {w}/foreign.db --dry-run", "notes"
    ),
    case("report-foreign-db", "report {w}/foreign.db", "foreign.db", "not a maeid"),
    case(
        "identify-batch-size-zero",
        "identify --batch-size 0 --mask-ratio 0.5 --mask-unit 4",
        "--batch-size 0",
    ),
    case("theory-model-is-a-dataset", "theory --model {w}/data.npz", "data.npz", "qt32"),
    case("theory-unit-zero", "theory --units 0", "masking unit 0", "positive"),
    case("theory-unit-negative", "theory --units -8", "masking unit -8", "positive"),
]


def _lock(folder: pathlib.Path) -> str | None:
    """Make `folder` refuse new entries; how, or None if nothing works here."""
    import os
    import subprocess
    import tempfile

    def refuses() -> bool:
        try:
            os.rmdir(tempfile.mkdtemp(dir=folder))
        except OSError:
            return True
        return False

    if os.geteuid() != 0:
        folder.chmod(0o555)
        if refuses():
            return "chmod"
        folder.chmod(0o755)
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    return "chattr" if done.returncode == 0 and refuses() else None


@pytest.fixture(scope="module")
def user_world(world):
    """The shared world, plus a locked folder and the files a new user got wrong."""
    import sqlite3
    import subprocess

    from maeid.hlvm import load_model, save_dataset

    (world / "empty.yaml").write_text("")
    (world / "zero.npz").write_bytes(b"")
    (world / "text.npz").write_text("a text file with a dataset's name\n")
    qt32 = load_model("qt32")
    save_dataset(world / "data.npz", qt32, qt32.sample(2, seed=0))
    with sqlite3.connect(world / "foreign.db") as foreign:
        foreign.execute("CREATE TABLE notes (text TEXT)")
    foreign.close()
    (world / "locked").mkdir()
    how = _lock(world / "locked")
    yield world, how
    if how == "chattr":
        subprocess.run(["chattr", "-i", str(world / "locked")], check=True)
    elif how == "chmod":
        (world / "locked").chmod(0o755)


@pytest.mark.parametrize("bad", USER_CASES, ids=[c.name for c in USER_CASES])
def test_what_a_new_user_got_wrong_is_one_clear_line(bad, user_world, capsys, monkeypatch):
    world, how = user_world
    if how is None and L in bad.argv:
        pytest.skip("no way to make a folder unwritable here (root without chattr)")
    test_bad_input_is_one_clear_line_and_changes_nothing(bad, world, capsys, monkeypatch)
