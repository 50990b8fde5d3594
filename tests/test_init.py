"""Initializers: bounds, statistics, fan formulas, orthogonality, sparsity, seeding."""

import inspect

import numpy as np
import pytest

import sknet
from sknet import init

# a large sample keeps the relative error of a sample std near 0.5 %
BIG = (300, 200)


def _check_std(w, std, rel=0.03):
    assert abs(w.std() - std) < rel * std, (w.std(), std)


def test_constant():
    w = init.Constant(0.7)((2, 3))
    assert w.dtype == np.float32 and w.shape == (2, 3)
    np.testing.assert_array_equal(w, np.float32(0.7))
    np.testing.assert_array_equal(init.Constant()((4,)), 0.0)


def test_normal():
    w = init.Normal(std=0.5, mean=2.0)(BIG)
    assert w.dtype == np.float32 and w.shape == BIG
    assert abs(w.mean() - 2.0) < 0.01
    _check_std(w, 0.5)
    _check_std(init.Normal()(BIG), 0.01)


def test_uniform_range_forms():
    w = init.Uniform()(BIG)
    assert w.dtype == np.float32
    assert w.min() >= -0.01 and w.max() <= 0.01 and w.max() > 0.0099
    w = init.Uniform(range=(2.0, 3.0))(BIG)
    assert w.min() >= 2.0 and w.max() <= 3.0
    assert abs(w.mean() - 2.5) < 0.01
    w = init.Uniform(std=0.2, mean=1.0)(BIG)
    half = np.sqrt(3) * 0.2
    assert w.min() >= 1.0 - half - 1e-6 and w.max() <= 1.0 + half + 1e-6
    _check_std(w, 0.2)


GLOROT_CASES = [
    # shape, c01b, (n_in + n_out) * receptive field
    ((100, 200), False, 300),
    ((16, 8, 3, 3), False, (16 + 8) * 9),
    ((8, 5), False, 13),
    ((8, 3, 3, 16), True, (8 + 16) * 9),
]


@pytest.mark.parametrize("gain, gain_value", [(1.0, 1.0), ("relu", np.sqrt(2)), (0.5, 0.5)])
@pytest.mark.parametrize("shape, c01b, fan_sum", GLOROT_CASES)
def test_glorot_std_and_bounds(shape, c01b, fan_sum, gain, gain_value):
    std = gain_value * np.sqrt(2.0 / fan_sum)
    # repeat small shapes until the sample is large enough for a std check
    reps = max(1, 40000 // int(np.prod(shape)))
    u = np.concatenate([init.GlorotUniform(gain=gain, c01b=c01b)(shape).ravel() for _ in range(reps)])
    n = np.concatenate([init.GlorotNormal(gain=gain, c01b=c01b)(shape).ravel() for _ in range(reps)])
    bound = np.sqrt(3) * std
    assert np.abs(u).max() <= bound * (1 + 1e-6) and np.abs(u).max() > 0.95 * bound
    _check_std(u, std)
    _check_std(n, std)


HE_CASES = [
    ((100, 200), False, 100),
    ((16, 8, 3, 3), False, 8 * 9),
    ((8, 3, 3, 16), True, 8 * 9),
]


@pytest.mark.parametrize("gain, gain_value", [(1.0, 1.0), ("relu", np.sqrt(2))])
@pytest.mark.parametrize("shape, c01b, fan_in", HE_CASES)
def test_he_std_and_bounds(shape, c01b, fan_in, gain, gain_value):
    std = gain_value * np.sqrt(1.0 / fan_in)
    reps = max(1, 40000 // int(np.prod(shape)))
    u = np.concatenate([init.HeUniform(gain=gain, c01b=c01b)(shape).ravel() for _ in range(reps)])
    n = np.concatenate([init.HeNormal(gain=gain, c01b=c01b)(shape).ravel() for _ in range(reps)])
    assert np.abs(u).max() <= np.sqrt(3) * std * (1 + 1e-6)
    _check_std(u, std)
    _check_std(n, std)


@pytest.mark.parametrize(
    "initializer, shape, message",
    [
        (init.GlorotUniform(), (10,), "length >= 2"),
        (init.GlorotNormal(c01b=True), (10, 10), "only shapes of length 4"),
        (init.HeNormal(), (10,), "length >= 2"),
        (init.HeUniform(c01b=True), (3, 3, 3), "only shapes of length 4"),
        (init.Sparse(), (3, 3, 3), "length 2"),
        (init.Orthogonal(), (5,), "length 2 or more"),
    ],
)
def test_unsupported_shapes(initializer, shape, message):
    with pytest.raises(RuntimeError, match=message):
        initializer(shape)


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (4, 2, 3, 3), (30, 2, 3)])
def test_orthogonal(shape):
    w = init.Orthogonal(gain="relu")(shape)
    assert w.dtype == np.float32 and w.shape == shape
    flat = w.reshape(shape[0], -1).astype("float64") / np.sqrt(2)
    rows, cols = flat.shape
    gram = flat @ flat.T if rows <= cols else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-5)


def test_sparse():
    w = init.Sparse(sparsity=0.25, std=0.5)((40, 300))
    assert w.dtype == np.float32
    np.testing.assert_array_equal((w != 0).sum(axis=0), 10)
    _check_std(w[w != 0], 0.5, rel=0.05)
    # the non-zero rows differ between columns
    assert len({tuple(np.flatnonzero(w[:, k])) for k in range(20)}) > 1


ALL = [
    init.Normal(),
    init.Uniform(),
    init.GlorotUniform(),
    init.GlorotNormal(),
    init.HeUniform(),
    init.HeNormal(),
    init.Orthogonal(),
    init.Sparse(sparsity=0.5),
]


@pytest.mark.parametrize("initializer", ALL, ids=lambda i: type(i).__name__)
def test_reproducible_with_sknet_seed(initializer):
    sknet.random.seed(7)
    a = initializer((6, 4))
    b = initializer((6, 4))
    sknet.random.seed(7)
    np.testing.assert_array_equal(initializer((6, 4)), a)
    assert not np.array_equal(a, b)
    sknet.random.seed(8)
    assert not np.array_equal(initializer((6, 4)), a)


def test_lasagne_defaults_and_repr():
    def defaults(cls):
        return {k: p.default for k, p in inspect.signature(cls).parameters.items()}

    assert defaults(init.Normal) == {"std": 0.01, "mean": 0.0}
    assert defaults(init.Uniform) == {"range": 0.01, "std": None, "mean": 0.0}
    assert defaults(init.GlorotUniform) == {"gain": 1.0, "c01b": False}
    assert defaults(init.HeNormal) == {"gain": 1.0, "c01b": False}
    assert defaults(init.Constant) == {"val": 0.0}
    assert defaults(init.Sparse) == {"sparsity": 0.1, "std": 0.01}
    assert defaults(init.Orthogonal) == {"gain": 1.0}
    assert repr(init.Constant(2.0)) == "Constant(val=2.0)"
    with pytest.raises(NotImplementedError):
        init.Initializer()((2, 2))
