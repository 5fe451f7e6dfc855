"""Which latents a mask makes the two sides share: the reconstruction of Algorithm 1.

Under Assumption 1 every mechanism is invertible, so an observed variable determines
all of its latent ancestors. The masked side therefore determines An(m) and the visible
side An(m^c), and every latent falls in exactly one of three parts:

- shared `S(m) = An(m) ∩ An(m^c) ∩ Z`: both sides determine it;
- masked-private: only the masked side depends on it;
- visible-private: only the visible side depends on it.

`c(m)` is the lowest layer of `S(m)`: its members with no child in `S(m)`. Each member
determines its ancestors, so `c(m)` determines `S(m)`, and no proper subset does. Its
dimension, with exactly invertible mechanisms, is the sum of the noise dimensions over
`S(m)` (a root's noise being the root itself).

Beware: `c(m)` is in general *not* a d-separator of `m` and `m^c` in the graph; it
separates the two sides only through the invertibility of the mechanisms. `S(m)`
itself does d-separate them in a tree.

This module works one mask at a time with plain sets; `maeid.theory.batch` is the
vectorised form for many masks.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from maeid.hlvm.spec import GraphSpec, SpecError
from maeid.theory.spec_like import SpecLike, takes_spec


@dataclass(frozen=True)
class Identification:
    """What one mask leaves shared between its masked and its visible observed nodes."""

    masked: frozenset[str]  # observed nodes with a masked part
    visible: frozenset[str]  # observed nodes with a visible part
    shared: frozenset[str]  # S(m)
    identified: frozenset[str]  # c(m)
    code_dim: int  # d_c
    masked_private: frozenset[str]  # latents only the masked side depends on
    visible_private: frozenset[str]  # latents only the visible side depends on

    @property
    def split(self) -> frozenset[str]:
        """Observed nodes on both sides: partly hidden by a token mask."""
        return self.masked & self.visible

    def to_dict(self) -> dict[str, object]:
        """The JSON form of `maeid theory --masked ... --json`: every set, as sorted lists."""
        return {
            "masked": sorted(self.masked),
            "visible": sorted(self.visible),
            "shared": sorted(self.shared),
            "identified": sorted(self.identified),
            "code_dim": self.code_dim,
            "masked_private": sorted(self.masked_private),
            "visible_private": sorted(self.visible_private),
        }


@takes_spec
def identify(
    spec: SpecLike, masked: Collection[str], visible: Collection[str] | None = None
) -> Identification:
    """S(m), c(m), d_c and the private parts for the mask that hides `masked`.

    `visible` defaults to every other observed node. Pass it explicitly only when some
    observed node is split by the mask (part of it hidden, part of it seen, see
    `maeid.theory.token_masks`): such a node belongs to both sides. Together the two
    sides must cover every observed node, and each must be non-empty.
    """
    masked_set, visible_set = check_sides(spec, masked, visible)
    masked_anc = _latent_ancestors(spec, masked_set)
    visible_anc = _latent_ancestors(spec, visible_set)
    shared = masked_anc & visible_anc
    identified = frozenset(z for z in shared if not any(k in shared for k in spec.children[z]))
    return Identification(
        masked=masked_set,
        visible=visible_set,
        shared=shared,
        identified=identified,
        code_dim=sum(spec.noise_dim(z) for z in shared),
        masked_private=masked_anc - visible_anc,
        visible_private=visible_anc - masked_anc,
    )


@takes_spec
def shared_latents(spec: SpecLike, masked: Collection[str]) -> frozenset[str]:
    """S(m): the latents with both a masked and a visible observed descendant."""
    return identify(spec, masked).shared


@takes_spec
def identified_latents(spec: SpecLike, masked: Collection[str]) -> frozenset[str]:
    """c(m): the members of S(m) with no child in S(m)."""
    return identify(spec, masked).identified


@takes_spec
def code_dim(spec: SpecLike, masked: Collection[str]) -> int:
    """d_c: the sum of the noise dimensions over S(m)."""
    return identify(spec, masked).code_dim


@takes_spec
def masked_private_latents(spec: SpecLike, masked: Collection[str]) -> frozenset[str]:
    """Latents that only the masked side depends on (the latent part of s_m)."""
    return identify(spec, masked).masked_private


@takes_spec
def visible_private_latents(spec: SpecLike, masked: Collection[str]) -> frozenset[str]:
    """Latents that only the visible side depends on (the latent part of s_{m^c})."""
    return identify(spec, masked).visible_private


@takes_spec
def check_sides(
    spec: SpecLike, masked: Collection[str], visible: Collection[str] | None = None
) -> tuple[frozenset[str], frozenset[str]]:
    """Validate a mask given as observed node names; return (masked, visible) sets."""
    if isinstance(masked, str):  # a lone name would silently become a set of characters
        raise SpecError(f"mask {masked!r} is a string; pass a collection of observed names")
    masked_set = spec.check_observed(masked, what="mask")
    if not masked_set:
        raise SpecError("the mask is empty; mask at least one observed node")
    everything = frozenset(spec.observed)
    if visible is None:
        visible_set = everything - masked_set
    else:
        if isinstance(visible, str):
            raise SpecError(f"visible {visible!r} is a string; pass a collection of names")
        visible_set = spec.check_observed(visible, what="visible set")
        uncovered = sorted(everything - masked_set - visible_set)
        if uncovered:
            raise SpecError(
                f"observed nodes {uncovered[:8]} are neither masked nor visible; every "
                "observed node must be on at least one side"
            )
    if not visible_set:
        raise SpecError(
            f"the mask hides all {len(everything)} observed nodes; leave at least one visible"
        )
    return masked_set, visible_set


def _latent_ancestors(spec: GraphSpec, names: Iterable[str]) -> frozenset[str]:
    """Every latent ancestor of `names`: one reverse traversal, O(nodes + edges)."""
    seen: set[str] = set()
    stack = [p for n in names for p in spec[n].parents]
    while stack:
        z = stack.pop()
        if z not in seen:
            seen.add(z)
            stack.extend(spec[z].parents)
    return frozenset(seen)  # observed nodes have no children, so every ancestor is latent
