"""Properties of S(m) and c(m) over random DAGs and random masks (hypothesis)."""

import networkx as nx
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from maeid.hlvm.spec import GraphSpec, Node
from maeid.theory import GraphMatrices, identify


@st.composite
def models(draw, tree: bool = False) -> GraphSpec:
    """A random Assumption-1 model: latents z0..zk in topological order, observed leaves.

    In a tree every node has at most one parent (several roots are allowed, a forest);
    otherwise latents take up to two parents and observed nodes up to three.
    """
    n_lat = draw(st.integers(1, 7))
    parents: list[tuple[str, ...]] = []
    for i in range(n_lat):
        earlier = [f"z{j}" for j in range(i)]
        most = min(len(earlier), 1 if tree else 2)
        if earlier:
            parents.append(
                tuple(draw(st.lists(st.sampled_from(earlier), max_size=most, unique=True)))
            )
        else:
            parents.append(())
    n_obs = draw(st.integers(2, 8))
    latents = [f"z{i}" for i in range(n_lat)]
    picks = st.lists(st.sampled_from(latents), min_size=1, max_size=1 if tree else 3, unique=True)
    obs_parents = [tuple(draw(picks)) for _ in range(n_obs)]
    # Every latent needs an observed descendant: give childless latents a leaf of their own.
    has_child = {p for ps in parents + obs_parents for p in ps}
    obs_parents += [(z,) for z in latents if z not in has_child]

    dims: dict[str, int] = {}
    nodes = []
    for i, ps in enumerate(parents):
        noise = draw(st.integers(1, 3))
        dims[f"z{i}"] = sum(dims[p] for p in ps) + noise
        nodes.append(Node(f"z{i}", dims[f"z{i}"], ps))
    for j, ps in enumerate(obs_parents):
        nodes.append(Node(f"x{j}", sum(dims[p] for p in ps) + 1, ps, observed=True))
    return GraphSpec(tuple(nodes))


@st.composite
def models_and_masks(draw, tree: bool = False):
    spec = draw(models(tree=tree))
    n = len(spec.observed)
    flags = draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda f: 0 < sum(f) < n))
    return spec, {x for x, f in zip(spec.observed, flags, strict=True) if f}


def ancestors(spec: GraphSpec, z: str) -> set[str]:
    return nx.ancestors(spec.graph, z)


@settings(max_examples=200, deadline=None)
@given(models_and_masks())
def test_shared_and_identified_structure(case):
    spec, masked = case
    ident = identify(spec, masked)
    S, c = ident.shared, ident.identified
    # S is ancestrally closed.
    assert all(ancestors(spec, z) <= S for z in S)
    # c determines S: every member of S is an ancestor-or-self of a member of c.
    assert S == set(c).union(*(ancestors(spec, z) for z in c))
    # c is an antichain: no member is an ancestor of another.
    assert all(not (ancestors(spec, z) & c) for z in c)
    # S is exactly the latents with a masked and a visible observed descendant.
    visible = set(spec.observed) - masked
    for z in spec.latents:
        below = nx.descendants(spec.graph, z)
        assert (z in S) == bool(below & masked and below & visible)
    assert ident.code_dim == sum(spec.noise_dim(z) for z in S)
    assert ident.shared | ident.masked_private | ident.visible_private == set(spec.latents)
    assert not ident.masked_private & ident.visible_private


@settings(max_examples=200, deadline=None)
@given(models_and_masks(tree=True))
def test_in_trees_S_d_separates_the_two_sides(case):
    spec, masked = case
    visible = set(spec.observed) - masked
    assert nx.is_d_separator(spec.graph, masked, visible, set(identify(spec, masked).shared))


@settings(max_examples=60, deadline=None)
@given(models(), st.integers(0, 2**31 - 1))
def test_batch_matches_one_mask_at_a_time(spec, seed):
    n = len(spec.observed)
    g = torch.Generator().manual_seed(seed)
    masked = torch.rand(32, n, generator=g) < 0.5
    masked = masked[(masked.sum(1) > 0) & (masked.sum(1) < n)]
    matrices = GraphMatrices(spec)
    batch = matrices.identify_observed(masked)
    for row, s, c, d in zip(masked, batch.shared, batch.identified, batch.code_dim, strict=True):
        ident = identify(spec, {x for x, f in zip(spec.observed, row.tolist(), strict=True) if f})
        assert matrices.names(s) == ident.shared
        assert matrices.names(c) == ident.identified
        assert int(d) == ident.code_dim
