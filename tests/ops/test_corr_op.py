"""CorrMM in all three directions against a loop reference, and its gradients."""

import os

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

import sknet.ops.corr as corr_module
from sknet.ops import CorrMM, corr2d, corr2d_grad_inputs, corr2d_grad_weights

# (x shape, w shape, stride, pad): odd and even sizes, strides that do not
# divide the padded size, padding wider than the filter.
CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 2), (1, 1), (0, 0)),
    ((1, 2, 8, 9), (3, 2, 2, 3), (2, 3), (1, 2)),
    ((3, 1, 5, 5), (2, 1, 5, 5), (1, 2), (4, 4)),
    ((2, 2, 6, 7), (1, 2, 1, 1), (3, 2), (0, 1)),
]


@pytest.fixture(scope="module")
def compiled(mode):
    """One function computing the output and both gradients of every case."""
    xs, ws, gs, outs = [], [], [], []
    for i, (_, _, stride, pad) in enumerate(CASES):
        x, w, g = T.tensor4(f"x{i}"), T.tensor4(f"w{i}"), T.tensor4(f"g{i}")
        y = corr2d(x, w, stride, pad)
        gx, gw = pytensor.grad((y * g).sum(), [x, w])
        xs.append(x), ws.append(w), gs.append(g)
        outs += [y, gx, gw]
    return pytensor.function(xs + ws + gs, outs, mode=mode)


def _values(rng, corr2d_ref):
    xs = [rng.normal(size=xs).astype("float32") for xs, _, _, _ in CASES]
    ws = [rng.normal(size=ws).astype("float32") for _, ws, _, _ in CASES]
    gs = [rng.normal(size=corr2d_ref(x, w, s, p).shape).astype("float32") for x, w, (_, _, s, p) in zip(xs, ws, CASES)]
    return xs, ws, gs


def _adjoint_grads(corr2d_ref, x, w, g, stride=(1, 1), pad=(0, 0)):
    """Gradients of sum(g * corr(x, w)) by linearity, one unit input at a time."""
    grads = []
    for arg in (0, 1):
        v = (x, w)[arg]
        out = np.zeros(v.shape)
        for idx in np.ndindex(*v.shape):
            e = np.zeros_like(v)
            e[idx] = 1.0
            args = (e, w) if arg == 0 else (x, e)
            out[idx] = (corr2d_ref(*args, stride, pad) * g).sum()
        grads.append(out)
    return grads


