"""The random-hierarchy image model `rhm32`: a discrete grammar whose class the pixels hide.

After the random hierarchy model of Cagnetta, Petrini, Tomasini, Favero and Wyart
(Phys. Rev. X, 2024), rendered as images:

- the root is a class, uniform over `n_classes`;
- every symbol at levels 0..L-1 picks one of its level's `m` production rules uniformly;
  a rule writes a 2x2 block of children, symbols of a vocabulary of `v`;
- the rules of level l are `(n_classes or v) * m_l` distinct 4-tuples drawn from the
  seed, so no tuple belongs to two rules: the children determine the parent and the rule
  (the discrete counterpart of Assumption 1's invertibility, checked at build);
- each of the `(2^L)^2` leaf symbols (level L) renders as a fixed seeded `patch x patch`
  grey patch (values uniform in [0, 1]) plus Gaussian pixel noise of std `sigma`;
- optionally, a texture cue (`maeid.hlvm.texture`): with probability `p_texture` an image
  carries its class's seeded signature, a pattern of root-mean-square `texture` pixels
  added to every leaf patch. Off by default (`p_texture=0`: the output is as without it).

Knobs and their defaults, set by name (`load_model("rhm32:v=4,m=8")`): `n_classes=8`,
`v=8`, `m=8` (rules per symbol; `m=16/4/2` sets each level's count, root first: many rules
at the root hide the class from the pixels, few at the leaves give a masked leaf's
siblings much to say about it), `size=32` (image side), `patch=4` (leaf patch side), `levels` (L, by
default what `size` and `patch` imply: 32 = 4 x 2^3), `sigma=0.2`, `p_texture=0`,
`texture=TEXTURE`. The model seed draws the rules, the patches and the signatures, each from
its own stream.

Samples are `maeid.hlvm.model.Sample`s: `latents[z]` is the symbol of `z` as an (N, 1)
int64 array (a class or a vocabulary index); `noises[z]` is the rule that a non-leaf
symbol `z` chose, (N, 1) int64; the pixel noise is not stored (it is each patch minus its
symbol's rendering). `observed[x]` is a leaf's noisy patch, (N, patch^2) float32. With
`p_texture > 0`, `noises["texture"]` is each image's signature class, (N, 1), -1 for none.

The structure is a quadtree `GraphSpec` (`.spec`), so `maeid.theory` computes S(m) and
c(m) on it unchanged: the root `z0`, levels `z{l}_{r}_{c}` down to the leaf symbols at
level L, and one observed patch `x_{r}_{c}` under each leaf symbol. Its dims are
counts of discrete choices (a level-l symbol has dim l + 1 and noise dim 1, its rule),
so the spec's `d_c` is |S(m)|; `code_bits` gives d_c in bits: log2 n_classes for the
root, and for a symbol below it log2 of its parent level's rule count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

from maeid.hlvm.model import Sample
from maeid.hlvm.quadtree import quadtree_spec
from maeid.hlvm.signatures import TEXTURE_KEY, add_signatures, draw_signatures
from maeid.hlvm.spec import GraphSpec

NAME = "rhm32"
_RULES_TAG, _PATCH_TAG = 0x52484D31, 0x52484D32  # separate the seed's two streams
# The signature's root-mean-square amplitude in pixels: enough for a linear probe on raw
# pixels to read the class from it (benchmarks/rhm_texture_floors.py).
TEXTURE = 0.1
_FLOAT_KNOBS = ("sigma", "p_texture", "texture")


@dataclass(frozen=True)
class RHMKnobs:
    """The knobs of a random-hierarchy image model (see the module docstring)."""

    n_classes: int = 8
    v: int = 8
    m: int | tuple[int, ...] = 8  # one count for every level, or one per level, root first
    size: int = 32
    patch: int = 4
    levels: int = 3
    sigma: float = 0.2
    p_texture: float = 0.0
    texture: float = TEXTURE

    @property
    def grid(self) -> int:
        """Leaf symbols per image side."""
        return 2**self.levels

    def rules_at(self, level: int) -> int:
        """Production rules per symbol of level `level` (0 = the class) .. L - 1."""
        return self.m if isinstance(self.m, int) else self.m[level]

    @property
    def rule_counts(self) -> str:
        """`m` as the name writes it: `8`, or `32/4/2` root first."""
        return _text(self.m)

    def tag(self) -> str:
        """The knobs that differ from the defaults, as `load_model` reads them."""
        default = asdict(RHMKnobs())
        diff = [f"{k}={_text(v)}" for k, v in asdict(self).items() if default[k] != v]
        return NAME + (":" + ",".join(diff) if diff else "")


def _text(value: object) -> str:
    return "/".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _rule_counts(value: object) -> int | tuple[int, ...]:
    """`m` as an int, or one int per level from "16/4/2" or a list."""
    parts = value.split("/") if isinstance(value, str) and "/" in value else value
    if isinstance(parts, (list, tuple)):
        return tuple(int(str(p).strip()) for p in parts)
    return int(str(value))


def parse_knobs(text: str | Mapping[str, object] = "") -> RHMKnobs:
    """Knobs from `"v=4,m=8"` (the part after `rhm32:`) or a mapping; refuses bad ones.

    `size` and `levels` determine each other through `size = patch * 2^levels`; give
    either (or both, if they agree).
    """
    if isinstance(text, str):
        pairs: dict[str, str] = {}
        for item in filter(None, (s.strip() for s in text.split(","))):
            key, eq, value = item.partition("=")
            if not eq or not value.strip():
                raise ValueError(f"rhm32 knob {item!r} is not key=value; e.g. rhm32:v=4,m=8")
            pairs[key.strip()] = value.strip()
        raw: Mapping[str, object] = pairs
    else:
        raw = dict(text)
    fields = {"n_classes", "v", "m", "size", "patch", "levels", *_FLOAT_KNOBS}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ValueError(f"unknown rhm32 knobs {unknown}; known: {', '.join(sorted(fields))}")
    values: dict[str, object] = {}
    for key, value in raw.items():
        try:
            if key == "m":
                number: object = _rule_counts(value)
            else:
                number = float(value) if key in _FLOAT_KNOBS else int(str(value))
        except (TypeError, ValueError):
            kind = "a number" if key in _FLOAT_KNOBS else "an integer"
            if key == "m":
                kind += " or one integer per level, root first (e.g. m=16/4/2)"
            raise ValueError(f"rhm32 knob {key}={value!r} must be {kind}") from None
        values[key] = number
    return _checked(values)


def _checked(values: dict[str, object]) -> RHMKnobs:
    d = RHMKnobs()
    n_c, v = (int(values.get(k, getattr(d, k))) for k in ("n_classes", "v"))
    m = values.get("m", d.m)
    patch, sigma = int(values.get("patch", d.patch)), float(values.get("sigma", d.sigma))
    for key, val, low in (("n_classes", n_c, 2), ("v", v, 2), ("patch", patch, 1)):
        if val < low:
            raise ValueError(f"rhm32 knob {key}={val} is too small; it must be >= {low}")
    for count in (m,) if isinstance(m, int) else m:
        if count < 1:
            raise ValueError(f"rhm32 knob m={_text(m)} has a count {count} < 1; every "
                             "level needs at least 1 rule per symbol")  # fmt: skip
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"rhm32 pixel noise sigma={sigma} must be a finite number >= 0")
    p_texture = float(values.get("p_texture", d.p_texture))
    texture = float(values.get("texture", d.texture))
    if not 0.0 <= p_texture <= 1.0:
        raise ValueError(
            f"rhm32 knob p_texture={p_texture} is not a probability; use a value in [0, 1] "
            "(0 turns the texture cue off)"
        )
    if not (math.isfinite(texture) and texture >= 0):
        raise ValueError(
            f"rhm32 signature amplitude texture={texture} must be a finite number >= 0 "
            f"(pixels, root-mean-square), e.g. {d.texture}"
        )
    if "levels" in values:
        levels = int(values["levels"])
        if levels < 1:
            raise ValueError(f"rhm32 levels={levels}: the tree needs L >= 1 levels of rules")
        size = patch * 2**levels
        if "size" in values and int(values["size"]) != size:
            raise ValueError(
                f"rhm32 size={values['size']} disagrees with patch={patch} and levels={levels}, "
                f"which give a {size}-pixel image (size = patch * 2^levels); drop one of them"
            )
    else:
        size = int(values.get("size", d.size))
        if size < 1 or size % patch:
            raise ValueError(
                f"rhm32 patch={patch} does not tile a {size}-pixel image; use a patch that "
                f"divides {size}, e.g. {d.patch}"
            )
        grid = size // patch
        levels = grid.bit_length() - 1
        if grid != 2**levels or levels < 1:
            raise ValueError(
                f"rhm32 size={size} / patch={patch} = {grid} leaf patches per side; it must be "
                "a power of 2 of at least 2 (2x2 branching), e.g. size=32 with patch=4"
            )
    if not isinstance(m, int):
        if len(m) != levels:
            raise ValueError(
                f"rhm32 m={_text(m)} gives {len(m)} rule counts for a tree of {levels} "
                f"levels; give one per level, root first, e.g. m={'/'.join(['8'] * levels)}"
            )
        if len(set(m)) == 1:
            m = m[0]  # equal counts are the uniform model: m=8/8/8 is m=8
    # A tuple of 4 children from v symbols: v^4 tuples in all, and each level needs one
    # per (parent symbol, rule) for the rules to be unambiguous.
    for level in range(levels):
        parents = n_c if level == 0 else v
        count = m if isinstance(m, int) else m[level]
        if parents * count > v**4:
            raise ValueError(
                f"rhm32 m={_text(m)}: {count} rules per symbol at level {level} cannot be "
                f"unambiguous: {parents} parent symbols x {count} rules need "
                f"{parents * count} distinct 2x2 child tuples, but a vocabulary of v={v} has "
                f"only {v**4}; use at most {v**4 // parents} rules there or a larger v"
            )
    if patch * patch < levels + 1:
        raise ValueError(
            f"rhm32 patch={patch} is too small for levels={levels}: a leaf's {patch * patch} "
            f"pixels cannot carry its {levels + 1} discrete choices in the spec; use patch >= "
            f"{math.ceil(math.sqrt(levels + 1))}"
        )
    return RHMKnobs(n_c, v, m, size, patch, levels, sigma, p_texture, texture)


def rhm_spec(knobs: RHMKnobs) -> GraphSpec:
    """The tree of the model: latent levels 0..L (leaf symbols at L), patches at L + 1."""
    levels = knobs.levels
    spec = quadtree_spec(
        knobs.size,
        1,
        leaf=knobs.patch,
        branching=(2,) * levels + (1,),
        dims=tuple(range(1, levels + 2)),
        noise_scales=(1.0,) * (levels + 1) + (knobs.sigma,),
        name=knobs.tag(),
    )
    meta = {"name": knobs.tag(), "builder": "random_hierarchy", **asdict(knobs)}
    if isinstance(knobs.m, tuple):
        meta["m"] = list(knobs.m)  # as YAML writes and reads it back
    return GraphSpec(spec.nodes, image_shape=spec.image_shape, meta=meta)


class RandomHierarchy:
    """The random-hierarchy image model: `spec`, `rules`, `patches`, `sample(n, seed)`.

    `rules[l]` is (parents, m, 4) int: the 2x2 children (raster order) of each rule of
    each level-l symbol; `patches` is (v, 1, patch, patch) float32, each leaf symbol's
    rendering; `signatures` is (n_classes, 1, patch, patch) float32, each class's texture
    signature (`maeid.hlvm.texture`), added only to the images that carry it.
    """

    def __init__(self, knobs: RHMKnobs | None = None, seed: int = 0) -> None:
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"model seed must be a non-negative integer, got {seed!r}")
        self.knobs = knobs or RHMKnobs()
        self.seed = int(seed)
        self.spec = rhm_spec(self.knobs)
        self.builder = {"name": self.knobs.tag()}
        k = self.knobs
        rng = np.random.default_rng([self.seed, _RULES_TAG])
        self.rules: list[np.ndarray] = []
        for level in range(k.levels):
            parents, m = self.num_symbols(level), k.rules_at(level)
            codes = rng.choice(k.v**4, size=parents * m, replace=False)
            digits = (codes[:, None] // k.v ** np.arange(3, -1, -1)) % k.v
            self.rules.append(digits.reshape(parents, m, 4).astype(np.int64))
        rng = np.random.default_rng([self.seed, _PATCH_TAG])
        self.patches = rng.random((k.v, 1, k.patch, k.patch)).astype(np.float32)
        signatures = draw_signatures(self.seed, k.n_classes, k.patch, k.texture)
        self.signatures = signatures.reshape(k.n_classes, 1, k.patch, k.patch)

    @property
    def name(self) -> str:
        return self.knobs.tag()

    @property
    def config(self) -> dict[str, object]:
        return {"seed": self.seed, **asdict(self.knobs)}

    def __repr__(self) -> str:
        return f"RandomHierarchy({self.name!r}, seed={self.seed})"

    def num_symbols(self, level: int) -> int:
        """Values a level-`level` symbol takes: classes at the root, else the vocabulary."""
        return self.knobs.n_classes if level == 0 else self.knobs.v

    # ------------------------------------------------------------------ sampling
    def sample_symbols(
        self, n: int, seed: int | np.random.SeedSequence | np.random.Generator = 0
    ) -> tuple[list[np.ndarray], list[np.ndarray], np.random.Generator]:
        """Symbol grids `(N, 2^l, 2^l)` for levels 0..L, the rule grids for levels 0..L-1,
        and the generator, positioned to draw the pixel noise next."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"number of samples must be a positive integer, got {n!r}")
        rng = np.random.default_rng(seed)
        k = self.knobs
        symbols = [rng.integers(0, k.n_classes, size=(n, 1, 1))]
        choices = []
        for level in range(k.levels):
            parent = symbols[-1]
            rule = rng.integers(0, k.rules_at(level), size=parent.shape)
            side = parent.shape[1]
            kids = self.rules[level][parent, rule]  # (N, s, s, 4), raster order in the block
            kids = kids.reshape(n, side, side, 2, 2).transpose(0, 1, 3, 2, 4)
            symbols.append(np.ascontiguousarray(kids).reshape(n, 2 * side, 2 * side))
            choices.append(rule)
        return symbols, choices, rng

    def sample(
        self, n: int, seed: int | np.random.SeedSequence = 0, progress: bool = False
    ) -> Sample:
        """Draw `n` images with every symbol and rule; the same `(model, n, seed)` gives
        the same numbers. `progress` is accepted for `HierarchicalModel` parity."""
        del progress  # sampling 100,000 images takes seconds
        symbols, choices, rng = self.sample_symbols(n, seed)
        k = self.knobs
        g, p = k.grid, k.patch
        # Patches as (N, G, G, p*p): every observed vector is a view, the image one copy.
        pixels = self.patches.reshape(k.v, p * p)[symbols[-1]]
        if k.sigma > 0:
            pixels += k.sigma * rng.standard_normal(pixels.shape, dtype=np.float32)
        signature = None
        if k.p_texture > 0:  # drawn last: the trees and the noise are those of p_texture = 0
            carries = rng.random(n) < k.p_texture
            signature = np.where(carries, symbols[0].reshape(n), -1).astype(np.int64)
            add_signatures(pixels, self.signatures.reshape(k.n_classes, -1), signature)
        images = pixels.reshape(n, g, g, p, p).transpose(0, 1, 3, 2, 4).reshape(n, 1, g * p, g * p)
        observed = {f"x_{r}_{c}": pixels[:, r, c] for r in range(g) for c in range(g)}
        latents, noises = {}, {}
        for level, grid in enumerate(symbols):
            for name, (r, c) in _names(level):
                latents[name] = grid[:, r, c, None]
                if level < k.levels:
                    noises[name] = choices[level][:, r, c, None]
        if signature is not None:
            noises[TEXTURE_KEY] = signature[:, None]
        return Sample(images=images, observed=observed, latents=latents, noises=noises)

    # ------------------------------------------------------------------- reading
    def latent_names(self, level: int) -> list[str]:
        """The names of the latents at `level` (0 = the class), in the tree's raster order:
        the order of a symbol grid's cells and of a rule's children."""
        if not 0 <= level <= self.knobs.levels:
            raise ValueError(f"level {level}: this model's levels are 0..{self.knobs.levels}")
        return [name for name, _ in _names(level)]

    def symbol_grids(self, latents: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """The (N, 2^l, 2^l) symbol grid of every level from a sample's `latents`."""
        grids = []
        for level in range(self.knobs.levels + 1):
            side = 2**level
            names = self.latent_names(level)
            missing = [z for z in names if z not in latents]
            if missing:
                raise ValueError(f"latents lack {missing[:3]}; pass a whole rhm32 sample")
            cols = [np.asarray(latents[z]).reshape(-1) for z in names]
            grids.append(np.stack(cols, axis=1).reshape(-1, side, side).astype(np.int64))
        return grids

    def render(self, observed: Mapping[str, np.ndarray]) -> np.ndarray:
        """Write observed patches into the image: `(N, 1, H, W)`."""
        g, p = self.knobs.grid, self.knobs.patch
        n = len(next(iter(observed.values())))
        images = np.zeros((n, 1, g * p, g * p), dtype=np.float32)
        for r in range(g):
            for c in range(g):
                images[:, 0, r * p : (r + 1) * p, c * p : (c + 1) * p] = np.asarray(
                    observed[f"x_{r}_{c}"]
                ).reshape(n, p, p)
        return images

    def unrender(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Each observed patch's vector, read from `(N, 1, H, W)` images."""
        images = np.asarray(images)
        shape = self.spec.image_shape
        if images.ndim != 4 or images.shape[1:] != shape:
            raise ValueError(f"expected images of shape (N, {', '.join(map(str, shape))}), "
                             f"got {images.shape}")  # fmt: skip
        g, p = self.knobs.grid, self.knobs.patch
        return {
            f"x_{r}_{c}": images[:, 0, r * p : (r + 1) * p, c * p : (c + 1) * p].reshape(
                len(images), -1
            )
            for r in range(g)
            for c in range(g)
        }

    # ---------------------------------------------------------------------- bits
    def latent_bits(self, name: str) -> float:
        """Bits a latent adds to d_c: log2 n_classes for the root, and below it log2 of
        the rule count of its parent's level (the choice that wrote it)."""
        node = self.spec[name]
        if node.observed:
            raise ValueError(f"{name} is an observed patch, not a latent symbol")
        if node.level == 0:
            return math.log2(self.knobs.n_classes)
        return math.log2(self.knobs.rules_at(node.level - 1))

    def code_bits(self, shared: Iterable[str]) -> float:
        """d_c in bits of a set of shared latents (S(m) from `maeid.theory.identify`)."""
        return float(sum(self.latent_bits(z) for z in shared))


def _names(level: int) -> Iterable[tuple[str, tuple[int, int]]]:
    """(name, (row, col)) of every latent at `level`, in the quadtree's raster order."""
    if level == 0:
        yield "z0", (0, 0)
        return
    side = 2**level
    for r in range(side):
        for c in range(side):
            yield f"z{level}_{r}_{c}", (r, c)


def load_rhm(name: str, seed: int = 0) -> RandomHierarchy:
    """`rhm32` or `rhm32:knob=value,...` as a model."""
    base, _, knobs = name.partition(":")
    if base != NAME:
        raise ValueError(f"{name!r} is not an rhm32 model name; use e.g. rhm32:v=4,m=8")
    return RandomHierarchy(parse_knobs(knobs), seed=seed)


def is_rhm(subject: object) -> bool:
    """Whether `subject` is the random-hierarchy model: a `RandomHierarchy`, a model name
    (`rhm32`, `rhm32:v=4,m=8`), or a training config's data section (a mapping, or an
    object with `source` and `model` such as `DataConfig`) with synthetic data of such a
    name (a missing source is synthetic, `DataConfig`'s default). Anything else, such as
    a `HierarchicalModel`, another name or a `.npz` path, is not: a dataset file is known
    by its model once loaded."""
    if isinstance(subject, RandomHierarchy):
        return True
    if isinstance(subject, str):
        return subject == NAME or subject.startswith(NAME + ":")
    if isinstance(subject, Mapping):
        source, model = subject.get("source", "synthetic"), subject.get("model")
    elif hasattr(subject, "source") and hasattr(subject, "model"):
        source, model = subject.source, subject.model
    else:
        return False
    return source == "synthetic" and isinstance(model, str) and is_rhm(model)
