"""The identification theory: which latents a mask makes the MAE recover.

masking         THE mask sampler (exact count, argsort of uniform noise), shared with the MAE
identification  S(m), c(m), d_c and the private parts of one mask (the reconstruction of
                Algorithm 1; docs/theory.md)
batch           the same for many masks at once, as matrix products
token_masks     ViT token masks of image models -> observed nodes (split leaves on both sides)
profile         Monte Carlo profiles over masking ratio x masking unit
profile_table   a profile as a plain-text table
advice          rank (ratio, unit) cells by how high c(m) sits: `maeid advise`
plot            heatmaps of a profile (imported on demand: it pulls in matplotlib)
spec_like       every function takes a GraphSpec or a model with `.spec` (`load_model`'s)
exact_limits    Bayes R² given an ancestral set and the Bayes masked-patch loss of a
                continuous model, by nested resampling
belief_propagation
                exact posteriors of the random-hierarchy model's symbols, Bayes accuracy
                and Bayes masked-patch MSE (imported on demand)
information     the value of each level's information to the masked loss: the Bayes loss
                with the evidence confined to each level's blocks (imported on demand)

>>> from maeid.hlvm import load_model
>>> model = load_model("qt32")  # or its GraphSpec, `model.spec`
>>> sorted(identified_latents(model, [f"x_{r}_{c}" for r in range(4) for c in range(8)]))
['z0']
"""

from maeid.theory.advice import Advice, CellAdvice, advise
from maeid.theory.batch import BatchIdentification, GraphMatrices
from maeid.theory.identification import (
    Identification,
    code_dim,
    identified_latents,
    identify,
    masked_private_latents,
    shared_latents,
    visible_private_latents,
)
from maeid.theory.masking import MaskBatch, MaskLayout, masks_from_noise, sample_masks, sample_noise
from maeid.theory.profile import ProfileCell, TheoryProfile, cell_masks, layout_for, theory_profile
from maeid.theory.profile_table import format_profile_table
from maeid.theory.spec_like import HasSpec, SpecLike, as_spec
from maeid.theory.token_masks import (
    default_patch_size,
    identify_token_mask,
    masked_nodes,
    observed_sides,
    token_grid,
    token_incidence,
    visible_nodes,
)

__all__ = [
    "Advice",
    "BatchIdentification",
    "CellAdvice",
    "GraphMatrices",
    "HasSpec",
    "Identification",
    "MaskBatch",
    "MaskLayout",
    "ProfileCell",
    "SpecLike",
    "TheoryProfile",
    "advise",
    "as_spec",
    "cell_masks",
    "code_dim",
    "default_patch_size",
    "format_profile_table",
    "identified_latents",
    "identify",
    "identify_token_mask",
    "layout_for",
    "masked_nodes",
    "masked_private_latents",
    "masks_from_noise",
    "observed_sides",
    "sample_masks",
    "sample_noise",
    "shared_latents",
    "theory_profile",
    "token_grid",
    "token_incidence",
    "visible_nodes",
    "visible_private_latents",
]
