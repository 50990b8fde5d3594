"""Test-session set-up shared by tests/ and the doctests in sknet/.

Graphs compile with sknet's C mode unless ``SKNET_TEST_MODE`` names another
mode (e.g. ``SKNET_TEST_MODE=NUMBA pytest tests/layers``): sknet's version of
it, :func:`sknet.backend.get_mode`. ``.eval()`` and ``pytensor.function``
without ``mode=``, in tests and doctests, follow the same mode.
"""

import numpy as np
import pytensor
import pytest

import sknet
from sknet import function_store

TEST_MODE = sknet.config.mode_for_tests()
# sknet's mode, not the name: the plain name would be PyTensor's own mode, without sknet's rewrites
pytensor.config.mode = sknet.backend.get_mode(TEST_MODE)


# Tests count compilations; the disk store would turn some into loads from an
# earlier session. tests/test_function_store.py turns it on where it is tested.
function_store.set_enabled(False)


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
