"""sknet.random: one seed makes initializers and symbolic noise reproducible."""

import numpy as np
import pytensor
import pytest

import sknet
from sknet import init
from sknet import random as srandom


def test_seed_get_and_set_rng():
    srandom.seed(11)
    a = srandom.get_rng().rand(3)
    srandom.seed(11)
    np.testing.assert_array_equal(srandom.get_rng().rand(3), a)
    mine = np.random.RandomState(5)
    srandom.set_rng(mine)
    assert srandom.get_rng() is mine
    with pytest.raises(TypeError, match="RandomState"):
        srandom.set_rng(np.random.default_rng(0))


def test_init_follows_the_seed():
    srandom.seed(21)
    a = init.GlorotUniform()((4, 3))
    srandom.seed(21)
    np.testing.assert_array_equal(init.GlorotUniform()((4, 3)), a)
    srandom.set_rng(np.random.RandomState(21))
    np.testing.assert_array_equal(init.GlorotUniform()((4, 3)), a)


def _build(seed, mode):
    srandom.seed(seed)
    u = srandom.uniform((2000,), low=-2.0, high=3.0)
    n = srandom.normal((2000,), loc=1.0, scale=0.5)
    return pytensor.function([], [u, n], mode=mode)


@pytest.fixture(scope="module")
def draws(mode):
    """Two calls of a function built after seed(3), one call of a rebuilt
    one, and one call of a function built after seed(4)."""
    f = _build(3, mode)
    first, second = f(), f()
    again = _build(3, mode)()
    other = _build(4, mode)()
    return first, second, again, other


def test_symbolic_samples_have_the_requested_distribution(draws):
    (u, n), *_ = draws
    assert u.dtype == np.float32 and n.dtype == np.float32
    assert u.min() >= -2.0 and u.max() < 3.0
    assert abs(u.mean() - 0.5) < 0.1 and abs(u.std() - 5 / np.sqrt(12)) < 0.05
    assert abs(n.mean() - 1.0) < 0.05 and abs(n.std() - 0.5) < 0.03


def test_compiled_function_draws_new_samples_each_call(draws):
    (u1, n1), (u2, n2), _, _ = draws
    assert not np.array_equal(u1, u2)
    assert not np.array_equal(n1, n2)


def test_seed_makes_symbolic_samples_reproducible(draws):
    (u1, n1), _, (u_again, n_again), (u_other, _) = draws
    np.testing.assert_array_equal(u_again, u1)
    np.testing.assert_array_equal(n_again, n1)
    assert not np.array_equal(u_other, u1)


def test_each_sample_has_its_own_generator():
    srandom.seed(0)
    a, b = srandom.uniform((3,)), srandom.uniform((3,))
    ga = a.owner.inputs[0]
    gb = b.owner.inputs[0]
    assert ga is not gb
    assert ga.get_value().bit_generator.state != gb.get_value().bit_generator.state
    assert srandom.shared_generator("noise").name == "noise"


def test_sknet_exposes_random():
    assert sknet.random is srandom
