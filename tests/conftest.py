"""Fixtures shared across test files."""

import pytest

from maeid.hlvm import load_model
from maeid.hlvm.spec import GraphSpec


@pytest.fixture(scope="session")
def qt32() -> GraphSpec:
    """The structure of the reference synthetic model."""
    return load_model("qt32").spec
