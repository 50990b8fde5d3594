"""Conv3DLayer and TransposedConv3DLayer against numpy references."""

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from pytensor.gradient import verify_grad

from sknet.layers import (
    Conv3DLayer,
    Deconv3DLayer,
    InputLayer,
    TransposedConv3DLayer,
    get_output,
)

RNG = np.random.default_rng(0)
SHAPE = (2, 4, 5, 6, 7)


def _pads(pad, ksize):
    if pad == "valid":
        return (0, 0, 0)
    if pad == "full":
        return tuple(k - 1 for k in ksize)
    if pad == "same":
        return tuple(k // 2 for k in ksize)
    return pad if isinstance(pad, tuple) else (pad,) * 3


def conv3d_ref(x, W, stride, pad, flip, groups=1):
    """Direct strided, zero-padded 3-D convolution (or correlation) per group."""
    stride = stride if isinstance(stride, tuple) else (stride,) * 3
    p = _pads(pad, W.shape[2:])
    if flip:
        W = W[:, :, ::-1, ::-1, ::-1]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(q, q) for q in p]).astype(np.float64)
    win = sliding_window_view(xp, W.shape[2:], axis=(2, 3, 4))
    win = win[:, :, :: stride[0], :: stride[1], :: stride[2]]
    cin, fout = x.shape[1] // groups, W.shape[0] // groups
    return np.concatenate(
        [
            np.einsum("bcxyzijk,fcijk->bfxyz", win[:, g * cin : (g + 1) * cin], W[g * fout : (g + 1) * fout])
            for g in range(groups)
        ],
        axis=1,
    )


def deconv3d_ref(y, W, stride, crop, flip, out_shape=None):
    """Transposed convolution by scattering every input voxel times its filter."""
    stride = stride if isinstance(stride, tuple) else (stride,) * 3
    k = W.shape[2:]
    c = _pads(crop, k)
    if not flip:
        W = W[:, :, ::-1, ::-1, ::-1]
    full = [(n - 1) * s + kk for n, s, kk in zip(y.shape[2:], stride, k)]
    if out_shape is not None:
        full = [max(f, o + 2 * cc) for f, o, cc in zip(full, out_shape, c)]
    out = np.zeros((y.shape[0], W.shape[1], *full))
    for z in range(y.shape[2]):
        for r in range(y.shape[3]):
            for q in range(y.shape[4]):
                a, b, d = z * stride[0], r * stride[1], q * stride[2]
                out[:, :, a : a + k[0], b : b + k[1], d : d + k[2]] += np.einsum("bf,fcijk->bcijk", y[:, :, z, r, q], W)
    size = out_shape or [f - 2 * cc for f, cc in zip(full, c)]
    return out[:, :, c[0] : c[0] + size[0], c[1] : c[1] + size[1], c[2] : c[2] + size[2]]


CONV_CASES = [
    # (pad, stride, flip, filter_size, groups)
    ("valid", 1, True, (3, 2, 3), 1),
    ("same", (2, 1, 3), False, 3, 1),
    ("full", (1, 2, 1), True, (2, 3, 2), 1),
    ((1, 0, 2), 2, True, (3, 3, 2), 1),
    (1, 1, False, (1, 3, 3), 2),
]


@pytest.fixture(scope="module")
def conv3d_case(mode):
    l_in = InputLayer((None,) + SHAPE[1:])
    layers = [
        Conv3DLayer(
            l_in,
            6,
            fs,
            stride=s,
            pad=p,
            flip_filters=f,
            num_groups=g,
            nonlinearity=None,
            b=np.arange(6, dtype="float32"),
        )
        for p, s, f, fs, g in CONV_CASES
    ]
    return layers, pytensor.function([l_in.input_var], get_output(layers), mode=mode)


