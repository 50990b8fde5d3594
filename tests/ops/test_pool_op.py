"""Pool2D / Pool2DGrad against a loop reference, for every mode, and verify_grad."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet.ops import Pool2D, pool_2d
from sknet.ops.pool import Pool2DGrad

MODES = ["max", "average_inc_pad", "average_exc_pad"]
# (ws, stride, pad, ignore_border) on a 7 x 6 input: odd and even sizes,
# overlapping windows, padding, and partial border windows.
CONFIGS = [
    ((2, 2), None, (0, 0), True),
    ((3, 2), (2, 1), (1, 1), True),
    ((3, 3), (2, 2), (0, 0), False),
    ((2, 3), (3, 3), (0, 0), False),
]
CASES = [(c, m) for c in CONFIGS for m in MODES]


@pytest.fixture(scope="module")
def compiled(mode):
    """One function returning every case's output and gradient."""
    x = T.tensor4("x")
    gs, outs = [], []
    for (ws, stride, pad, ib), m in CASES:
        y = pool_2d(x, ws, stride, pad, ib, m)
        g = T.tensor4()
        gs.append(g)
        outs += [y, pytensor.grad((y * g).sum(), x)]
    return pytensor.function([x, *gs], outs, mode=mode)


def test_matches_reference(compiled, pool_ref):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7, 6)).astype("float32")
    refs = [pool_ref(x, ws, stride or ws, pad, ib, m) for (ws, stride, pad, ib), m in CASES]
    gs = [rng.normal(size=r.shape).astype("float32") for r in refs]
    results = compiled(x, *gs)
    for k, (((ws, stride, pad, ib), m), ref, g) in enumerate(zip(CASES, refs, gs)):
        y, gx = results[2 * k], results[2 * k + 1]
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6, err_msg=str(CASES[k]))
        # pooling is linear for the averages and piecewise linear for max, so
        # the gradient is the adjoint: <gx, e> = <g, pool(x + e) - pool(x)>.
        for idx in [(0, 0, 0, 0), (1, 2, 6, 5), (0, 1, 3, 2), (1, 0, 4, 1)]:
            e = np.zeros_like(x)
            e[idx] = 1e-2
            fd = ((pool_ref(x + e, ws, stride or ws, pad, ib, m) - ref) * g).sum() / 1e-2
            np.testing.assert_allclose(gx[idx], fd, rtol=1e-3, atol=1e-3, err_msg=str(CASES[k]))


@pytest.mark.parametrize("mode_name", MODES)
def test_verify_grad(mode_name, mode):
    rng = np.random.default_rng(1)
    # distinct values so that max pooling has no ties near the test point
    x = rng.permutation(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) / 10.0
    verify_grad(
        lambda v: pool_2d(v, (3, 2), (2, 2), (1, 1), True, mode_name),
        [x],
        rng=np.random.default_rng(2),
        mode=mode,
        eps=1e-4,
    )


def test_output_shapes():
    x = T.tensor4()
    assert Pool2D((2, 2))(x).type.shape == (None, None, None, None)
    y = Pool2D((2, 3), (2, 2), ignore_border=False)(T.tensor4(shape=(None, 3, 7, 6)))
    assert y.type.shape == (None, 3, 4, 3)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(ws=(2, 2), pad=(2, 0)),
        dict(ws=(2, 2), pad=(1, 0), ignore_border=False),
        dict(ws=(2, 2), mode="sum"),
        dict(ws=(0, 2)),
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        Pool2D(**kwargs)


def _pool_grad_ref(x, g, ws, stride, mode):
    """Gradient of sum(g * pool(x)) for unpadded, ignore_border pooling; max
    pooling gives each window's gradient to its first maximum (row-major)."""
    gx = np.zeros(x.shape)
    (wh, ww), (sh, sw) = ws, stride
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            win = x[:, :, i * sh : i * sh + wh, j * sw : j * sw + ww].reshape(x.shape[0], x.shape[1], -1)
            for b in range(x.shape[0]):
                for c in range(x.shape[1]):
                    if mode == "max":
                        r, q = divmod(int(np.argmax(win[b, c])), ww)
                        gx[b, c, i * sh + r, j * sw + q] += g[b, c, i, j]
                    else:
                        gx[b, c, i * sh : i * sh + wh, j * sw : j * sw + ww] += g[b, c, i, j] / (wh * ww)
    return gx


# Windows inside an 8 x 6 input: the first two tile it exactly (every gradient
# cell written once), the third overlaps (gradients accumulate).
INTERIOR = [((2, 2), (2, 2)), ((4, 3), (4, 3)), ((3, 3), (1, 2))]
INTERIOR_CASES = [(c, m) for c in INTERIOR for m in MODES]


@pytest.fixture(scope="module")
def compiled_interior(mode):
    x = T.tensor4("x")
    gs, outs = [], []
    for (ws, stride), m in INTERIOR_CASES:
        y = pool_2d(x, ws, stride, (0, 0), True, m)
        g = T.tensor4()
        gs.append(g)
        outs += [y, pytensor.grad((y * g).sum(), x)]
    return pytensor.function([x, *gs], outs, mode=mode)


