"""The graph of a hierarchical latent-variable model (Assumption 1 of the paper).

A `GraphSpec` is pure structure: named nodes, each latent or observed, each with a
dimension, its parents and its exogenous noise. It knows nothing of mechanisms or
sampling; `maeid.theory` reasons over it alone, and `maeid.hlvm.model` attaches
random invertible mechanisms to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx


class SpecError(ValueError):
    """A model description that violates Assumption 1 or is inconsistent."""


@dataclass(frozen=True)
class Node:
    """One variable of the model.

    `noise_dim` is the dimension of the node's own exogenous noise. For a root it is
    the root itself (`noise_dim == dim` by default). `block` is the pixel block
    `(row, col, height, width)` that an observed node of an image model covers.
    """

    name: str
    dim: int
    parents: tuple[str, ...] = ()
    observed: bool = False
    noise_dim: int | None = None
    noise_scale: float = 1.0
    level: int | None = None
    block: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class GraphSpec:
    """A validated DAG of latent and observed nodes.

    Construction checks, and refuses with the offending names: unknown parents, cycles,
    observed nodes with children (which covers edges between observed nodes), latents
    with no observed descendant, and dimensions that no injective mechanism can have.
    Nodes are stored in a topological order; missing `noise_dim` and `level` are filled in.
    """

    nodes: tuple[Node, ...]
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) for image models
    meta: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", _validated(self.nodes))
        object.__setattr__(self, "meta", dict(self.meta))
        if self.image_shape is not None:
            shape = tuple(self.image_shape)
            if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
                raise SpecError(f"image_shape must be three positive ints (C, H, W), got {shape}")
            object.__setattr__(self, "image_shape", shape)
            _check_blocks(self.nodes, shape)

    # ------------------------------------------------------------------ lookups
    @cached_property
    def by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def __getitem__(self, name: str) -> Node:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"no node named {name!r} in this model") from None

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    @cached_property
    def latents(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if not n.observed)

    @cached_property
    def observed(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.observed)

    @cached_property
    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        for n in self.nodes:
            g.add_node(n.name)
            g.add_edges_from((p, n.name) for p in n.parents)
        return g

    @cached_property
    def children(self) -> dict[str, tuple[str, ...]]:
        kids: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for p in n.parents:
                kids[p].append(n.name)
        return {k: tuple(v) for k, v in kids.items()}

    @cached_property
    def levels(self) -> dict[int, tuple[str, ...]]:
        """Latent names grouped by level (0 = the roots' level)."""
        out: dict[int, list[str]] = {}
        for name in self.latents:
            out.setdefault(self[name].level, []).append(name)  # type: ignore[arg-type]
        return {lvl: tuple(v) for lvl, v in sorted(out.items())}

    def noise_dim(self, name: str) -> int:
        return self[name].noise_dim  # type: ignore[return-value]

    def check_observed(self, names: Iterable[str], what: str = "mask") -> frozenset[str]:
        """Return `names` as a set after checking that each is an observed node."""
        names = frozenset(names)
        unknown = sorted(n for n in names if n not in self.by_name)
        if unknown:
            raise SpecError(
                f"{what} names unknown nodes {unknown}; observed nodes are e.g. "
                f"{list(self.observed[:4])}"
            )
        latent = sorted(n for n in names if not self[n].observed)
        if latent:
            raise SpecError(
                f"{what} names latent nodes {latent}; only observed nodes can be masked"
            )
        return names


def _validated(nodes: Iterable[Node]) -> tuple[Node, ...]:
    nodes = tuple(nodes)
    if not nodes:
        raise SpecError("a model needs at least one node")
    names = [n.name for n in nodes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(f"duplicate node names {dup}")
    by_name = {n.name: n for n in nodes}

    bad_dim = sorted(n.name for n in nodes if not isinstance(n.dim, int) or n.dim < 1)
    if bad_dim:
        raise SpecError(f"nodes {bad_dim} need a positive integer dim")
    unknown = sorted({f"{n.name} <- {p}" for n in nodes for p in n.parents if p not in by_name})
    if unknown:
        raise SpecError(f"unknown parents: {unknown}")
    self_loops = sorted(n.name for n in nodes if n.name in n.parents)
    if self_loops:
        raise SpecError(f"nodes {self_loops} list themselves as a parent (a cycle)")
    dup_parents = sorted(n.name for n in nodes if len(set(n.parents)) != len(n.parents))
    if dup_parents:
        raise SpecError(f"nodes {dup_parents} list a parent twice")

    g = nx.DiGraph()
    g.add_nodes_from(names)
    g.add_edges_from((p, n.name) for n in nodes for p in n.parents)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        raise SpecError(
            "the graph has a cycle: " + " -> ".join([e[0] for e in cycle] + [cycle[0][0]])
        )

    obs_edges = sorted(
        f"{u} -> {v}" for u, v in g.edges if by_name[u].observed and by_name[v].observed
    )
    if obs_edges:
        raise SpecError(f"edges join two observed nodes (Assumption 1 forbids it): {obs_edges}")
    obs_parents = sorted(u for u, _ in g.edges if by_name[u].observed)
    if obs_parents:
        raise SpecError(
            f"observed nodes {sorted(set(obs_parents))} have children; "
            "observed nodes must be leaves"
        )
    if not any(n.observed for n in nodes):
        raise SpecError("the model has no observed node")
    observed = {n.name for n in nodes if n.observed}
    orphans = sorted(
        n.name for n in nodes if not n.observed and not (nx.descendants(g, n.name) & observed)
    )
    if orphans:
        raise SpecError(
            f"latents {orphans} have no observed descendant; nothing could ever reveal them"
        )

    order = list(nx.lexicographical_topological_sort(g, key=names.index))
    depth: dict[str, int] = {}
    resolved: dict[str, Node] = {}
    problems = []
    for name in order:
        n = by_name[name]
        parent_dim = sum(by_name[p].dim for p in n.parents)
        noise = n.noise_dim if n.noise_dim is not None else n.dim - parent_dim
        if noise < 0 or n.dim < parent_dim + noise:
            problems.append(
                f"{name} (dim {n.dim} < parents {parent_dim} + noise {noise})"
                if noise >= 0
                else f"{name} (dim {n.dim} < parents' dims {parent_dim})"
            )
        if not n.noise_scale >= 0:
            raise SpecError(f"node {name} has noise_scale {n.noise_scale}; it must be >= 0")
        depth[name] = 1 + max((depth[p] for p in n.parents), default=-1)
        level = n.level if n.level is not None else depth[name]
        resolved[name] = Node(
            name=n.name,
            dim=n.dim,
            parents=tuple(n.parents),
            observed=n.observed,
            noise_dim=noise,
            noise_scale=float(n.noise_scale),
            level=level,
            block=n.block,
        )
    if problems:
        raise SpecError(
            "no injective mechanism can have these dimensions, since a node must be at least as "
            "large as its parents plus its noise: " + "; ".join(problems)
        )
    return tuple(resolved[name] for name in order)


def _check_blocks(nodes: tuple[Node, ...], image_shape: tuple[int, int, int]) -> None:
    """In an image model every observed node owns a pixel block of exactly its size."""
    c, h, w = image_shape
    for n in nodes:
        if not n.observed:
            continue
        if n.block is None:
            raise SpecError(
                f"observed node {n.name} of an image model needs a block (row, col, h, w)"
            )
        if len(n.block) != 4 or not all(isinstance(v, int) for v in n.block):
            raise SpecError(
                f"observed node {n.name}: block must be four ints (row, col, h, w), got {n.block}"
            )
        r, col, bh, bw = n.block
        if r < 0 or col < 0 or bh < 1 or bw < 1 or r + bh > h or col + bw > w:
            raise SpecError(
                f"observed node {n.name}: block {n.block} does not fit in a {h}x{w} image"
            )
        if n.dim != c * bh * bw:
            raise SpecError(
                f"observed node {n.name} has dim {n.dim} but its {bh}x{bw} block of {c} channels "
                f"holds {c * bh * bw} values"
            )