class TestConv3DLayer:
    def test_outputs_match_numpy(self, conv3d_case):
        layers, f = conv3d_case
        x = RNG.normal(size=SHAPE).astype("float32")
        for layer, out, (pad, stride, flip, _, groups) in zip(layers, f(x), CONV_CASES):
            ref = conv3d_ref(x, layer.W.get_value(), stride, pad, flip, groups)
            ref += np.arange(6).reshape(1, 6, 1, 1, 1)
            assert out.shape == (2,) + layer.output_shape[1:]
            np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)

    def test_shapes_and_params(self):
        l = Conv3DLayer(InputLayer((None, 3, 8, 9, 10)), 5, (3, 2, 1), stride=(2, 1, 3), pad=1)
        assert l.output_shape == (None, 5, 4, 10, 4)
        assert l.W.get_value().shape == (5, 3, 3, 2, 1)
        assert l.b.get_value().shape == (5,)
        assert Conv3DLayer(InputLayer((None, 3, None, 9, 10)), 5, 3).output_shape == (None, 5, None, 7, 8)
        untied = Conv3DLayer(InputLayer((None, 3, 4, 5, 6)), 2, 3, untie_biases=True)
        assert untied.b.get_value().shape == (2, 2, 3, 4)

    def test_untied_biases_and_relu(self, mode):
        l_in = InputLayer((None, 1, 3, 3, 3))
        b = RNG.normal(size=(2, 2, 2, 2)).astype("float32")
        W = RNG.normal(size=(2, 1, 2, 2, 2)).astype("float32")
        l = Conv3DLayer(l_in, 2, 2, untie_biases=True, b=b, W=W)
        x = RNG.normal(size=(3, 1, 3, 3, 3)).astype("float32")
        out = pytensor.function([l_in.input_var], get_output(l), mode=mode)(x)
        ref = np.maximum(conv3d_ref(x, W, 1, "valid", True) + b[None], 0)
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="5 input dimensions"):
            Conv3DLayer(InputLayer((None, 3, 8, 8)), 4, 3)
        with pytest.raises(NotImplementedError):
            Conv3DLayer(InputLayer((None, 3, 8, 8, 8)), 4, 2, pad="same")
        with pytest.raises(ValueError):
            Conv3DLayer(InputLayer((None, 3, 8, 8, 8)), 4, 3, convolution=T.add)
        with pytest.raises(ValueError, match="num_groups"):
            Conv3DLayer(InputLayer((None, 3, 8, 8, 8)), 4, 3, num_groups=2)

    def test_verify_grad(self, mode):
        rng = np.random.default_rng(1)

        def fn(x, W):
            l = Conv3DLayer(
                InputLayer((None, 2, 4, 3, 4)),
                2,
                (2, 2, 3),
                stride=(2, 1, 1),
                pad=(1, 1, 0),
                W=W,
                b=None,
                nonlinearity=None,
            )
            return get_output(l, x)

        verify_grad(fn, [rng.normal(size=(2, 2, 4, 3, 4)), rng.normal(size=(2, 2, 2, 2, 3))], rng=rng, mode=mode)


DECONV_CASES = [
    # (crop, stride, flip, filter_size, output_size)
    (0, 1, False, (2, 3, 2), None),
    ("same", (2, 1, 2), True, 3, None),
    ("full", 2, False, (3, 2, 3), None),
    ((1, 0, 1), (2, 3, 1), False, (3, 3, 2), (6, 14, 2)),
]


@pytest.fixture(scope="module")
def deconv3d_case(mode):
    l_in = InputLayer((None, 3, 3, 4, 3))
    layers = [
        TransposedConv3DLayer(l_in, 2, fs, stride=s, crop=c, flip_filters=f, output_size=o, nonlinearity=None, b=None)
        for c, s, f, fs, o in DECONV_CASES
    ]
    return layers, pytensor.function([l_in.input_var], get_output(layers), mode=mode)


