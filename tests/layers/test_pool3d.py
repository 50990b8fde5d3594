"""Pool3DLayer, MaxPool3DLayer and Upscale3DLayer against numpy references."""

import numpy as np
import pytensor
import pytest
from pytensor.gradient import verify_grad

from sknet.layers import (
    InputLayer,
    MaxPool3DLayer,
    Pool3DLayer,
    Upscale3DLayer,
    get_output,
)
from sknet.layers.pool import pool_output_length

RNG = np.random.default_rng(0)


def pool3d_ref(x, ws, stride, pad, ignore_border, mode):
    """Loop over every output voxel; windows as Lasagne's (Theano's) pooling has them."""
    ws, pad = np.broadcast_to(ws, 3), np.broadcast_to(pad, 3)
    stride = ws if stride is None else np.broadcast_to(stride, 3)
    sizes = [pool_output_length(n, w, s, p, ignore_border) for n, w, s, p in zip(x.shape[2:], ws, stride, pad)]
    out = np.zeros(x.shape[:2] + tuple(sizes))
    for idx in np.ndindex(*sizes):
        lo = [i * s - p for i, s, p in zip(idx, stride, pad)]
        hi = [min(l + w, n + p) for l, w, n, p in zip(lo, ws, x.shape[2:], pad)]
        real = tuple(slice(max(l, 0), min(h, n)) for l, h, n in zip(lo, hi, x.shape[2:]))
        cells = x[(slice(None), slice(None)) + real].reshape(x.shape[:2] + (-1,))
        if mode == "max":
            val = cells.max(-1)
        elif mode == "average_inc_pad":
            val = cells.sum(-1) / np.prod([h - l for l, h in zip(lo, hi)])
        else:
            val = cells.mean(-1)
        out[(slice(None), slice(None)) + idx] = val
    return out


POOL_CASES = [
    # (pool_size, stride, pad, ignore_border, mode)
    (2, None, 0, True, "max"),
    ((3, 2, 2), (2, 1, 2), (1, 0, 1), True, "max"),
    ((2, 3, 2), None, 0, False, "max"),
    ((3, 2, 3), (1, 2, 2), (1, 1, 0), True, "average_inc_pad"),
    ((3, 2, 3), (1, 2, 2), (1, 1, 0), True, "average_exc_pad"),
    ((2, 3, 3), (2, 2, 2), 0, False, "average_inc_pad"),
    ((2, 3, 3), (3, 2, 2), 0, False, "average_exc_pad"),
]


@pytest.fixture(scope="module")
def pool3d_case(mode):
    l_in = InputLayer((None, 3, 5, 6, 7))
    layers = [Pool3DLayer(l_in, ws, stride=s, pad=p, ignore_border=ib, mode=m) for ws, s, p, ib, m in POOL_CASES]
    return layers, pytensor.function([l_in.input_var], get_output(layers), mode=mode)


class TestPool3DLayer:
    def test_outputs_match_numpy(self, pool3d_case):
        layers, f = pool3d_case
        x = RNG.normal(size=(2, 3, 5, 6, 7)).astype("float32")
        for layer, out, case in zip(layers, f(x), POOL_CASES):
            ref = pool3d_ref(x, *case)
            assert out.shape == (2,) + layer.output_shape[1:], case
            np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6, err_msg=str(case))

    def test_shapes(self):
        l = MaxPool3DLayer(InputLayer((None, 2, 9, None, 7)), (3, 2, 2), stride=(3, 2, 1))
        assert l.output_shape == (None, 2, 3, None, 6)
        assert l.mode == "max" and l.pad == (0, 0, 0)
        assert Pool3DLayer(InputLayer((None, 2, 5, 5, 5)), 2, ignore_border=False).output_shape == (None, 2, 3, 3, 3)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="Expected 5 input dimensions"):
            Pool3DLayer(InputLayer((None, 2, 5, 5)), 2)
        with pytest.raises(ValueError, match="mode"):
            Pool3DLayer(InputLayer((None, 2, 5, 5, 5)), 2, mode="sum")
        with pytest.raises(ValueError, match="ignore_border"):
            Pool3DLayer(InputLayer((None, 2, 5, 5, 5)), 2, pad=1, ignore_border=False)

    @pytest.mark.parametrize("pool_mode", ["max", "average_exc_pad"])
    def test_verify_grad(self, pool_mode, mode):
        rng = np.random.default_rng(3)

        def fn(x):
            l = Pool3DLayer(InputLayer((None, 2, 4, 3, 5)), (2, 2, 3), stride=(1, 2, 2), pad=(1, 0, 1), mode=pool_mode)
            return get_output(l, x)

        # distinct, well-separated values keep every max away from a tie
        x = rng.permutation(2 * 2 * 4 * 3 * 5).reshape(2, 2, 4, 3, 5) / 10.0
        verify_grad(fn, [x], rng=rng, mode=mode)


class TestUpscale3DLayer:
    @pytest.mark.parametrize("factor", [2, (1, 3, 2), (1, 1, 1)])
    @pytest.mark.parametrize("up_mode", ["repeat", "dilate"])
    def test_output_matches_numpy(self, factor, up_mode):
        x = RNG.normal(size=(2, 3, 2, 3, 2)).astype("float32")
        l = Upscale3DLayer(InputLayer((None, 3, 2, 3, 2)), factor, mode=up_mode)
        a, b, c = np.broadcast_to(factor, 3)
        if up_mode == "repeat":
            ref = x.repeat(a, 2).repeat(b, 3).repeat(c, 4)
        else:
            ref = np.zeros(x.shape[:2] + (2 * a, 3 * b, 2 * c), "float32")
            ref[:, :, ::a, ::b, ::c] = x
        assert l.output_shape == (None, 3, 2 * a, 3 * b, 2 * c)
        np.testing.assert_array_equal(get_output(l, x).eval(), ref)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="Scale factor"):
            Upscale3DLayer(InputLayer((None, 1, 2, 2, 2)), (1, 0, 1))
        with pytest.raises(ValueError, match="Mode"):
            Upscale3DLayer(InputLayer((None, 1, 2, 2, 2)), 2, mode="nearest")
        assert Upscale3DLayer(InputLayer((None, 1, None, 2, 2)), 2).output_shape == (None, 1, None, 4, 4)

    def test_verify_grad(self, mode):
        rng = np.random.default_rng(4)

        def fn(x):
            return get_output(Upscale3DLayer(InputLayer((None, 1, 2, 2, 1)), (2, 1, 3)), x)

        verify_grad(fn, [rng.normal(size=(2, 1, 2, 2, 1))], rng=rng, mode=mode)
