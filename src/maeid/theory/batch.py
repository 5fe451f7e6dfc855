"""S(m), c(m) and d_c for a whole batch of masks at once: matrix products, no graph search.

The graph is reduced once to three arrays over the latents (in `spec.latents` order):

- `descendant` (latents x observed): z has x among its descendants;
- `child` (latents x latents): the second is a child of the first;
- `noise_dims` (latents,).

A mask is then a pair of boolean rows over "sources" (observed nodes, or ViT tokens, or
masking units) and a source-to-latent `reach` matrix says which latents each source
descends from. For a batch M (masked) and V (visible) of shape (N, sources):

    S   = (M @ reach > 0) & (V @ reach > 0)
    c   = S & ~(S @ child.T > 0)
    d_c = S @ noise_dims

which is `maeid.theory.identification.identify` for every row, in three matmuls. When
every source is on exactly one side (a mask over tokens or units), V = 1 - M and the
visible test becomes `M @ reach < reach.sum(0)`: one matmul fewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from maeid.hlvm.spec import SpecError
from maeid.theory.spec_like import SpecLike, takes_spec


@dataclass(frozen=True)
class BatchIdentification:
    """Row n is the identification of mask n; columns follow `GraphMatrices.latents`."""

    shared: torch.Tensor  # (N, latents) bool, S(m)
    identified: torch.Tensor  # (N, latents) bool, c(m)
    code_dim: torch.Tensor  # (N,) int64, d_c


class GraphMatrices:
    """The graph of `spec` as the boolean matrices the batch computation needs."""

    @takes_spec
    def __init__(self, spec: SpecLike) -> None:
        self.spec = spec
        self.latents: tuple[str, ...] = spec.latents
        self.observed: tuple[str, ...] = spec.observed
        self.latent_index = {z: i for i, z in enumerate(self.latents)}
        self.observed_index = {x: j for j, x in enumerate(self.observed)}
        self.noise_dims = torch.tensor([spec.noise_dim(z) for z in self.latents])
        self.levels: tuple[int, ...] = tuple(sorted(spec.levels))
        self.latent_levels = np.array([spec[z].level for z in self.latents])

    @cached_property
    def descendant(self) -> torch.Tensor:
        """(latents, observed) bool: observed node j descends from latent i."""
        # Ancestor rows accumulate down a topological order: a node's ancestors are its
        # parents plus their ancestors. One pass over the nodes, no search per node.
        index = {n.name: i for i, n in enumerate(self.spec.nodes)}
        ancestors = np.zeros((len(index), len(index)), dtype=bool)
        for i, node in enumerate(self.spec.nodes):  # spec.nodes is topological
            for p in node.parents:
                ancestors[i] |= ancestors[index[p]]
                ancestors[i, index[p]] = True
        rows = [index[z] for z in self.latents]
        cols = [index[x] for x in self.observed]
        return torch.from_numpy(ancestors[np.ix_(cols, rows)].T.copy())

    @cached_property
    def child(self) -> torch.Tensor:
        """(latents, latents) bool: latent j is a child of latent i."""
        out = torch.zeros(len(self.latents), len(self.latents), dtype=torch.bool)
        for z, i in self.latent_index.items():
            for k in self.spec.children[z]:
                if k in self.latent_index:
                    out[i, self.latent_index[k]] = True
        return out

    @cached_property
    def level_onehot(self) -> torch.Tensor:
        """(latents, levels) float: latent i sits at level `levels[j]`."""
        pos = {lvl: j for j, lvl in enumerate(self.levels)}
        out = torch.zeros(len(self.latents), len(self.levels))
        out[torch.arange(len(self.latents)), [pos[int(v)] for v in self.latent_levels]] = 1.0
        return out

    def reach(self, incidence: torch.Tensor) -> torch.Tensor:
        """(sources, latents) float 0/1 from a (sources, observed) incidence: which
        latents each source (a token, a masking unit) has among its ancestors."""
        if incidence.ndim != 2 or incidence.shape[1] != len(self.observed):
            raise SpecError(
                f"incidence has shape {tuple(incidence.shape)}; expected (sources, "
                f"{len(self.observed)}), one column per observed node"
            )
        return ((incidence.float() @ self.descendant.T.float()) > 0).float()

    def identify(
        self, masked: torch.Tensor, visible: torch.Tensor, reach: torch.Tensor | None = None
    ) -> BatchIdentification:
        """Identification of N masks given as (N, sources) masked and visible indicators.

        Without `reach` the sources are the observed nodes themselves. Rows are not
        validated here (an empty side simply gives an empty S); `identify` in
        `maeid.theory.identification` is the checked one-mask entry point.
        """
        if reach is None:
            reach = self.descendant.T.float()
        if masked.shape != visible.shape or masked.ndim != 2 or masked.shape[1] != len(reach):
            raise SpecError(
                f"masked {tuple(masked.shape)} and visible {tuple(visible.shape)} must both "
                f"be (N, {len(reach)})"
            )
        has_masked = (masked.float() @ reach) > 0
        has_visible = (visible.float() @ reach) > 0
        return self._from_shared(has_masked & has_visible)

    def identify_partition(self, masked: torch.Tensor, reach: torch.Tensor) -> BatchIdentification:
        """Like `identify` when every source is either masked or visible (a mask over
        tokens or units): one matmul, since a latent has a visible source iff not all
        of the sources that reach it are masked."""
        if masked.ndim != 2 or masked.shape[1] != len(reach):
            raise SpecError(f"masked {tuple(masked.shape)} must be (N, {len(reach)})")
        masked_count = masked.float() @ reach
        return self._from_shared((masked_count > 0) & (masked_count < reach.sum(0)))

    def _from_shared(self, shared: torch.Tensor) -> BatchIdentification:
        child_in_shared = (shared.float() @ self.child.T.float()) > 0
        identified = shared & ~child_in_shared
        code = shared.long() @ self.noise_dims
        return BatchIdentification(shared=shared, identified=identified, code_dim=code)

    def identify_observed(self, masked: torch.Tensor) -> BatchIdentification:
        """Masks as (N, observed) booleans, each node entirely masked or visible."""
        masked = masked.bool()
        return self.identify(masked, ~masked)

    def names(self, row: torch.Tensor) -> frozenset[str]:
        """The latent names of one boolean row."""
        return frozenset(self.latents[i] for i in torch.nonzero(row).flatten().tolist())