@pytest.mark.parametrize("ties", [False, True])
def test_interior_windows_and_first_maximum(compiled_interior, pool_ref, ties):
    rng = np.random.default_rng(3)
    if ties:  # few distinct values (as after a rectifier): windows hold tied maxima
        x = rng.integers(0, 3, size=(2, 3, 8, 6)).astype("float32")
    else:
        x = rng.normal(size=(2, 3, 8, 6)).astype("float32")
    refs = [pool_ref(x, ws, stride, (0, 0), True, m) for (ws, stride), m in INTERIOR_CASES]
    gs = [rng.normal(size=r.shape).astype("float32") for r in refs]
    results = compiled_interior(x, *gs)
    for k, (((ws, stride), m), ref, g) in enumerate(zip(INTERIOR_CASES, refs, gs)):
        np.testing.assert_allclose(results[2 * k], ref, rtol=1e-5, atol=1e-6, err_msg=str(INTERIOR_CASES[k]))
        np.testing.assert_allclose(
            results[2 * k + 1],
            _pool_grad_ref(x, g, ws, stride, m),
            rtol=1e-5,
            atol=1e-6,
            err_msg=str(INTERIOR_CASES[k]),
        )


@pytest.fixture(scope="module")
def relu_pool_grads(mode):
    """Gradients through rectify -> pool for pooling configurations of every
    kind (tiling, overlapping, padded, partial border windows), in this mode."""
    from sknet.nonlinearities import rectify

    a = T.tensor4("a")
    gs, outs = [], []
    for (ws, stride, pad, ib), m in CASES + [(((2, 2), None, (0, 0), True), "max")]:
        y = pool_2d(rectify(a), ws, stride, pad, ib, m)
        g = T.tensor4()
        gs.append(g)
        outs.append(pytensor.grad((y * g).sum(), a))
    f = pytensor.function([a, *gs], outs, mode=mode)
    return f, [n.op for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Pool2DGrad)]


def test_rectifier_gradient_fused_in_c_only(relu_pool_grads):
    _, grads = relu_pool_grads
    fused = [op.positive_mask for op in grads]
    from pytensor.link.vm import VMLinker

    if isinstance(relu_pool_grads[0].maker.mode.linker, VMLinker):
        assert fused and all(fused)
    else:
        assert not any(fused)


def test_fused_rectifier_gradient_values(relu_pool_grads, pool_ref):
    """Equal to pooling's gradient times (rectify(a) > 0), computed in numpy."""
    f, _ = relu_pool_grads
    rng = np.random.default_rng(4)
    # even sizes (8 x 6) so that the 2 x 2 windows tile; zeros after the
    # rectifier give ties and cells the mask removes
    a = rng.integers(-2, 3, size=(2, 3, 8, 6)).astype("float32")
    x = np.maximum(a, 0)
    cases = CASES + [(((2, 2), None, (0, 0), True), "max")]
    refs = [pool_ref(x, ws, stride or ws, pad, ib, m) for (ws, stride, pad, ib), m in cases]
    gs = [rng.normal(size=r.shape).astype("float32") for r in refs]
    for k, (((ws, stride, pad, ib), m), g, got) in enumerate(zip(cases, gs, f(a, *gs))):
        gx = pytensor.function(
            [], Pool2DGrad(ws, stride, pad, ib, m)(x, g), mode=pytensor.compile.mode.Mode("py", "fast_compile")
        )()
        np.testing.assert_allclose(got, gx * (x > 0), rtol=1e-5, atol=1e-6, err_msg=str(cases[k]))


@pytest.fixture(scope="module")
def max2x2_grads(mode):
    """2x2 max-pooling gradients, plain and through a rectifier (the fused mask in C)."""
    from sknet.nonlinearities import rectify

    a, g1, g2 = T.tensor4("a"), T.tensor4("g1"), T.tensor4("g2")
    plain = pytensor.grad((pool_2d(a, (2, 2)) * g1).sum(), a)
    masked = pytensor.grad((pool_2d(rectify(a), (2, 2)) * g2).sum(), a)
    return pytensor.function([a, g1, g2], [plain, masked], mode=mode)


@pytest.mark.parametrize("ties", [False, True])
def test_max2x2_gradient_on_wide_rows(max2x2_grads, ties):
    """Rows of 21 windows: the C op's eight-window vector steps and the scalar rest."""
    rng = np.random.default_rng(5)
    shape = (2, 3, 6, 42)
    if ties:  # tied maxima, zeros and negative cells: the first maximum and the mask decide
        a = rng.integers(-2, 3, size=shape).astype("float32")
    else:
        a = rng.normal(size=shape).astype("float32")
    g = rng.normal(size=(2, 3, 3, 21)).astype("float32")
    plain, masked = max2x2_grads(a, g, g)
    np.testing.assert_allclose(plain, _pool_grad_ref(a, g, (2, 2), (2, 2), "max"), rtol=1e-6, atol=0)
    x = np.maximum(a, 0)
    np.testing.assert_allclose(masked, _pool_grad_ref(x, g, (2, 2), (2, 2), "max") * (x > 0), rtol=1e-6, atol=0)
