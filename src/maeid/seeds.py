"""Named seed streams: every split a measurement draws has one name and one rule here.

A measurement's randomness comes from two seeds of the run it reads: the data's seed
(`data.seed`, the training stream's) and the evaluation's seed (`run.seed` by default,
`maeid evaluate --seed` to change it). A split is drawn with `base + offset`, the offset
fixed per stream, so that

- the held-out **test** split is a property of the data: every evaluation of the same
  data, whatever its seed, scores on the same images (base: `data.seed`);
- the probes' **training** split belongs to the readout, like the probe's initialisation:
  it changes with the evaluation's seed (base: the evaluation seed);
- an image folder's **folder_split** into a test part and a readout part is, like the
  test split, a property of the data (base: `data.seed`).

The offsets are apart from the training stream, which never draws a plain integer seed
(`maeid.data.fresh` seeds each step with a `SeedSequence` of the seed, a tag and the
step). `test` and `probe_train` are the offsets `maeid evaluate` has always used, so
readouts taken with it (the ratio study's) reproduce; sweeps drew their synthetic splits
with `data.seed + 1_000_003` (test) and `+ 2_000_003` (probes) until both front-ends
became one, so a database made before holds `identifiability.*`, `symbols.*`,
`information.*` and `class_probe.*` numbers that a new run of the same point redraws.
Fashion-MNIST's splits are fixed files; the subsets an evaluation reads from them are
drawn with the evaluation seed, as they always were.
"""

from __future__ import annotations

# stream name -> (whose seed it offsets, offset)
STREAMS: dict[str, tuple[str, int]] = {
    "test": ("data", 104_729),
    "probe_train": ("evaluation", 7_919),
    "folder_split": ("data", 1_299_709),
}


def stream_seed(name: str, *, data_seed: int, evaluation_seed: int) -> int:
    """The integer seed of the split `name` (a key of `STREAMS`)."""
    if name not in STREAMS:
        raise ValueError(f"unknown seed stream {name!r}; known: {', '.join(STREAMS)}")
    base, offset = STREAMS[name]
    return (data_seed if base == "data" else evaluation_seed) + offset
