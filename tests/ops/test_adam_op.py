"""AdamStep against adam's formulas in numpy, in place or not, in every mode."""

import os

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from sknet import updates
from sknet.ops.adam import AdamStep

B1, B2, EPS = 0.9, 0.999, 1e-8


def _reference(p, m, v, g, a):
    m = B1 * m + (1 - B1) * g
    v = B2 * v + (1 - B2) * g * g
    return p - a * m / (np.sqrt(v) + EPS), m, v


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_three_steps_match_numpy(dtype, mode):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(4, 3)).astype(dtype)
    P = pytensor.shared(p0.copy())
    M = pytensor.shared(np.zeros_like(p0))
    V = pytensor.shared(np.zeros_like(p0))
    g, a = T.matrix("g", dtype=dtype), T.scalar("a", dtype=dtype)
    new = AdamStep(B1, B2, EPS)(P, M, V, g, a)
    f = pytensor.function([g, a], [], updates=list(zip([P, M, V], new)), mode=mode)
    ref = [p0.astype(np.float64), np.zeros(p0.shape), np.zeros(p0.shape)]
    for step in range(3):
        G = rng.normal(size=p0.shape).astype(dtype)
        f(G, np.asarray(0.01 * (step + 1), dtype))
        ref = _reference(*ref, G.astype(np.float64), 0.01 * (step + 1))
        rtol = 1e-5 if dtype == "float32" else 1e-12
        for got, want in zip((P, M, V), ref):
            np.testing.assert_allclose(got.get_value(), want, rtol=rtol, atol=rtol)


def test_adam_uses_one_step_op_per_parameter_in_place(mode):
    W = pytensor.shared(np.ones((3, 2), "float32"), name="W")
    b = pytensor.shared(np.zeros(2, "float32"), name="b")
    x = T.matrix("x")
    loss = T.sqr(T.dot(x, W) + b).mean()
    f = pytensor.function([x], loss, updates=updates.adam(loss, [W, b]), mode=mode)
    steps = [n.op for n in f.maker.fgraph.apply_nodes if isinstance(n.op, AdamStep)]
    assert len(steps) == 2
    if os.environ.get("SKNET_TEST_MODE", "CVM").upper() == "CVM":
        assert all(op.inplace for op in steps)


def test_parameter_read_in_the_same_call_sees_the_old_value(mode):
    """An output that reads the parameter is computed before the in-place step."""
    W = pytensor.shared(np.ones((2, 2), "float32"), name="W")
    x = T.matrix("x")
    loss = T.sqr(T.dot(x, W)).sum()
    f = pytensor.function([x], [W * 1, loss], updates=updates.adam(loss, [W], learning_rate=0.5), mode=mode)
    before, _ = f(np.ones((2, 2), "float32"))
    np.testing.assert_array_equal(before, np.ones((2, 2), "float32"))
    assert (W.get_value() < 1).all()


def test_non_contiguous_gradient(mode):
    P = pytensor.shared(np.ones((3, 4), "float32"))
    M = pytensor.shared(np.zeros((3, 4), "float32"))
    V = pytensor.shared(np.zeros((3, 4), "float32"))
    g = T.matrix("g")
    new = AdamStep(B1, B2, EPS)(P, M, V, g.T, np.float32(0.1))
    f = pytensor.function([g], [], updates=list(zip([P, M, V], new)), mode=mode)
    G = np.arange(12, dtype="float32").reshape(4, 3) - 5
    f(G)
    want = _reference(np.ones((3, 4)), np.zeros((3, 4)), np.zeros((3, 4)), G.T.astype(np.float64), 0.1)
    np.testing.assert_allclose(P.get_value(), want[0], rtol=1e-5)


def test_bad_inputs_raise():
    with pytest.raises(TypeError, match="float32 or float64"):
        AdamStep(B1, B2, EPS)(T.ivector(), T.ivector(), T.ivector(), T.ivector(), 0.1)
    with pytest.raises(TypeError, match="one shape"):
        AdamStep(B1, B2, EPS)(T.matrix(), T.matrix(), T.matrix(), T.vector(), 0.1)
    with pytest.raises(TypeError, match="scalar"):
        AdamStep(B1, B2, EPS)(T.matrix(), T.matrix(), T.matrix(), T.matrix(), T.vector())