def test_forward_and_gradients_match_reference(compiled, corr_ref):
    xs, ws, gs = _values(np.random.default_rng(0), corr_ref)
    results = compiled(*xs, *ws, *gs)
    for k, (x, w, g, (_, _, stride, pad)) in enumerate(zip(xs, ws, gs, CASES)):
        y, gx, gw = results[3 * k : 3 * k + 3]
        np.testing.assert_allclose(y, corr_ref(x, w, stride, pad), rtol=1e-4, atol=1e-4)
        ref_gx, ref_gw = _adjoint_grads(corr_ref, x, w, g, stride, pad)
        np.testing.assert_allclose(gx, ref_gx, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(gw, ref_gw, rtol=1e-4, atol=1e-3)


def test_output_shape_is_inferred_without_computing(mode):
    x, w = T.tensor4(), T.tensor4()
    shape = corr2d(x, w, (2, 1), (1, 0)).shape
    f = pytensor.function([x, w], shape, mode=mode)
    assert not any(isinstance(n.op, CorrMM) for n in f.maker.fgraph.apply_nodes)
    np.testing.assert_array_equal(f(np.zeros((2, 3, 7, 6), "float32"), np.zeros((4, 3, 3, 2), "float32")), [2, 4, 4, 5])


@pytest.mark.parametrize("direction", ["forward", "weights", "inputs"])
def test_verify_grad(direction, mode, corr_ref):
    rng = np.random.default_rng(1)
    stride, pad = (2, 1), (1, 2)
    x = rng.normal(size=(2, 2, 5, 4))
    w = rng.normal(size=(3, 2, 3, 2))
    top = corr_ref(x, w, stride, pad)
    if direction == "forward":
        fn, pt = (lambda a, b: corr2d(a, b, stride, pad)), [x, w]
    elif direction == "weights":
        fn, pt = (lambda a, b: corr2d_grad_weights(a, b, (3, 2), stride, pad)), [x, top]
    else:
        fn, pt = (lambda a, b: corr2d_grad_inputs(a, b, (5, 4), stride, pad)), [w, top]
    verify_grad(fn, pt, rng=np.random.default_rng(2), mode=mode)


def test_chunked_gemm_matches(mode, monkeypatch, corr_ref):
    """A scratch budget of a few images splits the batch into several GEMMs."""
    monkeypatch.setattr(corr_module, "_BUFFER_ELEMENTS", 200)
    x, w, g = T.tensor4(), T.tensor4(), T.tensor4()
    y = corr2d(x, w)
    f = pytensor.function([x, w, g], [y, *pytensor.grad((y * g).sum(), [x, w])], mode=mode)
    rng = np.random.default_rng(3)
    xv = rng.normal(size=(5, 2, 4, 4)).astype("float32")
    wv = rng.normal(size=(3, 2, 2, 2)).astype("float32")
    gv = rng.normal(size=(5, 3, 3, 3)).astype("float32")
    y_, gx, gw = f(xv, wv, gv)
    np.testing.assert_allclose(y_, corr_ref(xv, wv), rtol=1e-4, atol=1e-4)
    ref_gx, ref_gw = _adjoint_grads(corr_ref, xv, wv, gv)
    np.testing.assert_allclose(gx, ref_gx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gw, ref_gw, rtol=1e-4, atol=1e-3)


def test_bad_shapes_raise(mode):
    x, w = T.tensor4(), T.tensor4()
    f = pytensor.function([x, w], corr2d(x, w), mode=mode)
    with pytest.raises(ValueError):
        f(np.zeros((1, 2, 4, 4), "float32"), np.zeros((1, 3, 2, 2), "float32"))


def test_bias_and_rectifier_fuse_into_the_correlation(mode):
    """A conv layer's rectify(conved + b) becomes one CorrMMBiasRelu in C
    mode; outputs and gradients equal the unfused graph's."""
    import sknet
    from sknet.ops.corr import CorrMMBiasRelu

    x, w, b, g = T.tensor4("x"), T.tensor4("w"), T.vector("b"), T.tensor4("g")
    y = sknet.nonlinearities.rectify(corr2d(x, w, (1, 1), (1, 1)) + b.dimshuffle("x", 0, "x", "x"))
    outs = [y, *pytensor.grad((y * g).sum(), [x, w, b])]
    fused = pytensor.function([x, w, b, g], outs, mode=mode)
    plain = pytensor.function([x, w, b, g], outs, mode=mode.excluding("local_corr_bias_relu"))
    ops = [type(n.op) for n in fused.maker.fgraph.apply_nodes]
    if os.environ.get("SKNET_TEST_MODE", "CVM").upper() == "CVM":  # the rewrite is the C backend's
        assert CorrMMBiasRelu in ops
    assert CorrMMBiasRelu not in [type(n.op) for n in plain.maker.fgraph.apply_nodes]
    rng = np.random.default_rng(4)
    args = [
        rng.normal(size=(3, 2, 5, 4)).astype("float32"),
        rng.normal(size=(3, 2, 3, 3)).astype("float32"),
        rng.normal(size=3).astype("float32"),
        rng.normal(size=(3, 3, 5, 4)).astype("float32"),
    ]
    for got, want in zip(fused(*args), plain(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert (fused(*args)[0] == 0).any() and (fused(*args)[0] > 0).any()


def test_fused_bias_relu_op_matches_numpy_in_every_mode(mode, corr_ref):
    """CorrMMBiasRelu built by hand runs in the test's mode (C, NUMBA or JAX)."""
    from sknet.ops.corr import CorrMMBiasRelu

    x, w, b = T.tensor4("x"), T.tensor4("w"), T.vector("b")
    f = pytensor.function([x, w, b], CorrMMBiasRelu((2, 1), (1, 0))(x, w, b), mode=mode)
    rng = np.random.default_rng(5)
    xv = rng.normal(size=(2, 3, 6, 5)).astype("float32")
    wv = rng.normal(size=(4, 3, 3, 2)).astype("float32")
    bv = rng.normal(size=4).astype("float32")
    want = np.maximum(corr_ref(xv, wv, (2, 1), (1, 0)) + bv[None, :, None, None], 0)
    np.testing.assert_allclose(f(xv, wv, bv), want, rtol=1e-4, atol=1e-4)
