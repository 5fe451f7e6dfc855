"""The measure registry: every measurement is one `Measure`, registered where it is defined.

    @register
    class Knn(Measure):
        name = "knn"
        Options = KnnOptions
        needs = Needs.LABELS
        keys = (MetricKey("probe", "knn_top1"),)

        def run(self, ctx, opts) -> Outcome: ...
        def summary(self, outcome, opts) -> list[str]: ...

`get_measure(name)` and `measure_names()` are the one place the names live; `maeid
evaluate`, sweeps, their checks and the report all ask here. Importing `maeid.measures`
imports every measure module (`catalog`), so the registry is full before it is asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from maeid.measures.data_kind import DataKind, Needs, describe_source
from maeid.measures.keys import MetricKey
from maeid.measures.options import Options

if TYPE_CHECKING:
    from maeid.measures.context import EvalContext


@dataclass
class Outcome:
    """What one measure returns: its metrics by key, the details `eval.json` keeps under
    the measure's name, and its figures by artefact name."""

    metrics: dict[MetricKey, float] = field(default_factory=dict)
    details: Any = None
    figures: dict[str, str] = field(default_factory=dict)


class Measure:
    """One measurement. Subclasses set the class attributes and implement `run`."""

    name: ClassVar[str]
    Options: ClassVar[type[Options]]
    needs: ClassVar[Needs] = Needs.ANY
    keys: ClassVar[tuple[MetricKey, ...]] = ()  # patterns of the keys `run` writes
    aliases: ClassVar[tuple[str, ...]] = ()  # earlier names, still accepted
    default_for: ClassVar[frozenset[str]] = frozenset()  # data kinds it runs on by default

    def run(self, ctx: EvalContext, opts: Any) -> Outcome:
        raise NotImplementedError

    def summary(self, outcome: Outcome, opts: Any) -> list[str]:
        """A few console lines; by default each metric and its value."""
        return [f"  {key}: {value:.4g}" for key, value in outcome.metrics.items()]


_REGISTRY: dict[str, Measure] = {}
_ALIASES: dict[str, str] = {}


def register(cls: type[Measure]) -> type[Measure]:
    """Class decorator: add one instance of `cls` to the registry under `cls.name`."""
    if cls.name in _REGISTRY or cls.name in _ALIASES:
        raise ValueError(f"measure {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls()
    _ALIASES.update(dict.fromkeys(cls.aliases, cls.name))
    return cls


def measure_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get_measure(name: str) -> Measure:
    """The measure `name` (or an earlier name of it); unknown names list the valid ones."""
    canonical = _ALIASES.get(name, name)
    if canonical not in _REGISTRY:
        raise ValueError(f"unknown measure {name!r}; choose from {', '.join(_REGISTRY)}")
    return _REGISTRY[canonical]


def declared_by(key: MetricKey) -> str | None:
    """The measure that declares `key`, or None."""
    for name, measure in _REGISTRY.items():
        if any(key.matches(pattern) for pattern in measure.keys):
            return name
    return None


def parse_key(text: str) -> MetricKey:
    """The declared metric key whose string form is `text` (e.g. from a database row)."""
    for key in MetricKey.candidates(text):
        if declared_by(key):
            return key
    raise ValueError(f"metric key {text!r} is declared by no measure")


def default_measures(kind: DataKind) -> list[str]:
    """What `maeid evaluate` runs when no measure is named: labelled data, the rhm32
    model, other synthetic data with latents, or any other images."""
    tag = "labels" if kind.labelled else "rhm" if kind.rhm else "latents" if kind.latents else "any"
    return [name for name, m in _REGISTRY.items() if tag in m.default_for]


def check_requested(requested: dict[str, Any], kind: DataKind) -> dict[str, Options]:
    """Each requested measure's parsed options, after refusing unknown measures and
    options, and measures the data cannot support: before any work is done."""
    parsed: dict[str, Options] = {}
    for name, given in requested.items():
        measure = get_measure(name)
        if measure.name in parsed:
            raise ValueError(f"measure {name!r} is named twice (once as {measure.name!r})")
        opts = measure.Options.parse(measure.name, given)
        source = getattr(opts, "data", None)
        data = kind if source is None else describe_source(source, kind)
        if not data.offers(measure.needs):
            raise ValueError(
                f"{measure.name} needs {measure.needs.value}; {data.name} has none. "
                f"Measures for this data: {', '.join(supported(data))}"
            )
        parsed[measure.name] = opts
    return parsed


def supported(kind: DataKind) -> list[str]:
    return [name for name, m in _REGISTRY.items() if kind.offers(m.needs)]
