"""Pooling layers against numpy references; output shapes with None and fixed dims."""

import numpy as np
import pytensor
import pytest
from pytensor.gradient import verify_grad

from sknet.layers import (
    GlobalPoolLayer,
    InputLayer,
    MaxPool1DLayer,
    MaxPool2DLayer,
    Pool1DLayer,
    Pool2DLayer,
    Upscale2DLayer,
    get_output,
)
from sknet.layers.pool import pool_output_length


def pool_ref(x, ws, stride, pad, ignore_border, mode):
    """Loop reference over the last two axes (Lasagne's window and divisor rules)."""

    def windows(n, k, s, p):
        count = (
            (n + 2 * p - k) // s + 1
            if ignore_border
            else (n + s - 1) // s
            if s >= k
            else max(0, (n - k + s - 1) // s) + 1
        )
        return [(i * s - p, min(i * s - p + k, n + p)) for i in range(count)]

    H, W = x.shape[-2:]
    rows, cols = windows(H, ws[0], stride[0], pad[0]), windows(W, ws[1], stride[1], pad[1])
    out = np.zeros(x.shape[:-2] + (len(rows), len(cols)))
    for i, (rs, re) in enumerate(rows):
        for j, (cs, ce) in enumerate(cols):
            win = x[..., max(rs, 0) : min(re, H), max(cs, 0) : min(ce, W)]
            if mode == "max":
                out[..., i, j] = win.max(axis=(-2, -1))
            elif mode == "average_inc_pad":
                out[..., i, j] = win.sum(axis=(-2, -1)) / ((re - rs) * (ce - cs))
            else:
                out[..., i, j] = win.mean(axis=(-2, -1))
    return out


CASES = [
    (2, None, 0, True, "max"),
    ((3, 2), (2, 1), (1, 1), True, "average_inc_pad"),
    ((3, 2), (2, 1), (1, 0), True, "average_exc_pad"),
    (3, 2, 0, False, "max"),
    ((2, 3), None, 0, False, "average_exc_pad"),
]


@pytest.fixture(scope="module")
def pool2d_case(mode):
    l_in = InputLayer((None, 2, 7, 6))
    layers = [Pool2DLayer(l_in, ps, stride=st, pad=pad, ignore_border=ib, mode=m) for ps, st, pad, ib, m in CASES]
    layers.append(MaxPool2DLayer(l_in, 2, ignore_border=False))
    return layers, pytensor.function([l_in.input_var], get_output(layers), mode=mode)


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


class TestPool2DLayer:
    def test_outputs_match_reference(self, pool2d_case):
        layers, f = pool2d_case
        x = np.random.default_rng(0).normal(size=(3, 2, 7, 6)).astype("float32")
        cases = CASES + [(2, None, 0, False, "max")]
        for layer, out, (ps, st, pad, ib, m) in zip(layers, f(x), cases):
            ref = pool_ref(x, _pair(ps), _pair(st or ps), _pair(pad), ib, m)
            np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6, err_msg=str((ps, st, m)))
            assert layer.output_shape == (None,) + ref.shape[1:]

    def test_shapes(self):
        assert MaxPool2DLayer(InputLayer((None, 3, None, 9)), 2).output_shape == (None, 3, None, 4)
        assert Pool2DLayer(
            InputLayer((5, 3, 8, 9)), 3, stride=2, ignore_border=False, mode="average_inc_pad"
        ).output_shape == (5, 3, 4, 4)
        with pytest.raises(ValueError, match="Expected 4 input dimensions"):
            Pool2DLayer(InputLayer((None, 3, 8)), 2)
        with pytest.raises(ValueError):
            Pool2DLayer(InputLayer((None, 3, 8, 8)), 2, mode="median")

    @pytest.mark.parametrize("mode_name", ["max", "average_inc_pad", "average_exc_pad"])
    def test_verify_grad(self, mode_name, mode):
        x = np.random.default_rng(1).permutation(2 * 7 * 6).reshape(1, 2, 7, 6) / 7.0
        verify_grad(
            lambda v: get_output(Pool2DLayer(InputLayer((None, 2, 7, 6)), (3, 2), stride=2, pad=1, mode=mode_name), v),
            [x],
            rng=np.random.default_rng(2),
            mode=mode,
            eps=1e-4,
        )


