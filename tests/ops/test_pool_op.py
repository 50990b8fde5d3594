"""Pool2D / Pool2DGrad against a loop reference, for every mode, and verify_grad."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from pytensor.gradient import verify_grad

from sknet.ops import Pool2D, pool_2d

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
    verify_grad(lambda v: pool_2d(v, (3, 2), (2, 2), (1, 1), True, mode_name), [x],
                rng=np.random.default_rng(2), mode=mode, eps=1e-4)


def test_output_shapes():
    x = T.tensor4()
    assert Pool2D((2, 2))(x).type.shape == (None, None, None, None)
    y = Pool2D((2, 3), (2, 2), ignore_border=False)(T.tensor4(shape=(None, 3, 7, 6)))
    assert y.type.shape == (None, 3, 4, 3)


@pytest.mark.parametrize(
    "kwargs",
    [dict(ws=(2, 2), pad=(2, 0)), dict(ws=(2, 2), pad=(1, 0), ignore_border=False),
     dict(ws=(2, 2), mode="sum"), dict(ws=(0, 2))],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        Pool2D(**kwargs)