class TestTransposedConv3DLayer:
    def test_outputs_match_numpy(self, deconv3d_case):
        layers, f = deconv3d_case
        y = RNG.normal(size=(2, 3, 3, 4, 3)).astype("float32")
        for layer, out, (crop, stride, flip, _, size) in zip(layers, f(y), DECONV_CASES):
            ref = deconv3d_ref(y, layer.W.get_value(), stride, crop, flip, size)
            assert out.shape == (2,) + layer.output_shape[1:]
            np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)

    def test_is_the_transpose_of_conv3d(self, mode):
        # <conv(x), y> == <x, deconv(y)> with tied weights, as in Lasagne's example
        x_in = InputLayer((None, 2, 7, 6, 5))
        conv = Conv3DLayer(x_in, 3, 3, stride=2, pad=1, nonlinearity=None, b=None)
        y_in = InputLayer(conv.output_shape)
        deconv = TransposedConv3DLayer(
            y_in,
            conv.input_shape[1],
            conv.filter_size,
            stride=conv.stride,
            crop=conv.pad,
            W=conv.W,
            flip_filters=not conv.flip_filters,
            output_size=conv.input_shape[2:],
            nonlinearity=None,
            b=None,
        )
        assert deconv.output_shape == conv.input_shape
        f = pytensor.function([x_in.input_var, y_in.input_var], [get_output(conv), get_output(deconv)], mode=mode)
        x = RNG.normal(size=(2, 2, 7, 6, 5)).astype("float32")
        y = RNG.normal(size=(2, 3, 4, 3, 3)).astype("float32")
        cx, dy = f(x, y)
        np.testing.assert_allclose((cx * y).sum(), (x * dy).sum(), rtol=1e-4)

    def test_shapes_and_alias(self):
        assert Deconv3DLayer is TransposedConv3DLayer
        l = TransposedConv3DLayer(InputLayer((None, 4, 3, None, 5)), 2, (3, 2, 1), stride=2)
        assert l.output_shape == (None, 2, 7, None, 9)
        assert l.W.get_value().shape == (4, 2, 3, 2, 1)
        assert l.crop == (0, 0, 0)
        sized = TransposedConv3DLayer(InputLayer((None, 4, 3, 3, 3)), 2, 3, stride=2, output_size=8)
        assert sized.output_shape == (None, 2, 8, 8, 8)
        with pytest.raises(ValueError, match="grouped"):
            TransposedConv3DLayer(InputLayer((None, 4, 3, 3, 3)), 2, 3, num_groups=2)
        with pytest.raises(ValueError, match="output_size"):
            TransposedConv3DLayer(InputLayer((None, 4, 3, 3, 3)), 2, 3, stride=2, output_size=(7, 9, 8))

    def test_symbolic_output_size(self, mode):
        size = pytensor.shared(np.array([4, 5, 4], "int64"))
        l_in = InputLayer((None, 1, 2, 2, 2))
        l = TransposedConv3DLayer(l_in, 1, 2, stride=2, output_size=size, nonlinearity=None, b=None)
        assert l.output_shape == (None, 1, None, None, None)
        y = RNG.normal(size=(1, 1, 2, 2, 2)).astype("float32")
        out = pytensor.function([l_in.input_var], get_output(l), mode=mode)(y)
        ref = deconv3d_ref(y, l.W.get_value(), 2, 0, False, (4, 5, 4))
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)

    def test_verify_grad(self, mode):
        rng = np.random.default_rng(2)

        def fn(y, W):
            l = TransposedConv3DLayer(
                InputLayer((None, 2, 2, 3, 2)),
                2,
                (2, 3, 2),
                stride=(2, 1, 2),
                crop=(1, 1, 0),
                W=W,
                b=None,
                nonlinearity=None,
            )
            return get_output(l, y)

        verify_grad(fn, [rng.normal(size=(2, 2, 2, 3, 2)), rng.normal(size=(2, 2, 2, 3, 2))], rng=rng, mode=mode)