class TestPool1DLayer:
    @pytest.mark.parametrize(
        "ps, st, pad, ib, m",
        [(2, None, 0, True, "max"), (3, 2, 1, True, "average_inc_pad"), (3, 2, 0, False, "average_exc_pad")],
    )
    def test_output_matches_reference(self, ps, st, pad, ib, m, mode):
        x = np.random.default_rng(3).normal(size=(2, 3, 9)).astype("float32")
        l = Pool1DLayer(InputLayer((None, 3, 9)), ps, stride=st, pad=pad, ignore_border=ib, mode=m)
        out = get_output(l, x).eval(mode=mode)
        ref = pool_ref(x[:, :, None, :], (1, ps), (1, st or ps), (0, pad), ib, m)[:, :, 0]
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
        assert l.output_shape == (None, 3, ref.shape[2])

    def test_maxpool1d_shape(self):
        assert MaxPool1DLayer(InputLayer((None, 4, None)), 3).output_shape == (None, 4, None)
        assert MaxPool1DLayer(InputLayer((2, 4, 10)), 3, ignore_border=False).output_shape == (2, 4, 4)


class TestGlobalPoolLayer:
    def test_mean_and_max(self, mode):
        x = np.random.default_rng(4).normal(size=(2, 3, 4, 5)).astype("float32")
        l_in = InputLayer((None, 3, 4, 5))
        out_mean = get_output(GlobalPoolLayer(l_in), x).eval(mode=mode)
        np.testing.assert_allclose(out_mean, x.mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)
        l_max = GlobalPoolLayer(l_in, pool_function=pytensor.tensor.max)
        np.testing.assert_allclose(get_output(l_max, x).eval(mode=mode), x.max(axis=(2, 3)))
        assert l_max.output_shape == (None, 3)


class TestUpscale2DLayer:
    def test_repeat_and_dilate(self, mode):
        x = np.random.default_rng(5).normal(size=(2, 3, 2, 3)).astype("float32")
        l_in = InputLayer((None, 3, 2, 3))
        rep = get_output(Upscale2DLayer(l_in, (2, 3)), x).eval(mode=mode)
        np.testing.assert_array_equal(rep, x.repeat(2, axis=2).repeat(3, axis=3))
        dil = get_output(Upscale2DLayer(l_in, 2, mode="dilate"), x).eval(mode=mode)
        ref = np.zeros((2, 3, 4, 6), "float32")
        ref[:, :, ::2, ::2] = x
        np.testing.assert_array_equal(dil, ref)
        # one axis left as it is
        dil = get_output(Upscale2DLayer(l_in, (1, 2), mode="dilate"), x).eval(mode=mode)
        ref = np.zeros((2, 3, 2, 6), "float32")
        ref[:, :, :, ::2] = x
        np.testing.assert_array_equal(dil, ref)

    def test_shapes_and_errors(self):
        assert Upscale2DLayer(InputLayer((None, 3, None, 4)), 2).output_shape == (None, 3, None, 8)
        with pytest.raises(ValueError):
            Upscale2DLayer(InputLayer((None, 3, 4, 4)), 0)
        with pytest.raises(ValueError):
            Upscale2DLayer(InputLayer((None, 3, 4, 4)), 2, mode="nearest")
        # a fractional factor is refused before it makes fractional shapes
        with pytest.raises(TypeError, match="int"):
            Upscale2DLayer(InputLayer((None, 3, 4, 4)), 1.5)
        assert Upscale2DLayer(InputLayer((None, 3, 4, 4)), np.int64(2)).scale_factor == (2, 2)


def test_pool_output_length():
    assert pool_output_length(None, 2, 2, 0, True) is None
    assert pool_output_length(7, 3, 2, 1, True) == 4
    assert pool_output_length(7, 3, 2, 0, False) == 3
    with pytest.raises(NotImplementedError):
        pool_output_length(7, 3, 2, 1, False)
