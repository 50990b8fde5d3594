"""Test-session set-up shared by tests/ and the doctests in sknet/.

Graphs compile with the C backend unless ``SKNET_TEST_MODE`` names another
PyTensor mode (e.g. ``SKNET_TEST_MODE=NUMBA pytest tests/layers``); ``.eval()``
in doctests follows the same mode.
"""

import os

import numpy as np
import pytensor
import pytest

import sknet

TEST_MODE = os.environ.get("SKNET_TEST_MODE", "CVM").upper()
pytensor.config.mode = TEST_MODE


@pytest.fixture(scope="session")
def mode():
    """The compile mode every test passes to ``pytensor.function``."""
    return sknet.backend.get_mode(TEST_MODE)


@pytest.fixture(autouse=True)
def _seeded_sknet_rng():
    """Every test starts from the same sknet generator state."""
    old = sknet.random.get_rng()
    sknet.random.seed(1234)
    yield
    sknet.random.set_rng(old)


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["np"] = np
    doctest_namespace["T"] = pytensor.tensor
    doctest_namespace["pytensor"] = pytensor
