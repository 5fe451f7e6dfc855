"""One API for theory: every public function takes `load_model`'s model as well as a spec."""

import pytest
import torch

from maeid.hlvm import load_model
from maeid.theory import (
    GraphMatrices,
    as_spec,
    cell_masks,
    code_dim,
    default_patch_size,
    format_profile_table,
    identified_latents,
    identify,
    identify_token_mask,
    layout_for,
    masked_private_latents,
    shared_latents,
    theory_profile,
    token_grid,
    visible_private_latents,
)

MASKED = ["x_0_0", "x_0_1", "x_1_0"]


@pytest.fixture(scope="module")
def model():
    return load_model("qt32")


def test_a_model_and_its_spec_give_the_same_answers(model):
    spec = model.spec
    assert (
        shared_latents(model, MASKED) == shared_latents(spec, MASKED) == {"z0", "z1_0_0", "z2_0_0"}
    )
    assert identified_latents(model, MASKED) == {"z2_0_0"}
    assert code_dim(model, MASKED) == code_dim(spec, MASKED) == 2 + 2 + 4  # noise dims
    assert masked_private_latents(model, MASKED) == masked_private_latents(spec, MASKED)
    assert visible_private_latents(model, MASKED) == visible_private_latents(spec, MASKED)
    assert identify(spec=model, masked=MASKED) == identify(spec, MASKED)  # by keyword too
    assert default_patch_size(model) == 4 and token_grid(model, 4) == (8, 8)
    mask = torch.zeros(64)
    mask[:8] = 1  # the top row of tokens
    assert identify_token_mask(model, mask, 4) == identify_token_mask(spec, mask, 4)
    assert layout_for(model, 16) == layout_for(spec, 16)
    assert torch.equal(cell_masks(model, 0.75, 8, 5, seed=3), cell_masks(spec, 0.75, 8, 5, seed=3))
    assert torch.equal(GraphMatrices(model).descendant, GraphMatrices(spec).descendant)


def test_profiles_of_a_model_and_its_spec_are_identical(model):
    a = theory_profile(model, [0.75], [16], num_masks=50, seed=1)
    b = theory_profile(model.spec, [0.75], [16], num_masks=50, seed=1)
    assert a.to_dict() == b.to_dict()
    assert format_profile_table(a) == format_profile_table(b)
    assert "1.000" in format_profile_table(a)  # unit 16 at 0.75: c is the root alone


def test_anything_else_is_refused_by_type():
    assert as_spec(load_model("qt32").spec) is not None
    with pytest.raises(TypeError, match="GraphSpec or a model with a .spec.*got str"):
        shared_latents("qt32", MASKED)
