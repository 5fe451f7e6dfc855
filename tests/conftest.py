"""Fixtures shared across test files, and one thread for everything.

The suite runs on machines that other jobs share; torch's default of one thread per
core makes it several times slower there. The thread counts are set before torch or
numpy is first imported, so that their thread pools start at that size; subprocesses
(DDP, spawned sweep workers) inherit the environment.
"""

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from maeid.hlvm import load_model  # noqa: E402
from maeid.hlvm.spec import GraphSpec  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def one_thread():
    """Commands run in-process may set torch's threads (`--threads`, default the free
    cores); every test starts again from one."""
    yield
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def qt32() -> GraphSpec:
    """The structure of the reference synthetic model."""
    return load_model("qt32").spec
