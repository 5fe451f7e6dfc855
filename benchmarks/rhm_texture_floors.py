"""Floors of the texture cue on rhm32: what the signature gives away, and to whom.

    .venv/bin/python benchmarks/rhm_texture_floors.py [--model rhm32:p_texture=0.5]
        [--train 10000] [--test 2000] [--epochs 20] [--threads 1]

On held-out samples of the model (default: the default signature amplitude, carried by
half the images):
- a linear probe on raw pixels, trained on the model's own images, read on the test
  images without a signature and on those with one (the shortcut);
- shape bias (`maeid.evaluate.cue_conflict`) of a probe on raw pixels, of a probe on an
  untrained qt32-sized ViT encoder (the `qt32` preset at initialisation, seed 0,
  mean-pooled, full image) and of the Bayes classifier that ignores the signature; and
  of the class read through the root's rules from level-1 probes on each;
- class accuracy under each rendition shift (`maeid.evaluate.rendition`) of the pixel
  probe, of the pixels read through the rules, and of the ideal observer of the shifted
  data.
"""

import argparse
import time

import torch

from maeid.evaluate.cue_conflict import measure_shape_bias
from maeid.evaluate.feature_readers import encoder_reader, pixel_reader
from maeid.evaluate.probe import ProbeConfig, train_linear_probe
from maeid.evaluate.rendition import rendition_accuracy
from maeid.hlvm import load_model
from maeid.hlvm.texture import signature_classes
from maeid.mae.presets import build_mae


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rhm32:p_texture=0.5", help="rhm32:knob=value,...")
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=20, help="linear-probe epochs")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model = load_model(args.model)
    k = model.knobs
    config = ProbeConfig(epochs=args.epochs)
    print(f"{model.name}: n_classes {k.n_classes}, v {k.v}, m {k.rule_counts}, sigma {k.sigma}, "
          f"p_texture {k.p_texture}, signature amplitude {k.texture} (rms pixels); "
          f"{args.train} train / {args.test} test samples")  # fmt: skip

    train, test = model.sample(args.train, seed=0), model.sample(args.test, seed=1)
    classes = torch.from_numpy(train.latents["z0"][:, 0])
    head = train_linear_probe(pixel_reader(train.images), classes, config)
    with torch.no_grad():
        hit = head(pixel_reader(test.images)).argmax(1).numpy() == test.latents["z0"][:, 0]
    carries = signature_classes(test) >= 0
    print(f"pixel probe (trained on the model's images): accuracy {hit[~carries].mean():.3f} "
          f"without a signature ({(~carries).sum()} images), {hit[carries].mean():.3f} with one "
          f"({carries.sum()}); 1 / n_classes {1 / k.n_classes:.3f}")  # fmt: skip

    _, h, _ = model.spec.image_shape
    torch.manual_seed(0)
    encoder = build_mae("qt32", img_size=h).eval()
    mean, std = float(train.images.mean()), float(train.images.std())
    readers = {"untrained ViT (mean)": encoder_reader(encoder, (mean,), (std,), "mean")}
    bias = measure_shape_bias(model, readers, args.train, args.test, seed=0, config=config)
    print(f"\n{'shape bias (cue-conflict)':42s}{'shape bias':>11s}{'P(tree)':>9s}"
          f"{'P(sig.)':>9s}{'cue-consistent acc.':>21s}")  # fmt: skip
    for name, r in bias.items():
        if name == "bayes":
            label = "Bayes, ignoring the signature"
        elif name.startswith("rules_"):  # level-1 probes read through the root's rules
            label = name.removeprefix("rules_") + ", through the rules"
        else:
            label = name + ", linear probe"
        print(f"{label:42s}{r.shape_bias:11.3f}{r.tree_share:9.3f}{r.signature_share:9.3f}"
              f"{r.clean_accuracy:21.3f}")  # fmt: skip

    shifts = rendition_accuracy(model, {}, args.train, args.test, seed=0, config=config)
    views = list(shifts["bayes"])
    print(f"\n{'class accuracy':27s}" + "".join(f"{v:>13s}" for v in views))
    for name, row in (
        ("pixels, linear probe", shifts["pixels"]),
        ("pixels, through the rules", shifts["rules_pixels"]),
        ("Bayes (shifted)", shifts["bayes"]),
    ):
        print(f"{name:27s}" + "".join(f"{row[v]:13.3f}" for v in views))
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
