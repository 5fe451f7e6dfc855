"""What the theory reasons over: a `GraphSpec`, or anything that carries one as `.spec`.

`maeid.hlvm.load_model` returns a `HierarchicalModel` (structure plus mechanisms); the
theory needs only the structure. The public functions of `maeid.theory` take either, so
`shared_latents(load_model("qt32"), masked)` works as `shared_latents(spec, masked)`
does. The conversion happens once, at the boundary, through `takes_spec`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar, runtime_checkable

from maeid.hlvm.spec import GraphSpec


@runtime_checkable
class HasSpec(Protocol):
    """A model with a graph structure, e.g. `maeid.hlvm.HierarchicalModel`."""

    spec: GraphSpec


SpecLike = GraphSpec | HasSpec

P = ParamSpec("P")
R = TypeVar("R")


def as_spec(model: SpecLike) -> GraphSpec:
    """The `GraphSpec` of `model`: itself, or its `.spec`."""
    if isinstance(model, GraphSpec):
        return model
    spec = getattr(model, "spec", None)
    if isinstance(spec, GraphSpec):
        return spec
    raise TypeError(
        f"expected a GraphSpec or a model with a .spec (e.g. maeid.hlvm.load_model('qt32')), "
        f"got {type(model).__name__}"
    )


def takes_spec(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a function whose parameter `spec` is a `SpecLike`: the body gets a
    `GraphSpec`, whether `spec` came positionally or by keyword."""
    signature = inspect.signature(fn)
    if "spec" not in signature.parameters:
        raise TypeError(f"{fn.__qualname__} has no parameter named 'spec'")

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(*args, **kwargs)
        bound.arguments["spec"] = as_spec(bound.arguments["spec"])
        return fn(*bound.args, **bound.kwargs)

    return wrapper
