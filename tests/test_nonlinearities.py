"""Nonlinearities against numpy formulas, and their gradients."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad
from pytensor.link.vm import VMLinker

from sknet import nonlinearities as nl

X = np.array([[-30.0, -2.5, -0.7, -0.05, 0.0], [0.05, 0.3, 1.0, 4.0, 30.0]], dtype="float32")
SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


CASES = {
    "sigmoid": (nl.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "softmax": (nl.softmax, _np_softmax),
    "tanh": (nl.tanh, np.tanh),
    "ScaledTanH": (nl.ScaledTanH(scale_in=2 / 3, scale_out=1.7159), lambda x: 1.7159 * np.tanh(2 / 3 * x)),
    "ScaledTanh_default": (nl.ScaledTanh(), np.tanh),
    "rectify": (nl.rectify, lambda x: np.maximum(x, 0)),
    "LeakyRectify": (nl.LeakyRectify(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "leaky_rectify": (nl.leaky_rectify, lambda x: np.where(x > 0, x, 0.01 * x)),
    "very_leaky_rectify": (nl.very_leaky_rectify, lambda x: np.where(x > 0, x, x / 3)),
    "elu": (nl.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    "selu": (nl.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))),
    "SELU": (nl.SELU(scale=2.0, scale_neg=0.5), lambda x: 2.0 * np.where(x > 0, x, 0.5 * np.expm1(x))),
    "softplus": (nl.softplus, lambda x: np.logaddexp(0, x)),
    "linear": (nl.linear, lambda x: x),
    "identity": (nl.identity, lambda x: x),
}


@pytest.fixture(scope="module")
def outputs(mode):
    x = T.matrix("x")
    exprs = [fn(x) for fn, _ in CASES.values()]
    f = pytensor.function([x], exprs, mode=mode, on_unused_input="ignore")
    return dict(zip(CASES, f(X)))


@pytest.mark.parametrize("name", list(CASES))
def test_matches_numpy(name, outputs):
    _, reference = CASES[name]
    got = outputs[name]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference(X.astype("float64")), rtol=1e-5, atol=1e-6)
    assert np.isfinite(got).all()


def test_softmax_rows_sum_to_one(outputs):
    np.testing.assert_allclose(outputs["softmax"].sum(axis=1), [1.0, 1.0], rtol=1e-6)


def test_linear_returns_its_input():
    x = T.matrix()
    assert nl.linear(x) is x and nl.identity is nl.linear


def test_gradients(mode):
    """verify_grad over every differentiable nonlinearity at points away
    from the rectifiers' kink at 0."""
    r = np.random.RandomState(0)
    x = r.uniform(0.1, 2.0, size=(3, 4)) * r.choice([-1, 1], size=(3, 4))
    elementwise = [fn for name, (fn, _) in CASES.items() if name != "softmax"]

    def all_outputs(v):
        parts = [fn(v) for fn in elementwise] + [nl.softmax(v)]
        return T.concatenate([T.flatten(p) for p in parts])

    verify_grad(all_outputs, [x], rng=r, mode=mode)


def test_rectify_special_values(mode):
    """NaN stays NaN (so a diverged net shows it), infinities and zeros map as
    max(x, 0) does, and integer input gives float output."""
    x = T.vector("x")
    f = pytensor.function([x], nl.rectify(x), mode=mode)
    got = f(np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1e-30, 1e-30], "float32"))
    np.testing.assert_array_equal(got, np.array([np.nan, 0, np.inf, 0, 0, 0, 1e-30], "float32"))
    assert nl.rectify(T.ivector()).dtype.startswith("float")


def test_rectify_gradient_reads_only_the_output():
    """The gradient graph reaches the input only through the rectifier itself,
    so the forward pass need not keep the pre-activation."""
    x = T.matrix("x")
    y = nl.rectify(x + 1)
    g = pytensor.grad(y.sum(), x)
    pre = y.owner.inputs[0]
    users = {n for n in pytensor.graph.traversal.io_toposort([x], [g]) if pre in n.inputs}
    assert users == {y.owner}


def test_rectify_runs_as_maximum_outside_c(mode):
    x = T.matrix("x")
    f = pytensor.function([x], nl.rectify(x) * 2, mode=mode)
    scalar_ops = [type(getattr(n.op, "scalar_op", None)).__name__ for n in f.maker.fgraph.apply_nodes]
    if isinstance(f.maker.mode.linker, VMLinker):
        assert any("Composite" in s or "ScalarRelu" in s for s in scalar_ops)
    else:
        assert "ScalarRelu" not in scalar_ops
    np.testing.assert_allclose(f(X), 2 * np.maximum(X, 0))


def test_rectify_on_numpy_input_returns_numpy():
    """As in Lasagne (Theano's relu on an ndarray): no symbolic graph for arrays."""
    out = nl.rectify(X)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.maximum(X, 0))
    ints = nl.rectify(np.array([-2, 3]))
    assert ints.dtype.kind == "i" and ints.tolist() == [0, 3]
    assert float(nl.rectify(-1.5)) == 0.0
    # Lasagne's own test computes a reference with rectify on numpy data
    hinge = nl.rectify(1 + np.array([0.5, -2.0]) - np.array([0.2, 0.1]))
    np.testing.assert_allclose(hinge, [1.3, 0.0])
